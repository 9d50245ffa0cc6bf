package dev.runledger.projections;

import dev.runledger.ledger.ExclusiveFileLock;
import dev.runledger.ledger.Journal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.stream.Stream;

/**
 * One projection file and everything that lives beside it: its lock ({@code FILE.lock}), a rebuild in
 * progress ({@code FILE.rebuild}), the old file during a swap ({@code FILE.bak}), SQLite's {@code -wal}
 * and {@code -shm}, and verify's scratch directories ({@code .verify-FILE-*}); its metadata rows; and the
 * atomic replace that puts a rebuilt file in place. Every class that touches these names goes through here.
 */
final class ProjectionFile {
    static final String SCHEMA_VERSION = "schema_version";
    static final String JOURNAL_ID = "journal_id";
    static final String CHECKPOINT_INDEX = "checkpoint_index";
    private static final String VERIFY_PREFIX = ".verify-";

    private final Path file;

    ProjectionFile(Path file) {
        this.file = file.toAbsolutePath().normalize();
    }

    Path path() {
        return file;
    }

    /** The name used in logs, thread names and messages. */
    String name() {
        return file.getFileName().toString();
    }

    Path rebuildPath() {
        return sibling(".rebuild");
    }

    private Path sibling(String suffix) {
        return file.resolveSibling(file.getFileName() + suffix);
    }

    boolean exists() {
        return Files.exists(file);
    }

    /** One projector (or rebuild) per file: a second writer would corrupt the checkpoint. */
    ExclusiveFileLock lock() {
        return ExclusiveFileLock.acquire(sibling(".lock"), "projection " + file + " is in use by another projector");
    }

    /** The metadata rows as written; fails if the file is not a projection or cannot be read. */
    Meta readMeta() throws SQLException {
        try (Connection c = Sqlite.openReader(file)) {
            if (!Sqlite.hasTable(c, "projection_meta")) {
                throw new SQLException(file + " is not a Run Ledger projection (no projection_meta table)");
            }
            String version = Sqlite.meta(c, SCHEMA_VERSION);
            String checkpoint = Sqlite.meta(c, CHECKPOINT_INDEX);
            try {
                return new Meta(version == null ? -1 : Integer.parseInt(version), Sqlite.meta(c, JOURNAL_ID),
                        checkpoint == null ? Journal.NONE : Long.parseLong(checkpoint));
            } catch (NumberFormatException e) {
                throw new SQLException(file + " has a malformed projection_meta row: " + e.getMessage(), e);
            }
        }
    }

    /** What a file says about itself: the schema version it was built at, its journal and checkpoint. */
    record Meta(int schemaVersion, String journalId, long checkpoint) {
        boolean knownSchema() {
            return Schema.isKnown(schemaVersion);
        }
    }

    /** The metadata of a new, empty projection: built from {@code journalId}, nothing applied yet. */
    static void writeInitialMeta(Connection c, int schemaVersion, String journalId) throws SQLException {
        Sqlite.putMeta(c, SCHEMA_VERSION, Integer.toString(schemaVersion));
        Sqlite.putMeta(c, JOURNAL_ID, journalId);
        Sqlite.putMeta(c, CHECKPOINT_INDEX, Long.toString(Journal.NONE));
    }

    /**
     * Removes what an interrupted rebuild or swap left (a partial {@code FILE.rebuild}, a {@code FILE.bak});
     * true if anything was there. Callers hold the lock.
     */
    boolean removeLeftovers() throws IOException {
        boolean found = deleteWithCompanions(rebuildPath());
        return Files.deleteIfExists(sibling(".bak")) || found;
    }

    /**
     * A scratch directory beside the file for a verify replay, locked while in use. A verify killed with
     * {@code kill -9} leaves its directory behind but not its lock (the OS drops it), so the next verify
     * removes every unlocked one.
     */
    Scratch createScratch() throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (!Files.isWritable(parent)) {
            // A reader account verifying the owner's projection: the replay goes to the system's temporary
            // directory instead (same disk or not, it is only read back and deleted).
            Path dir = Files.createTempDirectory(VERIFY_PREFIX + name() + "-");
            return new Scratch(dir, ExclusiveFileLock.acquire(dir.resolve(".lock"), "verify scratch " + dir + " is in use"));
        }
        removeStaleScratch();
        Path dir = Files.createTempDirectory(file.getParent(), VERIFY_PREFIX + name() + "-");
        return new Scratch(dir, ExclusiveFileLock.acquire(dir.resolve(".lock"), "verify scratch " + dir + " is in use"));
    }

    private void removeStaleScratch() throws IOException {
        List<Path> dirs;
        try (Stream<Path> siblings = Files.list(file.getParent())) {
            dirs = siblings.filter(p -> p.getFileName().toString().startsWith(VERIFY_PREFIX + name() + "-")
                    && Files.isDirectory(p)).toList();
        }
        for (Path dir : dirs) {
            ExclusiveFileLock lock;
            try {
                lock = ExclusiveFileLock.acquire(dir.resolve(".lock"), "verify scratch " + dir + " is in use");
            } catch (IllegalStateException inUse) {
                continue; // a verify running now
            }
            try (lock) {
                deleteContents(dir);
            }
            Files.deleteIfExists(dir.resolve(".lock"));
            Files.deleteIfExists(dir);
        }
    }

    /** A verify's scratch directory: deleted, with its lock released, when closed. */
    static final class Scratch implements AutoCloseable {
        private final Path dir;
        private final ExclusiveFileLock lock;

        private Scratch(Path dir, ExclusiveFileLock lock) {
            this.dir = dir;
            this.lock = lock;
        }

        Path resolve(String name) {
            return dir.resolve(name);
        }

        @Override
        public void close() throws IOException {
            try {
                deleteContents(dir);
            } finally {
                lock.close();
                Files.deleteIfExists(dir.resolve(".lock"));
                Files.deleteIfExists(dir);
            }
        }
    }

    private static void deleteContents(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!f.getFileName().toString().equals(".lock")) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    /**
     * Atomically puts {@code built} in place of this file, keeping the old file as {@code .bak} until the
     * rename has happened. A stale WAL beside the target would be replayed into the new file, so it goes
     * first; losing it only rolls the old file back to its last checkpointed transaction.
     */
    void replaceWith(Path built) throws IOException {
        fsync(built);
        Path backup = sibling(".bak");
        Files.deleteIfExists(backup);
        if (Files.exists(file)) {
            Files.createLink(backup, file);
        }
        Files.deleteIfExists(sibling("-wal"));
        Files.deleteIfExists(sibling("-shm"));
        Files.move(built, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncDirectory(file.getParent());
        Files.deleteIfExists(backup);
    }

    /**
     * Renames an unreadable file (and its WAL) to {@code FILE.corrupt-<UTC time>}, keeping it for a person
     * to look at while a rebuild makes a new one. Returns the new name.
     */
    Path moveAside() throws IOException {
        String stamp = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
                .withZone(java.time.ZoneOffset.UTC).format(java.time.Instant.now());
        Path aside = sibling(".corrupt-" + stamp);
        Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
        for (String suffix : new String[] {"-wal", "-shm"}) {
            Path companion = sibling(suffix);
            if (Files.exists(companion)) {
                Files.move(companion, aside.resolveSibling(aside.getFileName() + suffix), StandardCopyOption.ATOMIC_MOVE);
            }
        }
        fsyncDirectory(file.getParent());
        return aside;
    }

    /** Removes a SQLite file and its companions; true if the file itself was there. */
    static boolean deleteWithCompanions(Path sqliteFile) throws IOException {
        boolean existed = Files.deleteIfExists(sqliteFile);
        for (String suffix : new String[] {"-wal", "-shm", "-journal"}) {
            Files.deleteIfExists(sqliteFile.resolveSibling(sqliteFile.getFileName() + suffix));
        }
        return existed;
    }

    private static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // not every platform can open a directory; the rename itself is still atomic
        }
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
