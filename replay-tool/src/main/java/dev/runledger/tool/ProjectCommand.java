package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.ProjectionStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "project", mixinStandardHelpOptions = true,
        description = {"Brings a projection up to the journal head (or keeps following it with --follow).",
                "A missing projection, or one of another schema version, is first rebuilt by replay."})
final class ProjectCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Mixin
    DbOption db;

    @Option(names = "--follow", description = "Keep projecting new events until interrupted (Ctrl-C).")
    boolean follow;

    @Option(names = "--strict", description = "Stop at a poison event instead of quarantining it.")
    boolean strict;

    @Override
    public Integer call() throws InterruptedException {
        try (Journal j = Journal.openExisting(journal.journal);
             Projection p = Projection.open(ProjectionConfig.builder(db.db, j).strict(strict).build())) {
            long head = j.headIndex();
            long total = j.countBetween(Journal.NONE, head);
            try (Progress progress = Progress.start("project", true)) {
                while (!p.awaitApplied(head, Duration.ofMillis(200))) {
                    ProjectionStatus s = p.status();
                    if (s.state() == ProjectionStatus.State.FAILED) {
                        System.err.println("project: " + s.lastError());
                        return RunLedger.FAILED;
                    }
                    progress.onProgress(s.rebuildProgress() >= 0 ? (long) (s.rebuildProgress() * total)
                            : total - s.lagEvents(), total);
                }
                progress.onProgress(total, total);
            }
            ProjectionStatus s = p.status();
            System.out.println("projected " + db.db + " to index " + s.checkpoint() + " (" + total + " events, "
                    + s.quarantined() + " quarantined, schema version " + s.schemaVersion() + ")");
            if (follow) {
                CountDownLatch stop = StopSignals.latch();
                System.out.println("following " + j + "; Ctrl-C stops");
                stop.await();
            }
            return RunLedger.OK;
        }
    }
}
