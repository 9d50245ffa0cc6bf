package dev.runledger.tool;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Input files named on the command line: a missing, unreadable or directory path is one line naming it (exit 2). */
final class InputFiles {
    private InputFiles() {
    }

    static InputStream open(String option, String file) throws IOException {
        Path path = Path.of(file);
        if (!Files.exists(path)) {
            throw new IllegalArgumentException(option + " " + file + ": no such file");
        }
        if (Files.isDirectory(path)) {
            throw new IllegalArgumentException(option + " " + file + ": is a directory, not a file");
        }
        try {
            return Files.newInputStream(path);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(option + " " + file + ": permission denied", e);
        }
    }
}
