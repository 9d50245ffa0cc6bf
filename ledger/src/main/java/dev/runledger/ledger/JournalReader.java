package dev.runledger.ledger;

import java.time.Duration;

/**
 * Reads journal entries in order from a starting point. Confined to the thread that uses it (a
 * Chronicle tailer underneath); open one per reading thread and close it.
 */
public interface JournalReader extends AutoCloseable {

    /** The next entry, or {@code null} if none has been appended yet. */
    JournalEntry next();

    /** The next entry, waiting up to {@code timeout} for one to be appended; {@code null} on timeout. */
    JournalEntry next(Duration timeout) throws InterruptedException;

    @Override
    void close();
}
