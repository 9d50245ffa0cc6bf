package dev.runledger.ledger;

/**
 * An event that breaks a rule of the event format (a missing field, an identifier too long, a label key
 * with a space, malformed JSON, ...). The message names the field and the offending value.
 */
public class InvalidEventException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final long line;

    public InvalidEventException(String message) {
        this(message, null);
    }

    public InvalidEventException(String message, Throwable cause) {
        this(message, 0, cause);
    }

    /** An invalid event at a 1-based input line; the message should already name it. */
    public InvalidEventException(String message, long line, Throwable cause) {
        super(message, cause);
        this.line = line;
    }

    /** The 1-based input line of the event, or 0 when it did not come from a line of input. */
    public long line() {
        return line;
    }
}
