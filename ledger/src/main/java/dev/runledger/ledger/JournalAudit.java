package dev.runledger.ledger;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Proof that a journal is what was written: every excerpt's checksum, and a SHA-256 hash chain over
 * all excerpts in order, so a changed, removed or reordered excerpt, or a cut tail, changes every chain
 * head after it. A lab records a chain head (or a run's digest) elsewhere and can later show that the
 * record it covers is unchanged.
 *
 * <pre>
 * h(start) = SHA-256("runledger chain v1" ‖ journal id)
 * h(i)     = SHA-256(h(i-1) ‖ journal index of excerpt i, 8 bytes big-endian ‖ excerpt i as stored)
 * </pre>
 *
 * A run's digest is SHA-256 over that run's events in journal order, each as its NDJSON export line
 * with the newline: it does not depend on positions, so it survives a rewrite of the journal that keeps
 * the run's events (compaction).
 */
public final class JournalAudit {
    private static final byte[] CHAIN_SEED = "runledger chain v1".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_REASON_CHARS = 200;

    private JournalAudit() {
    }

    /** A stretch of consecutive damaged excerpts, with why the first of them was refused. */
    public record DamagedRange(long fromIndex, long toIndex, long excerpts, String reason) {
        @Override
        public String toString() {
            return fromIndex == toIndex ? "index " + fromIndex + ": " + reason
                    : "indexes " + fromIndex + ".." + toIndex + " (" + excerpts + " excerpts): " + reason;
        }
    }

    /**
     * What {@link #verify} found.
     *
     * @param excerpts  excerpts read
     * @param unchecked excerpts of the format without checksums (journals written before them), decoded instead
     * @param bytes     bytes of excerpt data read
     * @param headIndex the last index the journal claims; past {@code lastReadIndex} when its tail is unreadable
     * @param chainHead the chain head after the last excerpt read, hex
     * @param recordedLosses losses found at earlier opens, as recorded in {@code journal.losses} (JSON lines)
     */
    public record Check(long excerpts, long unchecked, long bytes, long lastReadIndex, long headIndex,
                        String chainHead, List<DamagedRange> damaged, List<String> recordedLosses) {
        public boolean ok() {
            return damaged.isEmpty();
        }
    }

    /** Checks every excerpt (checksums; structure of unchecked ones) and computes the chain head. */
    public static Check verify(Journal journal) {
        ChronicleJournal j = chronicle(journal);
        Seal seal;
        try {
            seal = Seal.read(j.directory(), j.id());
        } catch (java.io.IOException e) {
            seal = null; // an unusable seal vouches for nothing; the ledger reports it at open
        }
        Seal sealed = seal;
        boolean[] sealReached = {false};
        String[] sealProblem = {null};
        Chain chain = new Chain(j.id());
        EventEncoding.Reader reader = new EventEncoding.Reader();
        List<DamagedRange> damaged = new ArrayList<>();
        long[] counts = new long[3]; // excerpts, unchecked, bytes
        long[] open = {Journal.NONE, Journal.NONE, 0}; // from, to, excerpts of the range being built
        String[] openReason = {null};
        long last = j.readRaw((index, buf, length) -> {
            counts[0]++;
            counts[2] += length;
            chain.add(index, buf, length);
            if (sealed != null && index == sealed.index()) {
                sealReached[0] = true;
                if (!chain.isAt(sealed.chain()) || counts[0] != sealed.events()) {
                    sealProblem[0] = "the " + counts[0] + " excerpts up to sealed index " + index + " are not the "
                            + sealed.events() + " that were sealed (chain head " + chain.hex() + ", sealed " + sealed.chainHex() + ")";
                }
            }
            String problem = null;
            try {
                // a stand-in compaction left for a dropped event is covered by the chain; there is nothing to decode
                if (!EventEncoding.isCompacted(buf, length) && !reader.reset(buf, length).check()) {
                    counts[1]++;
                    reader.decode(); // no checksum: a full decode is the only structural check there is
                }
            } catch (EventEncoding.CorruptExcerptException e) {
                problem = e.getMessage();
            }
            if (problem != null) {
                if (open[0] == Journal.NONE) {
                    open[0] = index;
                    openReason[0] = cap(problem);
                }
                open[1] = index;
                open[2]++;
            } else if (open[0] != Journal.NONE) {
                damaged.add(new DamagedRange(open[0], open[1], open[2], openReason[0]));
                open[0] = Journal.NONE;
                open[2] = 0;
            }
            return true;
        });
        if (open[0] != Journal.NONE) {
            damaged.add(new DamagedRange(open[0], open[1], open[2], openReason[0]));
        }
        if (sealProblem[0] != null) {
            damaged.add(new DamagedRange(j.firstIndex(), sealed.index(), sealed.events(), "chain mismatch: " + sealProblem[0]));
        } else if (sealed != null && !sealReached[0]) {
            damaged.add(new DamagedRange(last + 1, sealed.index(), Math.max(1, sealed.events() - counts[0]),
                    "journal truncated: the seal vouched for " + sealed.events() + " events up to index " + sealed.index()
                            + ", reading ends after " + counts[0] + (sealed.durable() ? " (they had been synced)"
                            : " (within the durability window)")));
        }
        long head = j.headIndex();
        // Chronicle's own idea of the head can lag what reads (it is derived from its index pages), so only a
        // head beyond the last excerpt read says something is missing.
        if (head != Journal.NONE && head > last) {
            long missing = j.countBetween(last, head);
            damaged.add(new DamagedRange(last == Journal.NONE ? j.firstIndex() : last + 1, head, missing,
                    "unreadable tail: the journal's index says it holds up to " + head + " but reading stops after "
                            + (last == Journal.NONE ? "nothing" : Long.toString(last))));
        }
        return new Check(counts[0], counts[1], counts[2], last, head, chain.hex(), List.copyOf(damaged), recordedLosses(j));
    }

    /** The losses found at earlier opens ({@code journal.losses}, one JSON line each), for the record. */
    private static List<String> recordedLosses(ChronicleJournal j) {
        try {
            java.nio.file.Path file = j.directory().resolve(SealCheck.LOSSES_FILE);
            return java.nio.file.Files.exists(file) ? java.nio.file.Files.readAllLines(file, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            return List.of("(cannot read " + SealCheck.LOSSES_FILE + ": " + e.getMessage() + ")");
        }
    }

    /** The chain head after the excerpt at {@code index} (hex); the whole journal's with {@link Journal#NONE}. */
    public static String chainAt(Journal journal, long index) {
        ChronicleJournal j = chronicle(journal);
        Chain chain = new Chain(j.id());
        boolean[] found = {index == Journal.NONE};
        j.readRaw((i, buf, length) -> {
            if (index != Journal.NONE && i > index) {
                return false;
            }
            chain.add(i, buf, length);
            found[0] |= i == index;
            return i != index;
        });
        if (!found[0]) {
            throw new IllegalArgumentException("journal " + j.directory() + " holds no excerpt at index " + index);
        }
        return chain.hex();
    }

    /** A reader that also knows the journal's chain head after each entry it returned: a shipper's headers. */
    public interface ChainedReader extends JournalReader {
        /** The chain head (hex) after the last entry returned, or at the start position if none was yet. */
        String chainHex();
    }

    /**
     * Reads the entries after {@code after} ({@link Journal#NONE}: from the start), with the chain head at
     * each. The chain up to {@code after} is computed first, by reading the journal from its start.
     */
    public static ChainedReader readChained(Journal journal, long after) {
        ChronicleJournal j = chronicle(journal);
        Chain chain = new Chain(j.id());
        if (after != Journal.NONE) {
            j.readRaw((i, buf, length) -> {
                if (i > after) {
                    return false;
                }
                chain.add(i, buf, length);
                return i != after;
            });
        }
        return j.readChained(after, chain);
    }

    /** What {@link #runDigest} covered: the digest (hex), the run's events, and damaged excerpts met on the way. */
    public record RunDigest(String runId, String sha256, long events, long damagedExcerpts) {
    }

    /** SHA-256 over the run's events as exported, in journal order; damaged excerpts are counted, not covered. */
    public static RunDigest runDigest(Journal journal, String runId) {
        MessageDigest sha = sha256();
        long events = 0;
        long damaged = 0;
        ByteArrayOutputStream line = new ByteArrayOutputStream(1024);
        try (JournalReader reader = journal.readFrom(Journal.NONE)) {
            JournalEntry entry;
            while ((entry = reader.next()) != null) {
                if (entry instanceof JournalEntry.Event e) {
                    if (e.event().runId().equals(runId)) {
                        line.reset();
                        NdjsonCodec.encode(e.event(), line);
                        line.write('\n');
                        sha.update(line.toByteArray());
                        events++;
                    }
                } else if (entry instanceof JournalEntry.Unreadable) {
                    damaged++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new RunDigest(runId, HexFormat.of().formatHex(sha.digest()), events, damaged);
    }

    private static String cap(String reason) {
        return reason.length() <= MAX_REASON_CHARS ? reason : reason.substring(0, MAX_REASON_CHARS) + "...";
    }

    private static ChronicleJournal chronicle(Journal journal) {
        if (journal instanceof ChronicleJournal j) {
            return j;
        }
        throw new IllegalArgumentException("cannot audit a " + journal.getClass().getName() + "; only journals opened by"
                + " Journal.open/openExisting or a Ledger");
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** The running chain. */
    static final class Chain {
        private static final int HEAD_BYTES = 32;
        private final MessageDigest sha = sha256();
        /** The head, then the next excerpt's index: hashed in one update, as SHA-256(head || index || bytes). */
        private final byte[] headAndIndex = new byte[HEAD_BYTES + 8];

        Chain(String journalId) {
            sha.update(CHAIN_SEED);
            sha.update(journalId.getBytes(StandardCharsets.UTF_8));
            System.arraycopy(sha.digest(), 0, headAndIndex, 0, HEAD_BYTES);
        }

        /** Continues a chain whose head (after some excerpt) is {@code head}. */
        Chain(byte[] head) {
            System.arraycopy(head, 0, headAndIndex, 0, HEAD_BYTES);
        }

        byte[] head() {
            return java.util.Arrays.copyOf(headAndIndex, HEAD_BYTES);
        }

        /** Whether the head is {@code head}. */
        boolean isAt(byte[] head) {
            return java.util.Arrays.equals(headAndIndex, 0, HEAD_BYTES, head, 0, head.length);
        }

        void add(long excerptIndex, byte[] buf, int length) {
            for (int i = 0; i < 8; i++) {
                headAndIndex[HEAD_BYTES + i] = (byte) (excerptIndex >>> (56 - 8 * i));
            }
            sha.update(headAndIndex);
            sha.update(buf, 0, length);
            try {
                sha.digest(headAndIndex, 0, HEAD_BYTES); // the new head, in place: no array per excerpt
            } catch (java.security.DigestException e) {
                throw new IllegalStateException("SHA-256 did not fit its 32 bytes", e);
            }
        }

        String hex() {
            return HexFormat.of().formatHex(headAndIndex, 0, HEAD_BYTES);
        }
    }
}
