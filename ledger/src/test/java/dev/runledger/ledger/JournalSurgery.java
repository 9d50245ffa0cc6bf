package dev.runledger.ledger;

import net.openhft.chronicle.queue.ExcerptAppender;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes what the {@link Ledger} would refuse: events that break lifecycle rules and bytes that do not
 * decode, to test quarantine. Lives in the test tree because no production code may do this.
 */
public final class JournalSurgery {
    private JournalSurgery() {
    }

    /** Appends events with no lifecycle checks; returns their indexes. */
    public static long[] appendUnchecked(Path journalDir, List<? extends RunEvent> events) {
        try (ChronicleJournal journal = ChronicleJournal.open(journalDir, true);
             ExcerptAppender appender = journal.createAppender()) {
            EventEncoding.Writer writer = new EventEncoding.Writer();
            long[] indexes = new long[events.size()];
            for (int i = 0; i < events.size(); i++) {
                byte[] buf = writer.encode(events.get(i), 0);
                indexes[i] = ChronicleJournal.write(appender, buf, writer.length());
            }
            return indexes;
        }
    }

    /** Appends an excerpt of arbitrary bytes. */
    public static long appendGarbage(Path journalDir, String text) {
        try (ChronicleJournal journal = ChronicleJournal.open(journalDir, true);
             ExcerptAppender appender = journal.createAppender()) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            return ChronicleJournal.write(appender, bytes, bytes.length);
        }
    }

    /** Appends a correctly framed command excerpt whose JSON bytes are truncated (bit rot inside a value). */
    public static long appendTruncatedCommand(Path journalDir, RunEvent.CommandRecorded event) {
        try (ChronicleJournal journal = ChronicleJournal.open(journalDir, true);
             ExcerptAppender appender = journal.createAppender()) {
            EventEncoding.Writer writer = new EventEncoding.Writer();
            byte[] buf = writer.encode(event, 0);
            return ChronicleJournal.write(appender, buf, writer.length() - 7);
        }
    }

    /** Where a marker's bytes first stand in the journal's cycle files. */
    public record Found(Path file, long offset) {
    }

    /** Finds the first occurrence of {@code marker} (UTF-8) in the journal's {@code *.cq4} files. */
    public static Found find(Path journalDir, String marker) throws IOException {
        byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
        List<Path> cycles;
        try (Stream<Path> files = Files.list(journalDir)) {
            cycles = files.filter(f -> f.getFileName().toString().endsWith(".cq4")).sorted().toList();
        }
        for (Path cycle : cycles) {
            try (FileChannel ch = FileChannel.open(cycle, StandardOpenOption.READ)) {
                MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
                outer:
                for (int i = 0; i + needle.length <= map.limit(); i++) {
                    for (int k = 0; k < needle.length; k++) {
                        if (map.get(i + k) != needle[k]) {
                            continue outer;
                        }
                    }
                    return new Found(cycle, i);
                }
            }
        }
        throw new IllegalArgumentException("marker " + marker + " not found in " + journalDir);
    }

    /** Flips one bit of the byte {@code delta} bytes after the marker's first occurrence; the ledger must be closed. */
    public static void flipBit(Path journalDir, String marker, int delta, int bit) throws IOException {
        Found at = find(journalDir, marker);
        try (FileChannel ch = FileChannel.open(at.file(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            ch.read(one, at.offset() + delta);
            one.put(0, (byte) (one.get(0) ^ (1 << bit)));
            one.rewind();
            ch.write(one, at.offset() + delta);
        }
    }

    /** Cuts the cycle file holding the marker just before it: a crash or a copy that lost the tail. */
    public static void truncateAt(Path journalDir, String marker) throws IOException {
        Found at = find(journalDir, marker);
        try (FileChannel ch = FileChannel.open(at.file(), StandardOpenOption.WRITE)) {
            ch.truncate(at.offset());
        }
    }
}
