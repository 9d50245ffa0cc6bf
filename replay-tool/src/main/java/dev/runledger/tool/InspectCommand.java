package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;
import dev.runledger.ledger.NdjsonCodec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Lists journal entries with their journal index: INDEX<TAB>EVENT, or INDEX<TAB>UNREADABLE: reason.",
                "Also prints the journal's id and head first. Exit code 1 if a damaged excerpt was listed."})
final class InspectCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--run", paramLabel = "ID", description = "Only events of this run.")
    String run;

    @Option(names = "--from", paramLabel = "IDX", description = "First journal index (default: the start).")
    Long from;

    @Option(names = "--limit", paramLabel = "N", description = "At most N entries.")
    Long limit;

    @Override
    public Integer call() {
        if (limit != null && limit < 1) {
            throw new IllegalArgumentException("--limit must be at least 1 but was " + limit);
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try (Journal j = Journal.openExisting(journal.journal);
             JournalReader reader = j.readFrom(from == null ? Journal.NONE : from)) {
            out.println("# journal " + j.id() + " head " + j.headIndex() + " events "
                    + j.countBetween(Journal.NONE, j.headIndex()));
            long shown = 0;
            long damaged = 0;
            JournalEntry entry;
            while ((limit == null || shown < limit) && (entry = reader.next()) != null) {
                if (entry instanceof JournalEntry.Compacted) {
                    continue; // dropped by compaction: not an event, not damage
                }
                if (entry instanceof JournalEntry.Event e) {
                    if (run != null && !run.equals(e.event().runId())) {
                        continue;
                    }
                    out.println(e.index() + "\t" + NdjsonCodec.encodeToString(e.event()));
                } else {
                    JournalEntry.Unreadable bad = (JournalEntry.Unreadable) entry;
                    if (run != null && !run.equals(bad.runId())) {
                        continue;
                    }
                    damaged++;
                    out.println(bad.index() + "\tUNREADABLE: " + bad.reason()
                            + (bad.runId() == null ? "" : " (names run " + bad.runId() + ")"));
                }
                shown++;
            }
            out.flush();
            return damaged == 0 ? RunLedger.OK : RunLedger.FAILED;
        }
    }
}
