package dev.runledger.projections;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.util.ArrayList;
import java.util.List;

/** The projection's meters (names listed in the README, section Metrics), tagged with the projection's name. */
final class ProjectionMetrics implements AutoCloseable {
    final Counter applied;
    final Counter quarantined;
    final DistributionSummary batchSize;
    volatile double lagSeconds;
    volatile double rebuildProgress = -1;
    final Counter rebuildEvents;
    final Counter setAside;
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();

    /** {@code lagEvents}: counted when scraped, like the status's figure, so that neither goes stale. */
    ProjectionMetrics(MeterRegistry registry, String name, java.util.function.LongSupplier lagEvents) {
        this.registry = registry;
        Tags tags = Tags.of("projection", name);
        applied = keep(Counter.builder("projection.applied").description("Journal events applied to the projection")
                .tags(tags).register(registry));
        quarantined = keep(Counter.builder("projection.quarantined").description("Events quarantined instead of applied")
                .tags(tags).register(registry));
        batchSize = keep(DistributionSummary.builder("projection.batch.size").description("Events per projector transaction")
                .tags(tags).publishPercentiles(0.5, 0.99).register(registry));
        keep(Gauge.builder("projection.lag.events", lagEvents::getAsLong)
                .description("Journal events not yet applied").tags(tags).register(registry));
        keep(Gauge.builder("projection.lag.seconds", this, m -> m.lagSeconds)
                .description("Age of the oldest event not yet applied").baseUnit("seconds").tags(tags).register(registry));
        keep(Gauge.builder("rebuild.progress", this, m -> Math.max(0, m.rebuildProgress))
                .description("Progress of the running rebuild, 0..1 (0 when none runs)").tags(tags).register(registry));
        rebuildEvents = keep(Counter.builder("rebuild.events").description("Events replayed by rebuilds")
                .tags(tags).register(registry));
        setAside = keep(Counter.builder("projection.corrupt.files").description("Unreadable projection files moved aside"
                + " (FILE.corrupt-TIME) and rebuilt").tags(tags).register(registry));
    }

    private <M extends Meter> M keep(M meter) {
        meters.add(meter);
        return meter;
    }

    @Override
    public void close() {
        for (Meter m : meters) {
            registry.remove(m);
        }
    }
}
