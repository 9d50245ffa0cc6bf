package dev.runledger.ledger;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;

/** The field rules of the event format (README, "Appending from Java" and Limits), in one place, each failure naming the event type, field and value. */
final class Validation {
    static final int MAX_ID_LENGTH = 128;
    static final int MAX_LABEL_KEY_LENGTH = 128;
    static final int MAX_LABEL_VALUE_LENGTH = 1024;
    static final int MAX_LABELS_PER_RUN = RunEvent.MAX_LABELS_PER_RUN;

    private Validation() {
    }

    static String identifier(String type, String field, String value) {
        if (value == null) {
            throw new InvalidEventException(type + ": " + field + " is required");
        }
        int length = value.codePointCount(0, value.length());
        if (length < 1 || length > MAX_ID_LENGTH) {
            throw new InvalidEventException(type + ": " + field + " must be 1-" + MAX_ID_LENGTH
                    + " characters but was " + length + " (" + quote(abbreviate(value)) + ")");
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                throw new InvalidEventException(type + ": " + field + " must not contain control characters but "
                        + quote(abbreviate(value)) + " has one at position " + i);
            }
        }
        return value;
    }

    /** A short lower-case word: 1-32 of [a-z0-9_-], starting with a letter. */
    static String word(String type, String field, String value) {
        boolean ok = !value.isEmpty() && value.length() <= 32 && value.charAt(0) >= 'a' && value.charAt(0) <= 'z';
        for (int i = 0; ok && i < value.length(); i++) {
            char c = value.charAt(i);
            ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        }
        if (!ok) {
            throw new InvalidEventException(type + ": " + field + " must be 1-32 characters of [a-z0-9_-] starting with a"
                    + " letter but was " + quote(abbreviate(value)));
        }
        return value;
    }

    static String utcTimestamp(String type, String field, String value) {
        if (value == null) {
            throw new InvalidEventException(type + ": " + field + " is required");
        }
        if (!value.endsWith("Z")) {
            throw new InvalidEventException(type + ": " + field + " must be an ISO-8601 UTC timestamp ending in Z but was "
                    + quote(abbreviate(value)));
        }
        try {
            Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw new InvalidEventException(type + ": " + field + " must be an ISO-8601 UTC timestamp but was "
                    + quote(abbreviate(value)));
        }
        return value;
    }

    static String labelKey(String type, String key) {
        if (key == null || key.isEmpty() || key.length() > MAX_LABEL_KEY_LENGTH) {
            throw new InvalidEventException(type + ": label key must be 1-" + MAX_LABEL_KEY_LENGTH
                    + " characters of [A-Za-z0-9._/-] but was " + quote(key == null ? null : abbreviate(key)));
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '/' || c == '-';
            if (!ok) {
                throw new InvalidEventException(type + ": label key " + quote(abbreviate(key))
                        + " has a character outside [A-Za-z0-9._/-] at position " + i);
            }
        }
        return key;
    }

    static void labels(String type, String field, Map<String, String> labels) {
        if (labels.size() > MAX_LABELS_PER_RUN) {
            throw new InvalidEventException(type + ": " + field + " has " + labels.size()
                    + " labels, at most " + MAX_LABELS_PER_RUN + " are allowed per run");
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            labelKey(type, e.getKey());
            String value = e.getValue();
            if (value == null) {
                throw new InvalidEventException(type + ": label " + quote(e.getKey()) + " must have a string value, not null");
            }
            int length = value.codePointCount(0, value.length());
            if (length > MAX_LABEL_VALUE_LENGTH) {
                throw new InvalidEventException(type + ": label " + quote(e.getKey()) + " value must be at most "
                        + MAX_LABEL_VALUE_LENGTH + " characters but was " + length);
            }
        }
    }

    static String quote(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    static String abbreviate(String value) {
        return value.length() <= 60 ? value : value.substring(0, 57) + "...";
    }
}
