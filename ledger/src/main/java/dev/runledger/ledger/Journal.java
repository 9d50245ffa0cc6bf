package dev.runledger.ledger;

import java.nio.file.Path;

/**
 * The append-only log of run events, stored as a Chronicle Queue in one directory. It has a stable
 * identity ({@link #id()}) that projections record, so a projection is never attached to the wrong
 * journal. Appending with lifecycle rules is the {@link Ledger}'s job; a journal only stores and reads.
 */
public interface Journal extends AutoCloseable {

    /** Index value meaning "before the first entry". */
    long NONE = -1;

    /** Opens an existing journal; fails with a clear message if {@code directory} holds none. */
    static Journal openExisting(Path directory) {
        return ChronicleJournal.open(directory, false);
    }

    /** Opens the journal in {@code directory}, creating the directory and a new journal id if needed. */
    static Journal open(Path directory) {
        return ChronicleJournal.open(directory, true);
    }

    /** The journal's identity: a UUID fixed when the journal was created. */
    String id();

    Path directory();

    /** Index of the last entry, or {@link #NONE} if the journal is empty. */
    long headIndex();

    /** Index of the first entry, or {@link #NONE} if the journal is empty. */
    long firstIndex();

    /** Entries from {@code index} inclusive (from the first entry if {@code index} precedes it). */
    JournalReader readFrom(long index);

    /** Entries strictly after {@code index}; {@link #NONE} reads from the start. */
    JournalReader readAfter(long index);

    /** How many entries lie in {@code (afterIndex, toIndex]}: the lag between a checkpoint and the head. */
    long countBetween(long afterIndex, long toIndex);

    /**
     * How many compacted copies this open journal has swapped in while open (a ledger's online compaction).
     * Readers follow a swap by themselves; a reader that keeps state about deleted runs (a projection's
     * tombstones) checks this to learn that some were dropped.
     */
    long compactions();

    @Override
    void close();
}
