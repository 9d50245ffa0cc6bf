/**
 * The HTTP face of Run Ledger ({@code runledger serve}): NDJSON appends for engines that are not on the
 * JVM, the queries, health and Prometheus {@code /metrics}, on Jetty 12 (plain or TLS), with the limits
 * that keep slow or hostile clients from stalling it. Owns no storage: behind the one front, a robot's
 * server wires a {@code Ledger} (write side) and a {@code Projection} (read side) together
 * ({@code RobotBackend}), and a fleet server reads the fleet's PostgreSQL projection ({@code FleetBackend}).
 */
package dev.runledger.server;
