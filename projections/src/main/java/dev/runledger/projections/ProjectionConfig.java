package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/** Immutable, validated settings of a {@link Projection}. Build with {@link #builder(Path, Journal)}. */
public final class ProjectionConfig {
    private final Path database;
    private final Journal journal;
    private final int schemaVersion;
    private final boolean strict;
    private final int maxBatchEvents;
    private final int maxCachedRuns;
    private final int readers;
    private final Duration pollInterval;
    private final MeterRegistry meterRegistry;
    private final WorkerFailureHandler failureHandler;
    private final Projector.WriterFactory writerFactory;

    private ProjectionConfig(Builder b) {
        this.database = b.database;
        this.journal = b.journal;
        this.schemaVersion = b.schemaVersion;
        this.strict = b.strict;
        this.maxBatchEvents = b.maxBatchEvents;
        this.maxCachedRuns = b.maxCachedRuns;
        this.readers = b.readers;
        this.pollInterval = b.pollInterval;
        this.meterRegistry = b.meterRegistry;
        this.failureHandler = b.failureHandler;
        this.writerFactory = b.writerFactory != null ? b.writerFactory : () -> Sqlite.openWriter(b.database);
    }

    public static Builder builder(Path database, Journal journal) {
        return new Builder(database, journal);
    }

    public Path database() {
        return database;
    }

    public Journal journal() {
        return journal;
    }

    public int schemaVersion() {
        return schemaVersion;
    }

    public boolean strict() {
        return strict;
    }

    public int maxBatchEvents() {
        return maxBatchEvents;
    }

    public int maxCachedRuns() {
        return maxCachedRuns;
    }

    public int readers() {
        return readers;
    }

    public Duration pollInterval() {
        return pollInterval;
    }

    public MeterRegistry meterRegistry() {
        return meterRegistry;
    }

    public WorkerFailureHandler failureHandler() {
        return failureHandler;
    }

    /** How the projector opens its writer connection (tests wrap it to make SQLite fail as a full disk does). */
    Projector.WriterFactory writerFactory() {
        return writerFactory;
    }

    /** The name used in logs, thread names and messages: the database file's name. */
    public String name() {
        return database.getFileName().toString();
    }

    /** The newest schema version this code writes. */
    public static int currentSchemaVersion() {
        return Schema.CURRENT_VERSION;
    }

    public static final class Builder {
        private final Path database;
        private final Journal journal;
        private int schemaVersion = Schema.CURRENT_VERSION;
        private boolean strict;
        private int maxBatchEvents = 8192;
        private int maxCachedRuns = 20_000;
        private int readers = 4;
        private Duration pollInterval = Duration.ofMillis(100);
        private MeterRegistry meterRegistry = Metrics.globalRegistry;
        private WorkerFailureHandler failureHandler = WorkerFailureHandler.logging();
        private Projector.WriterFactory writerFactory;

        private Builder(Path database, Journal journal) {
            this.database = Objects.requireNonNull(database, "database").toAbsolutePath().normalize();
            this.journal = Objects.requireNonNull(journal, "journal");
        }

        /** Write this schema version (tests use older ones to exercise upgrades). */
        public Builder schemaVersion(int version) {
            if (!Schema.isKnown(version)) {
                throw new IllegalArgumentException("schemaVersion must be 1 or 2 but was " + version);
            }
            this.schemaVersion = version;
            return this;
        }

        /** Fail on a poison event instead of quarantining it. */
        public Builder strict(boolean strict) {
            this.strict = strict;
            return this;
        }

        public Builder maxBatchEvents(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxBatchEvents must be at least 1 but was " + n);
            }
            this.maxBatchEvents = n;
            return this;
        }

        public Builder maxCachedRuns(int n) {
            if (n < 16) {
                throw new IllegalArgumentException("maxCachedRuns must be at least 16 but was " + n);
            }
            this.maxCachedRuns = n;
            return this;
        }

        public Builder readers(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("readers must be 1-64 but was " + n);
            }
            this.readers = n;
            return this;
        }

        /** How long the projector waits for new entries before it refreshes its lag figures. */
        public Builder pollInterval(Duration interval) {
            if (interval == null || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("pollInterval must be positive but was " + interval);
            }
            this.pollInterval = interval;
            return this;
        }

        public Builder meterRegistry(MeterRegistry registry) {
            this.meterRegistry = Objects.requireNonNull(registry, "meterRegistry");
            return this;
        }

        public Builder failureHandler(WorkerFailureHandler handler) {
            this.failureHandler = Objects.requireNonNull(handler, "failureHandler");
            return this;
        }

        /** For tests in this package: how the projector's writer connection is opened. */
        Builder writerFactory(Projector.WriterFactory factory) {
            this.writerFactory = Objects.requireNonNull(factory, "writerFactory");
            return this;
        }

        public ProjectionConfig build() {
            return new ProjectionConfig(this);
        }
    }
}
