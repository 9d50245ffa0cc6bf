package dev.runledger.tool;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.RunView;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Map;

/** JSON output of the CLI, written with Jackson's generator; stored JSON goes out raw, never re-encoded. */
final class Json {
    private static final JsonFactory FACTORY = new JsonFactory();

    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private Json() {
    }

    static String write(Body body) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            body.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    static void run(JsonGenerator g, RunView r) throws IOException {
        g.writeStartObject();
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
        for (Map.Entry<String, String> e : r.labels().entrySet()) {
            g.writeStringField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
        g.writeNumberField("commandCount", r.commandCount());
        g.writeBooleanField("damaged", r.damaged());
        if (r.summary() != null) {
            g.writeFieldName("summary");
            g.writeRawValue(r.summary());
        }
        g.writeEndObject();
    }

    static void command(JsonGenerator g, CommandView c) throws IOException {
        g.writeRawValue(c.json());
    }
}
