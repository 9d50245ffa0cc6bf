package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;
import dev.runledger.ledger.ReaderPositions;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Tails the journal into the projection: reads entries after the checkpoint, applies up to
 * {@code maxBatchEvents} of them, commits them with their checkpoint in one transaction, and repeats.
 * A failed batch rolls back whole (rows and checkpoint together), goes to the failure handler, and is
 * retried from the last checkpoint with backoff; a poison event in strict mode commits the good prefix
 * and stops. The counterpart of the Disruptor's {@code BatchEventProcessor}: run it on its own thread.
 */
final class Projector implements Runnable {
    private static final long MAX_BACKOFF_MILLIS = 5_000;

    /** What the owner of the projection learns from its projector. */
    interface Listener {
        /** Every entry up to {@code lastIndex} is committed and visible to readers. */
        void committed(long lastIndex);

        /** A batch failed: {@code fatal} when the projector stops, otherwise it retries (unless told to stop). */
        void failed(Throwable error, boolean fatal);

        /** The projection holds nothing of the runs the journal's compactions up to {@code compactions} dropped. */
        default void tidied(long compactions) {
        }
    }

    /** Opens the projector's writer connection; called again after a failure, since a failed connection can lie. */
    @FunctionalInterface
    interface WriterFactory {
        Connection open() throws SQLException;
    }

    private final ProjectionConfig config;
    private final Journal journal;
    private final WriterFactory writers;
    private Connection writer;
    private ApplyEngine engine;
    private final ProjectionMetrics metrics;
    private final Listener listener;
    private volatile boolean running = true;
    private long applied;
    private long reportedHandled;
    private long reportedQuarantined;
    /** When this projection last told the journal how far it has read (for compaction); at most once a second. */
    private long positionRecordedNanos;
    private long positionRecorded = Long.MIN_VALUE;
    private boolean positionWarned;
    /** The journal's compaction count this projection last tidied after (see {@link #tidyAfterCompaction}). */
    private long tidied;

    /** Opens its first writer now (so a file that cannot be opened fails the caller); closes it when {@link #run()} ends. */
    Projector(ProjectionConfig config, WriterFactory writers, ProjectionMetrics metrics, long checkpoint, Listener listener)
            throws SQLException {
        this.config = config;
        this.journal = config.journal();
        this.writers = writers;
        openWriter();
        try {
            Schema.ensureIndexes(writer); // a file made before an index was added gets it once, here
            if (!writer.getAutoCommit()) {
                writer.commit();
            }
        } catch (SQLException e) {
            closeWriter();
            throw e;
        }
        this.metrics = metrics;
        this.applied = checkpoint;
        this.listener = listener;
    }

    private void openWriter() throws SQLException {
        writer = writers.open();
        try {
            engine = new ApplyEngine(writer, config.name(), config.strict(), config.maxCachedRuns());
        } catch (SQLException e) {
            writer.close();
            throw e;
        }
    }

    /**
     * After a failure the connection is not trusted again. SQLite rolls a whole transaction back by itself
     * on some errors (a full disk, an I/O error); sqlite-jdbc's rollback() then fails before it can begin
     * the next transaction, and the connection silently autocommits every later statement: rows landed
     * past the checkpoint and commit() failed forever. A fresh connection starts clean.
     */
    private void reopenWriter() {
        engine.rollback();
        closeWriter();
        try {
            openWriter();
        } catch (SQLException e) {
            engine = null;
            writer = null;
            throw new IllegalStateException("cannot reopen the projection's writer: " + e.getMessage(), e);
        }
    }

    private void closeWriter() {
        try {
            if (engine != null) {
                engine.close();
            }
        } catch (SQLException ignored) {
            // statements of a connection being discarded
        }
        try {
            if (writer != null) {
                writer.close();
            }
        } catch (SQLException ignored) {
            // a broken connection is being discarded anyway
        }
    }

    /** Asks the loop to stop after its current batch; {@link #run()} then commits nothing more and returns. */
    void stop() {
        running = false;
    }

    /** Quarantined events committed so far by this projector. */
    long quarantined() {
        return reportedQuarantined;
    }

    /**
     * Forgets the deleted runs a compaction has since dropped from the journal: their tombstones (run id,
     * deletion index) served to refuse late events of the deleted run, and no such event is left. A fresh
     * replay of the compacted journal has none of them, and an erased run's id must not outlive it here.
     * Runs once as the projector starts; a tombstone's deletion is looked up where it was appended.
     */
    void forgetCompactedDeletions() throws SQLException {
        java.util.List<String> gone = new java.util.ArrayList<>();
        try (java.sql.Statement st = writer.createStatement();
             java.sql.ResultSet rs = st.executeQuery("SELECT run_id, deleted_index FROM run_tombstones")) {
            while (rs.next()) {
                long index = rs.getLong(2);
                try (JournalReader r = journal.readFrom(index)) {
                    JournalEntry at = r.next();
                    if (at == null || at.index() != index || at instanceof JournalEntry.Compacted) {
                        gone.add(rs.getString(1));
                    }
                }
            }
        }
        if (gone.isEmpty()) {
            // Ends the read transaction the query opened: a snapshot held across the WAL truncation that follows a
            // compaction made the next batch fail with SQLITE_BUSY_SNAPSHOT (seen in CompactionModelTest).
            writer.commit();
            return;
        }
        try (java.sql.PreparedStatement del = writer.prepareStatement("DELETE FROM run_tombstones WHERE run_id = ?")) {
            for (String runId : gone) {
                del.setString(1, runId);
                del.addBatch();
            }
            del.executeBatch();
        }
        writer.commit();
        org.slf4j.LoggerFactory.getLogger(Projector.class).info("projection {} - forgot {} deleted run(s) that compaction"
                + " dropped from the journal", config.name(), gone.size());
    }

    /**
     * The journal was compacted while open: the tombstones of runs it dropped go, and the WAL is emptied,
     * since its older page images still hold their rows (the file itself was zeroed by secure_delete).
     */
    private void tidyAfterCompaction() throws SQLException {
        long compactions = journal.compactions();
        forgetCompactedDeletions();
        if (!Sqlite.truncateWal(config.database(), java.time.Duration.ofSeconds(5))) {
            org.slf4j.LoggerFactory.getLogger(Projector.class).warn("projection {} - readers kept the WAL busy for 5 s;"
                    + " deleted rows' older page images stay in it until the next checkpoint", config.name());
        }
        tidied = compactions;
        listener.tidied(compactions);
    }

    @Override
    public void run() {
        String worker = Thread.currentThread().getName();
        tidied = journal.compactions();
        try {
            forgetCompactedDeletions();
        } catch (SQLException | RuntimeException e) {
            config.failureHandler().onFailure(worker, "cannot forget the deletions compaction dropped; they stay", e);
        }
        listener.tidied(tidied);
        JournalReader reader = journal.readAfter(applied);
        long lastLagCheck = 0;
        long backoffMillis = 100;
        try {
            while (running) {
                try {
                    if (engine == null) {
                        reopenWriter(); // the last attempt to reopen failed: try again
                    }
                    if (journal.compactions() != tidied) {
                        tidyAfterCompaction();
                    }
                    JournalEntry entry = reader.next(config.pollInterval());
                    if (entry != null) {
                        batch(reader, entry);
                        backoffMillis = 100;
                    } else {
                        recordPosition(); // idle: a compaction waiting for this reader need not wait a second more
                    }
                    long now = System.nanoTime();
                    if (entry == null || now - lastLagCheck > 100_000_000L) {
                        lastLagCheck = now;
                        zeroLagSecondsWhenCaughtUp();
                    }
                } catch (PoisonEventException poison) {
                    listener.failed(poison, true);
                    config.failureHandler().onFailure(worker, "stopped at a poison event (strict mode); checkpoint "
                            + applied, poison);
                    return;
                } catch (Exception e) {
                    listener.failed(e, false);
                    if (!running) {
                        return; // the owner stopped us from the listener (the file is being set aside)
                    }
                    config.failureHandler().onFailure(worker, "cannot apply batch after checkpoint " + applied
                            + "; retrying in " + backoffMillis + " ms", e);
                    reader.close();
                    try {
                        if (engine != null) {
                            reopenWriter();
                        }
                    } catch (RuntimeException reopen) {
                        config.failureHandler().onFailure(worker, "cannot reopen the writer; retrying", reopen);
                    }
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
                    backoffMillis = Math.min(backoffMillis * 2, MAX_BACKOFF_MILLIS);
                    reader = journal.readAfter(applied);
                }
            }
        } finally {
            reader.close();
            closeWriter();
            recordPosition(); // the final checkpoint
        }
    }

    /** Applies {@code first} and what follows it without waiting, up to the batch size, then commits. */
    private void batch(JournalReader reader, JournalEntry first) throws SQLException {
        JournalEntry entry = first;
        long last = Journal.NONE;
        long appendedAt = 0;
        int n = 0;
        try {
            do {
                engine.apply(entry);
                last = entry.index();
                if (entry instanceof JournalEntry.Event ev) {
                    appendedAt = ev.appendedAtMicros();
                }
                n++;
            } while (n < config.maxBatchEvents() && (entry = reader.next()) != null);
        } catch (PoisonEventException poison) {
            commit(last, n);
            throw poison;
        }
        commit(last, n);
        metrics.lagSeconds = appendedAt == 0 ? 0 : Math.max(0, (System.currentTimeMillis() * 1000 - appendedAt) / 1e6);
    }

    private void commit(long last, int n) throws SQLException {
        if (n == 0 || last == Journal.NONE) {
            return;
        }
        engine.commit(last);
        applied = last;
        metrics.batchSize.record(n);
        long handled = engine.applied() + engine.quarantined();
        metrics.applied.increment(handled - reportedHandled);
        metrics.quarantined.increment(engine.quarantined() - reportedQuarantined);
        reportedHandled = handled;
        reportedQuarantined = engine.quarantined();
        listener.committed(last); // last: whoever waits for this index then also sees the counters that include it
        long now = System.nanoTime();
        if (now - positionRecordedNanos > 1_000_000_000L) {
            recordPosition();
            positionRecordedNanos = now;
        }
    }

    /**
     * Tells the journal how far this projection has read ({@link ReaderPositions}), so that compaction
     * never drops a deletion it has not applied. Only the checkpoint committed is ever recorded, so the
     * position may lag, never lead. A failure is logged; compaction then waits on the older position.
     */
    void recordPosition() {
        if (applied == positionRecorded || applied == Journal.NONE) {
            return;
        }
        try {
            ReaderPositions.record(journal.directory(), readerName(config), applied);
            positionRecorded = applied;
        } catch (RuntimeException e) {
            if (!positionWarned) { // a read-only journal directory would say so every second otherwise
                positionWarned = true;
                org.slf4j.LoggerFactory.getLogger(Projector.class).warn("projection {} - cannot record its position {} in {};"
                        + " compaction will not know how far it has read", config.name(), applied, journal.directory(), e);
            }
        }
    }

    /** {@code projection-<file name>-<hash of its path>}: stable for one file, distinct for two of the same name. */
    static String readerName(ProjectionConfig config) {
        Path file = config.database().toAbsolutePath().normalize();
        String name = file.getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_");
        return "projection-" + (name.length() > 60 ? name.substring(0, 60) : name) + "-"
                + Integer.toHexString(file.toString().hashCode());
    }

    /** The lag in seconds is the last batch's age; once nothing is left to apply, it is 0. */
    private void zeroLagSecondsWhenCaughtUp() {
        if (applied >= journal.headIndex()) {
            metrics.lagSeconds = 0;
        }
    }
}
