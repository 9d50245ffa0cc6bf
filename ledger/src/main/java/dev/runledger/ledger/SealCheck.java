package dev.runledger.ledger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * Compares a journal with its seal at open. Cheap when all is well (one excerpt read, one index count);
 * only a journal found short is read through, to say exactly what is missing. A loss is also appended
 * to {@code journal.losses}, one NDJSON line each, so it stays on record after the journal is resealed.
 */
final class SealCheck {
    static final String LOSSES_FILE = "journal.losses";
    private static final Logger LOG = LoggerFactory.getLogger(SealCheck.class);

    /** What was found, and the seal the journal agrees with (null: seal afresh from the start). */
    record Outcome(JournalIntegrity integrity, Seal trusted) {
    }

    private SealCheck() {
    }

    /** What {@link #check} would find, without logging or recording anything. */
    static JournalIntegrity peek(ChronicleJournal journal) {
        return check(journal, false).integrity();
    }

    static Outcome check(ChronicleJournal journal) {
        return check(journal, true);
    }

    private static Outcome check(ChronicleJournal journal, boolean report) {
        long head = journal.headIndex();
        Seal seal;
        try {
            seal = Seal.read(journal.directory(), journal.id());
        } catch (IOException e) {
            LOG.warn("{}: {} is unusable ({}); it cannot say whether events were lost, and is written anew", journal,
                    Seal.FILE, e.getMessage());
            return new Outcome(JournalIntegrity.intact(Journal.NONE, head, Seal.FILE + " was unusable: " + e.getMessage()), null);
        }
        if (seal == null) {
            return new Outcome(JournalIntegrity.intact(Journal.NONE, head, "no seal yet"), null);
        }
        if (journal.excerptChecksum(seal.index()) != null) {
            long count = journal.countBetween(Journal.NONE, seal.index());
            if (count == seal.events()) {
                return new Outcome(JournalIntegrity.intact(seal.index(), head, "the journal holds every event its seal"
                        + " vouched for (" + seal.events() + " up to index " + seal.index() + ")"), seal);
            }
            long missing = seal.events() - count;
            return new Outcome(loss(journal, seal, Math.abs(missing), seal.index(), report, "journal gap: " + (missing > 0
                    ? missing + " of the events up to sealed index " + seal.index() + " are missing"
                    : -missing + " events more than sealed are held up to index " + seal.index())), null);
        }
        long[] read = {0, Journal.NONE};
        journal.readRaw((i, buf, length) -> {
            read[0]++;
            read[1] = i;
            return true;
        });
        long missing = Math.max(1, seal.events() - read[0]);
        return new Outcome(loss(journal, seal, missing, read[1], report, "journal truncated: events after "
                + (read[1] == Journal.NONE ? "the start" : "index " + read[1]) + " (" + missing + " events, up to sealed"
                + " index " + seal.index() + ") are missing"), null);
    }

    private static JournalIntegrity loss(ChronicleJournal journal, Seal seal, long missing, long lastReadable, boolean report,
                                         String what) {
        boolean window = !seal.durable();
        String detail = what + "; " + (window
                ? "they were within the durability window (not yet synced to disk), as a power cut leaves it"
                : "they had been synced to disk, so the journal was damaged");
        if (report) {
            LOG.warn("{}: {}", journal, detail);
            record(journal, seal, missing, lastReadable, window, false);
        }
        return new JournalIntegrity(false, missing, seal.index(), lastReadable, window, detail);
    }

    /** Appends the loss to {@code journal.losses}; {@code accepted} when a person ran repair --accept-loss. */
    static void record(ChronicleJournal journal, Seal seal, long missing, long lastReadable, boolean window, boolean accepted) {
        String line = "{\"at\":\"" + Instant.now() + "\",\"sealedIndex\":" + seal.index() + ",\"sealedEvents\":"
                + seal.events() + ",\"sealedChain\":\"" + seal.chainHex() + "\",\"lastReadableIndex\":" + lastReadable
                + ",\"missingEvents\":" + missing + ",\"withinDurabilityWindow\":" + window + ",\"accepted\":" + accepted + "}\n";
        try {
            Files.writeString(journal.directory().resolve(LOSSES_FILE), line, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.SYNC);
        } catch (IOException e) {
            LOG.warn("{}: cannot record the loss in {}", journal, LOSSES_FILE, e);
        }
    }
}
