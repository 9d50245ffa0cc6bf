package dev.runledger.ledger;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;

import java.io.IOException;
import java.util.Arrays;

/**
 * Jackson's streaming parser used to validate JSON and capture values as their exact source bytes
 * (token offsets plus {@code skipChildren}), which costs far less than binding them.
 */
final class JsonScanner {
    static final JsonFactory FACTORY = JsonFactory.builder()
            // Engine documents (labware definitions) can be large; bounded by the line limit anyway.
            .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(64 << 20).build())
            .build();

    private JsonScanner() {
    }

    static JsonParser parser(byte[] buf, int offset, int length) throws IOException {
        return FACTORY.createParser(buf, offset, length);
    }

    static void requireSingleObject(byte[] utf8, String what) {
        try (JsonParser p = parser(utf8, 0, utf8.length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new InvalidEventException(what + " must be a JSON object");
            }
            p.skipChildren();
            if (p.nextToken() != null) {
                throw new InvalidEventException(what + " has trailing content after the JSON object");
            }
        } catch (IOException e) {
            throw new InvalidEventException(what + " is not valid JSON: " + describe(e), e);
        }
    }

    static CommandJson scanCommand(byte[] buf, int offset, int length) {
        try (JsonParser p = parser(buf, offset, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new InvalidEventException("command.recorded: command must be a JSON object");
            }
            CommandJson command = captureCommand(p, buf, offset);
            if (p.nextToken() != null) {
                throw new InvalidEventException("command.recorded: trailing content after the command object");
            }
            return command;
        } catch (IOException e) {
            throw new InvalidEventException("command.recorded: command is not valid JSON: " + describe(e), e);
        }
    }

    /**
     * With the parser on the command's START_OBJECT, reads its top-level fields, skips the rest and
     * returns the command holding exactly the bytes from its '{' to its '}'.
     */
    static CommandJson captureCommand(JsonParser p, byte[] buf, int base) throws IOException {
        int start = startOf(p, base);
        String id = null;
        String commandType = null;
        String status = null;
        boolean sawId = false;
        boolean sawType = false;
        boolean sawStatus = false;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            switch (name) {
                case "id" -> {
                    if (sawId) {
                        throw new InvalidEventException("command.recorded: command has field \"id\" twice");
                    }
                    sawId = true;
                    if (value != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException("command.recorded: command.id must be a string but was " + value.asString());
                    }
                    id = p.getText();
                }
                case "commandType" -> {
                    if (sawType) {
                        throw new InvalidEventException("command.recorded: command has field \"commandType\" twice");
                    }
                    sawType = true;
                    if (value != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException("command.recorded: command.commandType must be a string but was "
                                + (value.isStructStart() ? "a " + (value == JsonToken.START_OBJECT ? "object" : "array") : p.getText()));
                    }
                    commandType = p.getText();
                }
                case "status" -> {
                    if (sawStatus) {
                        throw new InvalidEventException("command.recorded: command has field \"status\" twice");
                    }
                    sawStatus = true;
                    if (value == JsonToken.VALUE_STRING) {
                        status = p.getText();
                    } else {
                        p.skipChildren();
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (t != JsonToken.END_OBJECT) {
            throw new InvalidEventException("command.recorded: command is not a well-formed object");
        }
        if (!sawId) {
            throw new InvalidEventException("command.recorded: command.id is required");
        }
        if (!sawType) {
            throw new InvalidEventException("command.recorded: command.commandType is required");
        }
        int end = endOf(p, base);
        return CommandJson.validated(id, commandType, status, RawJson.adopt(Arrays.copyOfRange(buf, start, end)));
    }

    /** With the parser on a START_OBJECT, skips the object and returns its exact bytes. */
    static RawJson captureObject(JsonParser p, byte[] buf, int base) throws IOException {
        int start = startOf(p, base);
        p.skipChildren();
        return RawJson.adopt(Arrays.copyOfRange(buf, start, endOf(p, base)));
    }

    // Jackson reports byte offsets relative to the start of the slice it was given.
    private static int startOf(JsonParser p, int base) {
        return base + (int) p.currentTokenLocation().getByteOffset();
    }

    private static int endOf(JsonParser p, int base) {
        return base + (int) p.currentLocation().getByteOffset();
    }

    static String describe(IOException e) {
        String message = e.getMessage();
        if (message == null) {
            return e.getClass().getSimpleName();
        }
        int cut = message.indexOf("\n at [Source");
        if (cut >= 0) {
            message = message.substring(0, cut);
        }
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getLocation() != null) {
            message = message + " (at byte " + jpe.getLocation().getByteOffset() + ")";
        }
        return message.replace('\n', ' ');
    }
}
