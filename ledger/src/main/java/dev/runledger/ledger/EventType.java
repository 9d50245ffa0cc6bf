package dev.runledger.ledger;

import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The kinds of event, each with its wire name (NDJSON {@code "type"}, metric tag) and its byte code
 * in the journal's excerpt format. The one place both live: every other mapping switches over this enum
 * with a switch expression, so adding a constant fails to compile until each place handles it, and every
 * {@link RunEvent} record names its constant through the abstract {@link RunEvent#eventType()}.
 */
public enum EventType {
    RUN_CREATED("run.created", 1, RunEvent.RunCreated.class),
    COMMAND_RECORDED("command.recorded", 2, RunEvent.CommandRecorded.class),
    LABELS_CHANGED("labels.changed", 3, RunEvent.LabelsChanged.class),
    SUMMARY_RECORDED("run.summary", 4, RunEvent.SummaryRecorded.class),
    RUN_COMPLETED("run.completed", 5, RunEvent.RunCompleted.class),
    RUN_DELETED("run.deleted", 6, RunEvent.RunDeleted.class),
    /** Not about one run: the ledger found, at open, that events its seal vouched for are gone. */
    JOURNAL_LOSS("journal.loss", 7, RunEvent.JournalLoss.class);

    private static final Map<String, EventType> BY_WIRE_NAME = Arrays.stream(values())
            .collect(Collectors.toUnmodifiableMap(EventType::wireName, Function.identity()));
    private static final EventType[] BY_CODE = new EventType[128];

    static {
        for (EventType t : values()) {
            if (BY_CODE[t.code] != null) {
                throw new ExceptionInInitializerError("journal code " + t.code + " used by " + BY_CODE[t.code] + " and " + t);
            }
            BY_CODE[t.code] = t;
        }
    }

    private final String wireName;
    private final byte code;
    private final Class<? extends RunEvent> recordType;

    EventType(String wireName, int code, Class<? extends RunEvent> recordType) {
        this.wireName = wireName;
        this.code = (byte) code;
        this.recordType = recordType;
    }

    /** The name on the wire: {@code run.created}, {@code command.recorded}, ... */
    public String wireName() {
        return wireName;
    }

    /** The record class that carries events of this type. */
    public Class<? extends RunEvent> recordType() {
        return recordType;
    }

    /** The byte that identifies the type in a journal excerpt; never reused, never renumbered. */
    byte code() {
        return code;
    }

    /** The type with this wire name, or null. */
    public static EventType fromWireName(String name) {
        return name == null ? null : BY_WIRE_NAME.get(name);
    }

    /** The type stored under this journal code, or null for a code no version of the format used. */
    static EventType fromCode(byte code) {
        return code < 0 ? null : BY_CODE[code];
    }

    /** The wire names, comma-separated in declaration order, for error messages. */
    public static String wireNames() {
        return Arrays.stream(values()).map(EventType::wireName).collect(Collectors.joining(", "));
    }
}
