package dev.runledger.ledger;

/**
 * The journal's disk cannot take what was to be appended. Thrown before writing when a batch would not
 * fit (nothing of it is appended), or, if the disk fills in the middle of a batch regardless (another
 * process took the space), after the acknowledged prefix, which {@link #appended()} counts. Appending
 * works again once space returns.
 */
public final class JournalFullException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int appended;
    private final int attempted;

    JournalFullException(String message, int appended, int attempted, Throwable cause) {
        super(message, cause);
        this.appended = appended;
        this.attempted = attempted;
    }

    /** Events of the batch that were appended (and acknowledged) before the disk filled; 0 when refused up front. */
    public int appended() {
        return appended;
    }

    /** Events the batch held. */
    public int attempted() {
        return attempted;
    }
}
