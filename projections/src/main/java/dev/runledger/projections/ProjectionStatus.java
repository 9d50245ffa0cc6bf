package dev.runledger.projections;

import java.time.Instant;

/**
 * Health of a projection: how far it has applied the journal and what it is doing.
 *
 * @param rebuildProgress 0..1 while a rebuild runs beside the serving file, otherwise -1
 * @param lastError       the most recent failure, or null; it stays after recovery, for the record
 * @param degradedSince   when the projector started failing and retrying, or null while it is healthy
 */
public record ProjectionStatus(String name, String journalId, long journalHead, long checkpoint, long lagEvents,
                               int schemaVersion, State state, long quarantined, double rebuildProgress,
                               String lastError, Instant degradedSince) {
    public enum State {
        RUNNING,
        /** Batches fail (disk full, I/O error, a corrupt file) and are retried with backoff; reads serve the last checkpoint. */
        DEGRADED,
        REBUILDING,
        FAILED,
        CLOSED
    }
}
