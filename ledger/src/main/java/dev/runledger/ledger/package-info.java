/**
 * The write side of Run Ledger: the event model ({@link dev.runledger.ledger.RunEvent}), its NDJSON
 * codec, the Chronicle Queue {@link dev.runledger.ledger.Journal} and the {@link dev.runledger.ledger.Ledger}
 * append API that enforces run lifecycle rules.
 *
 * <p>Public types in this package are the API; everything package-private is implementation.
 * This module must never import the read side ({@code dev.runledger.projections}).
 */
package dev.runledger.ledger;
