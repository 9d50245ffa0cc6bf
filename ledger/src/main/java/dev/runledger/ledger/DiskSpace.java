package dev.runledger.ledger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Refuses appends the journal's disk cannot take, before any byte is written: Chronicle writes through
 * memory-mapped pages, and a page the full disk cannot back kills the writer with a fault (seen as
 * {@code InternalError: a fault occurred in a recent unsafe memory access}), possibly in mid-batch.
 * Asking the file system costs a syscall, so the free space is cached and asked again only once the
 * appends since could have used a quarter of it, or after a quarter of a second.
 */
final class DiskSpace {
    /** Room kept for Chronicle's index pages and a rounding of each write to whole pages. */
    static final long RESERVE_BYTES = 4L << 20;
    private static final long MAX_AGE_NANOS = 250_000_000L;

    /** How much a directory's disk has free; a test seam, since filling a real disk needs root. */
    @FunctionalInterface
    interface Probe {
        long usableBytes(Path directory) throws IOException;
    }

    static final Probe FILE_STORE = directory -> {
        FileStore store = Files.getFileStore(directory);
        return store.getUsableSpace();
    };

    private final Path directory;
    private final Probe probe;
    private long usable;
    private long usedSince;
    private long askedAt;

    DiskSpace(Path directory, Probe probe) {
        this.directory = directory;
        this.probe = probe;
        refresh();
    }

    /** True if {@code bytes} more fit with the reserve to spare; callers hold the ledger's lock. */
    boolean fits(long bytes) {
        if (usable - usedSince - bytes < RESERVE_BYTES || usedSince > usable / 4
                || System.nanoTime() - askedAt > MAX_AGE_NANOS) {
            refresh();
        }
        return usable - usedSince - bytes >= RESERVE_BYTES;
    }

    void used(long bytes) {
        usedSince += bytes;
    }

    long usableBytes() {
        return usable - usedSince;
    }

    private void refresh() {
        try {
            usable = probe.usableBytes(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot ask how much space the disk of " + directory + " has", e);
        }
        usedSince = 0;
        askedAt = System.nanoTime();
    }
}
