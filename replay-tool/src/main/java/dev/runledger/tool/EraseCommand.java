package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.ledger.JournalCompaction;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.ledger.RunEvent;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "erase", mixinStandardHelpOptions = true,
        description = {"Deletes a run for good, from the journal and the given projections.",
                "It appends run.deleted (reason erase), brings the given projections up to it (their deleted rows",
                "are zeroed, their WAL truncated), then compacts the journal. Afterwards no byte of the run is in the",
                "journal or those projections. Stop the appending process first."})
final class EraseCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--run", required = true, paramLabel = "ID", description = "The run to erase.")
    String runId;

    @Option(names = "--db", paramLabel = "FILE", description = "A projection of this journal to erase the run from too"
            + " (repeatable).")
    List<Path> databases = new ArrayList<>();

    @Option(names = "--force", description = "Compact even if another registered reader has not passed the deletion.")
    boolean force;

    /**
     * Opens the projection {@code db} until it has applied {@code index} (the journal's head for
     * {@link Journal#NONE}), then closes it, which checkpoints and truncates its WAL. False on timeout.
     */
    private boolean catchUp(Path db, long index) throws InterruptedException {
        try (Journal j = Journal.openExisting(journal.journal);
             Projection projection = Projection.open(ProjectionConfig.builder(db, j).build())) {
            return projection.awaitApplied(index == Journal.NONE ? j.headIndex() : index, Duration.ofMinutes(10));
        }
    }

    @Override
    public Integer call() throws Exception {
        long deleted;
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal.journal).build())) {
            deleted = ledger.append(new RunEvent.RunDeleted(runId, RunEvent.RunDeleted.ERASE));
        }
        for (Path db : databases) {
            if (!catchUp(db, deleted)) {
                throw new IllegalStateException("projection " + db + " did not apply the deletion (index " + deleted
                        + ") within 10 minutes; the run is deleted but not yet erased");
            }
        }
        JournalCompaction.Result r = JournalCompaction.compact(journal.journal, force);
        CompactCommand.print(r, false);
        for (Path db : databases) {
            catchUp(db, Journal.NONE); // opened after compaction, a projection forgets the run's tombstone
        }
        try (Journal j = Journal.openExisting(journal.journal)) {
            long left = JournalAudit.runDigest(j, runId).events();
            if (left > 0) {
                System.err.println("erase: run " + runId + " is deleted, but " + left + " of its events are still in the"
                        + " journal: reader(s) " + r.heldBackBy() + " have not passed the deletion; run them (or pass their"
                        + " projection with --db), or --force");
                return RunLedger.FAILED;
            }
        }
        System.out.println("erase: no event of run " + runId + " is left in " + journal.journal
                + (databases.isEmpty() ? "" : " or in " + databases));
        return RunLedger.OK;
    }
}
