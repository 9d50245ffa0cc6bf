package dev.runledger.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.Map;

/**
 * The OpenAPI 3.1 document of the HTTP API ({@code openapi.json} beside this class, versioned by the build),
 * as one server serves it at {@code GET /openapi.json}. The file describes both kinds of server; each
 * operation says which serve it ({@code x-runledger-serves}: {@code robot}, {@code fleet}), and so may a
 * parameter. A server keeps only its own, so a client generated from its document never calls an endpoint
 * that answers 404 there.
 */
final class OpenApiDocument {
    static final String ROBOT = "robot";
    static final String FLEET = "fleet";
    private static final String SERVES = "x-runledger-serves";
    private static final ObjectMapper JSON = new ObjectMapper();

    private OpenApiDocument() {
    }

    /** The whole document, both kinds of server. */
    static ObjectNode full() {
        try (InputStream in = OpenApiDocument.class.getResourceAsStream("openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json is missing from the server's jar");
            }
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the server's openapi.json", e);
        }
    }

    /** The document of one kind of server ({@link #ROBOT} or {@link #FLEET}), serialized. */
    static byte[] bytesFor(String kind) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(forKind(kind));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectNode forKind(String kind) {
        ObjectNode doc = full();
        JsonNode parameters = doc.path("components").path("parameters");
        Iterator<Map.Entry<String, JsonNode>> paths = doc.path("paths").fields();
        while (paths.hasNext()) {
            ObjectNode path = (ObjectNode) paths.next().getValue();
            Iterator<Map.Entry<String, JsonNode>> operations = path.fields();
            while (operations.hasNext()) {
                JsonNode operation = operations.next().getValue();
                if (!serves(operation, kind)) {
                    operations.remove();
                } else if (operation.has("parameters")) {
                    Iterator<JsonNode> ps = ((ArrayNode) operation.get("parameters")).elements();
                    while (ps.hasNext()) {
                        JsonNode p = ps.next();
                        String ref = p.path("$ref").asText("");
                        JsonNode target = ref.startsWith("#/components/parameters/")
                                ? parameters.path(ref.substring("#/components/parameters/".length())) : p;
                        if (!serves(target, kind)) {
                            ps.remove();
                        }
                    }
                }
            }
            if (path.isEmpty()) {
                paths.remove();
            }
        }
        return doc;
    }

    /** Whether {@code node} is for {@code kind} of server: it names it, or names no kind at all. */
    private static boolean serves(JsonNode node, String kind) {
        JsonNode serves = node.get(SERVES);
        if (serves == null) {
            return true;
        }
        for (JsonNode k : serves) {
            if (k.asText().equals(kind)) {
                return true;
            }
        }
        return false;
    }
}
