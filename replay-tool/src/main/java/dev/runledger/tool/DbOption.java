package dev.runledger.tool;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --db FILE}, shared by every command that reads or writes a projection file. */
final class DbOption {
    @Option(names = "--db", required = true, paramLabel = "FILE", description = "The SQLite projection file.")
    Path db;
}
