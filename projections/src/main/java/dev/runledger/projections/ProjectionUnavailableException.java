package dev.runledger.projections;

/** No projection file is readable yet: a first build or an unreadable file is being rebuilt. */
public final class ProjectionUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final double progress;

    public ProjectionUnavailableException(String message, double progress) {
        super(message);
        this.progress = progress;
    }

    /** Rebuild progress, 0..1. */
    public double progress() {
        return progress;
    }
}
