package dev.runledger.ledger;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Every rule of the event format, each accepted at its limit and rejected just past it, with the message. */
class EventValidationTest {
    private static final String C = "{\"type\":\"run.created\",\"runId\":\"r-1\",\"createdAt\":\"2026-11-22T10:00:00Z\"";

    static Stream<Arguments> accepted() {
        return Stream.of(
                arguments("minimal creation", C + "}"),
                arguments("creation with everything", C + ",\"labels\":{\"app.example.org/name\":\"x\",\"a_b-c.d\":\"\"},\"protocolId\":\"p-9\"}"),
                arguments("128-character run id", "{\"type\":\"run.deleted\",\"runId\":\"" + "r".repeat(128) + "\"}"),
                arguments("non-ASCII run id", "{\"type\":\"run.deleted\",\"runId\":\"r\u00e9\uD83E\uDDEA\"}"),
                arguments("fractional UTC time", "{\"type\":\"run.created\",\"runId\":\"r\",\"createdAt\":\"2026-11-22T10:00:00.123456Z\"}"),
                arguments("64 labels", C + ",\"labels\":" + labels(64) + "}"),
                arguments("1024-character label value", C + ",\"labels\":{\"k\":\"" + "v".repeat(1024) + "\"}}"),
                arguments("128-character label key", C + ",\"labels\":{\"" + "k".repeat(128) + "\":\"v\"}}"),
                arguments("command without status", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":\"c\",\"commandType\":\"home\"}}"),
                arguments("labels set only", "{\"type\":\"labels.changed\",\"runId\":\"r\",\"set\":{\"k\":\"v\"}}"),
                arguments("labels remove only", "{\"type\":\"labels.changed\",\"runId\":\"r\",\"remove\":[\"k\"]}"),
                arguments("completion failed", "{\"type\":\"run.completed\",\"runId\":\"r\",\"status\":\"failed\",\"completedAt\":\"2026-11-22T10:00:00Z\"}"),
                arguments("completion stopped", "{\"type\":\"run.completed\",\"runId\":\"r\",\"status\":\"stopped\",\"completedAt\":\"2026-11-22T10:00:00Z\"}"),
                arguments("empty summary", "{\"type\":\"run.summary\",\"runId\":\"r\",\"summary\":{}}"));
    }

    static Stream<Arguments> rejected() {
        return Stream.of(
                arguments("not JSON", "nope", "malformed JSON"),
                arguments("not an object", "[1]", "an event must be a JSON object"),
                arguments("trailing content", C + "} {}", "trailing content after the event object"),
                arguments("no type", "{\"runId\":\"r\"}", "field \"type\" is required"),
                arguments("unknown type", "{\"type\":\"run.exploded\",\"runId\":\"r\"}", "unknown event type \"run.exploded\""),
                arguments("unknown field", C + ",\"color\":\"red\"}", "unknown field \"color\""),
                arguments("field of another type", C + ",\"status\":\"failed\"}", "run.created: unknown field \"status\""),
                arguments("duplicate field", C + ",\"runId\":\"r-2\"}", "field \"runId\" appears twice"),
                arguments("no run id", "{\"type\":\"run.deleted\"}", "run.deleted: runId is required"),
                arguments("empty run id", "{\"type\":\"run.deleted\",\"runId\":\"\"}", "run.deleted: runId must be 1-128 characters but was 0"),
                arguments("129-character run id", "{\"type\":\"run.deleted\",\"runId\":\"" + "r".repeat(129) + "\"}", "runId must be 1-128 characters but was 129"),
                arguments("control character in run id", "{\"type\":\"run.deleted\",\"runId\":\"r\\n1\"}", "runId must not contain control characters"),
                arguments("run id not a string", "{\"type\":\"run.deleted\",\"runId\":7}", "field \"runId\" must be a string"),
                arguments("no createdAt", "{\"type\":\"run.created\",\"runId\":\"r\"}", "run.created: createdAt is required"),
                arguments("createdAt not UTC", "{\"type\":\"run.created\",\"runId\":\"r\",\"createdAt\":\"2026-11-22T10:00:00+01:00\"}", "createdAt must be an ISO-8601 UTC timestamp ending in Z"),
                arguments("createdAt not a time", "{\"type\":\"run.created\",\"runId\":\"r\",\"createdAt\":\"yesterdayZ\"}", "createdAt must be an ISO-8601 UTC timestamp but was \"yesterdayZ\""),
                arguments("label key with a space", C + ",\"labels\":{\"my key\":\"v\"}}", "label key \"my key\" has a character outside [A-Za-z0-9._/-] at position 2"),
                arguments("empty label key", C + ",\"labels\":{\"\":\"v\"}}", "label key must be 1-128 characters"),
                arguments("129-character label key", C + ",\"labels\":{\"" + "k".repeat(129) + "\":\"v\"}}", "label key must be 1-128 characters"),
                arguments("1025-character label value", C + ",\"labels\":{\"k\":\"" + "v".repeat(1025) + "\"}}", "label \"k\" value must be at most 1024 characters but was 1025"),
                arguments("label value not a string", C + ",\"labels\":{\"k\":1}}", "label \"k\" in \"labels\" must have a string value"),
                arguments("65 labels", C + ",\"labels\":" + labels(65) + "}", "labels has 65 labels, at most 64 are allowed per run"),
                arguments("command not an object", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":\"x\"}", "field \"command\" must be a JSON object"),
                arguments("command without id", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"commandType\":\"home\"}}", "command.id is required"),
                arguments("command with empty id", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":\"\",\"commandType\":\"home\"}}", "command.id must be 1-128 characters but was 0"),
                arguments("command id not a string", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":5,\"commandType\":\"home\"}}", "command.id must be a string"),
                arguments("command without commandType", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":\"c\"}}", "command.commandType is required"),
                arguments("command with empty commandType", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":\"c\",\"commandType\":\"\"}}", "command.commandType must be a non-empty string"),
                arguments("command id twice", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":\"c\",\"id\":\"d\",\"commandType\":\"x\"}}", "command has field \"id\" twice"),
                arguments("no command", "{\"type\":\"command.recorded\",\"runId\":\"r\"}", "command.recorded: command is required"),
                arguments("malformed command", "{\"type\":\"command.recorded\",\"runId\":\"r\",\"command\":{\"id\":\"c\",\"commandType\":\"x\",\"n\":01}}", "malformed JSON"),
                arguments("summary not an object", "{\"type\":\"run.summary\",\"runId\":\"r\",\"summary\":[]}", "field \"summary\" must be a JSON object"),
                arguments("empty label change", "{\"type\":\"labels.changed\",\"runId\":\"r\"}", "labels.changed: must set or remove at least one label"),
                arguments("label set and removed", "{\"type\":\"labels.changed\",\"runId\":\"r\",\"set\":{\"k\":\"v\"},\"remove\":[\"k\"]}", "label key \"k\" is both set and removed"),
                arguments("bad key removed", "{\"type\":\"labels.changed\",\"runId\":\"r\",\"remove\":[\"a b\"]}", "label key \"a b\" has a character outside"),
                arguments("unknown completion status", "{\"type\":\"run.completed\",\"runId\":\"r\",\"status\":\"exploded\",\"completedAt\":\"2026-11-22T10:00:00Z\"}", "status must be one of succeeded, failed, stopped but was \"exploded\""),
                arguments("no completedAt", "{\"type\":\"run.completed\",\"runId\":\"r\",\"status\":\"failed\"}", "run.completed: completedAt is required"));
    }

    @ParameterizedTest(name = "accepts {0}")
    @MethodSource("accepted")
    void shouldAccept(String rule, String line) {
        RunEvent event = NdjsonCodec.decode(line);

        assertThat(NdjsonCodec.decode(NdjsonCodec.encodeToString(event))).isEqualTo(event);
    }

    @ParameterizedTest(name = "rejects {0}")
    @MethodSource("rejected")
    void shouldReject(String rule, String line, String message) {
        assertThatThrownBy(() -> NdjsonCodec.decode(line))
                .isInstanceOf(InvalidEventException.class)
                .hasMessageContaining(message);
    }

    private static String labels(int n) {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":\"v\"");
        }
        return sb.append('}').toString();
    }
}
