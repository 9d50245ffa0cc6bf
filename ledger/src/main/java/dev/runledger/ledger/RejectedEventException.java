package dev.runledger.ledger;

/**
 * A well-formed event that the run's current state does not allow (an event for an unknown or deleted
 * run, a second creation, a command after completion, ...). Thrown at append; nothing of the batch that
 * contained it was written.
 */
public final class RejectedEventException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** Why an event was rejected; also the {@code reason} tag of {@code ledger.append.rejected}. */
    public enum Reason {
        UNKNOWN_RUN, DELETED_RUN, DUPLICATE_RUN, RUN_COMPLETED, TOO_MANY_LABELS,
        /** An event type only the ledger itself writes ({@code journal.loss}). */
        RESERVED_TYPE,
        /** Not a rule: the journal's disk could not take the events ({@link JournalFullException}); counted alike. */
        JOURNAL_FULL;

        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final Reason reason;
    private final int batchPosition;
    private final String detail;

    /**
     * @param detail what was wrong, without where: "command.recorded rejected: run \"r-1\" ..."; the message
     *               adds the batch position when there is more than one event
     */
    public RejectedEventException(Reason reason, int batchPosition, String detail) {
        super(batchPosition == 0 ? detail : "event " + batchPosition + " of the batch: " + detail);
        this.reason = reason;
        this.batchPosition = batchPosition;
        this.detail = detail;
    }

    /** The rejection without its batch position, for callers that name the input line instead. */
    public String detail() {
        return detail;
    }

    public Reason reason() {
        return reason;
    }

    /** 0-based position of the offending event in the batch it came in (0 for single appends). */
    public int batchPosition() {
        return batchPosition;
    }
}
