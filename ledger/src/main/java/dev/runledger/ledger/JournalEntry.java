package dev.runledger.ledger;

/** One excerpt of the journal, at its journal index: a readable event, or bytes that could not be decoded. */
public sealed interface JournalEntry {

    /** The excerpt's journal index (Chronicle Queue's index: increasing, not dense across days). */
    long index();

    record Event(long index, long appendedAtMicros, RunEvent event) implements JournalEntry {
    }

    /**
     * Where compaction dropped an event of a deleted run: nothing to apply, but a position all the same,
     * so that a reader's checkpoint (and a client's {@code minIndex}) can reach and pass it.
     */
    record Compacted(long index) implements JournalEntry {
    }

    /**
     * An excerpt that fails its checksum or does not decode (bit rot, a foreign writer, a future format):
     * quarantine material. Holds at most {@link #MAX_KEPT_BYTES} of it, whatever its size, so a reader's
     * memory stays bounded however large the damage.
     *
     * @param length the excerpt's whole length in bytes
     * @param prefix its first bytes, at most {@link #MAX_KEPT_BYTES}
     * @param runId  the run the excerpt names, read without trusting it (a flipped bit may have changed it),
     *               or null where even that is unreadable
     */
    record Unreadable(long index, int length, byte[] prefix, String runId, String reason) implements JournalEntry {
        public static final int MAX_KEPT_BYTES = 4096;

        /** A printable rendering of the kept bytes for reports, itself bounded. */
        public String text() {
            StringBuilder sb = new StringBuilder(prefix.length * 2 + 48);
            for (byte b : prefix) {
                int c = b & 0xff;
                if (c >= 0x20 && c < 0x7f && c != '\\') {
                    sb.append((char) c);
                } else {
                    sb.append("\\x").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xf, 16));
                }
            }
            if (length > prefix.length) {
                sb.append("... (").append(length).append(" bytes in all)");
            }
            return sb.toString();
        }
    }
}
