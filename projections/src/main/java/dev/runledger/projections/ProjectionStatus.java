package dev.runledger.projections;

/**
 * Health of a projection: how far it has applied the journal and what it is doing.
 *
 * @param rebuildProgress 0..1 while a rebuild runs beside the serving file, otherwise -1
 */
public record ProjectionStatus(String name, String journalId, long journalHead, long checkpoint, long lagEvents,
                               int schemaVersion, State state, long quarantined, double rebuildProgress,
                               String lastError) {
    public enum State { RUNNING, REBUILDING, FAILED, CLOSED }
}
