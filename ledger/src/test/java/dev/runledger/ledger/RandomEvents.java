package dev.runledger.ledger;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The event mix of the model tests: creations (and re-creations), command upserts, label changes, summaries,
 * completions and deletions over a few run ids, events the rules forbid included, so that a projection's
 * quarantine and damaged flags are exercised as much as its rows.
 */
public final class RandomEvents {
    public static final String[] RUNS = {"r-0", "r-1", "r-2", "r-3", "r-4", "r-5", "r-6", "r-7"};
    public static final String[] KEYS = {"tenant", "stage", "assay"};
    public static final String[] VALUES = {"a", "b", "c"};
    public static final String[] STATUSES = {"created", "running", "succeeded", "failed", "stopped"};

    private RandomEvents() {
    }

    public static RunEvent next(Random random) {
        String run = RUNS[random.nextInt(RUNS.length)];
        int roll = random.nextInt(100);
        if (roll < 14) {
            Map<String, String> labels = new LinkedHashMap<>();
            for (int i = random.nextInt(3); i > 0; i--) {
                labels.put(KEYS[random.nextInt(KEYS.length)], VALUES[random.nextInt(VALUES.length)]);
            }
            return new RunEvent.RunCreated(run, "2026-11-22T10:00:0" + random.nextInt(10) + "Z", null, labels);
        } else if (roll < 64) {
            String status = new String[] {"queued", "running", "succeeded", "failed"}[random.nextInt(4)];
            return TestEvents.command(run, "c-" + random.nextInt(12), status);
        } else if (roll < 76) {
            Map<String, String> set = new LinkedHashMap<>();
            List<String> remove = new ArrayList<>();
            String key = KEYS[random.nextInt(KEYS.length)];
            if (random.nextBoolean()) {
                set.put(key, VALUES[random.nextInt(VALUES.length)]);
            } else {
                remove.add(key);
            }
            return new RunEvent.LabelsChanged(run, set, remove);
        } else if (roll < 82) {
            return new RunEvent.SummaryRecorded(run, "{\"n\":" + random.nextInt(1000) + ".0,\"e\":null}");
        } else if (roll < 92) {
            return new RunEvent.RunCompleted(run, CompletionStatus.values()[random.nextInt(3)], "2026-11-22T11:00:00Z");
        } else {
            return new RunEvent.RunDeleted(run);
        }
    }

    /** {@code n} events of the mix. */
    public static List<RunEvent> list(Random random, int n) {
        List<RunEvent> events = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            events.add(next(random));
        }
        return events;
    }
}
