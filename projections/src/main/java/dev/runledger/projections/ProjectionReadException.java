package dev.runledger.projections;

/** A query that failed inside SQLite (a corrupt file, an I/O error); never a missing run. */
public final class ProjectionReadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ProjectionReadException(String message, Throwable cause) {
        super(message, cause);
    }
}
