package dev.runledger.ledger;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.runledger.ledger.RunEvent.CommandRecorded;
import dev.runledger.ledger.RunEvent.LabelsChanged;
import dev.runledger.ledger.RunEvent.RunCompleted;
import dev.runledger.ledger.RunEvent.RunCreated;
import dev.runledger.ledger.RunEvent.RunDeleted;
import dev.runledger.ledger.RunEvent.SummaryRecorded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The NDJSON wire format: one JSON object per event, one event per line (see the README). Decoding captures {@code command} and
 * {@code summary} as their exact bytes; encoding writes them back untouched, so export reproduces them
 * byte for byte. Unknown top-level fields are rejected.
 */
public final class NdjsonCodec {
    /** The top-level fields each type allows. */
    private static Set<String> fields(EventType type) {
        return switch (type) {
            case RUN_CREATED -> Set.of("type", "runId", "createdAt", "labels", "protocolId");
            case COMMAND_RECORDED -> Set.of("type", "runId", "command");
            case LABELS_CHANGED -> Set.of("type", "runId", "set", "remove");
            case SUMMARY_RECORDED -> Set.of("type", "runId", "summary");
            case RUN_COMPLETED -> Set.of("type", "runId", "status", "completedAt");
            case RUN_DELETED -> Set.of("type", "runId", "reason");
            case JOURNAL_LOSS -> Set.of("type", "afterIndex", "sealedIndex", "missingEvents", "withinDurabilityWindow",
                    "detectedAt");
        };
    }

    private static final Set<String> ALL_FIELDS = Set.of("type", "runId", "createdAt", "labels", "protocolId",
            "command", "set", "remove", "summary", "status", "completedAt", "afterIndex", "sealedIndex", "missingEvents",
            "withinDurabilityWindow", "detectedAt", "reason");

    private NdjsonCodec() {
    }

    /** Decodes one event from a whole line (without its newline). */
    public static RunEvent decode(String line) {
        byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
        return decode(bytes, 0, bytes.length);
    }

    public static RunEvent decode(byte[] buf, int offset, int length) {
        Map<String, Object> fields = new LinkedHashMap<>();
        try (JsonParser p = JsonScanner.parser(buf, offset, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new InvalidEventException("an event must be a JSON object");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                if (!ALL_FIELDS.contains(name)) {
                    throw new InvalidEventException("unknown field " + Validation.quote(name));
                }
                JsonToken value = p.nextToken();
                Object decoded = switch (name) {
                    case "command" -> {
                        requireObject(value, name);
                        yield JsonScanner.captureCommand(p, buf, offset);
                    }
                    case "summary" -> {
                        requireObject(value, name);
                        yield JsonScanner.captureObject(p, buf, offset);
                    }
                    case "labels", "set" -> readStringMap(p, value, name);
                    case "afterIndex", "sealedIndex", "missingEvents" -> readLong(p, value, name);
                    case "withinDurabilityWindow" -> readBoolean(value, name);
                    case "remove" -> readStringList(p, value, name);
                    default -> readNullableString(p, value, name);
                };
                if (fields.containsKey(name)) {
                    throw new InvalidEventException("field " + Validation.quote(name) + " appears twice");
                }
                fields.put(name, decoded);
            }
            if (t != JsonToken.END_OBJECT) {
                throw new InvalidEventException("an event must be a JSON object");
            }
            if (p.nextToken() != null) {
                throw new InvalidEventException("trailing content after the event object");
            }
        } catch (IOException e) {
            throw new InvalidEventException("malformed JSON: " + JsonScanner.describe(e), e);
        }
        return build(fields);
    }

    private static RunEvent build(Map<String, Object> f) {
        Object typeValue = f.get("type");
        if (!(typeValue instanceof String typeName)) {
            throw new InvalidEventException("field \"type\" is required");
        }
        EventType type = EventType.fromWireName(typeName);
        if (type == null) {
            throw new InvalidEventException("unknown event type " + Validation.quote(typeName)
                    + " (expected one of " + EventType.wireNames() + ")");
        }
        Set<String> allowed = fields(type);
        for (String name : f.keySet()) {
            if (!allowed.contains(name)) {
                throw new InvalidEventException(type.wireName() + ": unknown field " + Validation.quote(name));
            }
        }
        String runId = (String) f.get("runId");
        if (runId == null && type != EventType.JOURNAL_LOSS) {
            throw new InvalidEventException(type.wireName() + ": runId is required");
        }
        return switch (type) {
            case RUN_CREATED -> new RunCreated(runId, (String) f.get("createdAt"), (String) f.get("protocolId"),
                    stringMap(f.get("labels")));
            case COMMAND_RECORDED -> {
                Object command = f.get("command");
                if (command == null) {
                    throw new InvalidEventException(type.wireName() + ": command is required");
                }
                yield new CommandRecorded(runId, (CommandJson) command);
            }
            case LABELS_CHANGED -> new LabelsChanged(runId, stringMap(f.get("set")), stringList(f.get("remove")));
            case SUMMARY_RECORDED -> new SummaryRecorded(runId, (RawJson) f.get("summary"));
            case RUN_COMPLETED -> new RunCompleted(runId, CompletionStatus.fromWire((String) f.get("status")),
                    (String) f.get("completedAt"));
            case RUN_DELETED -> new RunDeleted(runId, (String) f.get("reason"));
            case JOURNAL_LOSS -> new RunEvent.JournalLoss(required(f, "afterIndex", type), required(f, "sealedIndex", type),
                    required(f, "missingEvents", type), Boolean.TRUE.equals(f.get("withinDurabilityWindow")),
                    (String) f.get("detectedAt"));
        };
    }

    private static long required(Map<String, Object> f, String name, EventType type) {
        Object value = f.get(name);
        if (!(value instanceof Long n)) {
            throw new InvalidEventException(type.wireName() + ": " + name + " is required");
        }
        return n;
    }

    private static Long readLong(JsonParser p, JsonToken value, String name) throws IOException {
        if (value != JsonToken.VALUE_NUMBER_INT) {
            throw new InvalidEventException("field " + Validation.quote(name) + " must be a whole number");
        }
        try {
            return p.getLongValue();
        } catch (IOException tooLarge) {
            throw new InvalidEventException("field " + Validation.quote(name) + " is out of range");
        }
    }

    private static Boolean readBoolean(JsonToken value, String name) {
        if (value != JsonToken.VALUE_TRUE && value != JsonToken.VALUE_FALSE) {
            throw new InvalidEventException("field " + Validation.quote(name) + " must be true or false");
        }
        return value == JsonToken.VALUE_TRUE;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> stringMap(Object value) {
        return (Map<String, String>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<String> stringList(Object value) {
        return (List<String>) value;
    }

    private static void requireObject(JsonToken value, String name) {
        if (value != JsonToken.START_OBJECT) {
            throw new InvalidEventException("field " + Validation.quote(name) + " must be a JSON object");
        }
    }

    private static String readNullableString(JsonParser p, JsonToken value, String name) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return null;
        }
        if (value != JsonToken.VALUE_STRING) {
            throw new InvalidEventException("field " + Validation.quote(name) + " must be a string");
        }
        return p.getText();
    }

    private static Map<String, String> readStringMap(JsonParser p, JsonToken value, String name) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return null;
        }
        if (value != JsonToken.START_OBJECT) {
            throw new InvalidEventException("field " + Validation.quote(name) + " must be an object of string values");
        }
        Map<String, String> map = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new InvalidEventException("label " + Validation.quote(key) + " in " + Validation.quote(name)
                        + " must have a string value");
            }
            if (map.put(key, p.getText()) != null) {
                throw new InvalidEventException("label " + Validation.quote(key) + " appears twice in " + Validation.quote(name));
            }
        }
        return map;
    }

    private static List<String> readStringList(JsonParser p, JsonToken value, String name) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return null;
        }
        if (value != JsonToken.START_ARRAY) {
            throw new InvalidEventException("field " + Validation.quote(name) + " must be an array of label keys");
        }
        List<String> list = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_STRING) {
                throw new InvalidEventException("field " + Validation.quote(name) + " must contain only strings");
            }
            list.add(p.getText());
        }
        return list;
    }

    /** The event as one line of NDJSON, without the trailing newline. */
    public static byte[] encode(RunEvent event) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try {
            encode(event, out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    public static String encodeToString(RunEvent event) {
        return new String(encode(event), StandardCharsets.UTF_8);
    }

    public static void encode(RunEvent event, OutputStream out) throws IOException {
        out.write('{');
        field(out, "type", event.type(), true);
        if (event.runId() != null) {
            field(out, "runId", event.runId(), false);
        }
        OutputStream written = switch (event.eventType()) {
            case RUN_CREATED -> body((RunCreated) event, out);
            case COMMAND_RECORDED -> body((CommandRecorded) event, out);
            case LABELS_CHANGED -> body((LabelsChanged) event, out);
            case SUMMARY_RECORDED -> body((SummaryRecorded) event, out);
            case RUN_COMPLETED -> body((RunCompleted) event, out);
            case RUN_DELETED -> body((RunDeleted) event, out);
            case JOURNAL_LOSS -> body((RunEvent.JournalLoss) event, out);
        };
        written.write('}');
    }

    private static OutputStream body(RunCreated e, OutputStream out) throws IOException {
        field(out, "createdAt", e.createdAt(), false);
        if (!e.labels().isEmpty()) {
            mapField(out, "labels", e.labels());
        }
        if (e.protocolId() != null) {
            field(out, "protocolId", e.protocolId(), false);
        }
        return out;
    }

    private static OutputStream body(RunDeleted e, OutputStream out) throws IOException {
        if (e.reason() != null) {
            field(out, "reason", e.reason(), false);
        }
        return out;
    }

    private static OutputStream body(CommandRecorded e, OutputStream out) throws IOException {
        name(out, "command");
        e.command().json().writeTo(out);
        return out;
    }

    private static OutputStream body(LabelsChanged e, OutputStream out) throws IOException {
        if (!e.set().isEmpty()) {
            mapField(out, "set", e.set());
        }
        if (!e.remove().isEmpty()) {
            name(out, "remove");
            out.write('[');
            for (int i = 0; i < e.remove().size(); i++) {
                if (i > 0) {
                    out.write(',');
                }
                string(out, e.remove().get(i));
            }
            out.write(']');
        }
        return out;
    }

    private static OutputStream body(SummaryRecorded e, OutputStream out) throws IOException {
        name(out, "summary");
        e.summary().writeTo(out);
        return out;
    }

    private static OutputStream body(RunEvent.JournalLoss e, OutputStream out) throws IOException {
        out.write((",\"afterIndex\":" + e.afterIndex() + ",\"sealedIndex\":" + e.sealedIndex() + ",\"missingEvents\":"
                + e.missingEvents() + ",\"withinDurabilityWindow\":" + e.withinDurabilityWindow())
                .getBytes(StandardCharsets.US_ASCII));
        field(out, "detectedAt", e.detectedAt(), false);
        return out;
    }

    private static OutputStream body(RunCompleted e, OutputStream out) throws IOException {
        field(out, "status", e.status().wireName(), false);
        field(out, "completedAt", e.completedAt(), false);
        return out;
    }

    private static void mapField(OutputStream out, String name, Map<String, String> map) throws IOException {
        name(out, name);
        out.write('{');
        boolean first = true;
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (!first) {
                out.write(',');
            }
            first = false;
            string(out, e.getKey());
            out.write(':');
            string(out, e.getValue());
        }
        out.write('}');
    }

    private static void field(OutputStream out, String name, String value, boolean first) throws IOException {
        if (!first) {
            out.write(',');
        }
        string(out, name);
        out.write(':');
        string(out, value);
    }

    private static void name(OutputStream out, String name) throws IOException {
        out.write(',');
        string(out, name);
        out.write(':');
    }

    /** Writes a JSON string literal; escaping is Jackson's. */
    static void string(OutputStream out, String value) throws IOException {
        out.write('"');
        out.write(JsonStringEncoder.getInstance().quoteAsUTF8(value));
        out.write('"');
    }
}
