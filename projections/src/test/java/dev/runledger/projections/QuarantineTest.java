package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalSurgery;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class QuarantineTest {
    @TempDir
    Path dir;

    private long[] writePoisonedJournal() {
        Path journal = dir.resolve("journal");
        Map<String, String> sixtyFour = new HashMap<>();
        for (int i = 0; i < 64; i++) {
            sixtyFour.put("k" + i, "v");
        }
        long[] a = JournalSurgery.appendUnchecked(journal, List.of(
                TestEvents.created("r-ok"),
                TestEvents.command("r-ok", "c-1", "queued"),
                TestEvents.command("r-unknown", "c-1", "queued"),          // 2: unknown run
                TestEvents.created("r-gone"),
                new RunEvent.RunDeleted("r-gone"),
                TestEvents.command("r-gone", "c-1", "queued"),             // 5: deleted run
                TestEvents.created("r-ok"),                                // 6: duplicate creation
                TestEvents.created("r-done", sixtyFour),
                TestEvents.completed("r-done"),
                TestEvents.command("r-done", "c-1", "queued"),             // 9: command after completion
                TestEvents.completed("r-done"),                            // 10: second completion
                new RunEvent.LabelsChanged("r-done", Map.of("k64", "v"), List.of())));  // 11: 65 labels
        long garbage = JournalSurgery.appendGarbage(journal, "not an event at all");
        long truncated = JournalSurgery.appendTruncatedCommand(journal, TestEvents.command("r-ok", "c-2", "queued"));
        long[] b = JournalSurgery.appendUnchecked(journal, List.of(TestEvents.command("r-ok", "c-3", "succeeded")));
        long[] all = new long[a.length + 3];
        System.arraycopy(a, 0, all, 0, a.length);
        all[a.length] = garbage;
        all[a.length + 1] = truncated;
        all[a.length + 2] = b[0];
        return all;
    }

    @Test
    void shouldQuarantineEachKindOfPoisonEventAndProjectTheRest() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Journal journal = Journal.open(dir.resolve("journal"));
             Projection p = Projection.open(ProjectionConfig.builder(dir.resolve("p.sqlite"), journal)
                     .meterRegistry(registry).build())) {
            long[] idx = writePoisonedJournal();
            assertThat(p.awaitApplied(idx[idx.length - 1], Duration.ofSeconds(20))).isTrue();

            assertThat(ProjectionTest.rows(dir.resolve("p.sqlite"),
                    "SELECT journal_index || '|' || ifnull(run_id, '-') || '|' || ifnull(event_type, '-') || '|' || error"
                            + " FROM quarantine ORDER BY journal_index"))
                    .containsExactly(
                            idx[2] + "|r-unknown|command.recorded|run \"r-unknown\" does not exist",
                            idx[5] + "|r-gone|command.recorded|run \"r-gone\" was deleted at index " + idx[4],
                            idx[6] + "|r-ok|run.created|run \"r-ok\" already exists (created at index " + idx[0] + ")",
                            idx[9] + "|r-done|command.recorded|run \"r-done\" is already completed at index " + idx[8]
                                    + "; no command may be recorded after run.completed",
                            idx[10] + "|r-done|run.completed|run \"r-done\" is already completed at index " + idx[8],
                            idx[11] + "|r-done|labels.changed|run \"r-done\" would have 65 labels, at most 64 are allowed",
                            idx[12] + "|-|-|unreadable excerpt: unknown excerpt format version 110",
                            // cut short by 7 bytes: the checksum says so first, and the run it names is flagged
                            idx[13] + "|r-ok|-|unreadable excerpt: checksum mismatch: stored 19983f03, computed c7982a4d"
                                    + " over 436 bytes");
            assertThat(ProjectionTest.rows(dir.resolve("p.sqlite"), "SELECT event FROM quarantine WHERE journal_index = " + idx[2]))
                    .containsExactly("{\"type\":\"command.recorded\",\"runId\":\"r-unknown\",\"command\":"
                            + TestEvents.commandJson("c-1", "aspirate", "queued") + "}");
            assertThat(ProjectionTest.rows(dir.resolve("p.sqlite"), "SELECT event FROM quarantine WHERE journal_index = " + idx[12]))
                    .containsExactly("not an event at all");

            RunView ok = p.queries().run("r-ok").orElseThrow();
            assertThat(ok.damaged()).isTrue();
            assertThat(ok.commandCount()).isEqualTo(2);
            assertThat(p.queries().command("r-ok", "c-3").orElseThrow().status()).isEqualTo("succeeded");
            assertThat(p.queries().run("r-done").orElseThrow().damaged()).isTrue();
            assertThat(p.queries().run("r-done").orElseThrow().labels()).hasSize(64);
            assertThat(registry.get("projection.quarantined").counter().count()).isEqualTo(8);
            assertThat(p.status().quarantined()).isEqualTo(8);
        }
    }

    @Test
    void shouldStopAtTheFirstPoisonEventInStrictMode() throws Exception {
        List<String> failures = new CopyOnWriteArrayList<>();
        try (Journal journal = Journal.open(dir.resolve("journal"));
             Projection p = Projection.open(ProjectionConfig.builder(dir.resolve("p.sqlite"), journal).strict(true)
                     .maxBatchEvents(1).failureHandler((worker, context, e) -> failures.add(e.getMessage())).build())) {
            long[] idx = writePoisonedJournal();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.status().state() == ProjectionStatus.State.FAILED);

            assertThat(p.status().lastError())
                    .isEqualTo("projection p.sqlite - cannot apply command.recorded at index " + idx[2]
                            + " for run r-unknown: run \"r-unknown\" does not exist (strict mode)");
            assertThat(p.appliedIndex()).isEqualTo(idx[1]);
            assertThat(failures).hasSize(1);
            assertThat(p.queries().run("r-ok").orElseThrow().commandCount()).isEqualTo(1);
        }
    }
}
