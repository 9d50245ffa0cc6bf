package dev.runledger.ledger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Which completed runs a robot keeps: the newest {@code keepRuns} (by creation), and those created less
 * than {@code keepFor} ago; with both set, a run is kept if either keeps it. A run whose labels match a
 * pin ({@code kind=calibration}) is kept forever, and a run not yet completed is never touched. The rest
 * is deleted with {@code run.deleted} and reason {@code retention}. Immutable; build with {@link #builder()}.
 */
public final class RetentionPolicy {
    /** A label a run must carry, with this value, to be kept forever. */
    public record Pin(String key, String value) {
        public Pin {
            Validation.labelKey("pin", key);
            Objects.requireNonNull(value, "value");
        }

        /** {@code key=value}, as the command line gives it. */
        public static Pin parse(String keyEqualsValue) {
            int eq = keyEqualsValue.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("a pin is key=value (e.g. kind=calibration) but was \"" + keyEqualsValue + "\"");
            }
            return new Pin(keyEqualsValue.substring(0, eq), keyEqualsValue.substring(eq + 1));
        }

        @Override
        public String toString() {
            return key + "=" + value;
        }
    }

    private final Integer keepRuns;
    private final Duration keepFor;
    private final List<Pin> pins;

    private RetentionPolicy(Builder b) {
        this.keepRuns = b.keepRuns;
        this.keepFor = b.keepFor;
        this.pins = List.copyOf(b.pins);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** How many of the newest completed runs are kept, or null for no such limit. */
    public Integer keepRuns() {
        return keepRuns;
    }

    /** How young a completed run must be to be kept, or null for no such limit. */
    public Duration keepFor() {
        return keepFor;
    }

    public List<Pin> pins() {
        return pins;
    }

    /** Whether {@code labels} match a pin. */
    boolean pinned(java.util.Map<String, String> labels) {
        for (Pin p : pins) {
            if (p.value().equals(labels.get(p.key()))) {
                return true;
            }
        }
        return false;
    }

    /** One line for logs, {@code /health} and {@code retain --dry-run}. */
    @Override
    public String toString() {
        List<String> keep = new ArrayList<>();
        if (keepRuns != null) {
            keep.add("the newest " + keepRuns + " completed runs");
        }
        if (keepFor != null) {
            keep.add("runs created in the last " + describe(keepFor));
        }
        return "keep " + String.join(" and ", keep) + (pins.isEmpty() ? "" : ", and forever those labelled " + pins);
    }

    private static String describe(Duration d) {
        if (d.toHours() % 24 == 0 && d.toDays() > 0) {
            return d.toDays() + " days";
        }
        return d.toString().substring(2).toLowerCase(java.util.Locale.ROOT);
    }

    public static final class Builder {
        private Integer keepRuns;
        private Duration keepFor;
        private final List<Pin> pins = new ArrayList<>();

        private Builder() {
        }

        public Builder keepRuns(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("keepRuns must be at least 0 but was " + n);
            }
            this.keepRuns = n;
            return this;
        }

        public Builder keepFor(Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("keepFor must be positive but was " + d);
            }
            this.keepFor = d;
            return this;
        }

        public Builder pin(Pin pin) {
            pins.add(Objects.requireNonNull(pin, "pin"));
            return this;
        }

        /** Refuses a policy that keeps everything: it would say it retains while it deletes nothing. */
        public RetentionPolicy build() {
            if (keepRuns == null && keepFor == null) {
                throw new IllegalArgumentException("a retention policy needs keepRuns (--keep-runs N) or keepFor"
                        + " (--keep-days D), or both");
            }
            return new RetentionPolicy(this);
        }
    }
}
