package dev.runledger.tool;

import dev.runledger.ledger.JournalIntegrity;
import dev.runledger.ledger.JournalRepair;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "repair", mixinStandardHelpOptions = true,
        description = {"Accepts that events the journal's seal vouched for are missing.",
                "For a truncated or damaged journal: the loss stays on record in journal.losses, and the journal is",
                "sealed afresh so that a ledger in strict mode appends again. Nothing is appended or removed. Stop",
                "the appending process first."})
final class RepairCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--accept-loss", required = true, description = "Required: say that the loss is accepted.")
    boolean acceptLoss;

    @Override
    public Integer call() {
        JournalIntegrity found = JournalRepair.acceptLoss(journal.journal);
        if (found.intact()) {
            System.out.println("repair: nothing to accept; " + found.detail());
        } else {
            System.out.println("repair: accepted and recorded in journal.losses: " + found.detail()
                    + "; the journal is sealed afresh at index " + found.lastReadableIndex());
        }
        return RunLedger.OK;
    }
}
