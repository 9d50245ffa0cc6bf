package dev.runledger.projections;

import dev.runledger.ledger.ChildJvm;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalSurgery;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class RebuildTest {
    @TempDir
    Path dir;

    private long appendRuns(Path journalDir, int runs, int commands) {
        try (Ledger ledger = Ledger.open(journalDir)) {
            List<RunEvent> events = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                events.add(TestEvents.created("run-" + r, Map.of("tenant", "t" + (r % 5), "robot", "ot-" + (r % 2))));
                for (int c = 0; c < commands; c++) {
                    events.add(TestEvents.command("run-" + r, "c-" + c, "queued"));
                    events.add(TestEvents.command("run-" + r, "c-" + c, "running"));
                    events.add(TestEvents.command("run-" + r, "c-" + c, "succeeded"));
                }
                events.add(new RunEvent.SummaryRecorded("run-" + r, "{\"errors\":[],\"run\":" + r + "}"));
                if (r % 3 == 0) {
                    events.add(TestEvents.completed("run-" + r));
                }
                if (r % 10 == 9) {
                    events.add(new RunEvent.RunDeleted("run-" + r));
                }
            }
            return ledger.append(events);
        }
    }

    private void projectLive(Path journalDir, Path db, int schemaVersion, long until) throws Exception {
        try (Journal journal = Journal.openExisting(journalDir);
             Projection p = Projection.open(ProjectionConfig.builder(db, journal).schemaVersion(schemaVersion).build())) {
            assertThat(p.awaitApplied(until, Duration.ofSeconds(60))).isTrue();
        }
    }

    @Test
    void shouldEqualTheIncrementallyBuiltProjection() throws Exception {
        Path journalDir = dir.resolve("journal");
        Path live = dir.resolve("live.sqlite");
        try (Journal journal = Journal.open(journalDir);
             Projection p = Projection.open(ProjectionConfig.builder(live, journal).maxBatchEvents(13).build())) {
            long last = appendRuns(journalDir, 20, 50);
            assertThat(p.awaitApplied(last, Duration.ofSeconds(60))).isTrue();
        }
        Path rebuilt = dir.resolve("rebuilt.sqlite");
        try (Journal journal = Journal.openExisting(journalDir)) {
            Rebuild.Result result = Rebuild.rebuild(journal, rebuilt, Rebuild.Options.defaults());
            assertThat(result.runs()).isEqualTo(18);
            assertThat(result.commands()).isEqualTo(18L * 50);
            assertThat(result.quarantined()).isZero();

            assertThat(Rebuild.verify(journal, live, null).differences()).isEmpty();
            assertThat(Rebuild.verify(journal, rebuilt, null).equal()).isTrue();
        }
        assertThat(tableDump(live)).isEqualTo(tableDump(rebuilt));
    }

    @Test
    void shouldReplaceTheFileAtomicallyAndLeaveTheJournalUntouched() throws Exception {
        Path journalDir = dir.resolve("journal");
        long last = appendRuns(journalDir, 5, 10);
        Path db = dir.resolve("p.sqlite");
        projectLive(journalDir, db, 1, last);
        List<String> journalFilesBefore = listing(journalDir);

        try (Journal journal = Journal.openExisting(journalDir)) {
            List<Long> progress = new CopyOnWriteArrayList<>();
            Rebuild.Result result = Rebuild.rebuild(journal, db,
                    new Rebuild.Options(2, 1, false, (done, total) -> progress.add(done)));
            assertThat(result.events()).isEqualTo(journal.countBetween(Journal.NONE, last));
            assertThat(progress).last().isEqualTo(result.events());
        }
        assertThat(ProjectionTest.rows(db, "SELECT value FROM projection_meta WHERE key = 'schema_version'")).containsExactly("2");
        assertThat(Files.exists(dir.resolve("p.sqlite.rebuild"))).isFalse();
        assertThat(Files.exists(dir.resolve("p.sqlite.bak"))).isFalse();
        assertThat(listing(journalDir)).isEqualTo(journalFilesBefore);
    }

    /** The child: rebuilds and reports progress until killed. */
    public static void main(String[] args) {
        try (Journal journal = Journal.openExisting(Path.of(args[0]))) {
            Rebuild.rebuild(journal, Path.of(args[1]), new Rebuild.Options(2, 1, false, (done, total) -> {
                System.out.println("progress " + done);
                System.out.flush();
            }));
        }
        System.out.println("done");
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void shouldLeaveTheOldFileServingWhenARebuildIsKilled() throws Exception {
        Path journalDir = dir.resolve("journal");
        long last = appendRuns(journalDir, 40, 1_000);
        Path db = dir.resolve("p.sqlite");
        projectLive(journalDir, db, 2, last);
        List<String> before = tableDump(db);

        Process child = ChildJvm.start(RebuildTest.class, dir.resolve("child.log"), journalDir.toString(), db.toString());
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
            String line;
            while ((line = out.readLine()) != null && !line.matches("progress [1-9]\\d*")) {
                // wait until the rebuild has written part of the new file
            }
            assertThat(line).as("the child reported progress; see child.log").isNotNull();
            ChildJvm.kill9(child);
        }
        assertThat(Files.exists(dir.resolve("p.sqlite.rebuild"))).as("a partial file is left behind").isTrue();
        assertThat(tableDump(db)).isEqualTo(before);

        try (Journal journal = Journal.openExisting(journalDir)) {
            try (Projection p = Projection.open(ProjectionConfig.builder(db, journal).build())) {
                assertThat(p.queries().run("run-0")).isPresent();
            }
            Rebuild.Result result = Rebuild.rebuild(journal, db, Rebuild.Options.defaults());
            assertThat(result.runs()).isEqualTo(36);
            assertThat(Rebuild.verify(journal, db, null).equal()).isTrue();
        }
        assertThat(Files.exists(dir.resolve("p.sqlite.rebuild"))).isFalse();
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void shouldUpgradeTheSchemaWhileAReaderKeepsQuerying() throws Exception {
        Path journalDir = dir.resolve("journal");
        long last = appendRuns(journalDir, 30, 1_000);
        Path db = dir.resolve("p.sqlite");
        projectLive(journalDir, db, 1, last);
        assertThat(indexes(db)).doesNotContain("run_commands_type");

        List<Throwable> failures = new CopyOnWriteArrayList<>();
        AtomicLong reads = new AtomicLong();
        AtomicLong readsDuringRebuild = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        try (Ledger ledger = Ledger.open(journalDir);
             Projection p = Projection.open(ProjectionConfig.builder(db, ledger.journal()).build())) {
            Thread reader = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        boolean rebuilding = p.status().state() == ProjectionStatus.State.REBUILDING;
                        assertThat(p.queries().run("run-0")).isPresent();
                        assertThat(p.queries().runs(RunQuery.builder().label("tenant", "t1").build()).runs()).isNotEmpty();
                        assertThat(p.queries().commands("run-0", null, 20).orElseThrow().commands()).hasSize(20);
                        reads.incrementAndGet();
                        if (rebuilding) {
                            readsDuringRebuild.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }
            }, "test-reader");
            reader.start();
            assertThat(p.status().schemaVersion()).isEqualTo(1);
            long appended = ledger.append(TestEvents.created("after-upgrade"));

            await().atMost(Duration.ofSeconds(60)).until(() -> p.status().schemaVersion() == 2
                    && p.status().state() == ProjectionStatus.State.RUNNING);
            assertThat(p.awaitApplied(appended, Duration.ofSeconds(30))).isTrue();
            assertThat(p.queries().run("after-upgrade")).isPresent();
            long readsAfterSwitch = reads.get();
            await().atMost(Duration.ofSeconds(10)).until(() -> reads.get() > readsAfterSwitch + 10);
            stop.set(true);
            reader.join(10_000);
        }
        assertThat(failures).isEmpty();
        assertThat(readsDuringRebuild.get()).as("reads served by the old file during the rebuild").isPositive();
        assertThat(indexes(db)).contains("run_commands_type");
        assertThat(ProjectionTest.rows(db, "PRAGMA user_version")).containsExactly("2");
    }

    @Test
    void shouldNameTamperedMissingAndExtraRowsWhenVerifying() throws Exception {
        Path journalDir = dir.resolve("journal");
        long last = appendRuns(journalDir, 6, 5);
        Path db = dir.resolve("p.sqlite");
        projectLive(journalDir, db, 2, last);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE run_commands SET command = '{\"id\":\"c-2\",\"commandType\":\"forged\"}'"
                    + " WHERE run_id = 'run-1' AND command_id = 'c-2'");
            s.executeUpdate("DELETE FROM runs WHERE id = 'run-4'");
            s.executeUpdate("INSERT INTO run_labels(run_id, key, value) VALUES('run-2', 'sneaky', 'yes')");
        }

        try (Journal journal = Journal.openExisting(journalDir)) {
            Verification v = Rebuild.verify(journal, db, null);

            assertThat(v.equal()).isFalse();
            assertThat(v.differences()).containsExactlyInAnyOrder(
                    "runs: run run-4 is missing from the projection",
                    "run_commands: run run-1 command c-2 differs in command (projection {\"id\":\"c-2\",\"commandType\":\"forged\"},"
                            + " replay {\"id\":\"c-2\",\"commandType\":\"aspirate\",...)",
                    "run_labels: run run-2 label sneaky is in the projection but not in a fresh replay");
        }
    }

    @Test
    void shouldFinishARebuildOverPoisonEventsAndReportThem() throws Exception {
        Path journalDir = dir.resolve("journal");
        appendRuns(journalDir, 3, 5);
        JournalSurgery.appendUnchecked(journalDir, List.of(TestEvents.command("ghost", "c-1", "queued"),
                TestEvents.created("run-0")));
        JournalSurgery.appendGarbage(journalDir, "\u0001garbage");
        try (Journal journal = Journal.openExisting(journalDir)) {
            Rebuild.Result result = Rebuild.rebuild(journal, dir.resolve("p.sqlite"), Rebuild.Options.defaults());

            assertThat(result.quarantined()).isEqualTo(3);
            assertThat(result.runs()).isEqualTo(3);
            assertThat(ProjectionTest.rows(dir.resolve("p.sqlite"), "SELECT damaged FROM runs WHERE id = 'run-0'"))
                    .containsExactly("1");
        }
    }

    static List<String> tableDump(Path db) throws Exception {
        List<String> out = new ArrayList<>();
        for (String sql : List.of("SELECT * FROM runs ORDER BY id", "SELECT * FROM run_commands ORDER BY run_id, index_in_run",
                "SELECT * FROM run_labels ORDER BY run_id, key", "SELECT * FROM quarantine ORDER BY journal_index",
                "SELECT * FROM run_tombstones ORDER BY run_id")) {
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                 java.sql.ResultSet rs = c.createStatement().executeQuery(sql)) {
                int n = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    StringBuilder row = new StringBuilder(sql.substring(14, 24));
                    for (int i = 1; i <= n; i++) {
                        row.append('|').append(rs.getString(i));
                    }
                    out.add(row.toString());
                }
            }
        }
        return out;
    }

    private static List<String> indexes(Path db) throws Exception {
        return ProjectionTest.rows(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'");
    }

    private static List<String> listing(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".cq4")).map(f -> f.getFileName() + ":" + f.toFile().length()).sorted().toList();
        }
    }
}
