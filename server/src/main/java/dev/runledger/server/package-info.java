/**
 * The HTTP face of Run Ledger ({@code runledger serve}): NDJSON appends for engines that are not on the
 * JVM, the queries, health and Prometheus {@code /metrics}, on the JDK's HTTP server. Owns no storage:
 * it wires a {@code Ledger} (write side) and a {@code Projection} (read side) together.
 */
package dev.runledger.server;
