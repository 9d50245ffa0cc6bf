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
        description = {"Writes the journal's events as NDJSON, the format append takes; commands and summaries",
                "come out byte for byte as appended. Unreadable excerpts are reported on stderr (exit code 1)."})
final class ExportCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--from", paramLabel = "IDX", description = "First journal index to export (default: the start).")
    Long from;

    @Override
    public Integer call() throws IOException {
        long unreadable = 0;
        try (Journal j = Journal.openExisting(journal.journal);
             JournalReader reader = j.readFrom(from == null ? Journal.NONE : from)) {
            OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
            JournalEntry entry;
            while ((entry = reader.next()) != null) {
                if (entry instanceof JournalEntry.Event e) {
                    NdjsonCodec.encode(e.event(), out);
                    out.write('\n');
                } else {
                    JournalEntry.Unreadable bad = (JournalEntry.Unreadable) entry;
                    unreadable++;
                    System.err.println("export: skipped unreadable excerpt at index " + bad.index() + ": " + bad.reason());
                }
            }
            out.flush();
        }
        return unreadable == 0 ? RunLedger.OK : RunLedger.FAILED;
    }
}
