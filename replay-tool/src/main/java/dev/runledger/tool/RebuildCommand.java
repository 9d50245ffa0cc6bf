package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.Rebuild;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "rebuild", mixinStandardHelpOptions = true,
        description = {"Replays the journal into a fresh projection beside FILE, syncs it and renames it over FILE.",
                "FILE keeps serving until the rename; a crash leaves it as it was. The journal is only read."})
final class RebuildCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Mixin
    DbOption db;

    @Option(names = "--threads", defaultValue = "2", paramLabel = "N",
            description = "1: decode on the writing thread; 2 (default): decode on a second thread. More adds nothing.")
    int threads;

    @Option(names = "--strict", description = "Fail at the first poison event instead of quarantining it.")
    boolean strict;

    @Option(names = "--json", description = "Print a JSON summary instead of a progress bar and a line.")
    boolean json;

    @Option(names = "--schema-version", hidden = true, paramLabel = "V", description = "Write an older schema (tests).")
    Integer schemaVersion;

    @Override
    public Integer call() {
        Rebuild.Result r;
        try (Journal j = Journal.openExisting(journal.journal); Progress progress = Progress.start("rebuild", !json)) {
            int version = schemaVersion == null ? ProjectionConfig.currentSchemaVersion() : schemaVersion;
            r = Rebuild.rebuild(j, db.db, new Rebuild.Options(version, threads, strict, progress));
        }
        double seconds = r.elapsed().toNanos() / 1e9;
        if (json) {
            System.out.println(Json.write(g -> {
                g.writeStartObject();
                g.writeStringField("db", db.db.toString());
                g.writeNumberField("events", r.events());
                g.writeNumberField("runs", r.runs());
                g.writeNumberField("commands", r.commands());
                g.writeNumberField("quarantined", r.quarantined());
                g.writeNumberField("lastIndex", r.lastIndex());
                g.writeNumberField("seconds", Math.round(seconds * 1000) / 1000.0);
                g.writeNumberField("eventsPerSecond", Math.round(r.eventsPerSecond()));
                g.writeEndObject();
            }));
        } else {
            System.out.printf(Locale.ROOT, "rebuilt %s: %d events, %d runs, %d commands, %d quarantined in %.3f s (%,.0f events/s)%n",
                    db.db, r.events(), r.runs(), r.commands(), r.quarantined(), seconds, r.eventsPerSecond());
        }
        return RunLedger.OK;
    }
}
