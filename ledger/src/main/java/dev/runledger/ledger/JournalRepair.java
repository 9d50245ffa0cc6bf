package dev.runledger.ledger;

import java.nio.file.Path;

/**
 * {@code runledger repair --accept-loss}: a person's acknowledgement that events the journal's seal
 * vouched for are gone. The loss stays on record ({@code journal.losses}, marked accepted) and the
 * journal is sealed afresh as it now reads, so a ledger in strict mode appends again.
 */
public final class JournalRepair {
    private JournalRepair() {
    }

    /**
     * Accepts the loss found in {@code journalDirectory}, if any, and returns what was found: opens the
     * ledger as it opens by default (which records the loss as a {@code journal.loss} event where readers
     * meet it, and seals the journal afresh at close), and marks the loss accepted in {@code journal.losses}.
     */
    public static JournalIntegrity acceptLoss(Path journalDirectory) {
        Path dir = journalDirectory.toAbsolutePath().normalize();
        JournalIntegrity found;
        Seal old;
        try (ExclusiveFileLock lock = ExclusiveFileLock.acquire(dir.resolve(ChronicleLedger.LOCK_FILE), "journal " + dir
                + " is open for appending; stop the process that appends (serve, append) before repairing it");
             ChronicleJournal journal = ChronicleJournal.open(dir, false)) {
            found = SealCheck.peek(journal);
            if (found.intact()) {
                return found;
            }
            try {
                old = Seal.read(dir, journal.id());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("journal " + dir + ": its seal became unreadable during repair", e);
            }
        }
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir).build())) {
            ChronicleJournal journal = (ChronicleJournal) ledger.journal();
            SealCheck.record(journal, old, found.missingEvents(), found.lastReadableIndex(), found.withinDurabilityWindow(), true);
        }
        return found;
    }
}
