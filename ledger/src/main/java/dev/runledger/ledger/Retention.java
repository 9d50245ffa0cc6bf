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
        /** Where this life of the run began: a creation the rules refused later does not move it (compaction's range). */
        long firstCreatedIndex;
        boolean completed;
        /** Its events so far, for {@link #deadEvents} when it is deleted. */
        long events;

        RunFacts(String runId, long createdIndex, long createdMicros, Map<String, String> labels) {
            this.runId = runId;
            this.createdIndex = createdIndex;
            this.createdMicros = createdMicros;
            this.labels = new HashMap<>(labels);
            this.firstCreatedIndex = createdIndex;
        }
    }

    private final ChronicleJournal journal;
    private final Map<String, RunFacts> runs = new LinkedHashMap<>();
    private long scanned = Journal.NONE;
    /** Events of runs now live (what compaction keeps), and of runs deleted but still in the journal (what it drops). */
    private long liveEvents;
    private long deadEvents;
    /** Deleted runs still in the journal: run id -> the [created, deleted] index ranges a compaction drops. */
    private final Map<String, List<long[]>> deadRanges = new HashMap<>();
    private final EventEncoding.Reader peek = new EventEncoding.Reader();

    Retention(ChronicleJournal journal) {
        this.journal = journal;
    }

    /**
     * Reads what was appended since the last call: lifecycle events decoded, every other event only
     * counted for its run (its run id read without decoding the rest).
     */
    void catchUp() {
        // Up to the head as it is now: called while appends go on, it must not chase them.
        long upTo = journal.headIndex();
        scanned = journal.readRaw(scanned, (index, buf, length) -> {
            if (EventEncoding.isCompacted(buf, length)) {
                return index < upTo;
            }
            try {
                peek.reset(buf, length);
                if (LIFECYCLE.contains(peek.type())) {
                    apply(index, peek.appendedAtMicros(), peek.decode());
                } else {
                    count(peek.runIdUnchecked());
                }
            } catch (EventEncoding.CorruptExcerptException damaged) {
                // counted nowhere: verify reports it
            }
            return index < upTo;
        });
    }

    private void count(String runId) {
        RunFacts f = runId == null ? null : runs.get(runId);
        if (f != null) {
            f.events++;
            liveEvents++;
        }
    }

    private void apply(long index, long micros, RunEvent event) {
        String runId = event.runId();
        switch (event.eventType()) {
            case RUN_CREATED -> {
                RunFacts created = new RunFacts(runId, index, micros, ((RunEvent.RunCreated) event).labels());
                RunFacts again = runs.put(runId, created);
                created.events = again == null ? 0 : again.events; // a creation the rules refuse: count on
                created.firstCreatedIndex = again == null ? index : again.firstCreatedIndex;
                count(runId);
            }
            case LABELS_CHANGED -> {
                count(runId);
                RunFacts f = runs.get(runId);
                if (f != null) {
                    RunEvent.LabelsChanged c = (RunEvent.LabelsChanged) event;
                    c.remove().forEach(f.labels::remove);
                    f.labels.putAll(c.set());
                }
            }
            case RUN_COMPLETED -> {
                count(runId);
                RunFacts f = runs.get(runId);
                if (f != null) {
                    f.completed = true;
                }
            }
            case RUN_DELETED -> {
                RunFacts gone = runs.remove(runId);
                if (gone != null) {
                    deadRanges.computeIfAbsent(runId, k -> new ArrayList<>()).add(new long[] {gone.firstCreatedIndex, index});
                    liveEvents -= gone.events;
                    deadEvents += gone.events + 1; // and the deletion itself, which compaction drops too
                }
            }
            case COMMAND_RECORDED, SUMMARY_RECORDED, JOURNAL_LOSS -> count(runId);
        }
    }

    /** Forgets everything: after a compaction the dead events are gone, and the next {@link #catchUp} rescans. */
    void reset() {
        runs.clear();
        deadRanges.clear();
        scanned = Journal.NONE;
        liveEvents = 0;
        deadEvents = 0;
    }

    /** A copy of {@link #deadRanges}, as far as the last {@link #catchUp} read. */
    Map<String, List<long[]>> deadRanges() {
        Map<String, List<long[]>> copy = new HashMap<>();
        deadRanges.forEach((runId, ranges) -> copy.put(runId, new ArrayList<>(ranges)));
        return copy;
    }

    long liveEvents() {
        return liveEvents;
    }

    long deadEvents() {
        return deadEvents;
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

}
