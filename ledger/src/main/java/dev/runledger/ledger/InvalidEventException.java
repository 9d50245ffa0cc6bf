package dev.runledger.ledger;

/**
 * An event that breaks a rule of the event format (a missing field, an identifier too long, a label key
 * with a space, malformed JSON, ...). The message names the field and the offending value.
 */
public class InvalidEventException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidEventException(String message) {
        super(message);
    }

    public InvalidEventException(String message, Throwable cause) {
        super(message, cause);
    }
}
