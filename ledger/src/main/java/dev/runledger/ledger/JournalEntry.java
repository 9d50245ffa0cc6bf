package dev.runledger.ledger;

/** One excerpt of the journal, at its journal index: a readable event, or bytes that could not be decoded. */
public sealed interface JournalEntry {

    /** The excerpt's journal index (Chronicle Queue's index: increasing, not dense across days). */
    long index();

    record Event(long index, long appendedAtMicros, RunEvent event) implements JournalEntry {
    }

    /** An excerpt that does not decode (bit rot, a foreign writer, a future format): quarantine material. */
    record Unreadable(long index, byte[] bytes, String reason) implements JournalEntry {
        /** A printable rendering of the bytes for reports. */
        public String text() {
            StringBuilder sb = new StringBuilder(bytes.length * 2);
            for (byte b : bytes) {
                int c = b & 0xff;
                if (c >= 0x20 && c < 0x7f && c != '\\') {
                    sb.append((char) c);
                } else {
                    sb.append(String.format("\\x%02x", c));
                }
            }
            return sb.toString();
        }
    }
}
