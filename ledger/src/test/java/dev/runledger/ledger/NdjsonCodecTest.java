package dev.runledger.ledger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NdjsonCodecTest {

    @ParameterizedTest
    @ValueSource(strings = {
            "{\"id\":\"c-1\",\"commandType\":\"aspirate\",\"n\":1.0,\"e\":1e-7,\"E\":1E+7,\"big\":123456789012345678901234567890}",
            "{\"commandType\":\"home\",\"id\":\"c-1\",\"result\":null,\"params\":{}}",
            "{ \"id\" : \"c-1\" ,\n \"commandType\":\"x\",\"s\":\"\\u00e9\\/\\\"\\\\ \u00e9 \uD83E\uDDEA\"  }",
            "{\"id\":\"c-1\",\"commandType\":\"x\",\"neg\":-0.0,\"arr\":[1, 2 ,3],\"deep\":{\"a\":{\"b\":[{\"c\":true}]}}}",
            "{\"id\":\"c-1\",\"commandType\":\"x\",\"dup\":1,\"dup\":2}",
    })
    void shouldReproduceCommandBytesExactly(String command) {
        String line = "{\"type\":\"command.recorded\",\"runId\":\"r-1\",\"command\":" + command + "}";

        RunEvent event = NdjsonCodec.decode(line);

        assertThat(((RunEvent.CommandRecorded) event).command().json().toByteArray())
                .isEqualTo(command.getBytes(StandardCharsets.UTF_8));
        assertThat(NdjsonCodec.encodeToString(event)).isEqualTo(line);
    }

    @Test
    void shouldReproduceSummaryBytesExactly() {
        String summary = "{\"errors\":[],\"liquids\":null,\"x\":1.50,\"y\":\"\\u0041\"}";
        String line = "{\"type\":\"run.summary\",\"runId\":\"r-1\",\"summary\":" + summary + "}";

        RunEvent event = NdjsonCodec.decode(line);

        assertThat(((RunEvent.SummaryRecorded) event).summary().text()).isEqualTo(summary);
        assertThat(NdjsonCodec.encodeToString(event)).isEqualTo(line);
    }

    @Test
    void shouldExtractProjectorFieldsOnce() {
        RunEvent.CommandRecorded event = (RunEvent.CommandRecorded) NdjsonCodec.decode(
                "{\"type\":\"command.recorded\",\"runId\":\"r-1\",\"command\":{\"params\":{\"id\":\"nested\",\"status\":\"no\"},"
                        + "\"id\":\"c-9\",\"status\":\"running\",\"commandType\":\"dispense\"}}");

        assertThat(event.command().id()).isEqualTo("c-9");
        assertThat(event.command().commandType()).isEqualTo("dispense");
        assertThat(event.command().status()).isEqualTo("running");
    }

    @Test
    void shouldRoundTripEveryRealOpentronsEventByteForByte() throws Exception {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(SharedData.events(), StandardCharsets.UTF_8))) {
            int count = 0;
            String line;
            while ((line = lines.readLine()) != null) {
                assertThat(NdjsonCodec.encodeToString(NdjsonCodec.decode(line))).isEqualTo(line);
                count++;
            }
            assertThat(count).isEqualTo(16_917);
        }
    }

    @Test
    void shouldNameTheLineOfABadEvent() {
        String input = TestEventsLines.CREATED + "\n\n{\"type\":\"run.deleted\",\"runId\":\"r-1\"}\n{\"type\":\"run.deleted\"\n";

        NdjsonReader reader = new NdjsonReader(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));

        assertThatThrownBy(reader::readAll)
                .isInstanceOf(InvalidEventException.class)
                .hasMessageStartingWith("line 4: malformed JSON");
    }

    @Test
    void shouldRefuseALineOverTheLimit() {
        String input = TestEventsLines.CREATED + "\n" + "{\"type\":\"run.deleted\",\"runId\":\"" + "x".repeat(200) + "\"}\n";

        NdjsonReader reader = new NdjsonReader(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)), 150);

        assertThatThrownBy(reader::readAll).hasMessage("line 2: longer than the limit of 150 bytes");
    }

    @Test
    void shouldAcceptCrLfAndAFinalLineWithoutNewline() throws Exception {
        String input = TestEventsLines.CREATED + "\r\n{\"type\":\"run.deleted\",\"runId\":\"r-1\"}";

        List<RunEvent> events = new NdjsonReader(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8))).readAll();

        assertThat(events).hasSize(2);
        assertThat(events.get(1)).isEqualTo(new RunEvent.RunDeleted("r-1"));
    }

    static final class TestEventsLines {
        static final String CREATED = "{\"type\":\"run.created\",\"runId\":\"r-1\",\"createdAt\":\"2026-11-22T10:00:00Z\"}";
    }
}
