package dev.runledger.ledger;

import java.time.Duration;

/**
 * What an acknowledged append survives. Chronicle Queue writes to memory-mapped files: a killed process
 * loses nothing it wrote, a power cut can lose what the OS had not flushed. An msync costs ~160 µs on
 * these machines, so the strict mode syncs every N events or T, whichever comes first, not every append.
 */
public sealed interface Durability {

    /** Survives a killed process (the default): no explicit sync. */
    static Durability processCrash() {
        return ProcessCrash.INSTANCE;
    }

    /** Bounds what a power cut can lose to {@code everyEvents} events or {@code everyInterval}. */
    static Durability syncEvery(int everyEvents, Duration everyInterval) {
        return new Sync(everyEvents, everyInterval);
    }

    enum ProcessCrash implements Durability {
        INSTANCE
    }

    record Sync(int everyEvents, Duration everyInterval) implements Durability {
        public Sync {
            if (everyEvents < 1) {
                throw new IllegalArgumentException("sync everyEvents must be at least 1 but was " + everyEvents);
            }
            if (everyInterval == null || everyInterval.isNegative() || everyInterval.isZero()) {
                throw new IllegalArgumentException("sync everyInterval must be positive but was " + everyInterval);
            }
        }
    }
}
