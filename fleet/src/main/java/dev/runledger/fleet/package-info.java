/**
 * The fleet: robots' journals in Apache Kafka, and the fleet's view in PostgreSQL.
 *
 * <p>A robot's side: {@link dev.runledger.fleet.Shipper} ships its journal to Kafka in the record layout of
 * {@link dev.runledger.fleet.FleetRecord}, at least once from a checkpoint that is also a registered reader of the
 * journal; {@link dev.runledger.fleet.ShipVerifier} compares a topic with the journal.
 *
 * <p>The central side: {@link dev.runledger.fleet.FleetProjector} applies the topic to PostgreSQL with the robot
 * projection's rules, exactly once (offsets and robot positions commit with the rows);
 * {@link dev.runledger.fleet.FleetQueries} answers the robot's query contract per robot and across the fleet;
 * {@link dev.runledger.fleet.FleetReplay} rebuilds by replay and schema swap, and verifies by replay.
 * {@link dev.runledger.fleet.KafkaBroker} and {@link dev.runledger.fleet.FleetDatabase} start the real servers
 * (from Maven Central's artifacts) that tests, benchmarks and the demo use.
 */
package dev.runledger.fleet;
