package dev.runledger.ledger;

import java.util.Locale;

/** How a run ended: the {@code status} of {@code run.completed}. */
public enum CompletionStatus {
    SUCCEEDED, FAILED, STOPPED;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CompletionStatus fromWire(String value) {
        if (value != null) {
            for (CompletionStatus s : values()) {
                if (s.wireName().equals(value)) {
                    return s;
                }
            }
        }
        throw new InvalidEventException("run.completed: status must be one of succeeded, failed, stopped but was "
                + Validation.quote(value));
    }
}
