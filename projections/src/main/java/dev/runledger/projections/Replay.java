package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Replays a journal into a brand-new projection file with bulk-load settings: no rollback journal, no
 * syncs, query-only indexes built once after the load, one fsync at the end. Safe because nobody opens
 * the file until it is complete and renamed into place.
 */
final class Replay {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Replay.class);
    /** Events per transaction: large enough to amortize commits, small enough to bound folded state. */
    static final int BATCH = 50_000;
    static final long TO_HEAD = Long.MAX_VALUE;

    record Outcome(long events, long runs, long commands, long quarantined, long lastIndex) {
    }

    @FunctionalInterface
    interface Progress {
        void update(long done, long total);
    }

    private Replay() {
    }

    /**
     * Builds {@code file} (which must not exist) from the journal's start up to {@code untilIndex}
     * inclusive: {@link #TO_HEAD} replays everything there is, {@link Journal#NONE} nothing.
     */
    static Outcome build(String name, Journal journal, Path file, int schemaVersion, boolean strict, int threads, long untilIndex,
                         Progress progress, BooleanSupplier cancelled) throws SQLException, IOException, InterruptedException {
        long head = untilIndex == TO_HEAD ? journal.headIndex() : untilIndex;
        long total = journal.countBetween(Journal.NONE, head);
        long events = 0;
        long last = Journal.NONE;
        ApplyEngine engine;
        long t0 = System.nanoTime();
        try (Connection c = Sqlite.openBulkLoader(file)) {
            Schema.create(c, schemaVersion, false);
            Sqlite.putMeta(c, "schema_version", Integer.toString(schemaVersion));
            Sqlite.putMeta(c, "journal_id", journal.id());
            Sqlite.putMeta(c, "checkpoint_index", Long.toString(Journal.NONE));
            engine = new ApplyEngine(c, name, strict, 50_000);
            try (EntrySource source = threads > 1 ? new PipelinedSource(journal) : new DirectSource(journal)) {
                int inBatch = 0;
                progress.update(0, total);
                while (true) {
                    if (cancelled.getAsBoolean()) {
                        throw new InterruptedException("rebuild of " + file + " cancelled");
                    }
                    JournalEntry entry = source.next();
                    if (entry == null || entry.index() > untilIndex) {
                        break;
                    }
                    engine.apply(entry);
                    last = entry.index();
                    events++;
                    if (++inBatch == BATCH) {
                        engine.flush(last);
                        c.commit();
                        engine.afterCommit();
                        inBatch = 0;
                        progress.update(events, Math.max(total, events));
                    }
                }
                engine.flush(last);
                c.commit();
            }
            long loaded = System.nanoTime();
            Schema.createSecondaryIndexes(c, schemaVersion);
            c.commit();
            LOG.debug("replay into {}: load {} ms, secondary indexes {} ms", file.getFileName(),
                    (loaded - t0) / 1_000_000, (System.nanoTime() - loaded) / 1_000_000);
            long runs;
            long commands;
            try (Statement s = c.createStatement()) {
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM runs")) {
                    rs.next();
                    runs = rs.getLong(1);
                }
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM run_commands")) {
                    rs.next();
                    commands = rs.getLong(1);
                }
            }
            engine.close();
            progress.update(events, events);
            c.commit();
            fsync(file);
            return new Outcome(events, runs, commands, engine.quarantined(), last);
        }
    }

    static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // not every platform can open a directory; the rename itself is still atomic
        }
    }

    /** Removes a projection file and its WAL companions. */
    static void deleteWithCompanions(Path file) throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(file.resolveSibling(file.getFileName() + "-wal"));
        Files.deleteIfExists(file.resolveSibling(file.getFileName() + "-shm"));
        Files.deleteIfExists(file.resolveSibling(file.getFileName() + "-journal"));
    }

    private interface EntrySource extends AutoCloseable {
        JournalEntry next() throws InterruptedException;

        @Override
        void close();
    }

    private static final class DirectSource implements EntrySource {
        private final JournalReader reader;

        DirectSource(Journal journal) {
            reader = journal.readFrom(Journal.NONE);
        }

        @Override
        public JournalEntry next() {
            return reader.next();
        }

        @Override
        public void close() {
            reader.close();
        }
    }

    /**
     * Reads and decodes on a second thread while this one writes SQLite: on two cores the decode
     * (copying excerpts, building records) overlaps the inserts instead of adding to them.
     */
    private static final class PipelinedSource implements EntrySource {
        private static final List<JournalEntry> END = List.of();
        private final BlockingQueue<List<JournalEntry>> queue = new ArrayBlockingQueue<>(8);
        private final Thread thread;
        private volatile Throwable failure;
        private volatile boolean stop;
        private List<JournalEntry> current = new ArrayList<>();
        private int pos;

        PipelinedSource(Journal journal) {
            thread = new Thread(() -> {
                try (JournalReader reader = journal.readFrom(Journal.NONE)) {
                    List<JournalEntry> chunk = new ArrayList<>(1024);
                    JournalEntry e;
                    while (!stop && (e = reader.next()) != null) {
                        chunk.add(e);
                        if (chunk.size() == 1024) {
                            queue.put(chunk);
                            chunk = new ArrayList<>(1024);
                        }
                    }
                    if (!chunk.isEmpty()) {
                        queue.put(chunk);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    try {
                        while (!queue.offer(END, 100, TimeUnit.MILLISECONDS) && !stop) {
                            // the consumer is still draining
                        }
                    } catch (InterruptedException ignored) {
                        Thread.currentThread().interrupt();
                    }
                }
            }, "runledger-rebuild-reader");
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public JournalEntry next() throws InterruptedException {
            if (pos == current.size()) {
                if (current == END) {
                    return null;
                }
                current = queue.take();
                pos = 0;
                if (current == END) {
                    if (failure != null) {
                        throw new IllegalStateException("rebuild reader thread failed: " + failure, failure);
                    }
                    return null;
                }
            }
            return current.get(pos++);
        }

        @Override
        public void close() {
            stop = true;
            queue.clear();
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
