package dev.runledger.bench;

import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RunEvent;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.locks.LockSupport;

/** The live projector's throughput against raw SQLite inserts, and append-to-visible lag under load. */
final class ProjectionHarness {
    private static final int RUNS = 100;
    private static final int COMMANDS_PER_RUN = 1_000;

    private ProjectionHarness() {
    }

    static List<Row> throughput() throws Exception {
        System.out.println("\n== projection throughput: live projector vs raw batched SQLite inserts ==");
        Path dir = Bench.tempDir("projection");
        try {
            List<String> real = Bench.realCommands();
            Path journalDir = dir.resolve("journal");
            Path template = dir.resolve("empty.sqlite");
            List<byte[]> finalRows = new ArrayList<>();
            try (Ledger ledger = Ledger.open(journalDir)) {
                // An empty projection made while the journal is empty, so each trial projects live from -1.
                try (Projection p = Projection.open(ProjectionConfig.builder(template, ledger.journal()).build())) {
                    p.awaitApplied(-1, Duration.ofSeconds(5));
                }
                for (int r = 0; r < RUNS; r++) {
                    String runId = "run-" + r;
                    List<RunEvent> events = new ArrayList<>(COMMANDS_PER_RUN * 3 + 1);
                    events.add(new RunEvent.RunCreated(runId, "2026-01-01T00:00:00Z", null, Map.of("tenant", "acme")));
                    for (int c = 0; c < COMMANDS_PER_RUN; c++) {
                        String base = Bench.withId(real.get((r * COMMANDS_PER_RUN + c) % real.size()), runId + "-" + c);
                        for (String status : new String[] {"queued", "running", "succeeded"}) {
                            events.add(new RunEvent.CommandRecorded(runId, CommandJson.parse(Bench.withStatus(base, status))));
                        }
                        finalRows.add(Bench.withStatus(base, "succeeded").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    }
                    ledger.append(events);
                }
            }
            long commandEvents = (long) RUNS * COMMANDS_PER_RUN * 3;
            double best = Double.MAX_VALUE;
            for (int trial = 0; trial < 3; trial++) {
                Path db = dir.resolve("trial-" + trial + ".sqlite");
                Files.copy(template, db, StandardCopyOption.REPLACE_EXISTING);
                try (Journal journal = Journal.openExisting(journalDir)) {
                    long start = System.nanoTime();
                    try (Projection p = Projection.open(ProjectionConfig.builder(db, journal).build())) {
                        if (!p.awaitApplied(journal.headIndex(), Duration.ofMinutes(5))) {
                            throw new IllegalStateException("projection did not catch up: " + p.status());
                        }
                    }
                    double s = (System.nanoTime() - start) / 1e9;
                    best = Math.min(best, s);
                    System.out.printf(java.util.Locale.ROOT, "   projector trial %d: %,d command events (%,d commands) in %.3f s%n",
                            trial, commandEvents, RUNS * COMMANDS_PER_RUN, s);
                }
            }
            double rawEvents = rawInserts(dir, finalRows, true);
            double rawFinal = rawInserts(dir, finalRows, false);
            double eventsPerSecond = commandEvents / best;
            double commandsPerSecond = RUNS * COMMANDS_PER_RUN / best;
            System.out.printf(java.util.Locale.ROOT, "   raw: every command record as a row %.3f s; only the %,d final rows %.3f s%n",
                    rawEvents, finalRows.size(), rawFinal);
            return List.of(
                    new Row("projection: command events/s (live projector, WAL)", Row.fmt("%,.0f/s", eventsPerSecond),
                            Row.fmt("raw %,.0f rows/s", commandEvents / rawEvents),
                            Row.fmt("%.2fx raw", rawEvents / best), ">= 250k/s, >= 0.7x raw",
                            eventsPerSecond >= 250_000 && rawEvents / best >= 0.7),
                    new Row("projection: distinct commands/s (3 records each)", Row.fmt("%,.0f/s", commandsPerSecond),
                            Row.fmt("raw final rows %.3f s", rawFinal), Row.fmt("%.2fx raw", rawFinal / best),
                            "(same rows as the projection)", null));
        } finally {
            Bench.delete(dir);
        }
    }

    /**
     * The limit: batched inserts (10,000 per transaction, WAL, synchronous=NORMAL) into the projection's
     * command table layout. {@code everyRecord}: three rows per command (each record), else the final rows.
     */
    private static double rawInserts(Path dir, List<byte[]> finalRows, boolean everyRecord) throws Exception {
        double best = Double.MAX_VALUE;
        for (int trial = 0; trial < 3; trial++) {
            Path db = dir.resolve("raw-" + everyRecord + "-" + trial + ".sqlite");
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
                try (Statement s = c.createStatement()) {
                    s.execute("PRAGMA journal_mode=WAL");
                    s.execute("PRAGMA synchronous=NORMAL");
                    s.execute("CREATE TABLE run_commands(run_id TEXT NOT NULL, index_in_run INTEGER NOT NULL,"
                            + " command_id TEXT NOT NULL, command_type TEXT NOT NULL, status TEXT, command TEXT NOT NULL,"
                            + (everyRecord ? " seq INTEGER, UNIQUE(run_id, index_in_run, seq))" : " UNIQUE(run_id, index_in_run))"));
                    s.execute("CREATE " + (everyRecord ? "" : "UNIQUE ") + "INDEX run_commands_id ON run_commands(run_id, command_id)");
                }
                c.setAutoCommit(false);
                long start = System.nanoTime();
                String sql = everyRecord ? "INSERT INTO run_commands VALUES(?, ?, ?, ?, ?, CAST(? AS TEXT), ?)"
                        : "INSERT INTO run_commands VALUES(?, ?, ?, ?, ?, CAST(? AS TEXT))";
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    int n = 0;
                    for (int i = 0; i < finalRows.size(); i++) {
                        for (int rec = 0; rec < (everyRecord ? 3 : 1); rec++) {
                            ps.setString(1, "run-" + (i / COMMANDS_PER_RUN));
                            ps.setInt(2, i % COMMANDS_PER_RUN);
                            ps.setString(3, "run-" + (i / COMMANDS_PER_RUN) + "-" + (i % COMMANDS_PER_RUN));
                            ps.setString(4, "aspirate");
                            ps.setString(5, "succeeded");
                            ps.setBytes(6, finalRows.get(i));
                            if (everyRecord) {
                                ps.setInt(7, rec);
                            }
                            ps.addBatch();
                            if (++n % 2_000 == 0) {
                                ps.executeBatch();
                            }
                            if (n % 10_000 == 0) {
                                c.commit();
                            }
                        }
                    }
                    ps.executeBatch();
                }
                c.commit();
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
        }
        return best;
    }

    /** Appends at a steady rate while an observer measures append -> visible to a query, per sampled event. */
    static List<Row> lag(int eventsPerSecond, int seconds) throws Exception {
        System.out.printf("%n== lag: appended -> visible to a query, at %,d events/s for %d s ==%n", eventsPerSecond, seconds);
        Path dir = Bench.tempDir("lag");
        try (Ledger ledger = Ledger.open(dir.resolve("journal"));
             Projection p = Projection.open(ProjectionConfig.builder(dir.resolve("lag.sqlite"), ledger.journal()).build())) {
            List<String> real = Bench.realCommands();
            BlockingQueue<long[]> samples = new ArrayBlockingQueue<>(1 << 20);
            List<Long> lags = new ArrayList<>();
            Thread observer = new Thread(() -> {
                try {
                    while (true) {
                        long[] s = samples.take();
                        if (s[0] < 0) {
                            return;
                        }
                        p.awaitApplied(s[0], Duration.ofSeconds(10));
                        p.queries().command("lag-run-" + s[2], "c-" + s[3]).orElseThrow();
                        lags.add(System.nanoTime() - s[1]);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "bench-lag-observer");
            observer.start();
            int perTick = Math.max(1, eventsPerSecond / 1000);
            long total = (long) eventsPerSecond * seconds;
            long start = System.nanoTime();
            int run = -1;
            int commandInRun = 0;
            for (long i = 0; i < total; ) {
                long due = start + (i / perTick) * 1_000_000L;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                for (int k = 0; k < perTick; k++, i++) {
                    if (run < 0 || commandInRun == 2_000) {
                        run++;
                        commandInRun = 0;
                        ledger.append(new RunEvent.RunCreated("lag-run-" + run, "2026-01-01T00:00:00Z", null, Map.of()));
                    }
                    String json = Bench.withId(real.get((int) (i % real.size())), "c-" + commandInRun);
                    CommandJson command = CommandJson.parse(json);
                    long t0 = System.nanoTime();
                    long index = ledger.append(new RunEvent.CommandRecorded("lag-run-" + run, command));
                    if (i % 20 == 0) {
                        samples.put(new long[] {index, t0, run, commandInRun});
                    }
                    commandInRun++;
                }
            }
            double achieved = total / ((System.nanoTime() - start) / 1e9);
            samples.put(new long[] {-1, 0, 0, 0});
            observer.join(60_000);
            long[] sorted = lags.stream().mapToLong(Long::longValue).sorted().toArray();
            double p50 = Bench.percentile(sorted, 50) / 1e6;
            double p99 = Bench.percentile(sorted, 99) / 1e6;
            double max = sorted[sorted.length - 1] / 1e6;
            System.out.printf(java.util.Locale.ROOT, "   %,d samples at %,.0f events/s: p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    sorted.length, achieved, p50, p99, max);
            return List.of(new Row("lag append -> query-visible at " + eventsPerSecond / 1000 + "k events/s",
                    Row.fmt("p99 %.1f ms (p50 %.1f)", p99, p50), "-", "-", "p99 <= 50 ms", p99 <= 50));
        } finally {
            Bench.delete(dir);
        }
    }

    /** How long opening a ledger takes over a journal of 1M events (state recovered by a scan). */
    static List<Row> openTime() throws Exception {
        System.out.println("\n== opening a ledger over 1,000,000 events ==");
        Path journalDir = Datasets.base().resolve("open-1m").resolve("journal");
        if (!Files.exists(journalDir.resolveSibling("complete"))) {
            Bench.delete(journalDir.getParent());
            List<String> real = Bench.realCommands();
            try (Ledger ledger = Ledger.open(journalDir)) {
                List<RunEvent> batch = new ArrayList<>();
                for (int r = 0; r < 1_000; r++) {
                    batch.add(new RunEvent.RunCreated("run-" + r, "2026-01-01T00:00:00Z", null, Map.of("tenant", "t" + r % 7)));
                    for (int c = 0; c < 998; c++) {
                        batch.add(new RunEvent.CommandRecorded("run-" + r,
                                CommandJson.parse(Bench.withId(real.get(c % real.size()), "c-" + c))));
                    }
                    batch.add(new RunEvent.RunCompleted("run-" + r, dev.runledger.ledger.CompletionStatus.SUCCEEDED,
                            "2026-01-01T01:00:00Z"));
                    ledger.append(batch);
                    batch.clear();
                }
            }
            Files.writeString(journalDir.resolveSibling("complete"), "ok");
        }
        // Warm: state from the snapshot written at the last close, then with the snapshot removed (full scan).
        double warmSnapshot = Double.MAX_VALUE;
        double warmScan = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            warmSnapshot = Math.min(warmSnapshot, timeOpen(journalDir));
            Files.deleteIfExists(journalDir.resolve("ledger-state.snapshot"));
            warmScan = Math.min(warmScan, timeOpen(journalDir)); // its close writes the snapshot again
        }
        // Cold: the journal's pages evicted from the OS cache first (needs root; skipped otherwise).
        String cold = "page cache not droppable here";
        Boolean met = null;
        if (dropPageCache()) {
            double coldSnapshot = timeOpen(journalDir);
            Files.deleteIfExists(journalDir.resolve("ledger-state.snapshot"));
            dropPageCache();
            double coldScan = timeOpen(journalDir);
            cold = Row.fmt("cold: snapshot %.3f s, full scan %.3f s", coldSnapshot, coldScan);
            met = coldSnapshot <= 1.0 && warmSnapshot <= 1.0;
        }
        System.out.printf(java.util.Locale.ROOT, "   warm: snapshot %.3f s, full scan %.3f s; %s%n", warmSnapshot, warmScan, cold);
        return List.of(new Row("open a ledger over 1M events (snapshot + scan after it)", Row.fmt("%.3f s warm", warmSnapshot),
                Row.fmt("full scan %.3f s warm", warmScan), cold, "<= 1 s", met == null ? warmSnapshot <= 1.0 : met));
    }

    private static double timeOpen(Path journalDir) {
        long start = System.nanoTime();
        try (Ledger ledger = Ledger.open(journalDir)) {
            return (System.nanoTime() - start) / 1e9;
        }
    }

    private static boolean dropPageCache() {
        try {
            new ProcessBuilder("sync").start().waitFor();
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
