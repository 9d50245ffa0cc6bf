package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.projections.Rebuild;
import dev.runledger.projections.Verification;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Replays the journal up to FILE's checkpoint into a temporary projection and compares every",
                "table by content. Exit 0 if equal, 1 with the first differences named (table, run, command) if not."})
final class VerifyCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Mixin
    DbOption db;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        Verification v;
        try (Journal j = Journal.openExisting(journal.journal); Progress progress = Progress.start("verify", !json)) {
            v = Rebuild.verify(j, db.db, progress);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            System.out.println(Json.write(g -> {
                g.writeStartObject();
                g.writeBooleanField("equal", v.equal());
                g.writeNumberField("checkpoint", v.checkpoint());
                g.writeNumberField("runs", v.runs());
                g.writeNumberField("commands", v.commands());
                g.writeNumberField("seconds", Math.round(seconds * 1000) / 1000.0);
                g.writeArrayFieldStart("differences");
                for (String d : v.differences()) {
                    g.writeString(d);
                }
                g.writeEndArray();
                g.writeEndObject();
            }));
        } else if (v.equal()) {
            System.out.printf(Locale.ROOT, "verified %s: equal to a fresh replay up to index %d (%d runs, %d commands) in %.3f s%n",
                    db.db, v.checkpoint(), v.runs(), v.commands(), seconds);
        } else {
            System.out.println("verify " + db.db + ": differs from a fresh replay up to index " + v.checkpoint() + ":");
            v.differences().forEach(d -> System.out.println("  " + d));
        }
        return v.equal() ? RunLedger.OK : RunLedger.FAILED;
    }
}
