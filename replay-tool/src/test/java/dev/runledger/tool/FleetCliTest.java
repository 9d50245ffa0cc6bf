package dev.runledger.tool;

import dev.runledger.fleet.FleetDatabase;
import dev.runledger.fleet.KafkaBroker;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.TestEvents;
import dev.runledger.server.OpenApiChecker;
import dev.runledger.server.RunLedgerServer;
import dev.runledger.server.ServerConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fleet commands end to end against a real Kafka broker and a real PostgreSQL: robots append and ship,
 * {@code fleet-project} materializes them, {@code serve --postgres} answers the HTTP read API over the fleet,
 * {@code fleet-verify} and {@code fleet-rebuild} replay the topic, and {@code fleet-demo} runs a whole fleet.
 */
class FleetCliTest extends CliTestSupport {
    @TempDir
    static Path servers;
    private OpenApiChecker checker;
    private static KafkaBroker kafka;
    private static FleetDatabase postgres;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServers() throws Exception {
        kafka = KafkaBroker.start(servers.resolve("kafka"));
        postgres = FleetDatabase.embedded(servers.resolve("postgres"), 0);
    }

    @AfterAll
    static void stopServers() {
        if (postgres != null) {
            postgres.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    private String[] fleet(String command, String... more) {
        String[] base = {command, "--kafka", kafka.bootstrap(), "--topic", "cli-fleet", "--postgres", postgres.jdbcUrl(),
                "--schema", "cli"};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    private long appendAndShip(String robot, Object... events) {
        String journal = dir.resolve(robot).toString();
        assertThat(run(lines(events), "append", "--journal", journal)).as(stderr()).isZero();
        assertThat(run("", "ship", "--journal", journal, "--robot", robot, "--kafka", kafka.bootstrap(), "--topic", "cli-fleet"))
                .as(stderr()).isZero();
        try (Journal j = Journal.openExisting(dir.resolve(robot))) {
            return j.headIndex();
        }
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void shouldProjectServeVerifyAndRebuildTheFleet() throws Exception {
        appendAndShip("flex-1", TestEvents.created("r-1", Map.of("assay", "pcr")), TestEvents.command("r-1", "c-1", "queued"),
                TestEvents.command("r-1", "c-1", "succeeded"), TestEvents.completed("r-1"));
        appendAndShip("flex-2", TestEvents.created("r-1", Map.of("assay", "elisa")), TestEvents.created("r-2", Map.of("assay", "pcr")));

        assertThat(run("", fleet("fleet-project", "--json"))).as(stderr()).isZero();
        assertThat(stdout()).contains("\"records\":6", "\"applied\":6", "\"duplicates\":0", "\"quarantined\":0", "\"reseeks\":0");
        assertThat(run("", fleet("fleet-verify"))).as(stdout()).isZero();
        assertThat(stdout()).startsWith("fleet-verify: EQUAL:");

        try (RunLedgerServer server = RunLedgerServer.start(ServerConfig.fleet(postgres.jdbcUrl(), "cli").port(0).build())) {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.port();
            checker = new OpenApiChecker(get(http, base + "/openapi.json").body().getBytes(StandardCharsets.UTF_8));
            get(http, base + "/openapi.json"); // now held to itself
            assertThat(checker.operations()).as("the fleet's document lists exactly the routes it answers")
                    .isEqualTo(new java.util.TreeSet<>(server.endpoints()));
            HttpResponse<String> pcr = get(http, base + "/runs?label.assay=pcr&total=true");
            assertThat(pcr.statusCode()).isEqualTo(200);
            assertThat(pcr.body()).contains("\"robot\":\"flex-1\"", "\"robot\":\"flex-2\"", "\"totalLength\":2");
            assertThat(get(http, base + "/runs?robot=flex-2&label.assay=pcr").body()).contains("\"id\":\"r-2\"")
                    .doesNotContain("flex-1");
            assertThat(get(http, base + "/robots/flex-1/runs/r-1/commands.json").body())
                    .isEqualTo("[" + TestEvents.commandJson("c-1", "aspirate", "succeeded") + "]");
            assertThat(get(http, base + "/robots/flex-2/runs/r-1").body()).contains("\"assay\":\"elisa\"");
            assertThat(get(http, base + "/robots/flex-3/runs/r-1").statusCode()).isEqualTo(404);
            assertThat(get(http, base + "/runs?minIndex=1").statusCode()).as("minIndex names a robot's index").isEqualTo(400);
            assertThat(get(http, base + "/health").body()).contains("\"flex-1\"", "\"flex-2\"");
            assertThat(get(http, base + "/robots/flex-1/runs?label.assay=pcr&pageLength=1").body()).contains("\"id\":\"r-1\"");
            assertThat(get(http, base + "/robots/flex-1/runs/r-1/commands?cursor=0").body()).contains("\"totalLength\":1");
            assertThat(get(http, base + "/robots/flex-1/runs/r-1/commands/c-1").statusCode()).isEqualTo(200);
            assertThat(get(http, base + "/robots/flex-1/runs/r-1/commands/c-9").statusCode()).isEqualTo(404);
            assertThat(get(http, base + "/metrics").body()).contains("jvm_memory_used_bytes");
            assertThat(checker.answered()).as("every operation of the fleet's document answered 2xx at least once")
                    .isEqualTo(checker.operations());

            // Read-your-writes per robot: a read waits (holding no thread) until the fleet projector applied the index.
            long next = appendAndShip("flex-2", TestEvents.completed("r-2"));
            CompletableFuture<HttpResponse<String>> waiting = http.sendAsync(HttpRequest.newBuilder(URI.create(
                    base + "/robots/flex-2/runs/r-2?minIndex=" + next)).build(), HttpResponse.BodyHandlers.ofString());
            Thread.sleep(300);
            assertThat(waiting).isNotDone();
            assertThat(run("", fleet("fleet-project"))).as(stderr()).isZero();
            HttpResponse<String> done = waiting.get(20, TimeUnit.SECONDS);
            assertThat(done.statusCode()).isEqualTo(200);
            assertThat(done.body()).contains("\"status\":\"succeeded\"");

            assertThat(run("", fleet("fleet-rebuild"))).as(stderr()).isZero();
            assertThat(stdout()).startsWith("fleet-rebuild: replayed 7 records");
            assertThat(get(http, base + "/runs?label.assay=pcr&total=true").body()).contains("\"totalLength\":2");
        }
        assertThat(run("", fleet("fleet-verify"))).as(stdout()).isZero();

        // A row changed behind the projector's back: verify names the robot, run, command and column.
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(postgres.jdbcUrl());
             java.sql.Statement st = c.createStatement()) {
            st.execute("UPDATE cli.run_commands SET status = 'failed' WHERE robot_id = 'flex-1' AND run_id = 'r-1'");
            st.execute("DELETE FROM cli.run_labels WHERE robot_id = 'flex-2' AND run_id = 'r-2'");
        }
        assertThat(run("", fleet("fleet-verify"))).isEqualTo(1);
        assertThat(stdout()).contains("2 DIFFERENCE(S)",
                "run_commands robot flex-1 run r-1 command 0: column status is \"failed\" live but \"succeeded\" replayed",
                "run_labels robot flex-2 run r-2 key assay: in the replay, missing from the live projection");
        assertThat(run("", "fleet-project", "--kafka", kafka.bootstrap(), "--postgres", "jdbc:mysql://x")).isEqualTo(2);
        assertThat(stderr()).contains("jdbc:postgresql:");
    }

    /** A GET whose answer, once the server's OpenAPI document is known, is held to it. */
    private HttpResponse<String> get(HttpClient http, String uri) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(uri)).build(), HttpResponse.BodyHandlers.ofString());
        if (checker != null) {
            URI u = response.uri();
            checker.check("GET", u.getRawPath() + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery()), null,
                    response.statusCode(), response.headers().firstValue("Content-Type").orElse(null),
                    response.body().getBytes(StandardCharsets.UTF_8));
        }
        return response;
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void shouldServeTheFleetWhileProjectingItInTheSameProcess() throws Exception {
        String[] args = {"serve", "--postgres", postgres.jdbcUrl(), "--schema", "served", "--port", "0", "--project-from",
                kafka.bootstrap(), "--project-topic", "cli-served"};
        Process serve = dev.runledger.ledger.ChildJvm.start(RunLedger.class, dir.resolve("serve-fleet.log"), args);
        try (java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(serve.getInputStream(),
                java.nio.charset.StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see serve-fleet.log").startsWith("listening on http://127.0.0.1:");
            String base = "http://127.0.0.1:" + line.substring(line.lastIndexOf(':') + 1);
            String journal = dir.resolve("ot-9").toString();
            assertThat(run(lines(TestEvents.created("r-9", Map.of("assay", "pcr")), TestEvents.completed("r-9")), "append",
                    "--journal", journal)).isZero();
            assertThat(run("", "ship", "--journal", journal, "--robot", "ot-9", "--kafka", kafka.bootstrap(), "--topic",
                    "cli-served")).isZero();
            long head;
            try (Journal j = Journal.openExisting(dir.resolve("ot-9"))) {
                head = j.headIndex();
            }
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> read = get(http, base + "/robots/ot-9/runs/r-9?minIndex=" + head);
            assertThat(read.statusCode()).as(read.body()).isEqualTo(200);
            assertThat(read.body()).contains("\"status\":\"succeeded\"");
            assertThat(get(http, base + "/metrics").body()).contains("fleet_projector_records_total{outcome=\"applied\",schema=\"served\"} 2.0");
            serve.destroy();
            assertThat(serve.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(serve.exitValue()).isZero();
        } finally {
            serve.destroyForcibly();
        }
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void shouldRunAFleetDemoAndKeepItsData() {
        Path data = dir.resolve("fleet-demo");
        assertThat(run("", "fleet-demo", "--robots", "2", "--seconds", "6", "--commands", "10", "--dir", data.toString()))
                .as(stderr()).isZero();
        assertThat(stdout()).contains("2 robots", "fleet: ", "failed runs of tenant acme on any robot", "data kept in");
        assertThat(data.resolve("robot-1").resolve("runs.sqlite")).exists();
        assertThat(data.resolve("postgres")).isDirectory();
    }
}
