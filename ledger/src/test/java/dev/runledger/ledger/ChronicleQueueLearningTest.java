package dev.runledger.ledger;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pins down the Chronicle Queue behaviour that journal compaction (issue 11, not built yet) is designed
 * on, so that a Chronicle upgrade which changes it fails here first: a copy written in order, with the
 * queue's clock set to each source excerpt's cycle, gets exactly the source's indexes, provided every
 * excerpt (or a small stand-in for a dropped one) is written, since Chronicle numbers excerpts within a
 * cycle and knows no way to skip a number.
 */
class ChronicleQueueLearningTest {
    @TempDir
    Path dir;

    @Test
    void shouldGiveACopyWrittenCycleByCycleTheSourceIndexes() {
        SetTimeProvider sourceClock = new SetTimeProvider(TimeUnit.DAYS.toMillis(20_000));
        List<Long> sourceIndexes = new ArrayList<>();
        List<String> payloads = new ArrayList<>();
        RollCycle rollCycle;
        long epoch;
        try (SingleChronicleQueue source = SingleChronicleQueueBuilder.binary(dir.resolve("source")).timeProvider(sourceClock).build();
             ExcerptAppender appender = source.createAppender()) {
            for (int day = 0; day < 3; day++) {
                sourceClock.currentTimeMillis(TimeUnit.DAYS.toMillis(20_000 + day * 2L)); // a day without excerpts between
                for (int i = 0; i < 5; i++) {
                    String payload = "day " + day + " excerpt " + i + " " + "x".repeat(200);
                    appender.writeBytes(Bytes.from(payload));
                    sourceIndexes.add(appender.lastIndexAppended());
                    payloads.add(payload);
                }
            }
            rollCycle = source.rollCycle();
            epoch = source.epoch();
        }

        SetTimeProvider copyClock = new SetTimeProvider(0);
        List<Long> copyIndexes = new ArrayList<>();
        try (SingleChronicleQueue copy = SingleChronicleQueueBuilder.binary(dir.resolve("copy")).rollCycle(rollCycle)
                .epoch(epoch).timeProvider(copyClock).build();
             ExcerptAppender appender = copy.createAppender()) {
            for (int i = 0; i < sourceIndexes.size(); i++) {
                long index = sourceIndexes.get(i);
                copyClock.currentTimeMillis(epoch + (long) rollCycle.toCycle(index) * rollCycle.lengthInMillis());
                boolean dropped = i % 2 == 1; // a stand-in of one byte for every other excerpt
                appender.writeBytes(Bytes.from(dropped ? "-" : payloads.get(i)));
                copyIndexes.add(appender.lastIndexAppended());
            }
        }
        assertThat(copyIndexes).isEqualTo(sourceIndexes);

        try (SingleChronicleQueue copy = SingleChronicleQueueBuilder.binary(dir.resolve("copy")).build();
             ExcerptTailer tailer = copy.createTailer()) {
            List<Long> read = new ArrayList<>();
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    read.add(dc.index());
                    String text = dc.wire().bytes().toString();
                    assertThat(text).isIn("-", payloads.get(read.size() - 1));
                }
            }
            assertThat(read).as("a reader of the copy sees the same indexes").isEqualTo(sourceIndexes);
            assertThat(payloads.get(0).getBytes(StandardCharsets.UTF_8).length).isGreaterThan(200);
        }
    }
}
