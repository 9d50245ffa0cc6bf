package dev.runledger.ledger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Readers that must see every event (a projection, later a shipper) say how far they have read, in
 * {@code readers/NAME} beside the journal's files. Compaction never drops the events of a deletion that
 * a registered reader has not yet passed: a projection that missed a run's deletion would keep the run
 * forever. A reader that is gone for good is unregistered by deleting its file (or compaction forced).
 */
public final class ReaderPositions {
    static final String DIRECTORY = "readers";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,100}");

    private ReaderPositions() {
    }

    /** Records that {@code name} has read up to {@code index} (atomically; a crash leaves the old value). */
    public static void record(Path journalDirectory, String name, long index) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a reader name is 1-100 characters of [A-Za-z0-9._-] but was \"" + name + "\"");
        }
        Path dir = journalDirectory.resolve(DIRECTORY);
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve("." + name + ".tmp");
            Files.writeString(tmp, index + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the position of reader " + name + " in " + dir, e);
        }
    }

    /** The registered readers that have not yet passed {@code index}, with their positions. */
    public static Map<String, Long> behind(Path journalDirectory, long index) {
        Map<String, Long> behind = read(journalDirectory);
        behind.values().removeIf(position -> position >= index);
        return behind;
    }

    /**
     * Waits, polling every 50 ms, until every registered reader has passed {@code index}: a projection
     * records its position about once a second, so a compaction that waits a little holds back nothing.
     * Returns true if they all have; false after {@code patience}, or as soon as {@code giveUp} says so.
     */
    public static boolean awaitPassed(Path journalDirectory, long index, java.time.Duration patience,
                                      java.util.function.BooleanSupplier giveUp) {
        long deadline = System.nanoTime() + patience.toNanos();
        while (!behind(journalDirectory, index).isEmpty()) {
            if (giveUp.getAsBoolean() || System.nanoTime() >= deadline) {
                return false;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
        }
        return true;
    }

    /** Every registered reader and its position; an unreadable file counts as position {@link Journal#NONE}. */
    public static Map<String, Long> read(Path journalDirectory) {
        Map<String, Long> out = new TreeMap<>();
        Path dir = journalDirectory.resolve(DIRECTORY);
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (name.startsWith(".")) {
                    continue;
                }
                long position;
                try {
                    position = Long.parseLong(Files.readString(f, StandardCharsets.US_ASCII).trim());
                } catch (IOException | NumberFormatException e) {
                    position = Journal.NONE; // holds everything back rather than guess
                }
                out.put(name, position);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the readers of " + journalDirectory, e);
        }
        return out;
    }
}
