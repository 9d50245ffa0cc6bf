package dev.runledger.projections;

import java.time.Duration;

/**
 * A SQLite projection kept current by a projector thread that tails the journal. Opening one creates
 * the file if needed, refuses a file built from another journal, rebuilds beside a file of another
 * schema version (serving the old file meanwhile), and starts projecting.
 */
public interface Projection extends AutoCloseable {

    static Projection open(ProjectionConfig config) {
        return SqliteProjection.open(config);
    }

    RunQueries queries();

    /** The last journal index whose effects are committed and visible to queries, or -1. */
    long appliedIndex();

    /** Read-your-writes: waits until {@code index} is applied; false if {@code timeout} passes first. */
    boolean awaitApplied(long index, Duration timeout) throws InterruptedException;

    /**
     * Waits until the projection has followed the journal's compactions up to {@code compactions}
     * ({@link dev.runledger.ledger.Journal#compactions()}): nothing of the runs they dropped is left in its
     * file or WAL. False if {@code timeout} passes first.
     */
    boolean awaitTidied(long compactions, Duration timeout) throws InterruptedException;

    ProjectionStatus status();

    /** Stops the projector after its current batch (committed with its checkpoint) and closes the file. */
    @Override
    void close();
}
