package dev.runledger.tool;

import dev.runledger.ledger.RetentionPolicy;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** {@code --keep-runs N --keep-days D --pin k=v}: a retention policy, shared by {@code retain} and {@code serve}. */
final class RetentionOptions {
    @Option(names = "--keep-runs", paramLabel = "N", description = "Keep the newest N completed runs.")
    Integer keepRuns;

    @Option(names = "--keep-days", paramLabel = "D", description = "Keep runs created in the last D days.")
    Integer keepDays;

    @Option(names = "--pin", paramLabel = "KEY=VALUE", description = "Never remove a run labelled KEY=VALUE (repeatable).")
    List<String> pins = new ArrayList<>();

    /** The policy the options describe, or null when none of them was given. */
    RetentionPolicy policy() {
        if (keepRuns == null && keepDays == null) {
            if (!pins.isEmpty()) {
                throw new IllegalArgumentException("--pin goes with --keep-runs or --keep-days: on its own it keeps everything");
            }
            return null;
        }
        RetentionPolicy.Builder b = RetentionPolicy.builder();
        if (keepRuns != null) {
            b.keepRuns(keepRuns);
        }
        if (keepDays != null) {
            if (keepDays < 1) {
                throw new IllegalArgumentException("--keep-days must be at least 1 but was " + keepDays);
            }
            b.keepFor(Duration.ofDays(keepDays));
        }
        pins.forEach(p -> b.pin(RetentionPolicy.Pin.parse(p)));
        return b.build();
    }
}
