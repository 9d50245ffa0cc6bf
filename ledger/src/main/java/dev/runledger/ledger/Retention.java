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
    /** What each day (cycle file) read so far holds, so that compaction can drop a dead day without reading it. */
    private final java.util.TreeMap<Integer, Day> days = new java.util.TreeMap<>();
    private int lastCycle = -1;
    private Day lastDay;

    /**
     * One day of the journal as read: per run id, where its excerpts lie there ({@link Pieces}), and how
     * many events it holds. {@code unaccounted}: an excerpt no run accounts for (damaged, or naming no
     * run), which keeps the day from being dropped whole.
     */
    static final class Day {
        final Map<String, Pieces> spans = new HashMap<>();
        long events;
        boolean unaccounted;
        /** The first and last index read in the day, stand-ins included. */
        long first = Journal.NONE;
        long last = Journal.NONE;

        Day copy() {
            Day d = new Day();
            d.first = first;
            d.last = last;
            spans.forEach((runId, pieces) -> d.spans.put(runId, pieces.copy()));
            d.events = events;
            d.unaccounted = unaccounted;
            return d;
        }

        private void saw(String runId, long index) {
            events++;
            if (runId == null) {
                unaccounted = true;
                return;
            }
            spans.computeIfAbsent(runId, k -> new Pieces()).add(index);
        }
    }

    /**
     * One run's excerpts within a day as ranges of consecutive indexes, {start, end}: a run written in one
     * batch and deleted later is two. Nothing else lies within a range, unless {@code merged}: a run
     * interleaved with others past {@link #MAX_PIECES} ranges keeps one, from its first excerpt to its last.
     */
    static final class Pieces {
        static final int MAX_PIECES = 16;
        final List<long[]> ranges = new ArrayList<>(2);
        boolean merged;

        private void add(long index) {
            long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
            if (last != null && (last[1] == index - 1 || merged)) {
                last[1] = index;
            } else if (ranges.size() < MAX_PIECES) {
                ranges.add(new long[] {index, index});
            } else {
                long first = ranges.get(0)[0];
                ranges.clear();
                ranges.add(new long[] {first, index});
                merged = true;
            }
        }

        Pieces copy() {
            Pieces p = new Pieces();
            ranges.forEach(r -> p.ranges.add(r.clone()));
            p.merged = merged;
            return p;
        }
    }

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
        var rollCycle = journal.rollCycle();
        scanned = journal.readRaw(scanned, (index, buf, length) -> {
            Day day = day(rollCycle.toCycle(index), index);
            if (EventEncoding.isCompacted(buf, length)) {
                return index < upTo;
            }
            try {
                peek.reset(buf, length);
                String runId;
                if (LIFECYCLE.contains(peek.type())) { // type() checks the checksum
                    RunEvent event = peek.decode();
                    runId = event.runId();
                    apply(index, peek.appendedAtMicros(), event);
                } else {
                    runId = peek.runIdUnchecked();
                    count(runId);
                }
                day.saw(runId, index);
            } catch (EventEncoding.CorruptExcerptException damaged) {
                day.events++;
                day.unaccounted = true; // counted nowhere else: verify reports it
            }
            return index < upTo;
        });
    }

    private Day day(int cycle, long index) {
        if (cycle != lastCycle) {
            lastDay = days.computeIfAbsent(cycle, c -> new Day());
            lastCycle = cycle;
        }
        if (lastDay.first == Journal.NONE) {
            lastDay.first = index;
        }
        lastDay.last = index;
        return lastDay;
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
        days.clear();
        lastCycle = -1;
        lastDay = null;
        scanned = Journal.NONE;
        liveEvents = 0;
        deadEvents = 0;
    }

    /**
     * What a compaction needs to know before it starts: the deleted runs' ranges, and what each day read
     * holds. Days from {@code openDay} on may hold more than was read (appends only go to that day or later).
     */
    record Known(Map<String, List<long[]>> deadRanges, java.util.NavigableMap<Integer, Day> days, int openDay) {
    }

    /** {@link #deadRanges} and {@link #days}, as far as the last {@link #catchUp} read. */
    Known known() {
        return new Known(deadRanges(), days(), scanned == Journal.NONE ? -1 : journal.rollCycle().toCycle(scanned));
    }

    /** A copy of {@link #deadRanges}, as far as the last {@link #catchUp} read. */
    private Map<String, List<long[]>> deadRanges() {
        Map<String, List<long[]>> copy = new HashMap<>();
        deadRanges.forEach((runId, ranges) -> copy.put(runId, new ArrayList<>(ranges)));
        return copy;
    }

    /** A copy of what the days read so far hold (the last of them may still grow). */
    private java.util.NavigableMap<Integer, Day> days() {
        java.util.TreeMap<Integer, Day> copy = new java.util.TreeMap<>();
        days.forEach((cycle, day) -> copy.put(cycle, day.copy()));
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
