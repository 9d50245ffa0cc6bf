package dev.runledger.projections;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

import java.util.Map;

/** Small JSON writing helpers; string escaping is Jackson's. */
final class Json {
    private Json() {
    }

    static StringBuilder string(StringBuilder sb, String value) {
        if (value == null) {
            return sb.append("null");
        }
        sb.append('"');
        JsonStringEncoder.getInstance().quoteAsString(value, sb);
        return sb.append('"');
    }

    static String object(Map<String, String> map) {
        StringBuilder sb = new StringBuilder(16 + map.size() * 24).append('{');
        boolean first = true;
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            string(sb, e.getKey()).append(':');
            string(sb, e.getValue());
        }
        return sb.append('}').toString();
    }
}
