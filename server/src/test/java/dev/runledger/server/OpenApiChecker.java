package dev.runledger.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Holds a server's answers to the OpenAPI document it serves: each response's status must be documented for
 * its operation, its media type must be the documented one, and its JSON body must validate against the
 * documented schema (networknt json-schema-validator, OpenAPI 3.1 dialect). Requests are held to it too:
 * every query parameter sent must be documented, and every NDJSON line sent must be an {@code Event}. It
 * remembers which operations answered 2xx, so a test can demand that every documented operation was seen.
 */
public final class OpenApiChecker {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BASE = "https://runledger.dev/openapi.json";

    private final JsonNode doc;
    private final SchemaRegistry registry;
    private final Map<String, Schema> schemas = new LinkedHashMap<>();
    private final Set<String> answered = new TreeSet<>();
    private int checked;

    public OpenApiChecker(byte[] document) {
        try {
            this.doc = JSON.readTree(document);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String text = new String(document, StandardCharsets.UTF_8);
        this.registry = SchemaRegistry.withDefaultDialect(Dialects.getOpenApi31(), b -> b.schemas(Map.of(BASE, text)));
    }

    public JsonNode document() {
        return doc;
    }

    /** Every operation of the document as {@code METHOD /template}. */
    public Set<String> operations() {
        Set<String> ops = new TreeSet<>();
        doc.path("paths").fields().forEachRemaining(p -> p.getValue().fieldNames()
                .forEachRemaining(m -> ops.add(m.toUpperCase(java.util.Locale.ROOT) + " " + p.getKey())));
        return ops;
    }

    /** Operations that answered 2xx at least once. */
    public Set<String> answered() {
        return answered;
    }

    /** How many responses were checked. */
    public int checked() {
        return checked;
    }

    /**
     * Checks one exchange. {@code target} is the request target as sent (path and query, still encoded);
     * {@code requestNdjson} the body of a POST /events, or null.
     */
    public void check(String method, String target, String requestNdjson, int status, String contentType, byte[] body) {
        String where = method + " " + target + " -> " + status;
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        String template = template(path);
        JsonNode responseDoc;
        if (template == null || !doc.path("paths").path(template).has(method.toLowerCase(java.util.Locale.ROOT))) {
            // No such operation: the document's own words (info.description) are 404 or 405, with the error shape.
            if (status != 404 && status != 405 && status != 401) {
                throw new AssertionError(where + ": answered " + status + " for an operation the document does not have");
            }
            validate(where, "#/components/schemas/Error", body);
            checked++;
            return;
        }
        String opPointer = "#/paths/" + escape(template) + "/" + method.toLowerCase(java.util.Locale.ROOT);
        JsonNode op = at(opPointer);
        if (q >= 0) {
            checkParameters(where, status, op, target.substring(q + 1));
        }
        if (requestNdjson != null) {
            int line = 0;
            for (String l : requestNdjson.split("\n")) {
                line++;
                if (!l.isBlank() && status < 300) {
                    validate(where + " request line " + line, "#/components/schemas/Event", l.getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        String responsePointer = opPointer + "/responses/" + status;
        responseDoc = op.path("responses").path(Integer.toString(status));
        if (responseDoc.isMissingNode()) {
            if (status == 401 || status == 405 || status == 503 && "Stopping".equals(errorId(body))) {
                validate(where, "#/components/schemas/Error", body); // any operation, see info.description
                checked++;
                return;
            }
            throw new AssertionError(where + ": status " + status + " is not documented for " + method + " " + template
                    + " (documented: " + iterable(op.path("responses").fieldNames()) + "); body " + text(body));
        }
        if (responseDoc.has("$ref")) {
            responsePointer = responseDoc.get("$ref").asText();
            responseDoc = at(responsePointer);
        }
        String mediaType = contentType == null ? null : contentType.split(";", 2)[0].trim();
        JsonNode content = responseDoc.path("content");
        if (content.isMissingNode() || content.isEmpty()) {
            if (body.length != 0) {
                throw new AssertionError(where + ": a body the document says there is none of: " + text(body));
            }
        } else {
            if (mediaType == null || !content.has(mediaType)) {
                throw new AssertionError(where + ": Content-Type " + contentType + " is not documented (documented: "
                        + iterable(content.fieldNames()) + ")");
            }
            if (mediaType.equals("application/json")) {
                validate(where, responsePointer + "/content/" + escape(mediaType) + "/schema", body);
            }
        }
        if (status >= 200 && status < 300) {
            answered.add(method + " " + template);
        }
        checked++;
    }

    /** Every query parameter sent is documented (label filters by their prefix, {@code x-runledger-name-prefix}). */
    private void checkParameters(String where, int status, JsonNode op, String query) {
        Set<String> names = new TreeSet<>();
        List<String> prefixes = new ArrayList<>();
        for (JsonNode p : op.path("parameters")) {
            JsonNode param = p.has("$ref") ? at(p.get("$ref").asText()) : p;
            if (!"query".equals(param.path("in").asText())) {
                continue;
            }
            names.add(param.path("name").asText());
            if (param.has("x-runledger-name-prefix")) {
                prefixes.add(param.get("x-runledger-name-prefix").asText());
            }
        }
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            String name = java.net.URLDecoder.decode(pair.split("=", 2)[0], StandardCharsets.UTF_8);
            if (!names.contains(name) && prefixes.stream().noneMatch(name::startsWith)) {
                // A test may send an undocumented parameter on purpose: the server must then refuse it.
                if (status != 400) {
                    throw new AssertionError(where + ": parameter " + name + " is not documented (documented: " + names
                            + " and names starting " + prefixes + ") yet the server did not refuse it");
                }
            }
        }
    }

    private void validate(String where, String pointer, byte[] body) {
        JsonNode instance;
        try {
            instance = JSON.readTree(body);
        } catch (IOException e) {
            throw new AssertionError(where + ": the body is not JSON: " + text(body), e);
        }
        if (instance == null) {
            throw new AssertionError(where + ": an empty body where the document has " + pointer);
        }
        Schema schema = schemas.computeIfAbsent(pointer, p -> registry.getSchema(SchemaLocation.of(BASE + p)));
        List<Error> errors = schema.validate(instance);
        if (!errors.isEmpty()) {
            StringBuilder sb = new StringBuilder(where + ": the body does not match " + pointer + ":");
            for (Error e : errors) {
                sb.append("\n  ").append(e.getInstanceLocation()).append(' ').append(e.getMessage());
            }
            sb.append("\n  body: ").append(text(body));
            throw new AssertionError(sb.toString());
        }
    }

    /** The documented template a raw path matches, literal segments winning over {@code {...}}; null if none. */
    private String template(String rawPath) {
        String[] segments = rawPath.equals("/") ? new String[0] : rawPath.substring(1).split("/", -1);
        String best = null;
        int bestLiterals = -1;
        for (Iterator<String> it = doc.path("paths").fieldNames(); it.hasNext(); ) {
            String t = it.next();
            String[] ts = t.substring(1).split("/", -1);
            if (ts.length != segments.length) {
                continue;
            }
            int literals = 0;
            boolean match = true;
            for (int i = 0; i < ts.length && match; i++) {
                if (ts[i].startsWith("{")) {
                    match = !segments[i].isEmpty();
                } else {
                    match = ts[i].equals(segments[i]);
                    literals++;
                }
            }
            if (match && literals > bestLiterals) {
                best = t;
                bestLiterals = literals;
            }
        }
        return best;
    }

    private JsonNode at(String pointer) {
        JsonNode n = doc.at(pointer.substring(1));
        if (n.isMissingNode()) {
            throw new AssertionError("the document has nothing at " + pointer);
        }
        return n;
    }

    private static String escape(String jsonPointerToken) {
        return jsonPointerToken.replace("~", "~0").replace("/", "~1");
    }

    private static String errorId(byte[] body) {
        try {
            return JSON.readTree(body).path("errors").path(0).path("id").asText(null);
        } catch (IOException e) {
            return null;
        }
    }

    private static String iterable(Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return String.join(", ", l);
    }

    private static String text(byte[] body) {
        String s = new String(body, StandardCharsets.UTF_8);
        return s.length() > 400 ? s.substring(0, 400) + "..." : s;
    }
}
