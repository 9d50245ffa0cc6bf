package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;

import java.nio.file.Path;
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
 * syncs, query-only indexes built once after the load. Safe because nobody opens the file until it is
 * complete; {@link ProjectionFile#replaceWith} syncs it before renaming it into place.
 */
final class Replay {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Replay.class);
    /** Events per transaction: large enough to amortize commits, small enough to bound folded state. */
    static final int BATCH = 50_000;
    static final long TO_HEAD = Long.MAX_VALUE;

    record Outcome(long events, long runs, long commands, long quarantined, long lastIndex) {
    }

    /**
     * What to replay where: the journal from its start up to {@code untilIndex} inclusive ({@link #TO_HEAD}
     * replays everything there is, {@link Journal#NONE} nothing) into {@code file}, which must not exist.
     *
     * @param name    the projection's name, for quarantine messages
     * @param threads 1 decodes on the writing thread; 2 or more decode on a second thread (more adds nothing)
     */
    record Options(String name, Journal journal, Path file, int schemaVersion, boolean strict, int threads,
                   long untilIndex, BooleanSupplier cancelled) {
    }

    private Replay() {
    }

    static Outcome build(Options o, Rebuild.ProgressListener progress) throws SQLException, InterruptedException {
        Journal journal = o.journal();
        long head = o.untilIndex() == TO_HEAD ? journal.headIndex() : o.untilIndex();
        long total = journal.countBetween(Journal.NONE, head);
        long events = 0;
        long last = Journal.NONE;
        long t0 = System.nanoTime();
        try (Connection c = Sqlite.openBulkLoader(o.file())) {
            Schema.create(c, o.schemaVersion(), false);
            ProjectionFile.writeInitialMeta(c, o.schemaVersion(), journal.id());
            try (ApplyEngine engine = new ApplyEngine(c, o.name(), o.strict(), 50_000);
                 EntrySource source = o.threads() > 1 ? new PipelinedSource(journal) : new DirectSource(journal)) {
                int inBatch = 0;
                progress.onProgress(0, total);
                while (true) {
                    if (o.cancelled().getAsBoolean()) {
                        throw new InterruptedException("rebuild of " + o.file() + " cancelled");
                    }
                    JournalEntry entry = source.next();
                    if (entry == null || entry.index() > o.untilIndex()) {
                        break;
                    }
                    engine.apply(entry);
                    last = entry.index();
                    events++;
                    if (++inBatch == BATCH) {
                        engine.commit(last);
                        inBatch = 0;
                        progress.onProgress(events, Math.max(total, events));
                    }
                }
                engine.commit(last);
                long loaded = System.nanoTime();
                Schema.createSecondaryIndexes(c, o.schemaVersion());
                c.commit();
                LOG.debug("replay into {}: load {} ms, secondary indexes {} ms", o.file().getFileName(),
                        (loaded - t0) / 1_000_000, (System.nanoTime() - loaded) / 1_000_000);
                long runs = count(c, "runs");
                long commands = count(c, "run_commands");
                c.commit();
                progress.onProgress(events, events);
                return new Outcome(events, runs, commands, engine.quarantined(), last);
            }
        }
    }

    private static long count(Connection c, String table) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
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
