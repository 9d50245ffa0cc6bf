package dev.runledger.ledger;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A command as the engine recorded it: its exact JSON bytes plus the few fields a projector needs
 * ({@code id}, {@code commandType}, {@code status}), extracted once when the JSON was first validated so
 * that nothing downstream parses command JSON again.
 */
public final class CommandJson {
    private final String id;
    private final String commandType;
    private final String status;
    private final RawJson json;

    private CommandJson(String id, String commandType, String status, RawJson json) {
        this.id = id;
        this.commandType = commandType;
        this.status = status;
        this.json = json;
    }

    /** Validates {@code json} (one object with non-empty string {@code id} and {@code commandType}). */
    public static CommandJson parse(String json) {
        return parse(json.getBytes(StandardCharsets.UTF_8), 0, -1);
    }

    public static CommandJson parse(byte[] utf8) {
        return parse(utf8, 0, utf8.length);
    }

    /** Parses {@code length} bytes at {@code offset} ({@code -1}: the rest); the bytes are copied. */
    static CommandJson parse(byte[] utf8, int offset, int length) {
        int len = length < 0 ? utf8.length - offset : length;
        return JsonScanner.scanCommand(utf8, offset, len);
    }

    static CommandJson validated(String id, String commandType, String status, RawJson json) {
        Validation.identifier("command.recorded", "command.id", id);
        if (commandType == null || commandType.isEmpty()) {
            throw new InvalidEventException("command.recorded: command.commandType must be a non-empty string");
        }
        return new CommandJson(id, commandType, status, json);
    }

    public String id() {
        return id;
    }

    public String commandType() {
        return commandType;
    }

    /** The command's {@code status} field if it is a string, otherwise {@code null}. */
    public String status() {
        return status;
    }

    public RawJson json() {
        return json;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CommandJson other && json.equals(other.json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }

    @Override
    public String toString() {
        return json.toString();
    }

    static void requireNonNull(CommandJson command) {
        Objects.requireNonNull(command, "command.recorded: command is required");
    }
}
