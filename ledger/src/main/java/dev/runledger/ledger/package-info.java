/**
 * The write side of Run Ledger: the event model ({@link dev.runledger.ledger.RunEvent},
 * {@link dev.runledger.ledger.EventType}), its NDJSON codec, the Chronicle Queue
 * {@link dev.runledger.ledger.Journal} with checksummed excerpts, the {@link dev.runledger.ledger.Ledger}
 * append API that enforces run lifecycle rules, and the journal's proof of integrity (the hash chain,
 * the seal, {@link dev.runledger.ledger.JournalAudit}), and bounded disk: the
 * {@link dev.runledger.ledger.RetentionPolicy}, offline {@link dev.runledger.ledger.JournalCompaction} that keeps
 * every index, and the {@link dev.runledger.ledger.ReaderPositions} readers register so compaction never gets ahead
 * of them.
 *
 * <p>Public types in this package are the API; everything package-private is implementation.
 * This module must never import the read side ({@code dev.runledger.projections}).
 */
package dev.runledger.ledger;
