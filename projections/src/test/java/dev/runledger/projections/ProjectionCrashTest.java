package dev.runledger.projections;

import dev.runledger.ledger.ChildJvm;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A child JVM projecting is killed with SIGKILL at random moments; the survivor must equal a clean replay. */
class ProjectionCrashTest {
    @TempDir
    Path dir;

    /** The child: projects the journal with tiny batches until killed. */
    public static void main(String[] args) throws Exception {
        try (Journal journal = Journal.openExisting(Path.of(args[0]));
             Projection p = Projection.open(ProjectionConfig.builder(Path.of(args[1]), journal).maxBatchEvents(7)
                     .pollInterval(Duration.ofMillis(1)).build())) {
            System.out.println("started");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void shouldEqualACleanReplayAfterRepeatedKill9() throws Exception {
        Path journalDir = dir.resolve("journal");
        Path db = dir.resolve("p.sqlite");
        long last;
        try (Ledger ledger = Ledger.open(journalDir)) {
            ledger.append(TestEvents.created("seed"));
        }
        // Start from an existing (empty-journal) projection so the children project live, not by bulk rebuild.
        try (Journal journal = Journal.openExisting(journalDir);
             Projection p = Projection.open(ProjectionConfig.builder(db, journal).build())) {
            p.awaitApplied(journal.headIndex(), Duration.ofSeconds(20));
        }
        try (Ledger ledger = Ledger.open(journalDir)) {
            List<RunEvent> events = new ArrayList<>();
            for (int r = 0; r < 30; r++) {
                events.add(TestEvents.created("run-" + r, Map.of("tenant", "t" + (r % 3))));
                for (int c = 0; c < 200; c++) {
                    events.add(TestEvents.command("run-" + r, "c-" + c, "queued"));
                    events.add(TestEvents.command("run-" + r, "c-" + c, "succeeded"));
                }
                if (r % 4 == 0) {
                    events.add(TestEvents.completed("run-" + r));
                }
                if (r % 7 == 0) {
                    events.add(new RunEvent.RunDeleted("run-" + r));
                }
            }
            last = ledger.append(events);
        }

        Random random = new Random(42);
        for (int round = 0; round < 4; round++) {
            Process child = ChildJvm.start(ProjectionCrashTest.class, dir.resolve("child-" + round + ".log"),
                    journalDir.toString(), db.toString());
            assertThat(new String(child.getInputStream().readNBytes(8)).trim()).isEqualTo("started");
            Thread.sleep(50 + random.nextInt(400));
            ChildJvm.kill9(child);
        }

        try (Journal journal = Journal.openExisting(journalDir)) {
            try (Projection p = Projection.open(ProjectionConfig.builder(db, journal).build())) {
                assertThat(p.awaitApplied(last, Duration.ofSeconds(60))).isTrue();
            }
            Verification v = Rebuild.verify(journal, db, null);
            assertThat(v.differences()).isEmpty();
            assertThat(v.equal()).isTrue();
            assertThat(v.commands()).isEqualTo(25L * 200); // runs 0, 7, 14, 21 and 28 were deleted
        }
    }
}
