/**
 * The read side: projector threads that tail the journal into a SQLite projection (runs, commands,
 * the label index, quarantine), the queries over it, and the replay engine that rebuilds and verifies it.
 *
 * <p>Public types here are the API ({@link dev.runledger.projections.Projection},
 * {@link dev.runledger.projections.RunQueries}, their records and configuration); package-private
 * classes are implementation. Depends on {@code dev.runledger.ledger} only to read the journal.
 */
package dev.runledger.projections;
