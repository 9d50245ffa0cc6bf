package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "digest", mixinStandardHelpOptions = true,
        description = {"Prints the journal's SHA-256 chain head, or one run's digest.",
                "The chain head is taken after --at IDX (default: the last excerpt). With --run ID it is that run's",
                "digest: SHA-256 over its events in journal order, as export writes them. Record it elsewhere; an",
                "equal digest later proves the record it covers is unchanged."})
final class DigestCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--at", paramLabel = "IDX", description = "Chain head after the excerpt at this journal index.")
    Long at;

    @Option(names = "--run", paramLabel = "ID", description = "Digest of one run's events instead of the chain head.")
    String run;

    @Override
    public Integer call() {
        if (at != null && run != null) {
            throw new IllegalArgumentException("--at and --run ask for different digests; give one of them");
        }
        try (Journal j = Journal.openExisting(journal.journal)) {
            if (run == null) {
                long index = at == null ? Journal.NONE : at;
                System.out.println(JournalAudit.chainAt(j, index) + "  chain head at index "
                        + (at == null ? j.headIndex() : at));
                return RunLedger.OK;
            }
            JournalAudit.RunDigest d = JournalAudit.runDigest(j, run);
            if (d.events() == 0) {
                throw new IllegalArgumentException("journal " + j.directory() + " holds no event of run " + run);
            }
            System.out.println(d.sha256() + "  run " + run + " (" + d.events() + " events)");
            if (d.damagedExcerpts() > 0) {
                System.err.println("digest: " + d.damagedExcerpts() + " damaged excerpts in the journal are not covered;"
                        + " some may have belonged to run " + run + " (runledger verify --journal names them)");
                return RunLedger.FAILED;
            }
            return RunLedger.OK;
        }
    }
}
