package dev.runledger.ledger;

import dev.runledger.ledger.RejectedEventException.Reason;
import dev.runledger.ledger.RunEvent.LabelsChanged;

import java.util.Set;

/**
 * The state rules every event must satisfy, in one place: the {@link Ledger} applies them at append
 * and projections apply them again to quarantine anything a journal nevertheless holds.
 */
public final class RunLifecycle {

    /** Where a run stands as far as the rules care. */
    public enum Phase {
        /** Never created (or never seen). */
        ABSENT,
        LIVE,
        COMPLETED,
        /** Deleted; its id may be created again. */
        DELETED
    }

    /** A broken rule: why, and a sentence naming the run and, where known, the index that explains it. */
    public record Violation(Reason reason, String message) {
    }

    private RunLifecycle() {
    }

    /**
     * Checks {@code event} against its run's phase. {@code phaseIndex} is the journal index of the
     * event that put the run into that phase (or {@link Journal#NONE}); {@code labelKeys} are the run's
     * current label keys. Returns {@code null} when the event is allowed.
     */
    public static Violation check(RunEvent event, Phase phase, long phaseIndex, Set<String> labelKeys) {
        // Allowed events are the hot path (every append, every projected event): no strings unless violated.
        EventType type = event.eventType();
        if (type == EventType.JOURNAL_LOSS) {
            return null; // about the journal, not a run: no run rule applies (who may append it is the ledger's rule)
        }
        if (type == EventType.RUN_CREATED) {
            return phase == Phase.LIVE || phase == Phase.COMPLETED
                    ? violation(Reason.DUPLICATE_RUN, event, " already exists (created" + at(phaseIndex) + ")")
                    : null;
        }
        if (phase == Phase.ABSENT) {
            return violation(Reason.UNKNOWN_RUN, event, " does not exist");
        }
        if (phase == Phase.DELETED) {
            return violation(Reason.DELETED_RUN, event, " was deleted" + at(phaseIndex));
        }
        return switch (type) {
            case COMMAND_RECORDED -> phase == Phase.COMPLETED
                    ? violation(Reason.RUN_COMPLETED, event, " is already completed" + at(phaseIndex)
                            + "; no command may be recorded after run.completed")
                    : null;
            case RUN_COMPLETED -> phase == Phase.COMPLETED
                    ? violation(Reason.RUN_COMPLETED, event, " is already completed" + at(phaseIndex))
                    : null;
            case LABELS_CHANGED -> labelCount((LabelsChanged) event, labelKeys);
            case RUN_CREATED, SUMMARY_RECORDED, RUN_DELETED, JOURNAL_LOSS -> null;
        };
    }

    private static Violation labelCount(LabelsChanged change, Set<String> labelKeys) {
        int after = labelKeys.size();
        for (String key : change.set().keySet()) {
            if (!labelKeys.contains(key)) {
                after++;
            }
        }
        for (String key : change.remove()) {
            if (labelKeys.contains(key)) {
                after--;
            }
        }
        return after > Validation.MAX_LABELS_PER_RUN
                ? violation(Reason.TOO_MANY_LABELS, change, " would have " + after + " labels, at most "
                        + Validation.MAX_LABELS_PER_RUN + " are allowed")
                : null;
    }

    private static Violation violation(Reason reason, RunEvent event, String what) {
        return new Violation(reason, "run " + Validation.quote(event.runId()) + what);
    }

    private static String at(long index) {
        return index == Journal.NONE ? "" : " at index " + index;
    }

    /** The phase a run is in after {@code event} was applied to it. */
    public static Phase next(Phase current, RunEvent event) {
        return switch (event.eventType()) {
            case RUN_CREATED -> Phase.LIVE;
            case RUN_COMPLETED -> Phase.COMPLETED;
            case RUN_DELETED -> Phase.DELETED;
            case COMMAND_RECORDED, LABELS_CHANGED, SUMMARY_RECORDED, JOURNAL_LOSS -> current;
        };
    }
}
