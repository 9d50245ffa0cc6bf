package dev.runledger.ledger;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The facts retention decides on, per live run: when and where it was created, whether it completed,
 * and its labels now. Kept up to date by scanning the journal's lifecycle events from where the last
 * scan stopped (commands are skipped without being decoded), so a decision after each completion reads
 * only what was appended since. Not thread-safe: the ledger calls it under its lock or from one thread.
 */
final class Retention {
    private static final Set<EventType> LIFECYCLE = EnumSet.of(EventType.RUN_CREATED, EventType.LABELS_CHANGED,
            EventType.RUN_COMPLETED, EventType.RUN_DELETED);

    /** One run as retention sees it. */
    static final class RunFacts {
        final String runId;
        final long createdIndex;
        final long createdMicros;
        final Map<String, String> labels;
        boolean completed;

        RunFacts(String runId, long createdIndex, long createdMicros, Map<String, String> labels) {
            this.runId = runId;
            this.createdIndex = createdIndex;
            this.createdMicros = createdMicros;
            this.labels = new HashMap<>(labels);
        }
    }

    private final ChronicleJournal journal;
    private final Map<String, RunFacts> runs = new LinkedHashMap<>();
    private long scanned = Journal.NONE;

    Retention(ChronicleJournal journal) {
        this.journal = journal;
    }

    /** Reads the lifecycle events appended since the last call. */
    void catchUp() {
        scanned = journal.scanAfter(scanned, LIFECYCLE, (index, micros, event) -> {
            switch (event.eventType()) {
                case RUN_CREATED -> runs.put(event.runId(), new RunFacts(event.runId(), index, micros,
                        ((RunEvent.RunCreated) event).labels()));
                case LABELS_CHANGED -> {
                    RunFacts f = runs.get(event.runId());
                    if (f != null) {
                        RunEvent.LabelsChanged c = (RunEvent.LabelsChanged) event;
                        c.remove().forEach(f.labels::remove);
                        f.labels.putAll(c.set());
                    }
                }
                case RUN_COMPLETED -> {
                    RunFacts f = runs.get(event.runId());
                    if (f != null) {
                        f.completed = true;
                    }
                }
                case RUN_DELETED -> runs.remove(event.runId());
                case COMMAND_RECORDED, SUMMARY_RECORDED, JOURNAL_LOSS -> {
                    // not scanned
                }
            }
        }).lastIndex();
    }

    /** The completed runs {@code policy} lets go, oldest first. */
    List<String> victims(RetentionPolicy policy, Instant now) {
        List<RunFacts> completed = new ArrayList<>();
        for (RunFacts f : runs.values()) {
            if (f.completed) {
                completed.add(f);
            }
        }
        completed.sort(Comparator.comparingLong((RunFacts f) -> f.createdIndex).reversed()); // newest first
        long youngFrom = policy.keepFor() == null ? Long.MAX_VALUE
                : (now.toEpochMilli() - policy.keepFor().toMillis()) * 1000;
        List<String> out = new ArrayList<>();
        for (int i = completed.size() - 1; i >= 0; i--) {
            RunFacts f = completed.get(i);
            boolean keptByCount = policy.keepRuns() != null && i < policy.keepRuns();
            boolean keptByAge = policy.keepFor() != null && f.createdMicros >= youngFrom;
            boolean limited = policy.keepRuns() != null || policy.keepFor() != null;
            if (limited && !keptByCount && !keptByAge && !policy.pinned(f.labels)) {
                out.add(f.runId);
            }
        }
        return out;
    }

    /** Live runs known so far (for status). */
    int liveRuns() {
        return runs.size();
    }
}
