package dev.runledger.fleet;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** A fleet projector following a topic in a child JVM, for the crash tests: args bootstrap, JDBC URL, topic, schema. */
public final class FleetProjectorChild {
    private FleetProjectorChild() {
    }

    public static void main(String[] args) throws Exception {
        FleetProjectorConfig config = FleetProjectorConfig.builder(args[0], args[1]).topic(args[2]).schema(args[3])
                .follow(true).maxBatchRecords(Integer.parseInt(args[4])).meterRegistry(new SimpleMeterRegistry()).build();
        try (FleetProjector projector = new FleetProjector(config)) {
            projector.run();
        }
    }
}
