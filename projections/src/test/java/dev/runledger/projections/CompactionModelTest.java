package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalCompaction;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RetentionPolicy;
import dev.runledger.ledger.RunEvent;
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

    @Test
    void shouldKeepExactlyTheLiveRunsThroughRetentionAndCompaction() throws Exception {
        for (long seed = 1; seed <= 6; seed++) {
            Random random = new Random(seed);
            Path journalDir = dir.resolve("journal-" + seed);
            Path db = dir.resolve("runs-" + seed + ".sqlite");
            Map<String, List<String>> live = new LinkedHashMap<>(); // run -> its events as appended, in order
            Map<String, Boolean> completed = new LinkedHashMap<>();
            int created = 0;
            int compactions = 0;
            for (int round = 0; round < 4; round++) {
                long last;
                try (Ledger ledger = Ledger.open(journalDir)) {
                    for (int step = 0; step < 60; step++) {
                        List<String> ids = new ArrayList<>(live.keySet());
                        int action = random.nextInt(10);
                        RunEvent event = null;
                        if (action < 3 || ids.isEmpty()) {
                            String id = "r-" + random.nextInt(created + 3); // ids come back after deletions
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
                    last = ledger.journal().headIndex();
                }
                try (Journal journal = Journal.openExisting(journalDir); Projection projection = Projection.open(
                        ProjectionConfig.builder(db, journal).pollInterval(Duration.ofMillis(5)).build())) {
                    assertThat(projection.awaitApplied(last, WAIT)).isTrue();
                } // closing records the projection's position: compaction may drop what it has applied

                JournalCompaction.compact(journalDir, false);
                compactions++;

                try (Journal journal = Journal.openExisting(journalDir)) {
                    assertThat(eventsByRun(journal)).as("seed %d round %d: the journal holds the live runs, whole", seed, round)
                            .isEqualTo(withoutEmpty(live));
                    try (Projection projection = Projection.open(ProjectionConfig.builder(db, journal)
                            .pollInterval(Duration.ofMillis(5)).build())) {
                        assertThat(projection.awaitApplied(journal.headIndex(), WAIT)).isTrue();
                        for (String id : live.keySet()) {
                            assertThat(projection.queries().run(id)).as("seed %d: run %s", seed, id).isPresent();
                        }
                    }
                    Verification v = Rebuild.verify(journal, db, null);
                    assertThat(v.equal()).as("seed %d round %d: %s", seed, round, v).isTrue();
                }
            }
            assertThat(compactions).isEqualTo(4);
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
