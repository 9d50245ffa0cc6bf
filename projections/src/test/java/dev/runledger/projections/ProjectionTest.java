package dev.runledger.projections;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.runledger.ledger.CompletionStatus;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.NdjsonReader;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.SharedData;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ProjectionTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private ProjectionConfig config(Journal journal) {
        return ProjectionConfig.builder(dir.resolve("runs.sqlite"), journal).pollInterval(Duration.ofMillis(5)).build();
    }

    @Test
    void shouldKeepAJournalLossWhereReadersOfTheProjectionSeeIt() throws Exception {
        Path journalDir = dir.resolve("journal");
        RunEvent.JournalLoss loss = new RunEvent.JournalLoss(41, 43, 2, false, "2026-11-22T10:42:00Z");
        long[] idx = dev.runledger.ledger.JournalSurgery.appendUnchecked(journalDir,
                List.of(TestEvents.created("r-1"), loss, TestEvents.command("r-1", "c-1", "queued")));
        try (Journal journal = Journal.openExisting(journalDir);
             Projection p = Projection.open(ProjectionConfig.builder(dir.resolve("p.sqlite"), journal).build())) {
            assertThat(p.awaitApplied(idx[2], Duration.ofSeconds(10))).isTrue();
            assertThat(rows(dir.resolve("p.sqlite"), "SELECT key || ' ' || value FROM projection_meta WHERE key LIKE 'journal_loss:%'"))
                    .containsExactly("journal_loss:" + idx[1] + " " + NdjsonCodec.encodeToString(loss));
            assertThat(p.status().quarantined()).isZero();
            assertThat(p.queries().command("r-1", "c-1")).isPresent();
            assertThat(Rebuild.verify(journal, dir.resolve("p.sqlite"), null).equal()).isTrue();
        }
    }

    /**
     * A deleted run's content must not linger in the projection file's free pages (SQLite keeps deleted
     * bytes there unless told otherwise): once the deletion is applied and the projection closed, no byte
     * of the run is in the projection's files.
     */
    @Test
    void shouldLeaveNoByteOfADeletedRunInTheProjectionFiles() throws Exception {
        String marker = "MARKER-" + java.util.UUID.randomUUID();
        Path file = dir.resolve("runs.sqlite");
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            ledger.append(TestEvents.created("keep"));
            ledger.append(TestEvents.created("secret", Map.of("owner", marker)));
            for (int i = 0; i < 200; i++) {
                ledger.append(new RunEvent.CommandRecorded("secret", TestEvents.commandJson("c-" + i, "aspirate", "succeeded")
                        .replace("\"notes\":[]", "\"notes\":[\"" + marker + "\"]")));
            }
            ledger.append(new RunEvent.SummaryRecorded("secret", "{\"note\":\"" + marker + "\"}"));
            long before = ledger.append(TestEvents.command("keep", "c-1", "queued"));
            assertThat(projection.awaitApplied(before, WAIT)).isTrue();
            assertThat(occurrences(file, marker) + occurrences(file.resolveSibling("runs.sqlite-wal"), marker)).isPositive();

            long deleted = ledger.append(new RunEvent.RunDeleted("secret", RunEvent.RunDeleted.ERASE));
            assertThat(projection.awaitApplied(deleted, WAIT)).isTrue();
        }
        for (String name : new String[] {"runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm"}) {
            assertThat(occurrences(dir.resolve(name), marker)).as(name).isZero();
        }
        try (Journal journal = Journal.openExisting(dir.resolve("journal"))) {
            Path rebuilt = dir.resolve("rebuilt.sqlite");
            Rebuild.rebuild(journal, rebuilt, Rebuild.Options.defaults());
            assertThat(occurrences(rebuilt, marker)).as("a rebuild replays the run and its deletion").isZero();
        }
    }

    private static int occurrences(Path file, String marker) throws java.io.IOException {
        if (!java.nio.file.Files.exists(file)) {
            return 0;
        }
        String text = new String(java.nio.file.Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1);
        int n = 0;
        for (int at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void shouldUpsertCommandsKeepingTheFirstPositionAndTheLastBytes() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            ledger.append(TestEvents.created("r-1"));
            ledger.append(TestEvents.command("r-1", "c-1", "queued"));
            ledger.append(TestEvents.command("r-1", "c-2", "queued"));
            ledger.append(TestEvents.command("r-1", "c-1", "running"));
            long last = ledger.append(TestEvents.command("r-1", "c-1", "succeeded"));

            assertThat(projection.awaitApplied(last, WAIT)).isTrue();
            RunQueries q = projection.queries();
            CommandView c1 = q.command("r-1", "c-1").orElseThrow();
            assertThat(c1.index()).isZero();
            assertThat(c1.status()).isEqualTo("succeeded");
            assertThat(c1.json().text()).isEqualTo(TestEvents.commandJson("c-1", "aspirate", "succeeded"));
            assertThat(q.command("r-1", "c-2").orElseThrow().index()).isEqualTo(1);
            RunView run = q.run("r-1").orElseThrow();
            assertThat(run.status()).isEqualTo("running");
            assertThat(run.commandCount()).isEqualTo(2);
        }
    }

    @Test
    void shouldMoveRunStatusFromCreatedToRunningToCompleted() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            long i = ledger.append(TestEvents.created("r-1"));
            projection.awaitApplied(i, WAIT);
            assertThat(projection.queries().run("r-1").orElseThrow().status()).isEqualTo("created");

            i = ledger.append(TestEvents.command("r-1", "c-1", "queued"));
            projection.awaitApplied(i, WAIT);
            assertThat(projection.queries().run("r-1").orElseThrow().status()).isEqualTo("running");

            i = ledger.completeRun("r-1", CompletionStatus.FAILED, "2026-11-22T11:00:00Z");
            projection.awaitApplied(i, WAIT);
            RunView run = projection.queries().run("r-1").orElseThrow();
            assertThat(run.status()).isEqualTo("failed");
            assertThat(run.completedAt()).isEqualTo("2026-11-22T11:00:00Z");
        }
    }

    @Test
    void shouldKeepLabelsJsonAndLabelIndexInStep() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            ledger.append(TestEvents.created("r-1", Map.of("tenant", "acme", "robot", "ot-2")));
            long i = ledger.changeLabels("r-1", Map.of("stage", "qc", "robot", "flex"), List.of("tenant"));
            projection.awaitApplied(i, WAIT);

            assertThat(projection.queries().run("r-1").orElseThrow().labels())
                    .containsExactly(Map.entry("robot", "flex"), Map.entry("stage", "qc"));
            assertThat(rows(dir.resolve("runs.sqlite"), "SELECT key || '=' || value FROM run_labels WHERE run_id = 'r-1' ORDER BY key"))
                    .containsExactly("robot=flex", "stage=qc");
            assertThat(ids(projection.queries().runs(RunQuery.builder().label("robot", "flex").build()))).containsExactly("r-1");
            assertThat(ids(projection.queries().runs(RunQuery.builder().labelExists("tenant").build()))).isEmpty();
        }
    }

    @Test
    void shouldDeleteARunEverywhereAndStartCleanWhenItIsCreatedAgain() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            ledger.append(TestEvents.created("r-1", Map.of("old", "yes")));
            ledger.append(TestEvents.command("r-1", "c-1", "queued"));
            ledger.recordSummary("r-1", "{\"old\":true}");
            ledger.deleteRun("r-1");
            long i = ledger.append(TestEvents.created("r-1", Map.of("new", "yes")));
            projection.awaitApplied(i, WAIT);

            RunView run = projection.queries().run("r-1").orElseThrow();
            assertThat(run.labels()).containsExactly(Map.entry("new", "yes"));
            assertThat(run.commandCount()).isZero();
            assertThat(run.summary()).isNull();
            assertThat(projection.queries().command("r-1", "c-1")).isEmpty();
            assertThat(rows(dir.resolve("runs.sqlite"), "SELECT key FROM run_labels WHERE run_id = 'r-1'")).containsExactly("new");
        }
    }

    @Test
    void shouldPageCommandsOpentronsStyleDefaultingToTheTail() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            ledger.append(TestEvents.created("r-1"));
            long i = 0;
            for (int n = 0; n < 45; n++) {
                i = ledger.append(TestEvents.command("r-1", "c-" + n, "queued"));
            }
            projection.awaitApplied(i, WAIT);
            RunQueries q = projection.queries();

            CommandPage tail = q.commands("r-1", null, 20).orElseThrow();
            assertThat(tail.cursor()).isEqualTo(25);
            assertThat(tail.totalLength()).isEqualTo(45);
            assertThat(tail.commands()).extracting(CommandView::id).first().isEqualTo("c-25");
            assertThat(tail.commands()).extracting(CommandView::id).last().isEqualTo("c-44");
            CommandPage head = q.commands("r-1", 0, 10).orElseThrow();
            assertThat(head.commands()).extracting(CommandView::index).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            assertThat(q.commands("r-1", 40, 10).orElseThrow().commands()).hasSize(5);
            assertThat(q.commands("r-1", 100, 10).orElseThrow().commands()).isEmpty();
            assertThat(q.commands("nope", null, 10)).isEmpty();
            assertThatThrownBy(() -> q.commands("r-1", -1, 10)).hasMessage("cursor must be 0 or more but was -1");
        }
    }

    @Test
    void shouldReturnTheWholeCommandListAsOneJsonArrayFromStoredText() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection projection = Projection.open(config(ledger.journal()))) {
            ledger.append(TestEvents.created("r-1"));
            ledger.append(TestEvents.created("r-empty"));
            ledger.append(TestEvents.command("r-1", "c-1", "queued"));
            long i = ledger.append(TestEvents.command("r-1", "c-2", "queued"));
            projection.awaitApplied(i, WAIT);

            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertThat(projection.queries().writeCommandsJson("r-1", out)).isTrue();
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("[" + TestEvents.commandJson("c-1", "aspirate", "queued")
                    + "," + TestEvents.commandJson("c-2", "aspirate", "queued") + "]");
            out.reset();
            assertThat(projection.queries().writeCommandsJson("r-empty", out)).isTrue();
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("[]");
            assertThat(projection.queries().writeCommandsJson("nope", new ByteArrayOutputStream())).isFalse();
        }
    }

    @Test
    void shouldResumeFromItsCheckpointAfterReopening() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journalDir)) {
            long i = ledger.append(TestEvents.created("r-1"));
            try (Projection projection = Projection.open(config(ledger.journal()))) {
                projection.awaitApplied(i, WAIT);
            }
            ledger.append(TestEvents.command("r-1", "c-1", "queued"));
            i = ledger.append(TestEvents.command("r-1", "c-2", "queued"));
            try (Projection projection = Projection.open(config(ledger.journal()))) {
                assertThat(projection.awaitApplied(i, WAIT)).isTrue();
                assertThat(projection.queries().run("r-1").orElseThrow().commandCount()).isEqualTo(2);
            }
        }
    }

    @Test
    void shouldRefuseAProjectionBuiltFromAnotherJournal() throws Exception {
        try (Ledger a = Ledger.open(dir.resolve("a"))) {
            long i = a.append(TestEvents.created("r-1"));
            try (Projection p = Projection.open(config(a.journal()))) {
                p.awaitApplied(i, WAIT);
            }
        }
        try (Ledger b = Ledger.open(dir.resolve("b"))) {
            assertThatThrownBy(() -> Projection.open(config(b.journal())))
                    .hasMessageContaining("was built from journal")
                    .hasMessageContaining("rebuild it with: runledger rebuild");
        }
    }

    @Test
    void shouldRefuseASecondProjectorOnTheSameFile() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal")); Projection p = Projection.open(config(ledger.journal()))) {
            assertThatThrownBy(() -> Projection.open(config(ledger.journal())))
                    .hasMessageContaining("is in use by another projector");
        }
    }

    @Test
    void shouldReturnRealOpentronsCommandsByteForByte() throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        JsonNode expected;
        try (InputStream in = SharedData.expected()) {
            expected = mapper.readTree(in);
        }
        try (Ledger ledger = Ledger.open(dir.resolve("journal"))) {
            List<RunEvent> events;
            try (InputStream in = SharedData.events()) {
                events = new NdjsonReader(in).readAll();
            }
            long last = ledger.append(events);
            try (Projection projection = Projection.open(config(ledger.journal()))) {
                assertThat(projection.awaitApplied(last, WAIT)).isTrue();
                RunQueries q = projection.queries();
                for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> run = it.next();
                    String runId = run.getKey();
                    JsonNode want = run.getValue();
                    RunView view = q.run(runId).orElseThrow();
                    assertThat(view.status()).isEqualTo(want.get("status").asText());
                    assertThat(view.summary() == null ? null : view.summary().text()).isEqualTo(want.get("summary").asText());
                    assertThat(view.labels()).isEqualTo(mapper.convertValue(want.get("labels"), Map.class));
                    List<String> commands = new ArrayList<>();
                    want.get("commands").forEach(c -> commands.add(c.asText()));
                    List<String> stored = new ArrayList<>();
                    for (int cursor = 0; cursor < commands.size(); cursor += 1000) {
                        CommandPage page = q.commands(runId, cursor, 1000).orElseThrow();
                        assertThat(page.totalLength()).isEqualTo(commands.size());
                        page.commands().forEach(c -> stored.add(c.json().text()));
                    }
                    assertThat(stored).containsExactlyElementsOf(commands);
                    ByteArrayOutputStream all = new ByteArrayOutputStream();
                    q.writeCommandsJson(runId, all);
                    assertThat(all.toString(StandardCharsets.UTF_8)).isEqualTo("[" + String.join(",", commands) + "]");
                }
            }
        }
    }

    static List<String> ids(RunPage page) {
        return page.runs().stream().map(RunView::id).toList();
    }

    static List<String> rows(Path db, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); ResultSet rs = c.createStatement().executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getString(1));
            }
            return out;
        }
    }
}
