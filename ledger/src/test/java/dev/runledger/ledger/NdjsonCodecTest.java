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

    @Test
    void shouldDecodeTheSameEventsWhereverTheInputIsCut() {
        String input = TestEventsLines.CREATED + "\r\n\n \t\n" + NdjsonCodec.encodeToString(TestEvents.command("r-1", "c-1",
                "succeeded")) + "\n" + NdjsonCodec.encodeToString(TestEvents.completed("r-1"));
        byte[] bytes = input.getBytes(StandardCharsets.UTF_8);
        List<RunEvent> whole = decodeInChunks(bytes, bytes.length, bytes.length);

        assertThat(whole).hasSize(3);
        for (int first = 0; first <= bytes.length; first++) {
            for (int size : new int[] {1, 7, 64}) {
                assertThat(decodeInChunks(bytes, first, size)).as("first chunk %d, then %d", first, size).isEqualTo(whole);
            }
        }
    }

    @Test
    void shouldNameTheBadLineAsSoonAsItsNewlineArrives() {
        NdjsonDecoder decoder = new NdjsonDecoder(1024);
        List<Long> lines = new java.util.ArrayList<>();
        byte[] good = (TestEventsLines.CREATED + "\n").getBytes(StandardCharsets.UTF_8);
        decoder.feed(good, 0, good.length, (event, line) -> lines.add(line));
        byte[] bad = "{\"type\":\"run.exploded\"}\n{\"type".getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> decoder.feed(bad, 0, bad.length, (event, line) -> lines.add(line)))
                .isInstanceOf(InvalidEventException.class).hasMessageStartingWith("line 2: ");
        assertThat(lines).containsExactly(1L);
    }

    @Test
    void shouldRefuseALineOverTheLimitBeforeItsEndArrives() {
        NdjsonDecoder decoder = new NdjsonDecoder(100);
        byte[] chunk = "x".repeat(60).getBytes(StandardCharsets.US_ASCII);
        decoder.feed(chunk, 0, chunk.length, (event, line) -> { });

        assertThatThrownBy(() -> decoder.feed(chunk, 0, chunk.length, (event, line) -> { }))
                .hasMessage("line 1: longer than the limit of 100 bytes");
    }

    private static List<RunEvent> decodeInChunks(byte[] bytes, int first, int size) {
        NdjsonReader.Batch.Builder batch = new NdjsonReader.Batch.Builder();
        NdjsonDecoder decoder = new NdjsonDecoder(4096);
        int pos = 0;
        for (int n = Math.min(first, bytes.length); pos < bytes.length; n = Math.min(size, bytes.length - pos)) {
            // a heap buffer that is a slice of a larger array, as network buffers are
            decoder.feed(java.nio.ByteBuffer.wrap(bytes, pos, n).slice(), batch);
            pos += n;
        }
        decoder.end(batch);
        return batch.build().events();
    }

    @Test
    void shouldCarryAnOptionalDeletionReasonAndRefuseOneThatIsNotAWord() {
        String line = "{\"type\":\"run.deleted\",\"runId\":\"r-1\",\"reason\":\"retention\"}";

        assertThat(NdjsonCodec.decode(line)).isEqualTo(new RunEvent.RunDeleted("r-1", "retention"));
        assertThat(NdjsonCodec.encodeToString(NdjsonCodec.decode(line))).isEqualTo(line);
        assertThat(NdjsonCodec.encodeToString(new RunEvent.RunDeleted("r-1"))).isEqualTo("{\"type\":\"run.deleted\",\"runId\":\"r-1\"}");
        assertThatThrownBy(() -> NdjsonCodec.decode("{\"type\":\"run.deleted\",\"runId\":\"r-1\",\"reason\":\"Not Ok\"}"))
                .hasMessageContaining("run.deleted: reason must be 1-32 characters of [a-z0-9_-]");
        assertThatThrownBy(() -> NdjsonCodec.decode("{\"type\":\"run.completed\",\"runId\":\"r-1\",\"reason\":\"x\","
                + "\"status\":\"succeeded\",\"completedAt\":\"2026-11-22T10:00:00Z\"}")).hasMessageContaining("unknown field \"reason\"");
    }

    static final class TestEventsLines {
        static final String CREATED = "{\"type\":\"run.created\",\"runId\":\"r-1\",\"createdAt\":\"2026-11-22T10:00:00Z\"}";
    }
}
