package dev.runledger.ledger;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RetentionTest {
    @TempDir
    Path dir;

    private Ledger open(TestClock clock, RetentionPolicy live) {
        return Ledger.open(LedgerConfig.builder(dir.resolve("journal")).clock(clock).meterRegistry(new SimpleMeterRegistry())
                .retention(live).build());
    }

    private static Map<String, String> deletions(Journal journal) {
        Map<String, String> out = new LinkedHashMap<>();
        try (JournalReader r = journal.readFrom(journal.firstIndex())) {
            for (JournalEntry e; (e = r.next()) != null; ) {
                if (e instanceof JournalEntry.Event ev && ev.event() instanceof RunEvent.RunDeleted d) {
                    out.put(d.runId(), String.valueOf(d.reason()));
                }
            }
        }
        return out;
    }

    @Test
    void shouldDeleteCompletedRunsBeyondTheNewestNButNeverAnActiveOrPinnedOne() {
        TestClock clock = new TestClock();
        try (Ledger ledger = open(clock, null)) {
            ledger.append(TestEvents.created("cal", Map.of("kind", "calibration")));
            ledger.append(TestEvents.completed("cal"));
            for (int i = 0; i < 5; i++) {
                ledger.append(TestEvents.created("r-" + i));
                if (i != 1) {
                    ledger.append(TestEvents.completed("r-" + i));
                }
            }
            RetentionPolicy policy = RetentionPolicy.builder().keepRuns(2).pin(RetentionPolicy.Pin.parse("kind=calibration")).build();
            long head = ledger.journal().headIndex();

            assertThat(ledger.retain(policy, true)).as("dry run").containsExactly("r-0", "r-2");
            assertThat(ledger.journal().headIndex()).as("a dry run appends nothing").isEqualTo(head);

            assertThat(ledger.retain(policy, false)).containsExactly("r-0", "r-2");
            assertThat(deletions(ledger.journal())).containsExactly(Map.entry("r-0", "retention"), Map.entry("r-2", "retention"));
            assertThat(ledger.phaseOf("r-1")).as("active").isEqualTo(RunLifecycle.Phase.LIVE);
            assertThat(ledger.phaseOf("cal")).as("pinned").isEqualTo(RunLifecycle.Phase.COMPLETED);
            assertThat(ledger.retain(policy, false)).as("nothing more to do").isEmpty();
        }
    }

    @Test
    void shouldKeepRunsYoungerThanTheAgeLimitWhateverTheirNumber() {
        TestClock clock = new TestClock();
        try (Ledger ledger = open(clock, null)) {
            for (int day = 0; day < 10; day++) {
                clock.now = Instant.parse("2026-01-01T00:00:00Z").plus(Duration.ofDays(day));
                ledger.append(TestEvents.created("d-" + day));
                ledger.append(TestEvents.completed("d-" + day));
            }
            clock.now = Instant.parse("2026-01-10T12:00:00Z");

            assertThat(ledger.retain(RetentionPolicy.builder().keepFor(Duration.ofDays(3)).build(), false))
                    .containsExactly("d-0", "d-1", "d-2", "d-3", "d-4", "d-5", "d-6");
            assertThat(ledger.retain(RetentionPolicy.builder().keepFor(Duration.ofDays(1)).keepRuns(2).build(), false))
                    .as("with both limits a run is kept if either keeps it").containsExactly("d-7");
        }
    }

    @Test
    void shouldApplyTheConfiguredPolicyAfterEveryCompletion() {
        TestClock clock = new TestClock();
        try (Ledger ledger = open(clock, RetentionPolicy.builder().keepRuns(3).build())) {
            for (int i = 0; i < 8; i++) {
                ledger.append(TestEvents.created("r-" + i));
                ledger.append(TestEvents.completed("r-" + i));
            }
            ledger.append(TestEvents.created("active"));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> deletions(ledger.journal()).size() == 5);
            assertThat(deletions(ledger.journal()).keySet()).containsExactly("r-0", "r-1", "r-2", "r-3", "r-4");
            assertThat(ledger.retentionStatus().totalDeleted()).isEqualTo(5);
            assertThat(ledger.retentionStatus().lastRun()).isNotNull();
            assertThat(ledger.phaseOf("active")).isEqualTo(RunLifecycle.Phase.LIVE);
        }
    }

    @Test
    void shouldCountLiveAndDeadEventsForTheCompactionToCome() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).meterRegistry(registry).build())) {
            ledger.append(TestEvents.created("keep"));
            ledger.append(TestEvents.command("keep", "c-1", "queued"));
            ledger.append(TestEvents.created("gone"));
            ledger.append(TestEvents.command("gone", "c-1", "queued"));
            ledger.append(TestEvents.command("gone", "c-1", "succeeded"));
            assertThat(registry.get("ledger.journal.events").tag("state", "live").gauge().value()).isEqualTo(5);

            ledger.append(new RunEvent.RunDeleted("gone"));
            ledger.append(TestEvents.completed("keep"));

            assertThat(registry.get("ledger.journal.events").tag("state", "live").gauge().value()).isEqualTo(3);
            assertThat(registry.get("ledger.journal.events").tag("state", "dead").gauge().value()).as("3 events and the deletion")
                    .isEqualTo(4);
            assertThat(registry.get("ledger.journal.bytes").gauge().value()).isPositive();
        }
        JournalCompaction.compact(dir.resolve("journal"), false);
        SimpleMeterRegistry after = new SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).meterRegistry(after).build())) {
            assertThat(after.get("ledger.journal.events").tag("state", "live").gauge().value()).isEqualTo(3);
            assertThat(after.get("ledger.journal.events").tag("state", "dead").gauge().value()).isZero();
        }
    }

    @Test
    void shouldRefuseAPolicyThatKeepsEverything() {
        assertThatThrownBy(() -> RetentionPolicy.builder().build()).hasMessageContaining("--keep-runs N");
        assertThatThrownBy(() -> RetentionPolicy.Pin.parse("kind")).hasMessageContaining("key=value");
        assertThatThrownBy(() -> RetentionPolicy.Pin.parse("my key=x")).hasMessageContaining("label key");
    }

    /**
     * Random lifecycles (creations, label changes that add and remove a pin, completions, deletions by a
     * user) with retention at random moments: after each, the runs the journal still holds are exactly
     * those an independent model keeps.
     */
    @Test
    void shouldKeepExactlyWhatAModelKeepsOnRandomLifecycles() {
        for (long seed = 1; seed <= 15; seed++) {
            Random random = new Random(seed);
            TestClock clock = new TestClock();
            Path journal = dir.resolve("model-" + seed);
            Map<String, ModelRun> model = new LinkedHashMap<>();
            int created = 0;
            try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal).clock(clock)
                    .meterRegistry(new SimpleMeterRegistry()).build())) {
                for (int step = 0; step < 300; step++) {
                    clock.advance(Duration.ofMinutes(random.nextInt(600)));
                    List<String> live = new ArrayList<>(model.keySet());
                    int action = random.nextInt(10);
                    if (action < 4 || live.isEmpty()) {
                        String id = "r-" + created++;
                        Map<String, String> labels = random.nextInt(5) == 0 ? Map.of("kind", "calibration") : Map.of();
                        ledger.append(TestEvents.created(id, labels));
                        model.put(id, new ModelRun(created, clock.now, new HashMap<>(labels)));
                    } else {
                        String id = live.get(random.nextInt(live.size()));
                        ModelRun run = model.get(id);
                        if (action < 6 && !run.completed) {
                            ledger.append(TestEvents.completed(id));
                            run.completed = true;
                        } else if (action < 7 && !run.completed) {
                            boolean pin = random.nextBoolean();
                            ledger.append(new RunEvent.LabelsChanged(id, pin ? Map.of("kind", "calibration") : Map.of(),
                                    pin ? List.of() : List.of("kind")));
                            if (pin) {
                                run.labels.put("kind", "calibration");
                            } else {
                                run.labels.remove("kind");
                            }
                        } else if (action < 8) {
                            ledger.append(new RunEvent.RunDeleted(id, RunEvent.RunDeleted.USER));
                            model.remove(id);
                        } else {
                            RetentionPolicy policy = randomPolicy(random);
                            List<String> expected = modelVictims(model, policy, clock.now);
                            assertThat(ledger.retain(policy, false)).as("seed %d step %d: %s", seed, step, policy)
                                    .containsExactlyElementsOf(expected);
                            expected.forEach(model::remove);
                        }
                    }
                }
                Set<String> liveInLedger = new TreeSet<>();
                for (int i = 0; i < created; i++) {
                    RunLifecycle.Phase phase = ledger.phaseOf("r-" + i);
                    if (phase != RunLifecycle.Phase.DELETED) {
                        liveInLedger.add("r-" + i);
                    }
                }
                assertThat(liveInLedger).as("seed %d", seed).isEqualTo(new TreeSet<>(model.keySet()));
            }
        }
    }

    private static final class ModelRun {
        final int order;
        final Instant createdAt;
        final Map<String, String> labels;
        boolean completed;

        ModelRun(int order, Instant createdAt, Map<String, String> labels) {
            this.order = order;
            this.createdAt = createdAt;
            this.labels = labels;
        }
    }

    private static RetentionPolicy randomPolicy(Random random) {
        RetentionPolicy.Builder b = RetentionPolicy.builder();
        int kind = random.nextInt(3);
        if (kind != 1) {
            b.keepRuns(random.nextInt(6));
        }
        if (kind != 0) {
            b.keepFor(Duration.ofHours(1 + random.nextInt(72)));
        }
        if (random.nextBoolean()) {
            b.pin(new RetentionPolicy.Pin("kind", "calibration"));
        }
        return b.build();
    }

    /** Written apart from the ledger's code: completed runs, newest first, minus what the policy keeps. */
    private static List<String> modelVictims(Map<String, ModelRun> model, RetentionPolicy policy, Instant now) {
        List<Map.Entry<String, ModelRun>> completed = model.entrySet().stream().filter(e -> e.getValue().completed)
                .sorted(Comparator.comparingInt((Map.Entry<String, ModelRun> e) -> e.getValue().order).reversed())
                .collect(Collectors.toList());
        List<String> victims = new ArrayList<>();
        for (int i = 0; i < completed.size(); i++) {
            ModelRun run = completed.get(i).getValue();
            boolean byCount = policy.keepRuns() != null && i < policy.keepRuns();
            boolean byAge = policy.keepFor() != null && !run.createdAt.isBefore(now.minus(policy.keepFor()));
            boolean pinned = policy.pins().stream().anyMatch(p -> p.value().equals(run.labels.get(p.key())));
            if (!byCount && !byAge && !pinned) {
                victims.add(0, completed.get(i).getKey());
            }
        }
        return victims;
    }
}
