package dev.runledger.projections;

/** In strict mode, an event the projection cannot apply stops it instead of being quarantined. */
public final class PoisonEventException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long journalIndex;

    public PoisonEventException(long journalIndex, String message) {
        super(message);
        this.journalIndex = journalIndex;
    }

    public long journalIndex() {
        return journalIndex;
    }
}
