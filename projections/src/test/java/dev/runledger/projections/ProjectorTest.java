package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
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
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The projector loop on its own: a journal, a SQLite file, and nothing of the projection's lifecycle. */
class ProjectorTest {
    @TempDir
    Path dir;

    private final List<Long> committed = new CopyOnWriteArrayList<>();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private final List<String> handled = new CopyOnWriteArrayList<>();
    /** Records what the projector reports. */
    private final Projector.Listener listener = new Projector.Listener() {
        @Override
        public void committed(long lastIndex) {
            committed.add(lastIndex);
        }

        @Override
        public void failed(Throwable error, boolean fatal) {
            failures.add((fatal ? "fatal: " : "retrying: ") + error);
        }
    };
    private Ledger ledger;
    private Projector projector;
    private Thread thread;

    @AfterEach
    void stop() throws InterruptedException {
        if (projector != null) {
            projector.stop();
            thread.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(thread.isAlive()).as("projector thread stopped").isFalse();
        }
        if (ledger != null) {
            ledger.close();
        }
    }

    /** Creates an empty projection file (plus {@code extraDdl}) and starts a projector on it. */
    private Path start(int maxBatchEvents, String... extraDdl) throws SQLException {
        Path db = dir.resolve("p.sqlite");
        try (Connection c = Sqlite.openWriter(db); Statement s = c.createStatement()) {
            Schema.create(c, Schema.CURRENT_VERSION, true);
            ProjectionFile.writeInitialMeta(c, Schema.CURRENT_VERSION, ledger.journal().id());
            for (String ddl : extraDdl) {
                s.execute(ddl);
            }
            c.commit();
        }
        ProjectionConfig config = ProjectionConfig.builder(db, ledger.journal()).maxBatchEvents(maxBatchEvents)
                .pollInterval(Duration.ofMillis(10))
                .failureHandler((worker, context, failure) -> handled.add(worker + " - " + context + ": " + failure))
                .build();
        projector = new Projector(config, config.writerFactory(),
                new ProjectionMetrics(new SimpleMeterRegistry(), config.name(), () -> 0), Journal.NONE, listener);
        thread = new Thread(projector, "test-projector");
        thread.start();
        return db;
    }

    private long appendRuns(int runs, int commandsEach) {
        long last = Journal.NONE;
        for (int r = 0; r < runs; r++) {
            List<RunEvent> events = new ArrayList<>();
            events.add(TestEvents.created("run-" + r, Map.of("batch", "b" + (r % 3))));
            for (int i = 0; i < commandsEach; i++) {
                events.add(TestEvents.command("run-" + r, "c-" + i, "succeeded"));
            }
            last = ledger.append(events);
        }
        return last;
    }

    @Test
    void shouldCommitBatchesNoLargerThanTheLimitEachWithItsCheckpoint() throws Exception {
        ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).build());
        long head = appendRuns(5, 99); // 500 events
        Path db = start(64);
        await().atMost(Duration.ofSeconds(20)).until(() -> !committed.isEmpty() && committed.get(committed.size() - 1) == head);

        assertThat(committed).isSorted().doesNotHaveDuplicates();
        assertThat(committed.size()).as("batches of at most 64 of 500 events").isGreaterThanOrEqualTo(8);
        assertThat(scalar(db, "SELECT value FROM projection_meta WHERE key = 'checkpoint_index'")).isEqualTo(Long.toString(head));
        assertThat(scalar(db, "SELECT count(*) FROM run_commands")).isEqualTo("495");
        assertThat(scalar(db, "SELECT count(*) FROM run_labels")).isEqualTo("5");
        assertThat(failures).isEmpty();
        assertThat(handled).isEmpty();
    }

    @Test
    void shouldRollBackAFailedBatchWholeAndRetryUntilItSucceeds() throws Exception {
        ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).build());
        long head = appendRuns(3, 10);
        // A fault late in the batch: label rows are written as events are applied, run rows at the end.
        Path db = start(10_000, "CREATE TRIGGER fault BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'injected fault'); END");

        await().atMost(Duration.ofSeconds(20)).until(() -> failures.size() >= 2);
        assertThat(failures).allSatisfy(f -> assertThat(f).startsWith("retrying: ").contains("injected fault"));
        assertThat(handled).allSatisfy(h -> assertThat(h).contains("test-projector - cannot apply batch after checkpoint -1"));
        // Nothing of a failed batch is visible: neither its label rows nor its checkpoint.
        assertThat(scalar(db, "SELECT count(*) FROM run_labels")).isEqualTo("0");
        assertThat(scalar(db, "SELECT value FROM projection_meta WHERE key = 'checkpoint_index'")).isEqualTo("-1");
        assertThat(committed).isEmpty();

        try (Connection c = Sqlite.openWriter(db); Statement s = c.createStatement()) {
            s.execute("DROP TRIGGER fault");
            c.commit();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> committed.contains(head));
        assertThat(scalar(db, "SELECT count(*) FROM runs")).isEqualTo("3");
        assertThat(scalar(db, "SELECT count(*) FROM run_commands")).isEqualTo("30");
        assertThat(scalar(db, "SELECT value FROM projection_meta WHERE key = 'checkpoint_index'")).isEqualTo(Long.toString(head));
    }

    private static String scalar(Path db, String sql) throws SQLException {
        try (Connection c = Sqlite.openReader(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }
}
