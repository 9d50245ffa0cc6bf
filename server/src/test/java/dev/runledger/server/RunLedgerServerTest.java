package dev.runledger.server;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The HTTP API end to end, over real HTTP on loopback. */
class RunLedgerServerTest {
    private static final String TOKEN = "s3cret-token-0123456789";

    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private RunLedgerServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private RunLedgerServer start(ServerConfig.Builder config) throws Exception {
        server = RunLedgerServer.start(config.port(0).maxWait(Duration.ofSeconds(5)).shutdownGrace(Duration.ofSeconds(1)).build());
        return server;
    }

    private ServerConfig.Builder config() {
        return ServerConfig.builder(dir.resolve("journal"), dir.resolve("runs.sqlite"));
    }

    private HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(20)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private HttpResponse<String> post(String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri("/events")).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    /** A GET sent as written, for paths a well-behaved client would refuse to send. */
    private String rawGet(String path) throws java.io.IOException {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private static String ndjson(RunEvent... events) {
        StringBuilder sb = new StringBuilder();
        for (RunEvent e : events) {
            sb.append(NdjsonCodec.encodeToString(e)).append('\n');
        }
        return sb.toString();
    }

    private static long lastIndex(HttpResponse<String> response) {
        Matcher m = Pattern.compile("\"lastIndex\":(\\d+)").matcher(response.body());
        assertThat(m.find()).as(response.body()).isTrue();
        return Long.parseLong(m.group(1));
    }

    private long head() {
        try (Journal j = Journal.openExisting(dir.resolve("journal"))) {
            return j.headIndex();
        }
    }

    @Test
    void shouldAppendAndReadBackItsOwnWritesByteForByte() throws Exception {
        start(config());
        HttpResponse<String> appended = post(ndjson(TestEvents.created("r-1", Map.of("tenant", "acme")),
                TestEvents.command("r-1", "c-1", "queued"), TestEvents.command("r-1", "c-2", "queued"),
                TestEvents.command("r-1", "c-1", "succeeded")));
        assertThat(appended.statusCode()).as(appended.body()).isEqualTo(200);
        assertThat(appended.body()).contains("\"appended\":4");
        long index = lastIndex(appended);

        HttpResponse<String> commands = get("/runs/r-1/commands?minIndex=" + index);
        assertThat(commands.statusCode()).isEqualTo(200);
        assertThat(commands.body()).isEqualTo("{\"data\":[" + TestEvents.commandJson("c-1", "aspirate", "succeeded") + ","
                + TestEvents.commandJson("c-2", "aspirate", "queued") + "],\"meta\":{\"cursor\":0,\"totalLength\":2}}");
        assertThat(get("/runs/r-1/commands/c-2").body())
                .isEqualTo("{\"data\":" + TestEvents.commandJson("c-2", "aspirate", "queued") + "}");
        HttpResponse<String> all = get("/runs/r-1/commands.json");
        assertThat(all.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(all.body()).isEqualTo("[" + TestEvents.commandJson("c-1", "aspirate", "succeeded") + ","
                + TestEvents.commandJson("c-2", "aspirate", "queued") + "]");
        assertThat(get("/runs/r-1").body()).startsWith("{\"data\":{\"id\":\"r-1\",\"createdAt\":\"2026-11-22T10:00:00Z\"")
                .contains("\"status\":\"running\"", "\"labels\":{\"tenant\":\"acme\"}", "\"commandCount\":2");
    }

    @Test
    void shouldPageCommandsFromTheTailAndRunsNewestFirstWithLabelFilters() throws Exception {
        start(config());
        StringBuilder body = new StringBuilder();
        String[] tenants = {"acme", "globex", "initech"};
        for (int r = 0; r < 6; r++) {
            body.append(ndjson(TestEvents.created("r-" + r, Map.of("tenant", tenants[r % 3], "robot", r < 3 ? "ot-2" : "flex"))));
        }
        for (int c = 0; c < 30; c++) {
            body.append(ndjson(TestEvents.command("r-0", "c-" + c, "queued")));
        }
        long index = lastIndex(post(body.toString()));

        assertThat(get("/runs/r-0/commands?pageLength=5&minIndex=" + index).body())
                .contains("\"id\":\"c-25\"", "\"id\":\"c-29\"").doesNotContain("\"id\":\"c-24\"")
                .endsWith("\"meta\":{\"cursor\":25,\"totalLength\":30}}");
        assertThat(get("/runs/r-0/commands?cursor=10&pageLength=2").body())
                .contains("\"id\":\"c-10\"", "\"id\":\"c-11\"").endsWith("\"meta\":{\"cursor\":10,\"totalLength\":30}}");

        assertThat(ids(get("/runs?label.tenant=acme&label.tenant=globex").body())).containsExactly("r-4", "r-3", "r-1", "r-0");
        assertThat(ids(get("/runs?label.tenant=acme&label.robot=flex").body())).containsExactly("r-3");
        assertThat(ids(get("/runs?label.robot").body())).hasSize(6);
        HttpResponse<String> first = get("/runs?pageLength=4&total=true");
        assertThat(ids(first.body())).containsExactly("r-5", "r-4", "r-3", "r-2");
        assertThat(first.body()).contains("\"totalLength\":6");
        String cursor = first.body().replaceAll(".*\"nextCursor\":\"(-?\\d+)\".*", "$1");
        post(ndjson(TestEvents.created("r-new")));
        assertThat(ids(get("/runs?pageLength=4&cursor=" + cursor).body())).containsExactly("r-1", "r-0");
        String injection = URLEncoder.encode("' OR 1=1 --", StandardCharsets.UTF_8);
        assertThat(ids(get("/runs?label.tenant=" + injection).body())).isEmpty();
        assertThat(ids(get("/runs?label." + injection + "=x").body())).isEmpty();
    }

    private static List<String> ids(String body) {
        return Pattern.compile("\\{\"id\":\"([^\"]+)\",\"createdAt\"").matcher(body).results().map(m -> m.group(1)).toList();
    }

    @Test
    void shouldRejectBadNdjsonNamingTheLineAndAppendNothing() throws Exception {
        start(config());
        post(ndjson(TestEvents.created("r-0")));
        long head = head();

        HttpResponse<String> bad = post(ndjson(TestEvents.created("r-1")) + "{\"type\":\"run.created\",\"runId\":\"r-2\"}\n");

        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).isEqualTo("{\"errors\":[{\"id\":\"InvalidEvent\",\"detail\":\"line 2: run.created: createdAt is"
                + " required (nothing was appended)\",\"line\":2}]}");
        assertThat(head()).isEqualTo(head);
        HttpResponse<String> unknownType = post("{\"type\":\"run.exploded\",\"runId\":\"r\"}");
        assertThat(unknownType.statusCode()).isEqualTo(400);
        assertThat(unknownType.body()).contains("line 1: unknown event type \\\"run.exploded\\\"");
        HttpResponse<String> badKey = post("{\"type\":\"labels.changed\",\"runId\":\"r-0\",\"set\":{\"a key\":\"v\"}}");
        assertThat(badKey.body()).contains("label key \\\"a key\\\" has a character outside");
        assertThat(post("\n\n").statusCode()).isEqualTo(400);
        assertThat(head()).isEqualTo(head);
    }

    @Test
    void shouldAnswerStateViolationsWithConflictAndAppendNothing() throws Exception {
        start(config());
        post(ndjson(TestEvents.created("r-1"), new RunEvent.RunDeleted("r-1")));
        long head = head();

        HttpResponse<String> conflict = post(ndjson(TestEvents.created("r-2"), TestEvents.command("r-1", "c-1", "queued")));

        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(conflict.body()).contains("\"id\":\"EventRejected\"", "line 2: command.recorded rejected: run \\\"r-1\\\" was deleted at index",
                "\"line\":2");
        assertThat(head()).isEqualTo(head);
    }

    @Test
    void shouldAppendABatchRetriedWithTheSameIdempotencyKeyOnce() throws Exception {
        start(config());
        String batch = ndjson(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"));
        HttpResponse<String> first = post(batch, "Idempotency-Key", "k-1");
        long head = head();
        HttpResponse<String> retry = post(batch, "Idempotency-Key", "k-1");
        assertThat(retry.statusCode()).as(retry.body()).isEqualTo(200);
        assertThat(retry.body()).isEqualTo(first.body());
        assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        assertThat(first.headers().firstValue("Idempotent-Replayed")).isEmpty();
        assertThat(head()).as("nothing appended by the retry").isEqualTo(head);

        // Copies racing each other (a client that timed out and retried while the first was still in flight).
        String second = ndjson(TestEvents.created("r-2"), TestEvents.command("r-2", "c-1", "queued"));
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> copies = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            copies.add(client.sendAsync(HttpRequest.newBuilder(uri("/events")).header("Idempotency-Key", "k-2")
                    .POST(HttpRequest.BodyPublishers.ofString(second)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (var copy : copies) {
            HttpResponse<String> r = copy.get(20, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(lastIndex(r)).isEqualTo(lastIndex(copies.get(0).get()));
        }
        assertThat(get("/runs/r-2/commands?minIndex=" + lastIndex(copies.get(0).get())).body()).contains("\"totalLength\":1");
        assertThat(head()).as("the racing copies appended two events once").isEqualTo(lastIndex(copies.get(0).get()));

        HttpResponse<String> reused = post(ndjson(TestEvents.created("r-3")), "Idempotency-Key", "k-1");
        assertThat(reused.statusCode()).isEqualTo(422);
        assertThat(reused.body()).contains("IdempotencyKeyReused", "k-1 was used for another body");
        HttpResponse<String> badKey = post(batch, "Idempotency-Key", "a key with spaces");
        assertThat(badKey.statusCode()).isEqualTo(400);
        assertThat(badKey.body()).contains("Idempotency-Key must be 1-128 visible ASCII characters");
        assertThat(head()).isEqualTo(lastIndex(copies.get(0).get()));
    }

    @Test
    void shouldAnswerNotFoundAndBadParameters() throws Exception {
        start(config());
        long index = lastIndex(post(ndjson(TestEvents.created("r-1"))));
        get("/runs/r-1?minIndex=" + index);

        assertThat(get("/runs/nope").statusCode()).isEqualTo(404);
        assertThat(get("/runs/nope/commands").body()).contains("no run nope");
        assertThat(get("/runs/r-1/commands/nope").body()).contains("no command nope in run r-1");
        assertThat(get("/runs/nope/commands.json").statusCode()).isEqualTo(404);
        assertThat(get("/elsewhere").statusCode()).isEqualTo(404);
        assertThat(get("/runs?pageLength=abc").body()).contains("parameter pageLength must be a whole number but was \\\"abc\\\"");
        assertThat(get("/runs?pageLength=5000").body()).contains("parameter pageLength must be 1-1000 but was 5000");
        assertThat(get("/runs?cursor=xyz").statusCode()).isEqualTo(400);
        assertThat(get("/runs?status=exploded").body()).contains("status must be one of");
        assertThat(get("/runs?color=red").body()).contains("unknown parameter color");
        assertThat(get("/runs/r-1/commands?cursor=-1").statusCode()).isEqualTo(400);
        assertThat(get("/runs?minIndex=" + (index + 1_000_000)).statusCode()).isEqualTo(503);
        assertThat(client.send(HttpRequest.newBuilder(uri("/events")).GET().build(), HttpResponse.BodyHandlers.ofString())
                .statusCode()).isEqualTo(405);
    }

    @Test
    void shouldTagEachRequestWithTheRouteThatAnsweredIt() throws Exception {
        start(config());
        post(ndjson(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued")));
        assertThat(get("/runs/r-1/commands/c-1?minIndex=" + head()).statusCode()).isEqualTo(200);
        assertThat(get("/runs/r-1/commands/c-1/extra").statusCode()).isEqualTo(404);
        assertThat(get("/runs/r-1/commands/c-1/extra/more").statusCode()).isEqualTo(404);
        assertThat(client.send(HttpRequest.newBuilder(uri("/runs/r-1")).PUT(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString()).headers().firstValue("Allow")).hasValue("GET, DELETE");

        String scrape = get("/metrics").body();
        String command = "http_server_requests_seconds_count{method=\"GET\",route=\"/runs/{id}/commands/{commandId}\",";
        assertThat(metric(scrape, command + "status=\"200\"}")).isEqualTo(1);
        assertThat(scrape).doesNotContain(command + "status=\"404\"}");
        assertThat(metric(scrape, "http_server_requests_seconds_count{method=\"GET\",route=\"unknown\",status=\"404\"}"))
                .isEqualTo(2);
        assertThat(metric(scrape, "http_server_requests_seconds_count{method=\"PUT\",route=\"/runs/{id}\",status=\"405\"}"))
                .isEqualTo(1);
    }

    @Test
    void shouldRefuseAPageLengthLimitTheQueriesCannotServe() throws Exception {
        assertThatThrownBy(() -> config().maxPageLength(5000).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxPageLength must be 1-1000 but was 5000");
        start(config().maxPageLength(1000));
        post(ndjson(TestEvents.created("r-1")));
        assertThat(get("/runs?pageLength=1000&minIndex=" + head()).statusCode()).isEqualTo(200);
        assertThat(get("/runs/r-1/commands?pageLength=1000").statusCode()).isEqualTo(200);
        assertThat(get("/runs?pageLength=1001").statusCode()).isEqualTo(400);
    }

    @Test
    void shouldRequireTheTokenOnEveryRouteButHealthWhenOneIsSet() throws Exception {
        start(config().token(TOKEN));
        HttpResponse<String> appended = post(ndjson(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued")),
                "Authorization", "Bearer " + TOKEN);
        assertThat(appended.statusCode()).isEqualTo(200);
        String min = "?minIndex=" + lastIndex(appended);
        for (String path : List.of("/runs" + min, "/runs/r-1" + min, "/runs/r-1/commands" + min, "/runs/r-1/commands.json" + min,
                "/runs/r-1/commands/c-1" + min, "/metrics", "/nowhere")) {
            assertThat(get(path).statusCode()).as("no token: GET %s", path).isEqualTo(401);
            assertThat(get(path, "Authorization", "Bearer wrong-token-0123456789").statusCode()).as("wrong token: %s", path)
                    .isEqualTo(401);
            assertThat(get(path, "Authorization", "Bearer" + TOKEN).statusCode()).as("no space: %s", path).isEqualTo(401);
            int expected = path.equals("/nowhere") ? 404 : 200;
            assertThat(get(path, "Authorization", "bearer " + TOKEN).statusCode()).as("lower-case scheme: %s", path)
                    .isEqualTo(expected);
            assertThat(get(path, "Authorization", "Bearer " + TOKEN).statusCode()).as("token: %s", path).isEqualTo(expected);
        }
        assertThat(get("/health").statusCode()).as("health is open").isEqualTo(200);
        assertThat(get("/runs").body()).contains("\"id\":\"Unauthorized\"").doesNotContain("r-1");
        assertThat(post(ndjson(TestEvents.created("r-2")), "Authorization", "BEARER " + TOKEN).statusCode()).isEqualTo(200);
    }

    @Test
    void shouldServeMetricsWithoutATokenOnlyWhenMadePublic() throws Exception {
        start(config().token(TOKEN).publicMetrics(true));
        assertThat(get("/metrics").statusCode()).isEqualTo(200);
        assertThat(get("/runs").statusCode()).isEqualTo(401);
    }

    @Test
    void shouldDecodePathSegmentsPerRfc3986AndRefuseWhatIsNotUtf8() throws Exception {
        start(config());
        HttpResponse<String> appended = post(ndjson(TestEvents.created("x+y"), TestEvents.created("x y")));
        assertThat(get("/runs/x+y?minIndex=" + lastIndex(appended)).body()).contains("\"id\":\"x+y\"");
        assertThat(get("/runs/x%20y").body()).contains("\"id\":\"x y\"");
        HttpResponse<String> overlong = get("/runs/a%C0%AFb");
        assertThat(overlong.statusCode()).isEqualTo(400);
        assertThat(overlong.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(overlong.body()).contains("not valid UTF-8");
        assertThat(get("/runs?label.k=%FF").statusCode()).isEqualTo(400);
        for (String malformed : List.of("/runs/%ZZ", "/runs/a%2", "/runs/a%", "/runs?label.k=%ZZ")) {
            String response = rawGet(malformed); // java.net.URI refuses to send these
            assertThat(response).as(malformed).startsWith("HTTP/1.1 400").contains("Content-Type: application/json")
                    .contains("\"id\":\"BadRequest\"").containsPattern("percent-escape|percent-encoding");
        }
        assertThat(rawGet("/runs?label.k=%ZZ")).contains("malformed percent-encoding in %ZZ");
        assertThat(get("/runs/a%2Fb").body()).as("an encoded slash is part of the id").contains("no run a/b");
    }

    @Test
    void shouldRefuseBodiesThatAreNotNdjson() throws Exception {
        start(config());
        String body = ndjson(TestEvents.created("r-1"));
        HttpResponse<String> xml = post(body, "Content-Type", "application/xml");
        assertThat(xml.statusCode()).isEqualTo(415);
        assertThat(xml.body()).contains("application/x-ndjson");
        assertThat(head()).isEqualTo(Journal.NONE);
        assertThat(post(body, "Content-Type", "application/x-ndjson; charset=utf-8").statusCode()).isEqualTo(200);
        assertThat(post(ndjson(TestEvents.created("r-2"))).statusCode()).as("no Content-Type: NDJSON assumed").isEqualTo(200);
    }

    @Test
    void shouldBoundParametersAndLabelFiltersNamingTheLimit() throws Exception {
        start(config());
        StringBuilder many = new StringBuilder("/runs?");
        for (int i = 0; i < 10_000; i++) {
            many.append(i == 0 ? "" : "&").append("label.k").append(i).append("=v");
        }
        HttpResponse<String> tooLong = get(many.toString());
        assertThat(tooLong.statusCode()).as("a request line over the header limit").isEqualTo(414);
        assertThat(tooLong.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(tooLong.body()).contains("\"id\":\"UriTooLong\"").doesNotContain("SQLITE").doesNotContain("Expression");
        StringBuilder params = new StringBuilder("/runs?");
        for (int i = 0; i < 150; i++) {
            params.append(i == 0 ? "" : "&").append("label.k").append(i).append("=v");
        }
        HttpResponse<String> tooMany = get(params.toString());
        assertThat(tooMany.statusCode()).isEqualTo(400);
        assertThat(tooMany.body()).contains("at most 100 query parameters").doesNotContain("SQLITE").doesNotContain("Expression");
        StringBuilder keys = new StringBuilder("/runs?");
        for (int i = 0; i < 70; i++) {
            keys.append(i == 0 ? "" : "&").append("label.k").append(i).append("=v");
        }
        assertThat(get(keys.toString()).body()).contains("at most 64 label keys");
    }

    @Test
    void shouldAnswerBusyWhenABodyDoesNotFitTheInFlightBudget() throws Exception {
        start(config().bodyBudgetBytes(1 << 20));
        StringBuilder big = new StringBuilder(ndjson(TestEvents.created("r-big")));
        for (int i = 0; big.length() < 600_000; i++) {
            big.append(ndjson(TestEvents.command("r-big", "c-" + i, "queued")));
        }
        HttpResponse<String> busy = post(big.toString());
        assertThat(busy.statusCode()).isEqualTo(503);
        assertThat(busy.headers().firstValue("Retry-After")).isPresent();
        assertThat(busy.body()).contains("\"id\":\"Busy\"").contains("does not fit now");
        assertThat(head()).as("nothing appended").isEqualTo(Journal.NONE);
        assertThat(post(ndjson(TestEvents.created("r-small"))).statusCode()).as("the budget is released").isEqualTo(200);
    }

    @Test
    void shouldParkMinIndexWaitsWithoutHoldingThreadsWhileOtherReadsStayFast() throws Exception {
        start(config().threads(8));
        long far = lastIndex(post(ndjson(TestEvents.created("r-1")))) + 1_000_000;
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> parked = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) {
            parked.add(client.sendAsync(HttpRequest.newBuilder(uri("/runs?minIndex=" + far)).timeout(Duration.ofSeconds(30))
                    .GET().build(), HttpResponse.BodyHandlers.ofString()));
        }
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> server.parkedReads() == 200);

        for (String path : List.of("/health", "/runs", "/runs/r-1")) {
            long t0 = System.nanoTime();
            assertThat(get(path).statusCode()).as(path).isEqualTo(200);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("%s answers while 200 reads are parked", path)
                    .isLessThan(Duration.ofSeconds(1));
        }
        for (var read : parked) {
            HttpResponse<String> r = read.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(r.body()).contains("NotYetApplied");
            assertThat(r.headers().firstValue("Retry-After")).isPresent();
        }
        assertThat(server.parkedReads()).isZero();
    }

    @Test
    void shouldCapParkedReadsAndAnswerTheRestAtOnce() throws Exception {
        start(config().maxParkedReads(10));
        long far = lastIndex(post(ndjson(TestEvents.created("r-1")))) + 1_000_000;
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> parked = new java.util.ArrayList<>();
        for (int i = 0; i < 10; i++) {
            parked.add(client.sendAsync(HttpRequest.newBuilder(uri("/runs?minIndex=" + far)).GET().build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> server.parkedReads() == 10);
        HttpResponse<String> refused = get("/runs/r-1?minIndex=" + far);
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.body()).contains("TooManyWaits").contains("already 10 reads are waiting");
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
        for (var read : parked) {
            assertThat(read.get(30, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(503);
        }
    }

    @Test
    void shouldRefuseBodiesOverTheLimitAndAppendNothing() throws Exception {
        start(config().maxBodyBytes(4096));
        post(ndjson(TestEvents.created("r-1")));
        long head = head();
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            big.append(ndjson(TestEvents.command("r-1", "c-" + i, "queued")));
        }

        HttpResponse<String> tooLarge = post(big.toString());

        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(tooLarge.body()).contains("larger than the limit of 4096 bytes");
        assertThat(head()).isEqualTo(head);
    }

    @Test
    void shouldRequireATokenToBindBeyondLoopbackAndForAppendsWhenSet() throws Exception {
        assertThatThrownBy(() -> config().bind("0.0.0.0").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("binding 0.0.0.0 (not loopback) requires a token");
        start(config().token(TOKEN));

        assertThat(post(ndjson(TestEvents.created("r-1"))).statusCode()).isEqualTo(401);
        assertThat(post(ndjson(TestEvents.created("r-1")), "Authorization", "Bearer wrong-token-0123456789").statusCode())
                .isEqualTo(401);
        assertThat(head()).isEqualTo(Journal.NONE);
        HttpResponse<String> ok = post(ndjson(TestEvents.created("r-1")), "Authorization", "Bearer " + TOKEN);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(get("/runs/r-1?minIndex=" + lastIndex(ok), "Authorization", "Bearer " + TOKEN).statusCode()).isEqualTo(200);
    }

    @Test
    void shouldExposePrometheusMetricsThatMoveWithAppendsAndProjection() throws Exception {
        start(config());
        long index = lastIndex(post(ndjson(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"))));
        get("/runs/r-1?minIndex=" + index);
        double appendsBefore = metric(get("/metrics").body(), "ledger_appends_total{type=\"command.recorded\"}");
        double appliedBefore = metric(get("/metrics").body(), "projection_applied_total{projection=\"runs.sqlite\"}");

        index = lastIndex(post(ndjson(TestEvents.command("r-1", "c-2", "queued"), TestEvents.command("r-1", "c-3", "queued"))));
        get("/runs/r-1?minIndex=" + index);
        post("not json");
        HttpResponse<String> scrape = get("/metrics");

        assertThat(scrape.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        String text = scrape.body();
        for (String line : text.split("\n")) {
            assertThat(line).as("exposition line").matches("(# (HELP|TYPE) .*)|([a-zA-Z_:][a-zA-Z0-9_:]*(\\{.*\\})? \\S+)|");
        }
        assertThat(metric(text, "ledger_appends_total{type=\"command.recorded\"}")).isEqualTo(appendsBefore + 2);
        assertThat(metric(text, "projection_applied_total{projection=\"runs.sqlite\"}")).isEqualTo(appliedBefore + 2);
        assertThat(metric(text, "ledger_append_rejected_total{reason=\"invalid\"}")).isEqualTo(1);
        assertThat(text).contains("ledger_append_latency_seconds{quantile=\"0.99\"}", "projection_lag_events{",
                "projection_batch_size_count{", "projection_quarantined_total{", "rebuild_progress{", "jvm_memory_used_bytes",
                "process_cpu_usage", "http_server_requests_seconds_count{method=\"POST\",route=\"/events\",status=\"200\"}");
        // what `promtool check metrics` lints away (checked by hand with promtool: exit 0)
        assertThat(text).doesNotContain("process_cpu_time_ns_total", "system_cpu_count ");
    }

    @Test
    void shouldDeleteARunOnRequest() throws Exception {
        start(config());
        lastIndex(post(ndjson(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"))));

        HttpResponse<String> deleted = send("DELETE", "/runs/r-1");
        assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(200);
        assertThat(get("/runs/r-1?minIndex=" + lastIndex(deleted)).statusCode()).isEqualTo(404);
        assertThat(send("DELETE", "/runs/r-1").statusCode()).as("already deleted").isEqualTo(409);
        assertThat(send("DELETE", "/runs/nobody").statusCode()).isEqualTo(404);
        assertThat(send("DELETE", "/runs/r-1?erase=maybe").statusCode()).isEqualTo(400);
        assertThat(send("PUT", "/runs/r-1").headers().firstValue("Allow")).hasValue("GET, DELETE");
    }

    /** Every file under {@code root} that holds {@code marker}, read byte for byte. */
    private static List<Path> filesHolding(Path root, String marker) throws java.io.IOException {
        byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
        List<Path> hits = new ArrayList<>();
        try (var files = java.nio.file.Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(java.nio.file.Files::isRegularFile)::iterator) {
                byte[] content = java.nio.file.Files.readAllBytes(f);
                outer:
                for (int i = 0; i + needle.length <= content.length; i++) {
                    for (int j = 0; j < needle.length; j++) {
                        if (content[i + j] != needle[j]) {
                            continue outer;
                        }
                    }
                    hits.add(f);
                    break;
                }
            }
        }
        return hits;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldEraseARunWhileServingSoThatNoByteOfItIsLeftInTheDataDirectory() throws Exception {
        start(config());
        String marker = "ERASE-ME-" + java.util.UUID.randomUUID();
        String markedRun = "run-" + marker;
        List<RunEvent> events = new ArrayList<>();
        events.add(TestEvents.created(markedRun));
        for (int c = 0; c < 50; c++) {
            events.add(new RunEvent.CommandRecorded(markedRun, TestEvents.commandJson("c-" + c, "aspirate", "succeeded")
                    .replace("\"notes\":[]", "\"notes\":[\"" + marker + "\"]")));
        }
        post(ndjson(events.toArray(RunEvent[]::new)));
        long kept = lastIndex(post(ndjson(TestEvents.created("kept"), TestEvents.command("kept", "c-1", "queued"))));
        assertThat(get("/runs/" + markedRun + "/commands?minIndex=" + kept).body()).contains(marker);
        assertThat(filesHolding(dir, marker)).isNotEmpty();

        HttpResponse<String> erased = send("DELETE", "/runs/" + markedRun + "?erase=true");
        assertThat(erased.statusCode()).as(erased.body()).isEqualTo(200);
        assertThat(erased.body()).contains("\"erased\":true", "\"droppedRuns\":1", "\"appended\":1");

        assertThat(filesHolding(dir, marker)).as("files of the running server that still hold the run").isEmpty();
        long after = lastIndex(post(ndjson(TestEvents.command("kept", "c-2", "queued"))));
        assertThat(after).as("indexes never go backwards").isGreaterThan(kept);
        assertThat(get("/runs/kept/commands?minIndex=" + after).body()).contains("c-1", "c-2");
        assertThat(get("/runs/" + markedRun).statusCode()).isEqualTo(404);
        assertThat(send("DELETE", "/runs/" + markedRun + "?erase=true").statusCode()).as("gone, not even a tombstone")
                .isEqualTo(404);
        // A run deleted earlier without erase can be erased later.
        post(ndjson(TestEvents.created("later"), TestEvents.command("later", "c-1", "queued")));
        assertThat(send("DELETE", "/runs/later").statusCode()).isEqualTo(200);
        HttpResponse<String> late = send("DELETE", "/runs/later?erase=true");
        assertThat(late.statusCode()).as(late.body()).isEqualTo(200);
        assertThat(late.body()).contains("\"appended\":0", "\"droppedRuns\":1");
        String metrics = get("/metrics").body();
        assertThat(metric(metrics, "ledger_compaction_appends_held_seconds_count")).isEqualTo(2);
        assertThat(metric(metrics, "ledger_compaction_dropped_total")).isEqualTo(52 + 3); // creation, 50 commands and deletion; then 3
    }

    @Test
    void shouldApplyItsRetentionPolicyAndShowItInHealth() throws Exception {
        start(config().retention(dev.runledger.ledger.RetentionPolicy.builder().keepRuns(1).build()));
        for (int i = 0; i < 3; i++) {
            post(ndjson(TestEvents.created("r-" + i), TestEvents.completed("r-" + i)));
        }
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> get("/health").body().contains("\"deleted\":2"));
        assertThat(get("/health").body()).contains("\"retention\":{\"policy\":\"keep the newest 1 completed runs\",\"lastRun\":\"");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> get("/runs").body().contains("r-2") && !get("/runs").body().contains("\"r-0\""));
    }

    private HttpResponse<String> send(String method, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(20))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void shouldReportHealth() throws Exception {
        start(config());
        long index = lastIndex(post(ndjson(TestEvents.created("r-1"))));
        get("/runs/r-1?minIndex=" + index);

        HttpResponse<String> health = get("/health");

        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).startsWith("{\"status\":\"ok\",\"journal\":{\"id\":\"")
                .contains("\"head\":" + index, "\"checkpoint\":" + index, "\"schemaVersion\":2", "\"lagEvents\":");
    }

    @Test
    void shouldAnswerServiceUnavailableWithProgressWhileTheFirstProjectionIsBuilt() throws Exception {
        try (dev.runledger.ledger.Ledger ledger = dev.runledger.ledger.Ledger.open(dir.resolve("journal"))) {
            java.util.List<RunEvent> events = new java.util.ArrayList<>();
            for (int r = 0; r < 100; r++) {
                events.add(TestEvents.created("r-" + r));
                for (int c = 0; c < 1_000; c++) {
                    events.add(TestEvents.command("r-" + r, "c-" + c, "queued"));
                }
            }
            ledger.append(events);
        }
        start(config());

        HttpResponse<String> during = get("/runs/r-1");

        assertThat(during.statusCode()).isEqualTo(503);
        assertThat(during.body()).contains("\"id\":\"ProjectionUnavailable\"", "is being built", "\"rebuildProgress\":");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> get("/runs/r-1").statusCode() == 200);
        assertThat(get("/health").body()).contains("\"status\":\"ok\"");
    }

    private static double metric(String exposition, String series) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError("no series " + series + " in\n" + exposition);
    }
}
