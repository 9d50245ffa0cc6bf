package dev.runledger.ledger;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The one mapping between event records, wire names and journal codes. A new {@link RunEvent} record
 * cannot be written to the journal as some other type: it must name an {@link EventType} (the compiler
 * insists), the constant must carry that record class (this test insists), and every switch over the
 * enum is a switch expression the compiler checks for exhaustiveness.
 */
class EventTypeTest {
    /** One event of each type; a new type that is missing here fails {@link #shouldHaveASampleOfEveryType}. */
    private static final List<RunEvent> SAMPLES = List.of(
            TestEvents.created("r-1"),
            TestEvents.command("r-1", "c-1", "queued"),
            new RunEvent.LabelsChanged("r-1", Map.of("stage", "qc"), List.of("tenant")),
            new RunEvent.SummaryRecorded("r-1", "{\"liquids\":[],\"n\":1.0}"),
            TestEvents.completed("r-1"),
            new RunEvent.RunDeleted("r-1"),
            new RunEvent.RunDeleted("r-2", RunEvent.RunDeleted.RETENTION),
            new RunEvent.JournalLoss(41, 43, 2, true, "2026-11-22T10:42:00Z"));

    @Test
    void shouldPairEverySealedRecordWithExactlyOneType() {
        Set<Class<?>> records = Set.of(RunEvent.class.getPermittedSubclasses());
        Set<Class<?>> typed = Arrays.stream(EventType.values()).map(EventType::recordType).collect(Collectors.toSet());
        assertThat(typed).as("record classes named by EventType").isEqualTo(records);
        assertThat(EventType.values()).hasSameSizeAs(RunEvent.class.getPermittedSubclasses());
    }

    @Test
    void shouldHaveASampleOfEveryType() {
        assertThat(SAMPLES.stream().map(RunEvent::eventType).distinct()).containsExactlyInAnyOrder(EventType.values());
    }

    @Test
    void shouldReportTheTypeThatNamesItsOwnRecordClass() {
        for (RunEvent event : SAMPLES) {
            assertThat(event.eventType().recordType()).as(event.getClass().getSimpleName()).isEqualTo(event.getClass());
            assertThat(event.type()).isEqualTo(event.eventType().wireName());
        }
    }

    @Test
    void shouldGiveEachTypeItsOwnStableJournalCode() {
        // The codes are on disk in every journal ever written: they may never change or be reused.
        assertThat(Arrays.stream(EventType.values()).collect(Collectors.toMap(t -> t, t -> (int) t.code())))
                .containsExactlyInAnyOrderEntriesOf(Map.of(EventType.RUN_CREATED, 1, EventType.COMMAND_RECORDED, 2,
                        EventType.LABELS_CHANGED, 3, EventType.SUMMARY_RECORDED, 4, EventType.RUN_COMPLETED, 5,
                        EventType.RUN_DELETED, 6, EventType.JOURNAL_LOSS, 7));
        for (EventType t : EventType.values()) {
            assertThat(EventType.fromCode(t.code())).isSameAs(t);
            assertThat(EventType.fromWireName(t.wireName())).isSameAs(t);
        }
        assertThat(EventType.fromCode((byte) 0)).isNull();
        assertThat(EventType.fromCode((byte) 8)).isNull();
        assertThat(EventType.fromCode((byte) -1)).isNull();
        assertThat(EventType.fromWireName("run.exploded")).isNull();
    }

    @Test
    void shouldWriteEachTypeUnderItsOwnCodeAndReadItBack() {
        EventEncoding.Writer writer = new EventEncoding.Writer();
        for (RunEvent event : SAMPLES) {
            byte[] buf = writer.encode(event, 42);
            int length = writer.length();
            assertThat(buf[1]).as("type byte of %s", event.type()).isEqualTo(event.eventType().code());
            EventEncoding.Reader reader = new EventEncoding.Reader().reset(Arrays.copyOf(buf, length), length);
            assertThat(reader.type()).isSameAs(event.eventType());
            assertThat(reader.decode()).isEqualTo(event);
            assertThat(NdjsonCodec.decode(new String(NdjsonCodec.encode(event), StandardCharsets.UTF_8))).isEqualTo(event);
        }
    }

    @Test
    void shouldRefuseAnExcerptWithAnUnknownTypeCode() {
        EventEncoding.Writer writer = new EventEncoding.Writer();
        byte[] buf = Arrays.copyOf(writer.encode(new RunEvent.RunDeleted("r-1"), 42), writer.length());
        buf[1] = 8;
        assertThatThrownBy(() -> new EventEncoding.Reader().reset(buf, buf.length).decode())
                .as("a changed type byte is first of all damage").hasMessageContaining("checksum mismatch");
        int crc = EventEncoding.checksum(buf, buf.length); // as a writer of a future format would have stored it
        buf[10] = (byte) (crc >>> 24);
        buf[11] = (byte) (crc >>> 16);
        buf[12] = (byte) (crc >>> 8);
        buf[13] = (byte) crc;
        assertThatThrownBy(() -> new EventEncoding.Reader().reset(buf, buf.length).decode())
                .hasMessageContaining("unknown event type code 8");
    }
}
