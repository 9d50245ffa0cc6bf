package dev.runledger.tool;

import dev.runledger.fleet.FleetProjectorConfig;
import dev.runledger.fleet.ShipperConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import picocli.CommandLine.Option;

/** {@code --kafka --topic --postgres --schema}, shared by the fleet-* commands. */
final class FleetOptions {
    @Option(names = "--kafka", required = true, paramLabel = "HOST:PORT", description = "Kafka bootstrap servers.")
    String kafka;

    @Option(names = "--topic", defaultValue = ShipperConfig.DEFAULT_TOPIC, paramLabel = "T",
            description = "The topic robots ship to (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--postgres", required = true, paramLabel = "JDBC_URL",
            description = "The fleet's PostgreSQL, e.g. jdbc:postgresql://localhost:5432/postgres?user=postgres.")
    String postgres;

    @Option(names = "--schema", defaultValue = FleetProjectorConfig.DEFAULT_SCHEMA, paramLabel = "NAME",
            description = "The PostgreSQL schema of the fleet projection (default: ${DEFAULT-VALUE}).")
    String schema;

    FleetProjectorConfig.Builder config() {
        return FleetProjectorConfig.builder(kafka, postgres).topic(topic).schema(schema).meterRegistry(new SimpleMeterRegistry());
    }
}
