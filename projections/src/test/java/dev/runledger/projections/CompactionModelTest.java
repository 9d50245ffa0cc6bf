package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalCompaction;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RetentionPolicy;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestClock;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random lifecycles with retention and compactions interleaved, against a model of what was appended:
 * after each compaction the live projection equals a fresh replay of the compacted journal, every live
 * run's events are exactly those appended for it (in order, byte for byte), and no other run has any.
 */
class CompactionModelTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    /** What was appended and not deleted: run -> its events as appended, in order; and which are completed. */
    private static final class Model {
        final Map<String, List<String>> live = new LinkedHashMap<>();
        final Map<String, Boolean> completed = new LinkedHashMap<>();
        /** Hours pass between steps, so the journal spans days and some days hold nothing live by the time of a compaction. */
        final TestClock clock = new TestClock();
        int created;

        Ledger open(Path journalDir) {
            return Ledger.open(dev.runledger.ledger.LedgerConfig.builder(journalDir).clock(clock)
                    .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).build());
        }

        /** Appends 60 random steps: creations (ids come back after deletions), commands, completions, deletions, retention. */
        void appendRandomSteps(Ledger ledger, Random random) {
            for (int step = 0; step < 60; step++) {
                clock.advance(Duration.ofHours(random.nextInt(8)));
                List<String> ids = new ArrayList<>(live.keySet());
                int action = random.nextInt(10);
                RunEvent event = null;
                if (action < 3 || ids.isEmpty()) {
                    String id = "r-" + random.nextInt(created + 3);
                    if (live.containsKey(id)) {
                        continue;
                    }
                    created++;
                    event = TestEvents.created(id);
                    live.put(id, new ArrayList<>());
                    completed.put(id, false);
                } else {
                    String id = ids.get(random.nextInt(ids.size()));
                    if (action < 7 && !completed.get(id)) {
                        event = TestEvents.command(id, "c-" + random.nextInt(5), random.nextBoolean() ? "running" : "succeeded");
                    } else if (action < 8 && !completed.get(id)) {
                        event = TestEvents.completed(id);
                        completed.put(id, true);
                    } else if (action < 9) {
                        ledger.append(new RunEvent.RunDeleted(id, RunEvent.RunDeleted.USER));
                        live.remove(id);
                        completed.remove(id);
                        continue;
                    } else {
                        for (String gone : ledger.retain(RetentionPolicy.builder().keepRuns(random.nextInt(4)).build(), false)) {
                            live.remove(gone);
                            completed.remove(gone);
                        }
                        continue;
                    }
                }
                if (event != null) {
                    ledger.append(event);
                    live.get(event.runId()).add(NdjsonCodec.encodeToString(event));
                }
            }
        }
    }

    @Test
    void shouldKeepExactlyTheLiveRunsThroughRetentionAndOfflineCompaction() throws Exception {
        int droppedDays = 0;
        for (long seed = 1; seed <= 6; seed++) {
            Random random = new Random(seed);
            Path journalDir = dir.resolve("journal-" + seed);
            Path db = dir.resolve("runs-" + seed + ".sqlite");
            Model model = new Model();
            for (int round = 0; round < 4; round++) {
                long last;
                try (Ledger ledger = model.open(journalDir)) {
                    model.appendRandomSteps(ledger, random);
                    last = ledger.journal().headIndex();
                }
                try (Journal journal = Journal.openExisting(journalDir); Projection projection = Projection.open(
                        ProjectionConfig.builder(db, journal).pollInterval(Duration.ofMillis(5)).build())) {
                    assertThat(projection.awaitApplied(last, WAIT)).isTrue();
                } // closing records the projection's position: compaction may drop what it has applied

                droppedDays += JournalCompaction.compact(journalDir, false).droppedDays();

                try (Journal journal = Journal.openExisting(journalDir)) {
                    assertThat(eventsByRun(journal)).as("seed %d round %d: the journal holds the live runs, whole", seed, round)
                            .isEqualTo(withoutEmpty(model.live));
                    try (Projection projection = Projection.open(ProjectionConfig.builder(db, journal)
                            .pollInterval(Duration.ofMillis(5)).build())) {
                        assertThat(projection.awaitApplied(journal.headIndex(), WAIT)).isTrue();
                        for (String id : model.live.keySet()) {
                            assertThat(projection.queries().run(id)).as("seed %d: run %s", seed, id).isPresent();
                        }
                    }
                    Verification v = Rebuild.verify(journal, db, null);
                    assertThat(v.equal()).as("seed %d round %d: %s", seed, round, v).isTrue();
                }
            }
        }
        assertThat(droppedDays).as("whole days left out by the compactions").isPositive();
    }

    /** The same, with one ledger and one live projection open throughout, compacted online between rounds. */
    @Test
    void shouldKeepExactlyTheLiveRunsThroughRetentionAndOnlineCompaction() throws Exception {
        int droppedDays = 0;
        for (long seed = 1; seed <= 4; seed++) {
            Random random = new Random(seed);
            Path journalDir = dir.resolve("online-" + seed);
            Path db = dir.resolve("online-" + seed + ".sqlite");
            Model model = new Model();
            try (Ledger ledger = model.open(journalDir); Projection projection = Projection.open(
                    ProjectionConfig.builder(db, ledger.journal()).pollInterval(Duration.ofMillis(5)).build())) {
                Journal journal = ledger.journal();
                for (int round = 0; round < 4; round++) {
                    model.appendRandomSteps(ledger, random);
                    long last = journal.headIndex();
                    assertThat(projection.awaitApplied(last, WAIT)).isTrue();
                    // Idle, the projector records its position at once: then nothing is held back for it.
                    org.awaitility.Awaitility.await().atMost(WAIT).until(() -> dev.runledger.ledger.ReaderPositions
                            .read(journalDir).values().stream().allMatch(p -> p >= last));

                    JournalCompaction.Result r = ledger.compact(false);
                    assertThat(r.heldBackRuns()).isZero();
                    droppedDays += r.droppedDays();
                    assertThat(projection.awaitTidied(journal.compactions(), WAIT)).isTrue();

                    assertThat(eventsByRun(journal)).as("seed %d round %d: the journal holds the live runs, whole", seed, round)
                            .isEqualTo(withoutEmpty(model.live));
                    for (String id : model.live.keySet()) {
                        assertThat(projection.queries().run(id)).as("seed %d: run %s", seed, id).isPresent();
                    }
                    Verification v = Rebuild.verify(journal, db, null);
                    assertThat(v.equal()).as("seed %d round %d: %s", seed, round, v).isTrue();
                }
                assertThat(journal.compactions()).isEqualTo(4);
            }
        }
        assertThat(droppedDays).as("whole days left out by the compactions").isPositive();
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 120, unit = java.util.concurrent.TimeUnit.SECONDS)
    void shouldAnswerEveryMinIndexReadWithinItsBoundWhileFourThreadsAppendThroughCompactions() throws Exception {
        Path journalDir = dir.resolve("concurrent");
        try (Ledger ledger = Ledger.open(journalDir); Projection projection = Projection.open(
                ProjectionConfig.builder(dir.resolve("concurrent.sqlite"), ledger.journal()).build())) {
            for (int r = 0; r < 30; r++) { // a history to compact
                ledger.append(TestEvents.created("old-" + r));
                for (int c = 0; c < 100; c++) {
                    ledger.append(TestEvents.command("old-" + r, "c-" + c, "succeeded"));
                }
                ledger.append(new RunEvent.RunDeleted("old-" + r));
            }
            long history = ledger.journal().headIndex();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                String runId = "live-" + t;
                threads.add(new Thread(() -> {
                    try {
                        ledger.append(TestEvents.created(runId));
                        for (int c = 0; !stop.get(); c++) {
                            long index = ledger.append(TestEvents.command(runId, "c-" + c, "succeeded"));
                            // Read-your-writes with a bound: the wait a server's minIndex read makes.
                            if (!projection.awaitApplied(index, Duration.ofSeconds(10))) {
                                throw new AssertionError(runId + ": index " + index + " not applied within 10 s (applied "
                                        + projection.appliedIndex() + ")");
                            }
                            String commandId = "c-" + c;
                            assertThat(projection.queries().command(runId, commandId)).as("%s %s", runId, commandId).isPresent();
                            reads.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }, "test-appender-" + t));
            }
            threads.forEach(Thread::start);
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> dev.runledger.ledger.ReaderPositions
                    .read(journalDir).values().stream().allMatch(p -> p >= history));
            JournalCompaction.Result first = ledger.compact(false);
            Thread.sleep(300);
            ledger.compact(false);
            Thread.sleep(300);
            stop.set(true);
            for (Thread t : threads) {
                t.join(30_000);
            }
            assertThat(failure.get()).isNull();
            assertThat(first.droppedRuns()).isEqualTo(30);
            assertThat(reads.get()).isPositive();
            assertThat(projection.awaitApplied(ledger.journal().headIndex(), WAIT)).isTrue();
            Verification v = Rebuild.verify(ledger.journal(), dir.resolve("concurrent.sqlite"), null);
            assertThat(v.equal()).as("%s", v).isTrue();
        }
    }

    private static Map<String, List<String>> eventsByRun(Journal journal) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        try (JournalReader r = journal.readFrom(Journal.NONE)) {
            for (JournalEntry e; (e = r.next()) != null; ) {
                if (e instanceof JournalEntry.Event ev) {
                    out.computeIfAbsent(ev.event().runId(), k -> new ArrayList<>()).add(NdjsonCodec.encodeToString(ev.event()));
                }
            }
        }
        return sortedByKey(out);
    }

    private static Map<String, List<String>> withoutEmpty(Map<String, List<String>> live) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        live.forEach((id, events) -> {
            if (!events.isEmpty()) {
                out.put(id, events);
            }
        });
        return sortedByKey(out);
    }

    private static Map<String, List<String>> sortedByKey(Map<String, List<String>> m) {
        return new java.util.TreeMap<>(m);
    }
}
