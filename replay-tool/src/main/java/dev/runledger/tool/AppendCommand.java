package dev.runledger.tool;

import dev.runledger.ledger.InvalidEventException;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonReader;
import dev.runledger.ledger.RejectedEventException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.Callable;

@Command(name = "append", mixinStandardHelpOptions = true,
        description = {"Appends NDJSON events (one JSON object per line) and prints the last journal index.",
                "The whole input is validated, including run lifecycle rules, before any of it is appended:",
                "a bad line is reported with its number and nothing is written (exit code 2)."})
final class AppendCommand implements Callable<Integer> {
    @Mixin
    JournalOption journal;

    @Option(names = "--file", paramLabel = "F", defaultValue = "-", description = "Input file, or - for stdin (default).")
    String file;

    @Option(names = "--create", description = "Start a new journal even in a directory that holds other files.")
    boolean create;

    @Override
    public Integer call() throws IOException {
        NdjsonReader.Batch batch;
        try (InputStream in = "-".equals(file) ? System.in : InputFiles.open("--file", file)) {
            batch = new NdjsonReader(in).readBatch();
        }
        if (batch.events().isEmpty()) {
            throw new InvalidEventException("no events in the input");
        }
        NewJournal.check("append", journal.journal, create);
        try (Ledger ledger = Ledger.open(journal.journal)) {
            long last = ledger.append(batch.events());
            System.out.println(last);
            return RunLedger.OK;
        } catch (RejectedEventException e) {
            // Name the input line, as for malformed lines, rather than the event's position in the batch.
            throw new RejectedEventException(e.reason(), 0,
                    "line " + batch.lineOf(e.batchPosition()) + ": " + e.detail() + " (nothing was appended)");
        }
    }
}
