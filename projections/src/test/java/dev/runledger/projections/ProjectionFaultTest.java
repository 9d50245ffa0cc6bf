package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The projection keeps its promise under faults: a batch that fails (here: the disk is full, as SQLite
 * sees it with {@code PRAGMA max_page_count}) rolls back whole, rows and checkpoint together; the
 * status says {@code DEGRADED} with the real lag; and the projector recovers by itself when space returns.
 */
class ProjectionFaultTest {
    @TempDir
    Path dir;

    @Test
    void shouldRollBackWholeBatchesWhileTheDiskIsFullAndRecoverWhenSpaceReturns() throws Exception {
        AtomicInteger maxPages = new AtomicInteger(40); // ~160 KiB: a few runs fit, then the "disk" is full
        List<String> failures = new CopyOnWriteArrayList<>();
        Path db = dir.resolve("p.sqlite");
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).build());
             Projection projection = Projection.open(ProjectionConfig.builder(db, ledger.journal())
                     .pollInterval(Duration.ofMillis(10)).maxBatchEvents(60).meterRegistry(registry)
                     .failureHandler((worker, context, failure) -> failures.add(context + ": " + failure))
                     .writerFactory(() -> {
                         Connection c = Sqlite.openWriter(db);
                         Sqlite.exec(c, "PRAGMA max_page_count = " + maxPages.get());
                         return c;
                     }).build())) {
            for (int r = 0; r < 30; r++) {
                List<RunEvent> run = new ArrayList<>();
                run.add(TestEvents.created("run-" + r, Map.of("n", Integer.toString(r), "lab", "north")));
                for (int c = 0; c < 40; c++) {
                    run.add(TestEvents.command("run-" + r, "c-" + c, "succeeded"));
                }
                run.add(TestEvents.completed("run-" + r));
                ledger.append(run);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> failures.size() >= 3);
            // Appended while the projector sleeps in back-off: the status must count it all the same.
            List<RunEvent> late = new ArrayList<>();
            late.add(TestEvents.created("run-late", Map.of("lab", "north")));
            for (int c = 0; c < 40; c++) {
                late.add(TestEvents.command("run-late", "c-" + c, "succeeded"));
            }
            late.add(TestEvents.completed("run-late"));
            long lastIndex = ledger.append(late);
            ProjectionStatus degraded = projection.status();
            assertThat(degraded.state()).isEqualTo(ProjectionStatus.State.DEGRADED);
            assertThat(degraded.degradedSince()).isNotNull();
            assertThat(degraded.lastError()).contains("SQLITE_FULL");
            assertThat(degraded.checkpoint()).isLessThan(lastIndex);
            assertThat(degraded.lagEvents()).as("real lag while batches fail")
                    .isEqualTo(ledger.journal().countBetween(degraded.checkpoint(), lastIndex));
            assertThat(registry.get("projection.lag.events").gauge().value()).as("the gauge Prometheus scrapes, as well")
                    .isEqualTo((double) degraded.lagEvents());
            assertThat(failures).allSatisfy(f -> assertThat(f).startsWith("cannot apply batch after checkpoint"));
            assertConsistentWithCheckpoint(db);

            maxPages.set(1_000_000); // space returns
            assertThat(projection.awaitApplied(lastIndex, Duration.ofSeconds(30))).as("recovered by itself").isTrue();
            await().atMost(Duration.ofSeconds(5)).until(() -> projection.status().lagEvents() == 0);
            ProjectionStatus recovered = projection.status();
            assertThat(recovered.state()).isEqualTo(ProjectionStatus.State.RUNNING);
            assertThat(recovered.degradedSince()).isNull();
            assertThat(projection.queries().runs(RunQuery.builder().label("lab", "north").pageLength(100).build()).runs())
                    .hasSize(31);
            assertThat(Rebuild.verify(ledger.journal(), db, null).equal()).isTrue();
        }
    }

    @Test
    void shouldSetAnUnreadableFileAsideAndRebuildIt() throws Exception {
        Path db = dir.resolve("p.sqlite");
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).build())) {
            long head = ledger.append(List.of(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued")));
            try (Projection projection = Projection.open(ProjectionConfig.builder(db, ledger.journal()).build())) {
                assertThat(projection.awaitApplied(head, Duration.ofSeconds(10))).isTrue();
            }
            byte[] garbage = "this is not SQLite any more".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(db, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(garbage), 0);
            }
            io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
            try (Projection projection = Projection.open(ProjectionConfig.builder(db, ledger.journal()).meterRegistry(registry).build())) {
                assertThat(projection.awaitApplied(head, Duration.ofSeconds(20))).isTrue();
                assertThat(projection.queries().command("r-1", "c-1")).isPresent();
                assertThat(registry.get("projection.corrupt.files").counter().count()).isEqualTo(1);
            }
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir)) {
                List<Path> aside = files.filter(f -> f.getFileName().toString().startsWith("p.sqlite.corrupt-")
                        && !f.getFileName().toString().endsWith("-wal") && !f.getFileName().toString().endsWith("-shm")).toList();
                assertThat(aside).singleElement().satisfies(f -> assertThat(new String(java.nio.file.Files.readAllBytes(f),
                        0, garbage.length, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("this is not SQLite any more"));
            }
        }
    }

    /**
     * SQLite reports the file damaged while serving (injected as SQLite's own SQLITE_CORRUPT on a commit,
     * the way max_page_count stands in for a full disk): the file is set aside and rebuilt, not retried.
     */
    @Test
    @dev.runledger.ledger.ExpectErrorLogs("a damaged projection file is an error worth a person's attention")
    void shouldSetAFileFoundDamagedWhileServingAsideAndRebuildIt() throws Exception {
        Path db = dir.resolve("p.sqlite");
        AtomicInteger corruptCommits = new AtomicInteger();
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).build());
             Projection projection = Projection.open(ProjectionConfig.builder(db, ledger.journal()).meterRegistry(registry)
                     .pollInterval(Duration.ofMillis(10)).failureHandler((worker, context, failure) -> { })
                     .writerFactory(() -> failingCommits(Sqlite.openWriter(db), corruptCommits)).build())) {
            long first = ledger.append(List.of(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued")));
            assertThat(projection.awaitApplied(first, Duration.ofSeconds(10))).isTrue();

            corruptCommits.set(1);
            long second = ledger.append(List.of(TestEvents.created("r-2"), TestEvents.command("r-2", "c-1", "queued")));
            assertThat(projection.awaitApplied(second, Duration.ofSeconds(30))).as("rebuilt and caught up").isTrue();
            await().atMost(Duration.ofSeconds(10)).until(() -> projection.status().state() == ProjectionStatus.State.RUNNING);

            assertThat(projection.queries().command("r-2", "c-1")).isPresent();
            assertThat(registry.get("projection.corrupt.files").counter().count()).isEqualTo(1);
            assertThat(projection.status().lastError()).contains("SQLITE_CORRUPT");
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir)) {
                assertThat(files.map(f -> f.getFileName().toString()))
                        .anySatisfy(name -> assertThat(name).startsWith("p.sqlite.corrupt-"));
            }
            assertThat(Rebuild.verify(ledger.journal(), db, null).equal()).isTrue();
        }
    }

    /** A writer whose next {@code n} commits fail as SQLite fails on a damaged file. */
    private static Connection failingCommits(Connection real, AtomicInteger n) {
        return (Connection) java.lang.reflect.Proxy.newProxyInstance(Connection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                    if (method.getName().equals("commit") && n.getAndUpdate(v -> Math.max(0, v - 1)) > 0) {
                        real.rollback();
                        throw new org.sqlite.SQLiteException("[SQLITE_CORRUPT] The database disk image is malformed"
                                + " (injected)", org.sqlite.SQLiteErrorCode.SQLITE_CORRUPT);
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** Nothing past the checkpoint: every label, command and tombstone row belongs to a run the checkpoint covers. */
    private static void assertConsistentWithCheckpoint(Path db) throws SQLException {
        try (Connection c = Sqlite.openReader(db); Statement s = c.createStatement()) {
            assertThat(scalar(s, "SELECT count(*) FROM run_labels WHERE run_id NOT IN (SELECT id FROM runs)"))
                    .as("label rows of runs the checkpoint does not cover").isZero();
            assertThat(scalar(s, "SELECT count(*) FROM run_commands WHERE run_id NOT IN (SELECT id FROM runs)"))
                    .as("command rows of runs the checkpoint does not cover").isZero();
            assertThat(scalar(s, "SELECT count(*) FROM run_commands"))
                    .isEqualTo(scalar(s, "SELECT ifnull(sum(command_count), 0) FROM runs"));
            c.rollback();
        }
    }

    private static long scalar(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
