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

    /** Accepts the loss found in {@code journalDirectory}, if any; returns what was found. */
    public static JournalIntegrity acceptLoss(Path journalDirectory) {
        Path dir = journalDirectory.toAbsolutePath().normalize();
        try (ExclusiveFileLock lock = ExclusiveFileLock.acquire(dir.resolve(ChronicleLedger.LOCK_FILE), "journal " + dir
                + " is open for appending; stop the process that appends (serve, append) before repairing it");
             ChronicleJournal journal = ChronicleJournal.open(dir, false)) {
            SealCheck.Outcome found = SealCheck.check(journal);
            JournalIntegrity integrity = found.integrity();
            if (!integrity.intact()) {
                try {
                    Seal old = Seal.read(dir, journal.id());
                    SealCheck.record(journal, old, integrity.missingEvents(), integrity.lastReadableIndex(),
                            integrity.withinDurabilityWindow(), true);
                } catch (java.io.IOException unreadable) {
                    // the check found a loss, so the seal was readable a moment ago; nothing more to record
                }
                new Sealer(journal, null).sealTo(journal.headIndex(), false);
            }
            return integrity;
        }
    }
}
