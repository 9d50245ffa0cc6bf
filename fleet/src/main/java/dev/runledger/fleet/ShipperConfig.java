package dev.runledger.fleet;

import dev.runledger.ledger.Journal;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;

import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/** Immutable, validated settings of a {@link Shipper}. Build with {@link #builder}. */
public final class ShipperConfig {
    public static final String DEFAULT_TOPIC = "runledger.events";
    private static final Pattern ROBOT = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9._-]{1,249}");

    private final Journal journal;
    private final String robotId;
    private final String bootstrap;
    private final String topic;
    private final boolean follow;
    private final MeterRegistry meterRegistry;
    private final Duration checkpointInterval;
    private final Duration pollInterval;

    private ShipperConfig(Builder b) {
        this.journal = b.journal;
        this.robotId = b.robotId;
        this.bootstrap = b.bootstrap;
        this.topic = b.topic;
        this.follow = b.follow;
        this.meterRegistry = b.meterRegistry;
        this.checkpointInterval = b.checkpointInterval;
        this.pollInterval = b.pollInterval;
    }

    /** The shipper's and the fleet projector's one check of a Kafka address. */
    static String checkBootstrap(String bootstrap) {
        if (bootstrap == null || bootstrap.isBlank() || !bootstrap.contains(":")) {
            throw new IllegalArgumentException("the Kafka address is HOST:PORT but was \"" + bootstrap + "\"");
        }
        return bootstrap;
    }

    /** The shipper's and the fleet projector's one check of a topic name (Kafka's own rules). */
    static String checkTopic(String topic) {
        if (topic == null || !TOPIC.matcher(topic).matches() || topic.equals(".") || topic.equals("..")) {
            throw new IllegalArgumentException("a Kafka topic is 1-249 characters of [A-Za-z0-9._-] but was \"" + topic + "\"");
        }
        return topic;
    }

    /**
     * @param robotId   the Kafka key of every record: 1-64 characters of {@code [A-Za-z0-9._-]}
     * @param bootstrap {@code HOST:PORT[,HOST:PORT...]} of the Kafka cluster
     */
    public static Builder builder(Journal journal, String robotId, String bootstrap) {
        return new Builder(journal, robotId, bootstrap);
    }

    public Journal journal() {
        return journal;
    }

    public String robotId() {
        return robotId;
    }

    public String bootstrap() {
        return bootstrap;
    }

    public String topic() {
        return topic;
    }

    /** Keep tailing the journal after reaching its head (otherwise: ship up to the head at start, then stop). */
    public boolean follow() {
        return follow;
    }

    public MeterRegistry meterRegistry() {
        return meterRegistry;
    }

    /** How often the position Kafka acknowledged is written beside the journal (and always at the end). */
    public Duration checkpointInterval() {
        return checkpointInterval;
    }

    public Duration pollInterval() {
        return pollInterval;
    }

    /**
     * The shipper's name among the journal's registered readers ({@code readers/NAME}): its checkpoint,
     * which compaction waits for. One per robot and topic.
     */
    public String readerName() {
        return "shipper-" + robotId + "-" + topic;
    }

    public static final class Builder {
        private final Journal journal;
        private final String robotId;
        private final String bootstrap;
        private String topic = DEFAULT_TOPIC;
        private boolean follow;
        private MeterRegistry meterRegistry = Metrics.globalRegistry;
        private Duration checkpointInterval = Duration.ofSeconds(1);
        private Duration pollInterval = Duration.ofMillis(20);

        private Builder(Journal journal, String robotId, String bootstrap) {
            this.journal = Objects.requireNonNull(journal, "journal");
            if (robotId == null || !ROBOT.matcher(robotId).matches()) {
                throw new IllegalArgumentException("a robot id is 1-64 characters of [A-Za-z0-9._-] but was \"" + robotId + "\"");
            }
            this.robotId = robotId;
            this.bootstrap = checkBootstrap(bootstrap);
        }

        public Builder topic(String topic) {
            this.topic = checkTopic(topic);
            return this;
        }

        public Builder follow(boolean follow) {
            this.follow = follow;
            return this;
        }

        public Builder meterRegistry(MeterRegistry registry) {
            this.meterRegistry = Objects.requireNonNull(registry, "meterRegistry");
            return this;
        }

        public Builder checkpointInterval(Duration interval) {
            if (interval == null || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("checkpointInterval must be positive but was " + interval);
            }
            this.checkpointInterval = interval;
            return this;
        }

        public Builder pollInterval(Duration interval) {
            if (interval == null || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("pollInterval must be positive but was " + interval);
            }
            this.pollInterval = interval;
            return this;
        }

        public ShipperConfig build() {
            return new ShipperConfig(this);
        }
    }
}
