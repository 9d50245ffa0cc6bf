package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;
import dev.runledger.ledger.NdjsonCodec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.Callable;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes the journal's events as NDJSON, the format append takes.",
                "Commands and summaries come out byte for byte as appended. Damaged excerpts (a failed checksum, an",
                "unreadable tail) are reported on stderr with their indexes, and make the exit code 1 unless",
                "--skip-damaged."})
final class ExportCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--from", paramLabel = "IDX", description = "First journal index to export (default: the start).")
    Long from;

    @Option(names = "--skip-damaged", description = "Export what is readable and exit 0 even if excerpts are damaged"
            + " (they are still reported on stderr).")
    boolean skipDamaged;

    @Override
    public Integer call() throws IOException {
        long unreadable = 0;
        try (Journal j = Journal.openExisting(journal.journal);
             JournalReader reader = j.readFrom(from == null ? Journal.NONE : from)) {
            OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
            JournalEntry entry;
            long last = Journal.NONE;
            while ((entry = reader.next()) != null) {
                last = entry.index();
                if (entry instanceof JournalEntry.Event e) {
                    NdjsonCodec.encode(e.event(), out);
                    out.write('\n');
                } else if (entry instanceof JournalEntry.Unreadable) {
                    JournalEntry.Unreadable bad = (JournalEntry.Unreadable) entry;
                    unreadable++;
                    System.err.println("export: skipped damaged excerpt at index " + bad.index() + " (" + bad.length()
                            + " bytes" + (bad.runId() == null ? "" : ", naming run " + bad.runId()) + "): " + bad.reason());
                }
            }
            out.flush();
            long head = j.headIndex();
            if (head != Journal.NONE && last < head) {
                long missing = j.countBetween(last, head);
                unreadable += Math.max(1, missing);
                System.err.println("export: the journal's index says it holds events up to index " + head
                        + " but reading stopped " + (last == Journal.NONE ? "at the start" : "after index " + last)
                        + "; " + missing + " events are unreadable (runledger verify --journal checks it all)");
            }
        }
        if (unreadable > 0) {
            System.err.println("export: " + unreadable + " damaged excerpt(s) not exported" + (skipDamaged
                    ? " (--skip-damaged)" : "; exit code 1 (pass --skip-damaged to accept that)"));
        }
        return unreadable == 0 || skipDamaged ? RunLedger.OK : RunLedger.FAILED;
    }
}
