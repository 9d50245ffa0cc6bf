/**
 * The HTTP face of Run Ledger ({@code runledger serve}): NDJSON appends for engines that are not on the
 * JVM, the queries, health and Prometheus {@code /metrics}, on Jetty 12 (plain or TLS), with the limits
 * that keep slow or hostile clients from stalling it. Owns no storage: it wires a {@code Ledger} (write
 * side) and a {@code Projection} (read side) together.
 */
package dev.runledger.server;
