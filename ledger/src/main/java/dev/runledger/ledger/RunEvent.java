package dev.runledger.ledger;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One fact about a run, as appended to the journal. Every record validates itself when constructed,
 * so an instance that exists is a valid event (state rules, which depend on earlier events, are
 * checked by the {@link Ledger} at append).
 */
public sealed interface RunEvent {

    /** The most labels a run may carry; queries by label take no more keys than this either. */
    int MAX_LABELS_PER_RUN = 64;

    /**
     * Checks a label key by the rules appended labels follow (1-64 characters of {@code [A-Za-z0-9._/-]}), so a
     * query can refuse a key no run can carry; {@code context} starts the message ({@code "query"}).
     */
    static String requireLabelKey(String context, String key) {
        return Validation.labelKey(context, key);
    }

    /** The run the event is about; null only for {@link JournalLoss}, which is about the journal. */
    String runId();

    /** Which of the six kinds this is; each record names its own constant, so none can be forgotten. */
    EventType eventType();

    /** The wire name: {@code run.created}, {@code command.recorded}, ... */
    default String type() {
        return eventType().wireName();
    }

    /** {@code run.created}: a run starts; labels keep their given order. */
    record RunCreated(String runId, String createdAt, String protocolId, Map<String, String> labels)
            implements RunEvent {
        private static final String TYPE = EventType.RUN_CREATED.wireName();

        public RunCreated {
            Validation.identifier(TYPE, "runId", runId);
            Validation.utcTimestamp(TYPE, "createdAt", createdAt);
            if (protocolId != null) {
                Validation.identifier(TYPE, "protocolId", protocolId);
            }
            labels = labels == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(labels));
            Validation.labels(TYPE, "labels", labels);
        }

        public RunCreated(String runId, String createdAt) {
            this(runId, createdAt, null, Map.of());
        }

        @Override
        public EventType eventType() {
            return EventType.RUN_CREATED;
        }
    }

    /** {@code command.recorded}: an upsert of one command, keyed by its id within the run. */
    record CommandRecorded(String runId, CommandJson command) implements RunEvent {
        private static final String TYPE = EventType.COMMAND_RECORDED.wireName();

        public CommandRecorded {
            Validation.identifier(TYPE, "runId", runId);
            CommandJson.requireNonNull(command);
        }

        public CommandRecorded(String runId, String commandJson) {
            this(runId, CommandJson.parse(commandJson));
        }

        @Override
        public EventType eventType() {
            return EventType.COMMAND_RECORDED;
        }
    }

    /** {@code labels.changed}: sets and removes label keys. A key may not be both set and removed. */
    record LabelsChanged(String runId, Map<String, String> set, List<String> remove) implements RunEvent {
        private static final String TYPE = EventType.LABELS_CHANGED.wireName();

        public LabelsChanged {
            Validation.identifier(TYPE, "runId", runId);
            set = set == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(set));
            remove = remove == null ? List.of() : List.copyOf(remove);
            Validation.labels(TYPE, "set", set);
            if (set.isEmpty() && remove.isEmpty()) {
                throw new InvalidEventException(TYPE + ": must set or remove at least one label (run "
                        + Validation.quote(runId) + ")");
            }
            for (String key : remove) {
                Validation.labelKey(TYPE, key);
                if (set.containsKey(key)) {
                    throw new InvalidEventException(TYPE + ": label key " + Validation.quote(key)
                            + " is both set and removed");
                }
            }
        }

        @Override
        public EventType eventType() {
            return EventType.LABELS_CHANGED;
        }
    }

    /** {@code run.summary}: replaces the run's state summary (an opaque JSON object). */
    record SummaryRecorded(String runId, RawJson summary) implements RunEvent {
        private static final String TYPE = EventType.SUMMARY_RECORDED.wireName();

        public SummaryRecorded {
            Validation.identifier(TYPE, "runId", runId);
            if (summary == null) {
                throw new InvalidEventException(TYPE + ": summary is required");
            }
        }

        public SummaryRecorded(String runId, String summaryJson) {
            this(runId, RawJson.object(summaryJson.getBytes(java.nio.charset.StandardCharsets.UTF_8), TYPE + ": summary"));
        }

        @Override
        public EventType eventType() {
            return EventType.SUMMARY_RECORDED;
        }
    }

    /** {@code run.completed}: the run ended; no command may be recorded after it. */
    record RunCompleted(String runId, CompletionStatus status, String completedAt) implements RunEvent {
        private static final String TYPE = EventType.RUN_COMPLETED.wireName();

        public RunCompleted {
            Validation.identifier(TYPE, "runId", runId);
            if (status == null) {
                throw new InvalidEventException(TYPE + ": status is required (succeeded, failed or stopped)");
            }
            Validation.utcTimestamp(TYPE, "completedAt", completedAt);
        }

        @Override
        public EventType eventType() {
            return EventType.RUN_COMPLETED;
        }
    }

    /**
     * {@code run.deleted}: the run and everything recorded for it goes; its id may be created again. The
     * optional {@code reason} says who or what deleted it: {@link #RETENTION}, {@link #ERASE}, {@link #USER},
     * or any other short lower-case word.
     */
    record RunDeleted(String runId, String reason) implements RunEvent {
        private static final String TYPE = EventType.RUN_DELETED.wireName();
        public static final String RETENTION = "retention";
        public static final String ERASE = "erase";
        public static final String USER = "user";

        public RunDeleted {
            Validation.identifier(TYPE, "runId", runId);
            if (reason != null) {
                Validation.word(TYPE, "reason", reason);
            }
        }

        /** A deletion without a reason, as every deletion before reasons existed. */
        public RunDeleted(String runId) {
            this(runId, null);
        }

        @Override
        public EventType eventType() {
            return EventType.RUN_DELETED;
        }
    }

    /**
     * {@code journal.loss}: written by the ledger itself when opening found events missing that the
     * journal's seal vouched for, so that projections, audits and shipped copies see the gap where it is.
     * Clients cannot append it; it is about the journal, not a run ({@link #runId()} is null).
     *
     * @param afterIndex             the last index the journal still reads, or -1
     * @param sealedIndex            the last index the seal vouched for
     * @param missingEvents          how many of the sealed events are gone
     * @param withinDurabilityWindow they had not been synced (a power cut under the default durability), or
     *                               they had, and the loss is damage
     */
    record JournalLoss(long afterIndex, long sealedIndex, long missingEvents, boolean withinDurabilityWindow,
                       String detectedAt) implements RunEvent {
        private static final String TYPE = EventType.JOURNAL_LOSS.wireName();

        public JournalLoss {
            if (missingEvents < 1) {
                throw new InvalidEventException(TYPE + ": missingEvents must be at least 1 but was " + missingEvents);
            }
            Validation.utcTimestamp(TYPE, "detectedAt", detectedAt);
        }

        @Override
        public String runId() {
            return null;
        }

        @Override
        public EventType eventType() {
            return EventType.JOURNAL_LOSS;
        }
    }
}
