package dev.runledger.tool;

import dev.runledger.ledger.ChildJvm;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.TestEvents;
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
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code runledger serve} in a child JVM: SIGTERM stops it cleanly with a final checkpoint; its token sources. */
class ServeShutdownTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldCheckpointAndExitCleanlyOnSigterm() throws Exception {
        Path db = dir.resolve("runs.sqlite");
        Process serve = ChildJvm.start(RunLedger.class, dir.resolve("serve.log"), "serve", "--journal",
                dir.resolve("journal").toString(), "--db", db.toString(), "--port", "0");
        int port;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see serve.log").startsWith("listening on http://127.0.0.1:");
            port = Integer.parseInt(line.substring(line.lastIndexOf(':') + 1));

            StringBuilder body = new StringBuilder(NdjsonCodec.encodeToString(TestEvents.created("r-1"))).append('\n');
            for (int i = 0; i < 500; i++) {
                body.append(NdjsonCodec.encodeToString(TestEvents.command("r-1", "c-" + i, "queued"))).append('\n');
            }
            HttpResponse<String> appended = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/events")).POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(appended.statusCode()).isEqualTo(200);
            long last = Long.parseLong(appended.body().replaceAll(".*\"lastIndex\":(\\d+).*", "$1"));

            serve.destroy(); // SIGTERM
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(serve.exitValue()).as("a clean stop exits 0").isZero();
            assertThat(db.resolveSibling("runs.sqlite-wal")).as("checkpointed on close: no WAL left").doesNotExist();

            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); ResultSet rs = c.createStatement()
                    .executeQuery("SELECT value FROM projection_meta WHERE key = 'checkpoint_index'")) {
                rs.next();
                assertThat(Long.parseLong(rs.getString(1))).isEqualTo(last);
            }
        } finally {
            serve.destroyForcibly();
        }
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldStopAFollowingProjectorOnSigtermWithExitCode0() throws Exception {
        Path journal = dir.resolve("journal");
        try (dev.runledger.ledger.Ledger ledger = dev.runledger.ledger.Ledger.open(journal)) {
            ledger.append(java.util.List.of(TestEvents.created("r-1"), TestEvents.completed("r-1")));
        }
        Process project = ChildJvm.start(RunLedger.class, dir.resolve("project.log"), "project", "--journal", journal.toString(),
                "--db", dir.resolve("runs.sqlite").toString(), "--follow");
        try (BufferedReader out = new BufferedReader(new InputStreamReader(project.getInputStream(), StandardCharsets.UTF_8))) {
            assertThat(out.readLine()).as("see project.log").startsWith("projected ");
            assertThat(out.readLine()).startsWith("following ");
            project.destroy(); // SIGTERM: a normal stop, not a crash (a shutdown hook used to make it exit 143)
            assertThat(project.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(project.exitValue()).isZero();
        } finally {
            project.destroyForcibly();
        }
    }

    /**
     * SIGTERM while four clients keep POSTing whole runs: the stop lets the POSTs in flight finish, so
     * every batch that was acknowledged is in the journal and none that was not (refused with 503 while
     * stopping, or never connected) left a single event.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldKeepEveryAcknowledgedBatchAndNoOtherWhenStoppedMidPost() throws Exception {
        Path journal = dir.resolve("journal");
        Process serve = ChildJvm.start(RunLedger.class, dir.resolve("serve-load.log"), "serve", "--journal",
                journal.toString(), "--db", dir.resolve("runs.sqlite").toString(), "--port", "0");
        java.util.Set<String> acknowledged = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.Set<String> sent = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.concurrent.atomic.AtomicBoolean stopped = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.List<Thread> loaders = new java.util.ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see serve-load.log").startsWith("listening on http://127.0.0.1:");
            URI events = URI.create("http://127.0.0.1:" + line.substring(line.lastIndexOf(':') + 1) + "/events");
            HttpClient client = HttpClient.newBuilder().connectTimeout(java.time.Duration.ofSeconds(5)).build();
            for (int t = 0; t < 4; t++) {
                int loader = t;
                Thread thread = new Thread(() -> {
                    for (int i = 0; !stopped.get(); i++) {
                        String runId = "w" + loader + "-" + i;
                        StringBuilder body = new StringBuilder(NdjsonCodec.encodeToString(TestEvents.created(runId))).append('\n');
                        for (int c = 0; c < 300; c++) {
                            body.append(NdjsonCodec.encodeToString(TestEvents.command(runId, "c-" + c, "succeeded"))).append('\n');
                        }
                        body.append(NdjsonCodec.encodeToString(TestEvents.completed(runId))).append('\n');
                        sent.add(runId);
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(events).timeout(java.time.Duration.ofSeconds(30))
                                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() == 200) {
                                acknowledged.add(runId);
                            }
                        } catch (java.io.IOException | InterruptedException gone) {
                            return; // the server stopped listening
                        }
                    }
                }, "test-loader-" + t);
                thread.start();
                loaders.add(thread);
            }
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> acknowledged.size() >= 20);

            serve.destroy(); // SIGTERM with POSTs in flight
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(serve.exitValue()).as("a clean stop exits 0").isZero();
        } finally {
            stopped.set(true);
            serve.destroyForcibly();
            for (Thread t : loaders) {
                t.join(30_000);
            }
        }
        java.util.Map<String, Integer> eventsPerRun = new java.util.HashMap<>();
        try (dev.runledger.ledger.Journal j = dev.runledger.ledger.Journal.openExisting(journal);
             dev.runledger.ledger.JournalReader reader = j.readFrom(j.firstIndex())) {
            for (dev.runledger.ledger.JournalEntry e; (e = reader.next()) != null; ) {
                String runId = ((dev.runledger.ledger.JournalEntry.Event) e).event().runId();
                eventsPerRun.merge(runId, 1, Integer::sum);
            }
        }
        assertThat(sent.size()).as("some POSTs were not acknowledged").isGreaterThan(acknowledged.size());
        assertThat(eventsPerRun.keySet()).as("acknowledged runs, and only those").isEqualTo(acknowledged);
        assertThat(eventsPerRun.values()).as("each one whole").containsOnly(302);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldCompactWhileServingOnceDeletedRunsPassTheThreshold() throws Exception {
        Path journal = fourRuns(dir.resolve("journal"), "r-1", "r-2", "r-3");
        // Compacted while serving: once the projection has passed the deletions.
        String runs = serveUntilCompacted(journal, "serve-compact.log", 3, "/runs", "--compact-when-dead", "50%");
        assertThat(runs).contains("\"r-0\"").doesNotContain("\"r-1\"");
        assertThat(dev.runledger.ledger.JournalCompaction.lastCompaction(journal)).contains("\"droppedRuns\":3");
        assertThat(dev.runledger.ledger.JournalCompaction.deadShare(journal)).isZero();
    }

    /** One deleted run of four is far below any share worth a compaction; a size limit it passes compacts it anyway. */
    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldCompactWhileServingOnceTheJournalPassesItsSizeLimit() throws Exception {
        Path journal = fourRuns(dir.resolve("journal"), "r-1");
        String health = serveUntilCompacted(journal, "serve-size.log", 1, "/health", "--compact-when-size", "1 KiB");
        assertThat(health).contains("\"compactWhenBytes\":1024");
        assertThat(java.nio.file.Files.readString(dir.resolve("serve-size.log")))
                .as("the runs kept alone pass 1 KiB: the log says so").contains("above its limit of 1024");
    }

    /** A journal of four runs of 20 commands, {@code deleted} of them deleted after. */
    private static Path fourRuns(Path journal, String... deleted) {
        try (dev.runledger.ledger.Ledger ledger = dev.runledger.ledger.Ledger.open(journal)) {
            for (int r = 0; r < 4; r++) {
                ledger.append(TestEvents.created("r-" + r));
                for (int c = 0; c < 20; c++) {
                    ledger.append(TestEvents.command("r-" + r, "c-" + c, "queued"));
                }
            }
            for (String runId : deleted) {
                ledger.append(new dev.runledger.ledger.RunEvent.RunDeleted(runId));
            }
        }
        return journal;
    }

    /**
     * Serves {@code journal} with {@code options} until a compaction has dropped {@code droppedRuns} runs, and
     * returns what {@code GET path} answers then; stops the server with SIGTERM.
     */
    private String serveUntilCompacted(Path journal, String log, int droppedRuns, String path, String... options)
            throws Exception {
        List<String> args = new ArrayList<>(List.of("serve", "--journal", journal.toString(), "--db",
                dir.resolve("runs.sqlite").toString(), "--port", "0"));
        args.addAll(List.of(options));
        Process serve = ChildJvm.start(RunLedger.class, dir.resolve(log), args.toArray(String[]::new));
        try (BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see " + log).startsWith("listening on http://127.0.0.1:");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
                    String.valueOf(dev.runledger.ledger.JournalCompaction.lastCompaction(journal))
                            .contains("\"droppedRuns\":" + droppedRuns));
            URI uri = URI.create("http://127.0.0.1:" + line.substring(line.lastIndexOf(':') + 1) + path);
            String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            serve.destroy();
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
            return body;
        } finally {
            serve.destroyForcibly();
        }
    }

    private static final String TOKEN = "a-token-from-somewhere-safe";

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldTakeTheTokenFromAFileOrTheEnvironmentAndRequireItOnReads() throws Exception {
        java.nio.file.Files.writeString(dir.resolve("token"), TOKEN + "\n");
        readsNeedTheToken(ChildJvm.start(RunLedger.class, dir.resolve("serve-file.log"), "serve", "--journal",
                dir.resolve("journal").toString(), "--db", dir.resolve("runs.sqlite").toString(), "--port", "0",
                "--token-file", dir.resolve("token").toString()));
        readsNeedTheToken(ChildJvm.start(RunLedger.class, dir.resolve("serve-env.log"), java.util.Map.of("RUNLEDGER_TOKEN", TOKEN),
                "serve", "--journal", dir.resolve("journal").toString(), "--db", dir.resolve("runs.sqlite").toString(),
                "--port", "0"));
    }

    private static void readsNeedTheToken(Process serve) throws Exception {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see the serve log").startsWith("listening on http://127.0.0.1:");
            URI runs = URI.create("http://127.0.0.1:" + line.substring(line.lastIndexOf(':') + 1) + "/runs");
            HttpClient client = HttpClient.newHttpClient();
            assertThat(client.send(HttpRequest.newBuilder(runs).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                    .isEqualTo(401);
            assertThat(client.send(HttpRequest.newBuilder(runs).header("Authorization", "Bearer " + TOKEN).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            long stopping = System.nanoTime();
            serve.destroy();
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopping)).as("an idle stop is quick")
                    .isLessThan(2_000);
            assertThat(serve.exitValue()).isZero();
        } finally {
            serve.destroyForcibly();
        }
    }

    /**
     * Four concurrent 31 MB bodies against a 64 MB heap used to end in OutOfMemoryError and reset
     * connections. Now what the in-flight body budget cannot take is answered 503 with Retry-After,
     * nothing of it is appended, and the server stays healthy.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldAnswerLargeConcurrentBodiesBeyondTheBudgetWith503UnderASmallHeap() throws Exception {
        Process serve = ChildJvm.start(RunLedger.class, dir.resolve("serve-small.log"), java.util.Map.of("CHILD_JVM_HEAP",
                "-Xmx64m"), "serve", "--journal", dir.resolve("journal").toString(), "--db", dir.resolve("runs.sqlite").toString(),
                "--port", "0");
        try (BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertThat(line).as("see serve-small.log").startsWith("listening on http://127.0.0.1:");
            String base = "http://127.0.0.1:" + line.substring(line.lastIndexOf(':') + 1);
            StringBuilder big = new StringBuilder(NdjsonCodec.encodeToString(TestEvents.created("big"))).append('\n');
            String command = NdjsonCodec.encodeToString(TestEvents.command("big", "c-0", "queued"));
            for (int i = 0; big.length() < 31_000_000; i++) {
                big.append(command.replace("c-0", "c-" + i)).append('\n');
            }
            byte[] body = big.toString().getBytes(StandardCharsets.UTF_8);
            HttpClient client = HttpClient.newHttpClient();
            java.util.List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> posts = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                posts.add(client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/events"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString()));
            }
            java.util.List<Integer> statuses = new java.util.ArrayList<>();
            String minIndex = "";
            for (var post : posts) {
                HttpResponse<String> r = post.get(90, TimeUnit.SECONDS);
                statuses.add(r.statusCode());
                if (r.statusCode() == 200) {
                    minIndex = "&minIndex=" + r.body().replaceAll(".*\"lastIndex\":(\\d+).*", "$1");
                }
                if (r.statusCode() == 503) {
                    assertThat(r.headers().firstValue("Retry-After")).isPresent();
                    assertThat(r.body()).contains("\"id\":\"Busy\"");
                }
            }
            assertThat(statuses).as("every POST got an HTTP answer").allMatch(s -> s == 200 || s == 503).contains(503);
            assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).as("still healthy").isEqualTo(200);
            long accepted = statuses.stream().filter(s -> s == 200).count();
            HttpResponse<String> runs = client.send(HttpRequest.newBuilder(URI.create(base + "/runs?total=true" + minIndex))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(runs.body()).as("a refused batch appends nothing").contains("\"totalLength\":" + Math.min(accepted, 1));
            serve.destroy();
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            serve.destroyForcibly();
        }
    }
}
