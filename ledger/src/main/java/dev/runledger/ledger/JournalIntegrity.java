package dev.runledger.ledger;

/**
 * What opening a ledger found when it compared the journal with its seal ({@code journal.seal}, the
 * head it last vouched for). Events after the last readable one may be missing: lost within the
 * durability window (the seal had not been synced, as after a power cut under the default durability),
 * or lost although synced, which is damage.
 *
 * @param missingEvents     excerpts the seal vouched for that the journal no longer holds
 * @param sealedIndex       the index the seal vouched for, or {@link Journal#NONE} when there was no seal
 * @param lastReadableIndex the last index the journal reads, or {@link Journal#NONE}
 * @param detail            one sentence for logs, {@code /health} and error messages
 */
public record JournalIntegrity(boolean intact, long missingEvents, long sealedIndex, long lastReadableIndex,
                               boolean withinDurabilityWindow, String detail) {

    static JournalIntegrity intact(long sealedIndex, long lastReadableIndex, String detail) {
        return new JournalIntegrity(true, 0, sealedIndex, lastReadableIndex, false, detail);
    }
}
