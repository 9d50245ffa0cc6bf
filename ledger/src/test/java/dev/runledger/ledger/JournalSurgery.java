package dev.runledger.ledger;

import net.openhft.chronicle.queue.ExcerptAppender;

import java.nio.charset.StandardCharsets;
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
}
