package dev.runledger.tool;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --journal DIR}, shared by every command that reads or writes a journal. */
final class JournalOption {
    @Option(names = "--journal", required = true, paramLabel = "DIR", description = "Journal directory (Chronicle Queue).")
    Path journal;
}
