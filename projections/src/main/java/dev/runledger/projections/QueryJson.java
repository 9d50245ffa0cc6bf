package dev.runledger.projections;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.runledger.ledger.RawJson;

import java.io.IOException;
import java.util.Map;

/**
 * The JSON form of query answers, shared by {@code runledger query --json} and the HTTP API so the two
 * never drift. Stored JSON (commands, summaries) is written raw: exactly the bytes appended.
 */
public final class QueryJson {
    private QueryJson() {
    }

    public static void writeRun(JsonGenerator g, RunView r) throws IOException {
        writeRun(g, null, r);
    }

    /** A run of the fleet: as {@link #writeRun(JsonGenerator, RunView)}, with {@code "robot"} first (omitted when null). */
    public static void writeRun(JsonGenerator g, String robot, RunView r) throws IOException {
        g.writeStartObject();
        if (robot != null) {
            g.writeStringField("robot", robot);
        }
        g.writeStringField("id", r.id());
        g.writeStringField("createdAt", r.createdAt());
        if (r.protocolId() != null) {
            g.writeStringField("protocolId", r.protocolId());
        }
        g.writeStringField("status", r.status());
        if (r.completedAt() != null) {
            g.writeStringField("completedAt", r.completedAt());
        }
        g.writeObjectFieldStart("labels");
        for (Map.Entry<String, String> label : r.labels().entrySet()) {
            g.writeStringField(label.getKey(), label.getValue());
        }
        g.writeEndObject();
        g.writeNumberField("commandCount", r.commandCount());
        g.writeBooleanField("damaged", r.damaged());
        if (r.summary() != null) {
            g.writeFieldName("summary");
            writeRaw(g, r.summary());
        }
        g.writeEndObject();
    }

    /** Writes stored JSON as a value, byte for byte, without turning it into text first. */
    public static void writeRaw(JsonGenerator g, RawJson json) throws IOException {
        g.writeRawValue(new RawJsonValue(json));
    }

    /** {@code {"data":[runs...],"meta":{"nextCursor":...,"totalLength":...}}} */
    public static void writeRunPage(JsonGenerator g, RunPage page) throws IOException {
        g.writeStartObject();
        g.writeArrayFieldStart("data");
        for (RunView r : page.runs()) {
            writeRun(g, r);
        }
        g.writeEndArray();
        writeRunPageMeta(g, page.nextCursor(), page.total());
        g.writeEndObject();
    }

    /** A run page's {@code "meta"}: {@code nextCursor} unless it is the last page, {@code totalLength} when counted. */
    public static void writeRunPageMeta(JsonGenerator g, String nextCursor, Long total) throws IOException {
        g.writeObjectFieldStart("meta");
        if (nextCursor != null) {
            g.writeStringField("nextCursor", nextCursor);
        }
        if (total != null) {
            g.writeNumberField("totalLength", total);
        }
        g.writeEndObject();
    }

    /** Opentrons-style: {@code {"data":[commands...],"meta":{"cursor":N,"totalLength":N}}} */
    public static void writeCommandPage(JsonGenerator g, CommandPage page) throws IOException {
        g.writeStartObject();
        g.writeArrayFieldStart("data");
        for (CommandView c : page.commands()) {
            writeRaw(g, c.json());
        }
        g.writeEndArray();
        g.writeObjectFieldStart("meta");
        g.writeNumberField("cursor", page.cursor());
        g.writeNumberField("totalLength", page.totalLength());
        g.writeEndObject();
        g.writeEndObject();
    }
}
