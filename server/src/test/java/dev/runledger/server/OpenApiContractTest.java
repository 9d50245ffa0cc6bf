package dev.runledger.server;

import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import io.swagger.v3.oas.models.SpecVersion;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The OpenAPI document is the HTTP API: it is valid OpenAPI 3.1, it lists exactly the endpoints the server
 * routes, and every answer of a real server (each status it gives, the errors included) matches the schema
 * the document gives for it. The fleet's half is held to it in {@code FleetCliTest}.
 */
class OpenApiContractTest {
    private static final String TOKEN = "s3cret-token-0123456789";
    private static final String AUTH = "Bearer " + TOKEN;

    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private RunLedgerServer server;
    private OpenApiChecker checker;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void shouldBeAValidOpenApi31DocumentWhoseReferencesAllResolve() {
        for (String kind : new String[] {null, OpenApiDocument.ROBOT, OpenApiDocument.FLEET}) {
            String text = kind == null ? OpenApiDocument.full().toString()
                    : new String(OpenApiDocument.bytesFor(kind), StandardCharsets.UTF_8);
            ParseOptions options = new ParseOptions();
            options.setResolve(true);
            SwaggerParseResult parsed = new OpenAPIV3Parser().readContents(text, null, options);
            assertThat(parsed.getMessages()).as("swagger-parser on the %s document", kind == null ? "whole" : kind).isEmpty();
            assertThat(parsed.getOpenAPI().getSpecVersion()).isEqualTo(SpecVersion.V31);
            assertThat(parsed.getOpenAPI().getInfo().getVersion()).as("the build's version").doesNotContain("${").isNotBlank();
        }
    }

    @Test
    void shouldAnswerEveryRouteAndStatusAsTheDocumentSays() throws Exception {
        server = RunLedgerServer.start(ServerConfig.builder(dir.resolve("journal"), dir.resolve("runs.sqlite")).port(0)
                .token(TOKEN).maxWait(Duration.ofMillis(300)).maxBodyBytes(64 << 10).shutdownGrace(Duration.ofSeconds(1)).build());
        HttpResponse<byte[]> docResponse = send("GET", "/openapi.json", null, null);
        assertThat(docResponse.statusCode()).isEqualTo(200);
        checker = new OpenApiChecker(docResponse.body());
        check("GET", "/openapi.json", null, docResponse);
        assertThat(checker.operations()).as("the document lists exactly the routes the server answers")
                .isEqualTo(new TreeSet<>(server.endpoints()));

        // Appends: a whole run, then each way a batch is refused.
        String run = ndjson(TestEvents.created("r-1", Map.of("assay", "pcr", "plate", "p-7")),
                TestEvents.command("r-1", "c-1", "succeeded"), TestEvents.command("r-1", "c-2", "running"),
                TestEvents.command("r-1", "c-2", "succeeded"), new RunEvent.LabelsChanged("r-1", Map.of("stage", "qc"), java.util.List.of("plate")),
                new RunEvent.SummaryRecorded("r-1", dev.runledger.ledger.RawJson.object("{\"errors\":[],\"pipettes\":[]}")),
                TestEvents.completed("r-1"), TestEvents.created("r-2"), TestEvents.created("r-3", Map.of("assay", "elisa")));
        long last = lastIndex(post(run, "application/x-ndjson"));
        post("{\"type\":\"run.created\",\"runId\":\"r-4\"\n", "application/x-ndjson");       // 400, names the line
        post(ndjson(TestEvents.command("nosuch", "c-1", "running")), null);                    // 409
        post(ndjson(TestEvents.created("r-5")), "application/json");                           // 415
        post("{\"type\":\"run.deleted\",\"runId\":\"" + "x".repeat(70_000) + "\"}\n", null);   // 413
        exchange("POST", "/events", run, Map.of());                                            // 401: no token
        String once = ndjson(TestEvents.created("r-6"));
        Map<String, String> keyed = Map.of("Authorization", AUTH, "Idempotency-Key", "batch-6");
        exchange("POST", "/events", once, keyed);
        exchange("POST", "/events", once, keyed);                                              // replayed
        exchange("POST", "/events", ndjson(TestEvents.created("r-7")), keyed);                 // 422: key reused

        // Reads, with each parameter the document gives them.
        get("/runs?minIndex=" + last);
        HttpResponse<byte[]> page = get("/runs?label.assay=pcr&label.assay=elisa&pageLength=1&total=true");
        String cursor = field(page, "nextCursor");
        get("/runs?label.assay=pcr&label.assay=elisa&pageLength=1&cursor=" + cursor);
        get("/runs?label.stage&status=succeeded&createdFrom=2020-01-01T00:00:00Z&createdBefore=2100-01-01T00:00:00Z");
        String byCreated = field(get("/runs?order=created&pageLength=1"), "nextCursor");
        get("/runs?order=created&pageLength=1&cursor=" + byCreated);
        get("/runs?order=newest");                                                              // 400
        get("/runs?sort=name");                                                                 // 400: unknown parameter
        get("/runs?label.my%20key=x");                                                          // 400: bad label key
        get("/runs?minIndex=" + (last + 1000));                                                 // 503: not applied in time
        get("/runs/r-1");
        get("/runs/r-1?minIndex=" + last);
        get("/runs/nosuch");                                                                    // 404
        get("/runs/a%C0%AFb");                                                                   // 400: overlong UTF-8
        get("/runs/r-1/commands");
        get("/runs/r-1/commands?cursor=0&pageLength=1");
        get("/runs/r-1/commands?pageLength=0");                                                 // 400
        get("/runs/nosuch/commands");                                                           // 404
        get("/runs/r-1/commands.json");
        get("/runs/nosuch/commands.json");                                                      // 404
        get("/runs/r-1/commands/c-2");
        get("/runs/r-1/commands/nosuch");                                                       // 404
        exchange("GET", "/runs", null, Map.of("Authorization", "Basic abc"));                   // 401

        // Deletion and erasure.
        send("DELETE", "/runs/r-2", null, null);
        send("DELETE", "/runs/r-2", null, null);                                                // refused: deleted already
        send("DELETE", "/runs/nosuch", null, null);                                             // 404
        send("DELETE", "/runs/r-3?erase=maybe", null, null);                                    // 400
        send("DELETE", "/runs/r-3?erase=true", null, null);

        // Operations, unknown paths and methods.
        exchange("GET", "/health", null, Map.of());
        get("/metrics");
        exchange("GET", "/metrics", null, Map.of());                                            // 401
        get("/nowhere");                                                                        // 404
        send("PUT", "/runs", "x", "text/plain");                                                // 405

        assertThat(checker.answered()).as("every documented operation answered 2xx at least once")
                .isEqualTo(checker.operations());
        assertThat(checker.checked()).isGreaterThan(35);
    }

    private HttpResponse<byte[]> get(String target) throws Exception {
        return send("GET", target, null, null);
    }

    private HttpResponse<byte[]> post(String ndjson, String contentType) throws Exception {
        return send("POST", "/events", ndjson, contentType);
    }

    private HttpResponse<byte[]> send(String method, String target, String body, String contentType) throws Exception {
        Map<String, String> headers = contentType == null ? Map.of("Authorization", AUTH)
                : Map.of("Authorization", AUTH, "Content-Type", contentType);
        return exchange(method, target, body, headers);
    }

    private HttpResponse<byte[]> exchange(String method, String target, String body, Map<String, String> headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + target))
                .timeout(Duration.ofSeconds(30)).method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        headers.forEach(b::header);
        HttpResponse<byte[]> response = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        if (checker != null) {
            check(method, target, "/events".equals(target) ? body : null, response);
        }
        return response;
    }

    private void check(String method, String target, String ndjson, HttpResponse<byte[]> response) {
        checker.check(method, target, ndjson, response.statusCode(),
                response.headers().firstValue("Content-Type").orElse(null), response.body());
    }

    private static String ndjson(RunEvent... events) {
        StringBuilder sb = new StringBuilder();
        for (RunEvent e : events) {
            sb.append(NdjsonCodec.encodeToString(e)).append('\n');
        }
        return sb.toString();
    }

    private static long lastIndex(HttpResponse<byte[]> response) {
        return Long.parseLong(field(response, "lastIndex"));
    }

    private static String field(HttpResponse<byte[]> response, String name) {
        String body = new String(response.body(), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("\"" + name + "\":\"?([^\",}]+)").matcher(body);
        assertThat(m.find()).as("%s in %s", name, body).isTrue();
        return m.group(1);
    }
}
