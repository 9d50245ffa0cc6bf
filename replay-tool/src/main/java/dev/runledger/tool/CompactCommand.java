package dev.runledger.tool;

import dev.runledger.ledger.JournalCompaction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "compact", mixinStandardHelpOptions = true,
        description = {"Rewrites the journal without the events of deleted runs.",
                "Every event of a live run stays, byte for byte, at its own index. Stop the appending process first",
                "(serve, a ledger); readers in other processes reopen afterwards. A deletion a registered reader (a",
                "projection) has not yet applied is kept for a later compaction unless --force."})
final class CompactCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--force", description = "Drop deleted runs even if a registered reader has not passed their deletion"
            + " (rebuild such a reader afterwards).")
    boolean force;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    public Integer call() {
        JournalCompaction.Result r = JournalCompaction.compact(journal.journal, force);
        print(r, json);
        return RunLedger.OK;
    }

    static void print(JournalCompaction.Result r, boolean json) {
        if (json) {
            System.out.println(Json.write(g -> {
                g.writeStartObject();
                g.writeNumberField("excerpts", r.excerpts());
                g.writeNumberField("droppedEvents", r.droppedEvents());
                g.writeNumberField("droppedRuns", r.droppedRuns());
                g.writeNumberField("droppedDays", r.droppedDays());
                g.writeNumberField("heldBackRuns", r.heldBackRuns());
                g.writeArrayFieldStart("heldBackBy");
                for (String reader : r.heldBackBy()) {
                    g.writeString(reader);
                }
                g.writeEndArray();
                g.writeNumberField("bytesBefore", r.bytesBefore());
                g.writeNumberField("bytesAfter", r.bytesAfter());
                g.writeNumberField("millis", r.took().toMillis());
                g.writeArrayFieldStart("steps"); // where the time went, in order
                for (var step : r.steps().entrySet()) {
                    g.writeStartObject();
                    g.writeStringField("step", step.getKey());
                    g.writeNumberField("millis", step.getValue().toMillis());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeStringField("chainBefore", r.chainBefore());
                g.writeStringField("chainAfter", r.chainAfter());
                g.writeEndObject();
            }));
        } else {
            System.out.println("compact: dropped " + r.droppedEvents() + " events of " + r.droppedRuns() + " deleted run(s) of "
                    + r.excerpts() + " excerpts kept in place (" + r.droppedDays() + " whole days left out) in "
                    + r.took().toMillis() + " ms (" + steps(r) + "); journal files " + r.bytesBefore() + " -> "
                    + r.bytesAfter() + " bytes");
            if (r.heldBackRuns() > 0) {
                System.out.println("compact: kept " + r.heldBackRuns() + " deleted run(s) that reader(s) " + r.heldBackBy()
                        + " have not passed yet; run them, remove their file under readers/, or --force");
            }
        }
    }

    private static String steps(JournalCompaction.Result r) {
        return r.steps().entrySet().stream().map(step -> step.getKey() + " " + step.getValue().toMillis() + " ms")
                .collect(java.util.stream.Collectors.joining(", "));
    }
}
