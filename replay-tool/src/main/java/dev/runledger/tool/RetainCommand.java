package dev.runledger.tool;

import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.ledger.RetentionPolicy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "retain", mixinStandardHelpOptions = true,
        description = {"Deletes the completed runs a retention policy lets go.",
                "It appends run.deleted with reason retention, in one batch; runs still active and runs matching a",
                "--pin are never removed. Their events stay in the journal until it is compacted. A running serve",
                "applies its own policy (serve --keep-runs ...)."})
final class RetainCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Mixin
    RetentionOptions retention;

    @Option(names = "--dry-run", description = "List the runs that would go; append nothing.")
    boolean dryRun;

    @Option(names = "--json", description = "Print {\"policy\":...,\"dryRun\":...,\"deleted\":[...]} instead of lines.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        RetentionPolicy policy = retention.policy();
        if (policy == null) {
            throw new IllegalArgumentException("retain needs --keep-runs N or --keep-days D (or both)");
        }
        List<String> runs;
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal.journal).build())) {
            runs = ledger.retain(policy, dryRun);
        }
        if (json) {
            System.out.println(Json.write(g -> {
                g.writeStartObject();
                g.writeStringField("policy", policy.toString());
                g.writeBooleanField("dryRun", dryRun);
                g.writeArrayFieldStart("deleted");
                for (String id : runs) {
                    g.writeString(id);
                }
                g.writeEndArray();
                g.writeEndObject();
            }));
        } else {
            for (String id : runs) {
                System.out.println(id);
            }
            System.err.println("retain: " + (dryRun ? "would delete " : "deleted ") + runs.size() + " run(s); " + policy);
        }
        return RunLedger.OK;
    }
}
