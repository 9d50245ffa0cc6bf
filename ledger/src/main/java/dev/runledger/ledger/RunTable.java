package dev.runledger.ledger;

import dev.runledger.ledger.RunLifecycle.Phase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The append rules' view of every run (phase, the index that put it there, label keys), recovered when a
 * ledger opens and saved as a snapshot when it closes. Not thread-safe: the ledger's lock guards it.
 */
final class RunTable {
    private static final Logger LOG = LoggerFactory.getLogger(RunTable.class);
    /** Commands and summaries never change a run's phase or labels, and they are nearly every excerpt. */
    private static final Set<EventType> LIFECYCLE = EnumSet.of(EventType.RUN_CREATED, EventType.LABELS_CHANGED,
            EventType.RUN_COMPLETED, EventType.RUN_DELETED);

    private final Map<String, RunState> runs;

    private RunTable(Map<String, RunState> runs) {
        this.runs = runs;
    }

    /**
     * Rebuilds the table: from the snapshot written at the last close (if it belongs to this journal and
     * the journal still holds its index), then the journal's lifecycle events after it. Events that break
     * a rule (an old journal, a bug) are ignored here; projections quarantine them.
     */
    static RunTable recover(ChronicleJournal journal) {
        long start = System.nanoTime();
        Map<String, RunState> runs = new HashMap<>();
        long after = Journal.NONE;
        try {
            StateSnapshot.Loaded snapshot = StateSnapshot.read(journal.directory(), journal.id());
            if (snapshot != null && snapshot.lastIndex() != Journal.NONE) {
                Integer anchor = journal.excerptChecksum(snapshot.lastIndex());
                if (anchor != null && anchor == snapshot.anchor()) {
                    snapshot.runs().forEach((id, e) -> runs.put(id, RunState.of(e)));
                    after = snapshot.lastIndex();
                } else {
                    LOG.warn("{}: {} was taken at index {}, which the journal {}; scanning the whole journal", journal,
                            StateSnapshot.FILE, snapshot.lastIndex(), anchor == null ? "no longer holds" : "holds different bytes at");
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: ignoring {} ({}); scanning the whole journal", journal, StateSnapshot.FILE, e.toString());
            runs.clear();
        }
        ChronicleJournal.ScanResult scanned = journal.scanAfter(after, LIFECYCLE, (index, micros, event) -> {
            RunState state = runs.computeIfAbsent(event.runId(), k -> new RunState());
            if (RunLifecycle.check(event, state.phase, state.phaseIndex, state.labelKeys()) == null) {
                state.apply(event, index);
            }
        });
        LOG.info("opened {}: {} runs known, state recovered in {} ms (scanned {} events)", journal, runs.size(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), scanned.excerpts());
        if (scanned.damaged() > 0) {
            LOG.warn("{}: {} damaged excerpts skipped while recovering run state; run `runledger verify --journal {}`"
                    + " to see where", journal, scanned.damaged(), journal.directory());
        }
        return new RunTable(runs);
    }

    /** The run's state, or null if the journal never mentioned it. */
    RunState get(String runId) {
        return runs.get(runId);
    }

    /** Records that {@code event}, written at {@code index}, happened to its run (a journal loss concerns none). */
    void apply(RunEvent event, long index) {
        if (event.eventType() != EventType.JOURNAL_LOSS) {
            runs.computeIfAbsent(event.runId(), k -> new RunState()).apply(event, index);
        }
    }

    /**
     * Forgets deleted runs a compaction dropped from the journal (run id -> the index of the deletion it
     * dropped): a ledger opened on it afresh would not know them either, and an erased run's id must not
     * reach the next snapshot. A run created again after that deletion is kept, whatever its state.
     */
    void forgetDropped(Map<String, Long> deletions) {
        deletions.forEach((runId, deletedAt) -> {
            RunState s = runs.get(runId);
            if (s != null && s.phase == RunLifecycle.Phase.DELETED && s.phaseIndex == deletedAt) {
                runs.remove(runId);
            }
        });
    }

    /** Saves the table for the next open; a failure costs that open a full scan, nothing else. */
    void saveSnapshot(ChronicleJournal journal) {
        long head = journal.headIndex();
        if (head == Journal.NONE) {
            return;
        }
        try {
            Integer anchor = journal.excerptChecksum(head);
            if (anchor == null) {
                LOG.warn("{}: the head index {} does not read back; no {} written", journal, head, StateSnapshot.FILE);
                return;
            }
            Map<String, StateSnapshot.RunEntry> entries = new HashMap<>(runs.size() * 2);
            runs.forEach((id, s) -> entries.put(id, new StateSnapshot.RunEntry(s.phase, s.phaseIndex, s.labelKeys())));
            StateSnapshot.write(journal.directory(), journal.id(), head, anchor, entries);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: cannot write {}; the next open scans the whole journal", journal, StateSnapshot.FILE, e);
        }
    }

    /** A run as the append rules see it. */
    static final class RunState {
        Phase phase = Phase.ABSENT;
        long phaseIndex = Journal.NONE;
        private Set<String> labelKeys;

        static RunState of(StateSnapshot.RunEntry e) {
            RunState s = new RunState();
            s.phase = e.phase();
            s.phaseIndex = e.phaseIndex();
            s.labelKeys = e.labelKeys().isEmpty() ? null : new HashSet<>(e.labelKeys());
            return s;
        }

        /** An independent copy (of nothing: a run never seen), to validate a batch against. */
        static RunState copyOf(RunState other) {
            RunState copy = new RunState();
            if (other != null) {
                copy.phase = other.phase;
                copy.phaseIndex = other.phaseIndex;
                copy.labelKeys = other.labelKeys == null ? null : new HashSet<>(other.labelKeys);
            }
            return copy;
        }

        Set<String> labelKeys() {
            return labelKeys == null ? Set.of() : labelKeys;
        }

        RunLifecycle.Violation check(RunEvent event) {
            return RunLifecycle.check(event, phase, phaseIndex, labelKeys());
        }

        void apply(RunEvent event, long index) {
            Phase next = RunLifecycle.next(phase, event);
            if (next != phase || event.eventType() == EventType.RUN_CREATED) {
                phase = next;
                phaseIndex = index;
            }
            switch (event.eventType()) {
                case RUN_CREATED -> {
                    Map<String, String> labels = ((RunEvent.RunCreated) event).labels();
                    labelKeys = labels.isEmpty() ? null : new HashSet<>(labels.keySet());
                }
                case LABELS_CHANGED -> {
                    RunEvent.LabelsChanged change = (RunEvent.LabelsChanged) event;
                    if (labelKeys == null) {
                        labelKeys = new HashSet<>();
                    }
                    labelKeys.addAll(change.set().keySet());
                    change.remove().forEach(labelKeys::remove);
                }
                case RUN_DELETED -> labelKeys = null;
                case COMMAND_RECORDED, SUMMARY_RECORDED, RUN_COMPLETED, JOURNAL_LOSS -> {
                    // neither phase-relevant beyond next() nor label-bearing
                }
            }
        }
    }
}
