package dev.runledger.tool;

import dev.runledger.fleet.KafkaBroker;
import dev.runledger.fleet.ShipVerifier;
import dev.runledger.ledger.ChildJvm;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.ReaderPositions;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code runledger ship} and {@code serve --ship-to} against a real Kafka broker. */
class ShipCliTest extends CliTestSupport {
    @TempDir
    static Path brokerDir;
    private static KafkaBroker kafka;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() throws Exception {
        kafka = KafkaBroker.start(brokerDir.resolve("kafka"));
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void shouldShipAJournalThenVerifyTheTopicAgainstIt() {
        String journal = dir.resolve("journal").toString();
        assertThat(run(lines(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"),
                TestEvents.command("r-1", "c-1", "succeeded"), TestEvents.completed("r-1")), "append", "--journal", journal))
                .isZero();

        assertThat(run("", "ship", "--journal", journal, "--robot", "flex-7", "--kafka", kafka.bootstrap(), "--topic",
                "cli-ship", "--json")).as(stderr()).isZero();
        assertThat(stdout()).contains("\"robot\":\"flex-7\"", "\"events\":4", "\"resends\":0");
        assertThat(run("", "ship", "--journal", journal, "--robot", "flex-7", "--kafka", kafka.bootstrap(), "--topic",
                "cli-ship")).isZero();
        assertThat(stdout()).as("nothing new since the checkpoint").startsWith("ship: 0 events");

        assertThat(run("", "ship", "--verify", "--journal", journal, "--robot", "flex-7", "--kafka", kafka.bootstrap(),
                "--topic", "cli-ship")).as(stdout()).isZero();
        assertThat(stdout()).startsWith("ship --verify: OK: 4 events of robot flex-7");
        assertThat(run("", "ship", "--journal", journal, "--robot", "flex 7", "--kafka", kafka.bootstrap())).isEqualTo(2);
        assertThat(stderr()).contains("robot id", "flex 7");
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldRunALocalBrokerWithDevKafkaThatComesBackWithItsTopics() throws Exception {
        Path data = dir.resolve("kafka");
        String journal = dir.resolve("journal").toString();
        assertThat(run(lines(TestEvents.created("r-1"), TestEvents.completed("r-1")), "append", "--journal", journal)).isZero();
        String bootstrap = null;
        for (int round = 0; round < 2; round++) {
            Process broker = ChildJvm.start(RunLedger.class, dir.resolve("dev-kafka-" + round + ".log"), "dev", "kafka", "--dir",
                    data.toString(), "--port", "0");
            try (BufferedReader out = new BufferedReader(new InputStreamReader(broker.getInputStream(), StandardCharsets.UTF_8))) {
                String line = out.readLine();
                assertThat(line).as("see dev-kafka-%d.log", round).startsWith("kafka listening on 127.0.0.1:");
                String address = line.substring("kafka listening on ".length(), line.indexOf(' ', "kafka listening on ".length()));
                if (bootstrap != null) {
                    assertThat(address).as("the same port again").isEqualTo(bootstrap);
                }
                bootstrap = address;
                if (round == 0) {
                    assertThat(run("", "ship", "--journal", journal, "--robot", "r", "--kafka", bootstrap, "--topic", "dev")).isZero();
                } else {
                    assertThat(run("", "ship", "--verify", "--journal", journal, "--robot", "r", "--kafka", bootstrap, "--topic",
                            "dev")).as(stdout()).isZero();
                    assertThat(stdout()).startsWith("ship --verify: OK: 2 events");
                }
                broker.destroy(); // SIGTERM: a clean stop
                assertThat(broker.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(broker.exitValue()).isZero();
            } finally {
                broker.destroyForcibly();
            }
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldShipWhileServingWithShipTo() throws Exception {
        Path journal = dir.resolve("journal");
        Process serve = ChildJvm.start(RunLedger.class, dir.resolve("serve-ship.log"), "serve", "--journal", journal.toString(),
                "--db", dir.resolve("runs.sqlite").toString(), "--port", "0", "--ship-to", kafka.bootstrap(), "--robot", "ot3-1",
                "--ship-topic", "serve-ship");
        try (BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see serve-ship.log").startsWith("listening on http://127.0.0.1:");
            URI events = URI.create("http://127.0.0.1:" + line.substring(line.lastIndexOf(':') + 1) + "/events");
            HttpResponse<String> posted = HttpClient.newHttpClient().send(HttpRequest.newBuilder(events)
                    .header("Content-Type", "application/x-ndjson").POST(HttpRequest.BodyPublishers.ofString(lines(
                            TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "succeeded"), TestEvents.completed("r-1"))))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(200);
            long lastIndex = Long.parseLong(posted.body().replaceAll(".*\"lastIndex\":(\\d+).*", "$1"));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> ReaderPositions.read(journal)
                    .getOrDefault("shipper-ot3-1-serve-ship", Journal.NONE) >= lastIndex);
            serve.destroy();
            assertThat(serve.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(serve.exitValue()).isZero();
        } finally {
            serve.destroyForcibly();
        }
        try (Journal j = Journal.openExisting(journal)) {
            ShipVerifier.Report report = ShipVerifier.verify(j, "ot3-1", kafka.bootstrap(), "serve-ship", j.headIndex());
            assertThat(report.ok()).as("%s", report).isTrue();
            assertThat(report.events()).isEqualTo(3);
        }
    }
}
