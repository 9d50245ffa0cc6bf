package dev.runledger.ledger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An operating-system lock on a file, held until closed: one process at a time appends to a journal
 * ({@code ledger.lock}) or projects into a SQLite file ({@code FILE.lock}). The OS drops it when the
 * process dies, so a {@code kill -9} never leaves a stale lock behind.
 */
public final class ExclusiveFileLock implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private ExclusiveFileLock(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock on {@code lockFile} (created, with its directory, if missing) without waiting.
     *
     * @param holder what the lock protects, for the message when another process (or this one) holds it:
     *               "journal /data/journal is already open for appending by another ledger"
     * @throws IllegalStateException if it is held, naming {@code holder} and the lock file
     */
    public static ExclusiveFileLock acquire(Path lockFile, String holder) {
        Path path = lockFile.toAbsolutePath().normalize();
        FileChannel channel = null;
        try {
            Files.createDirectories(path.getParent());
            channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException heldByThisProcess) {
                lock = null;
            }
            if (lock == null) {
                throw new IllegalStateException(holder + " (" + path + " is locked)");
            }
            return new ExclusiveFileLock(path, channel, lock);
        } catch (java.nio.file.AccessDeniedException e) {
            // The JDK's message is the bare path; say it is a permission problem, and whose directory.
            closeQuietly(channel);
            Path denied = e.getFile() == null ? path : Path.of(e.getFile());
            throw new UncheckedIOException("cannot lock " + path + ": permission denied: this user ("
                    + System.getProperty("user.name") + ") cannot write " + (Files.exists(denied) ? denied : denied.getParent())
                    + "; run as the user that owns it, or choose a directory this user can write", e);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("cannot lock " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** Releases the lock; closing the channel releases it even if the release itself fails. */
    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException | RuntimeException ignored) {
            // the channel close below releases it
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more can be done about a lock file that will not close
            }
        }
    }
}
