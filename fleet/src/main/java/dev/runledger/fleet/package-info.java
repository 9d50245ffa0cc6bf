/**
 * The fleet side of a robot: {@link dev.runledger.fleet.Shipper} ships its journal to Apache Kafka in the
 * record layout of {@link dev.runledger.fleet.FleetRecord}, at least once from a checkpoint that is also a
 * registered reader of the journal; {@link dev.runledger.fleet.ShipVerifier} compares a topic with the journal.
 */
package dev.runledger.fleet;
