package dev.runledger.tool;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Commands that append create a journal where there is none, but only where that is surely meant: an absent or
 * empty directory, or any directory with {@code --create}. A directory holding other files and no journal is
 * more likely a typo (the data directory instead of its journal) than a place for a new journal.
 */
final class NewJournal {
    private NewJournal() {
    }

    /** Says on stderr when a journal will be created; refuses a non-empty directory without one unless {@code create}. */
    static void check(String command, Path dir, boolean create) throws IOException {
        if (Files.exists(dir.resolve("journal.id"))) {
            return;
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--journal " + dir + ": is a file, not a directory");
        }
        if (Files.isDirectory(dir)) {
            List<Path> entries;
            try (Stream<Path> listed = Files.list(dir)) {
                entries = listed.toList();
            }
            if (entries.stream().anyMatch(p -> p.getFileName().toString().endsWith(".cq4"))) {
                return; // a journal that lost its id: the ledger refuses it, saying so (never mints a new id)
            }
            if (!entries.isEmpty() && !create) {
                throw new IllegalArgumentException("--journal " + dir + ": holds other files but no journal;"
                        + " give --create to start a new journal there");
            }
        }
        System.err.println(command + ": creating a new journal in " + dir);
    }
}
