package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.projections.Rebuild;
import dev.runledger.projections.Verification;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks the journal's integrity, or a projection against a replay of the journal.",
                "Without --db: checks every excerpt's checksum and the journal's hash chain, printing the damaged",
                "index ranges, or 'journal ok' with the chain head. With --db: replays the journal up to FILE's",
                "checkpoint into a temporary projection and compares every table by content.",
                "Exit 0 if all is well, 1 with what is wrong named (index ranges; table, run, command)."})
final class VerifyCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    // Not the DbOption mixin: here the projection is optional (without it, the journal itself is checked).
    @Option(names = "--db", paramLabel = "FILE", description = "The SQLite projection file to compare with a replay.")
    Path db;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Override
    public Integer call() {
        return db == null ? verifyJournal() : verifyProjection();
    }

    private int verifyJournal() {
        JournalAudit.Check c;
        double seconds;
        try (Journal j = Journal.openExisting(journal.journal)) {
            long start = System.nanoTime(); // the check itself, not the JVM's first touch of Chronicle
            c = JournalAudit.verify(j);
            seconds = (System.nanoTime() - start) / 1e9;
        }
        double mbPerSecond = seconds == 0 ? 0 : c.bytes() / 1e6 / seconds;
        if (json) {
            System.out.println(Json.write(g -> {
                g.writeStartObject();
                g.writeBooleanField("ok", c.ok());
                g.writeNumberField("events", c.excerpts());
                g.writeNumberField("unchecked", c.unchecked());
                g.writeNumberField("bytes", c.bytes());
                g.writeNumberField("headIndex", c.headIndex());
                g.writeNumberField("lastReadIndex", c.lastReadIndex());
                g.writeStringField("chainHead", c.chainHead());
                g.writeNumberField("seconds", Math.round(seconds * 1000) / 1000.0);
                g.writeArrayFieldStart("damaged");
                for (JournalAudit.DamagedRange d : c.damaged()) {
                    g.writeStartObject();
                    g.writeNumberField("fromIndex", d.fromIndex());
                    g.writeNumberField("toIndex", d.toIndex());
                    g.writeNumberField("excerpts", d.excerpts());
                    g.writeStringField("reason", d.reason());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeArrayFieldStart("recordedLosses");
                for (String loss : c.recordedLosses()) {
                    if (loss.startsWith("{") && loss.endsWith("}")) {
                        g.writeRawValue(loss); // our own JSON line
                    } else {
                        g.writeString(loss); // a damaged line stays a string, so the summary stays JSON
                    }
                }
                g.writeEndArray();
                g.writeEndObject();
            }));
        } else if (c.ok()) {
            System.out.printf(Locale.ROOT, "journal ok: %,d events (%,d unchecked: written before checksums), chain head %s"
                    + " (%.3f s, %.0f MB/s)%n", c.excerpts(), c.unchecked(), c.chainHead(), seconds, mbPerSecond);
        } else {
            System.out.printf(Locale.ROOT, "journal damaged: %,d events read, %d damaged range(s):%n", c.excerpts(),
                    c.damaged().size());
            c.damaged().forEach(d -> System.out.println("  " + d));
            System.out.println("chain head over what was read: " + c.chainHead());
        }
        if (!json && !c.recordedLosses().isEmpty()) {
            System.out.println("losses on record (journal.losses), found at earlier opens:");
            c.recordedLosses().forEach(l -> System.out.println("  " + l));
        }
        return c.ok() ? RunLedger.OK : RunLedger.FAILED;
    }

    private int verifyProjection() {
        long start = System.nanoTime();
        Verification v;
        try (Journal j = Journal.openExisting(journal.journal); Progress progress = Progress.start("verify", !json)) {
            v = Rebuild.verify(j, db, progress);
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
                    db, v.checkpoint(), v.runs(), v.commands(), seconds);
        } else {
            System.out.println("verify " + db + ": differs from a fresh replay up to index " + v.checkpoint() + ":");
            v.differences().forEach(d -> System.out.println("  " + d));
        }
        return v.equal() ? RunLedger.OK : RunLedger.FAILED;
    }
}
