package dev.runledger.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.sun.net.httpserver.HttpExchange;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One request: decoded path segments and query parameters, and JSON responses written with Jackson. */
final class Exchange {
    private static final JsonFactory JSON = new JsonFactory();

    interface JsonBody {
        void write(JsonGenerator g) throws IOException;
    }

    final HttpExchange http;
    final List<String> path;
    final Map<String, List<String>> query;
    int status;

    /** More query parameters than any endpoint takes (label filters included) is an error, not work. */
    static final int MAX_PARAMETERS = 100;

    Exchange(HttpExchange http) {
        this(http, true);
    }

    /** @param parse false for an exchange that only answers an error: a malformed request must still get one */
    Exchange(HttpExchange http, boolean parse) {
        this.http = http;
        this.path = parse ? segments(http.getRequestURI().getRawPath()) : List.of();
        this.query = parse ? parameters(http.getRequestURI().getRawQuery()) : Map.of();
    }

    private static List<String> segments(String rawPath) {
        List<String> out = new ArrayList<>();
        for (String s : rawPath.split("/")) {
            if (!s.isEmpty()) {
                out.add(decode(s, false));
            }
        }
        return out;
    }

    private static Map<String, List<String>> parameters(String rawQuery) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return out;
        }
        String[] pairs = rawQuery.split("&", MAX_PARAMETERS + 2);
        if (pairs.length > MAX_PARAMETERS) {
            throw HttpError.badRequest("too many query parameters: at most " + MAX_PARAMETERS + " query parameters are taken");
        }
        for (String pair : pairs) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = decode(eq < 0 ? pair : pair.substring(0, eq), true);
            String value = eq < 0 ? null : decode(pair.substring(eq + 1), true);
            out.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
        }
        return out;
    }

    /**
     * Percent-decoding per RFC 3986 into strict UTF-8: a malformed escape or bytes that are not UTF-8
     * (overlong forms such as %C0%AF included) are refused, never patched. {@code +} is a space only in a
     * query (form encoding); in a path segment it is a plus.
     */
    static String decode(String raw, boolean plusIsSpace) {
        if (raw.indexOf('%') < 0 && (!plusIsSpace || raw.indexOf('+') < 0)) {
            return raw;
        }
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int lo = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw HttpError.badRequest("malformed percent-encoding in " + abbreviate(raw));
                }
                bytes.write(hi << 4 | lo);
                i += 2;
            } else if (c == '+' && plusIsSpace) {
                bytes.write(' ');
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(b, 0, b.length);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw HttpError.badRequest("percent-encoded bytes in " + abbreviate(raw) + " are not valid UTF-8");
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    String method() {
        return http.getRequestMethod();
    }

    /** A single-valued parameter, or null. */
    String param(String name) {
        List<String> values = query.get(name);
        if (values == null) {
            return null;
        }
        if (values.size() > 1) {
            throw HttpError.badRequest("parameter " + name + " given " + values.size() + " times");
        }
        return values.get(0);
    }

    Integer intParam(String name, int min, int max) {
        String value = param(name);
        if (value == null) {
            return null;
        }
        try {
            int n = Integer.parseInt(value);
            if (n < min || n > max) {
                throw HttpError.badRequest("parameter " + name + " must be " + min + "-" + max + " but was " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("parameter " + name + " must be a whole number but was \"" + value + "\"");
        }
    }

    Long longParam(String name) {
        String value = param(name);
        if (value == null) {
            return null;
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("parameter " + name + " must be a whole number but was \"" + value + "\"");
        }
    }

    /** The body's declared length, or -1 when it is chunked; 413 past {@code limit}, 400 if malformed. */
    long declaredLength(int limit) {
        String length = http.getRequestHeaders().getFirst("Content-Length");
        if (length == null) {
            return -1;
        }
        try {
            long n = Long.parseLong(length.trim());
            if (n > limit) {
                throw tooLarge(limit);
            }
            return n;
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("Content-Length is not a number: " + length);
        }
    }

    /**
     * Reads the body, refusing more than {@code limit} bytes whatever Content-Length said, and growing
     * {@code reservation} as a body of unknown length arrives.
     */
    byte[] body(int limit, BodyBudget.Reservation reservation) throws IOException {
        long declared = declaredLength(limit);
        try (InputStream in = http.getRequestBody()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(declared < 0 ? 8192 : (int) declared);
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = in.read(buf)) > 0) {
                if (out.size() + n > limit) {
                    throw tooLarge(limit);
                }
                reservation.growTo(out.size() + (long) n);
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        }
    }

    /** Reads and drops what is left of the body (up to {@code limit}), so that an early answer reaches the client. */
    void discardBody(int limit) {
        try (InputStream in = http.getRequestBody()) {
            byte[] buf = new byte[64 * 1024];
            long total = 0;
            int n;
            while (total <= limit && (n = in.read(buf)) > 0) {
                total += n;
            }
        } catch (IOException ignored) {
            // the client went away; nothing to answer
        }
    }

    private static HttpError tooLarge(int limit) {
        return new HttpError(413, "PayloadTooLarge", "request body is larger than the limit of " + limit + " bytes");
    }

    void sendJson(int status, JsonBody body) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1024);
        try (JsonGenerator g = JSON.createGenerator(buf)) {
            body.write(g);
        }
        send(status, "application/json", buf.toByteArray());
    }

    void send(int status, String contentType, byte[] bytes) throws IOException {
        this.status = status;
        http.getResponseHeaders().set("Content-Type", contentType);
        http.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (OutputStream out = http.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** Starts a streamed (chunked) response and returns its body. */
    OutputStream stream(int status, String contentType) throws IOException {
        this.status = status;
        http.getResponseHeaders().set("Content-Type", contentType);
        http.sendResponseHeaders(status, 0);
        return http.getResponseBody();
    }

    void sendError(HttpError e) throws IOException {
        if (e.status == 401) {
            http.getResponseHeaders().set("WWW-Authenticate", "Bearer");
        }
        sendJson(e.status, g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("errors");
            g.writeStartObject();
            g.writeStringField("id", e.id);
            g.writeStringField("detail", e.getMessage());
            if (e.line != null) {
                g.writeNumberField("line", e.line);
            }
            if (e.progress != null) {
                g.writeNumberField("rebuildProgress", e.progress);
            }
            g.writeEndObject();
            g.writeEndArray();
            g.writeEndObject();
        });
    }
}
