package dev.runledger.ledger;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Objects;

/** Immutable, validated settings of a {@link Ledger}. Build with {@link #builder(Path)}. */
public final class LedgerConfig {
    private final Path journalDirectory;
    private final Durability durability;
    private final MeterRegistry meterRegistry;
    private final Clock clock;
    private final DiskSpace.Probe diskSpace;
    private final boolean refuseAppendsAfterLoss;
    private final java.time.Duration sealInterval;
    private final RetentionPolicy retention;
    private final double compactWhenDead;
    private final long compactWhenBytes;

    private LedgerConfig(Builder b) {
        this.journalDirectory = b.journalDirectory;
        this.durability = b.durability;
        this.meterRegistry = b.meterRegistry;
        this.clock = b.clock;
        this.diskSpace = b.diskSpace;
        this.refuseAppendsAfterLoss = b.refuseAppendsAfterLoss;
        this.sealInterval = b.sealInterval;
        this.retention = b.retention;
        this.compactWhenDead = b.compactWhenDead;
        this.compactWhenBytes = b.compactWhenBytes;
    }

    /** True: a journal found missing events refuses appends until {@code runledger repair --accept-loss}. */
    public boolean refuseAppendsAfterLoss() {
        return refuseAppendsAfterLoss;
    }

    /** The retention policy applied at open and after every completion, or null. */
    public RetentionPolicy retention() {
        return retention;
    }

    /** The share of the journal's events belonging to deleted runs past which it is compacted online; 0: never. */
    public double compactWhenDead() {
        return compactWhenDead;
    }

    /** The journal size (bytes its cycles hold) past which it is compacted online if any of it is dead; 0: never. */
    public long compactWhenBytes() {
        return compactWhenBytes;
    }

    /** How often the ledger extends its seal over new appends (besides at every sync and at close). */
    public java.time.Duration sealInterval() {
        return sealInterval;
    }

    /** Returns {@code share} if it is a valid {@link Builder#compactWhenDead} (in [0, 1)), for configs that pass it on. */
    public static double checkDeadShare(double share) {
        if (!(share >= 0 && share < 1)) {
            throw new IllegalArgumentException("compactWhenDead must be a share in [0, 1) but was " + share);
        }
        return share;
    }

    /** Returns {@code bytes} if it is a valid {@link Builder#compactWhenBytes} (0 or more), for configs that pass it on. */
    public static long checkSizeLimit(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("compactWhenBytes must be 0 (off) or a size in bytes but was " + bytes);
        }
        return bytes;
    }

    public static Builder builder(Path journalDirectory) {
        return new Builder(journalDirectory);
    }

    public Path journalDirectory() {
        return journalDirectory;
    }

    public Durability durability() {
        return durability;
    }

    public MeterRegistry meterRegistry() {
        return meterRegistry;
    }

    /**
     * Stamps each excerpt's append time (used for lag in seconds and retention by age), and names the day
     * (the journal's cycle file) an append goes into. It never goes back for the journal: an earlier time
     * than one seen before appends into the later day.
     */
    public Clock clock() {
        return clock;
    }

    DiskSpace.Probe diskSpace() {
        return diskSpace;
    }

    @Override
    public String toString() {
        return "LedgerConfig[journal=" + journalDirectory + ", durability=" + durability + "]";
    }

    public static final class Builder {
        private final Path journalDirectory;
        private Durability durability = Durability.processCrash();
        private MeterRegistry meterRegistry = Metrics.globalRegistry;
        private Clock clock = Clock.systemUTC();
        private DiskSpace.Probe diskSpace = DiskSpace.FILE_STORE;
        private boolean refuseAppendsAfterLoss;
        private java.time.Duration sealInterval = java.time.Duration.ofSeconds(1);
        private RetentionPolicy retention;
        private double compactWhenDead;
        private long compactWhenBytes;

        private Builder(Path journalDirectory) {
            this.journalDirectory = Objects.requireNonNull(journalDirectory, "journalDirectory");
        }

        public Builder durability(Durability durability) {
            this.durability = Objects.requireNonNull(durability, "durability");
            return this;
        }

        public Builder meterRegistry(MeterRegistry meterRegistry) {
            this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Applies {@code policy} when the ledger opens and on a background thread after every completion. */
        public Builder retention(RetentionPolicy policy) {
            this.retention = policy;
            return this;
        }

        /**
         * Compacts the journal online, on a background thread, once more than {@code share} (between 0 and 1,
         * exclusive; 0 turns it off) of its events belong to deleted runs: checked at open and after deletions,
         * at most once a minute.
         */
        public Builder compactWhenDead(double share) {
            this.compactWhenDead = checkDeadShare(share);
            return this;
        }

        /**
         * Compacts the journal online, on a background thread, once its cycles hold more than {@code bytes}
         * (0 turns it off) and any of its events belong to deleted runs: a limit for a robot's small disk, which
         * a dead share alone does not give when the runs kept are large. Checked when {@link #compactWhenDead}
         * is, and either threshold starts a compaction. A journal whose live runs alone pass the limit is
         * reported in the log after each compaction: keep fewer runs, or raise the limit.
         */
        public Builder compactWhenBytes(long bytes) {
            this.compactWhenBytes = checkSizeLimit(bytes);
            return this;
        }

        /**
         * Strict mode: when opening finds events missing (the journal is shorter than its seal), refuse
         * appends until a person runs {@code runledger repair --journal DIR --accept-loss}. By default the
         * loss is reported and appending goes on, so a robot needs no person at boot.
         */
        public Builder refuseAppendsAfterLoss(boolean refuse) {
            this.refuseAppendsAfterLoss = refuse;
            return this;
        }

        public Builder sealInterval(java.time.Duration interval) {
            if (interval == null || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("sealInterval must be positive but was " + interval);
            }
            this.sealInterval = interval;
            return this;
        }

        /** For tests in this package: how free disk space is asked. */
        Builder diskSpace(DiskSpace.Probe probe) {
            this.diskSpace = Objects.requireNonNull(probe, "diskSpace");
            return this;
        }

        public LedgerConfig build() {
            return new LedgerConfig(this);
        }
    }
}
