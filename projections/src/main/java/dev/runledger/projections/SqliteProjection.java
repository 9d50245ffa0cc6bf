package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.JournalReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The live projection: one writer connection owned by the projector thread, a pool of readers, and a
 * rebuild thread when the file must first be built (missing, or of another schema version).
 */
final class SqliteProjection implements Projection {
    private static final Logger LOG = LoggerFactory.getLogger(SqliteProjection.class);

    private final ProjectionConfig config;
    private final Journal journal;
    private final Path file;
    private final String name;
    private final FileChannel lockChannel;
    private final ProjectionMetrics metrics;
    private final Object appliedMonitor = new Object();
    private volatile ReadPool readPool;
    /** Resolves the current pool per call, so queries follow a swap (or fail 503-style before the first file). */
    private final RunQueries queries = new DelegatingQueries(() -> new SqliteRunQueries(pool()));
    private volatile long appliedIndex = Journal.NONE;
    private volatile ProjectionStatus.State state = ProjectionStatus.State.RUNNING;
    private volatile String lastError;
    private volatile boolean running = true;
    private volatile int schemaVersion;
    private Thread worker;
    private volatile long quarantinedTotal;
    private long reportedHandled;

    private SqliteProjection(ProjectionConfig config, FileChannel lockChannel) {
        this.config = config;
        this.journal = config.journal();
        this.file = config.database();
        this.name = config.name();
        this.lockChannel = lockChannel;
        this.metrics = new ProjectionMetrics(config.meterRegistry(), name);
    }

    static SqliteProjection open(ProjectionConfig config) {
        Path file = config.database();
        FileChannel lock = lockFile(file);
        SqliteProjection p = new SqliteProjection(config, lock);
        try {
            p.start();
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** One projector per file: a second process writing the same file would corrupt its checkpoint. */
    static FileChannel lockFile(Path file) {
        Path lockPath = file.resolveSibling(file.getFileName() + ".lock");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            FileChannel ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                ch.close();
                throw new IllegalStateException("projection " + file + " is in use by another projector (" + lockPath
                        + " is locked)");
            }
            return ch;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock projection " + file, e);
        }
    }

    private void start() {
        Path partial = rebuildFile(file);
        try {
            if (Files.exists(partial)) {
                LOG.warn("projection {} - removing {} left by an interrupted rebuild", name, partial.getFileName());
                Replay.deleteWithCompanions(partial);
            }
            FileState existing = inspect(file);
            if (existing.journalId != null && !existing.journalId.equals(journal.id())) {
                throw new IllegalStateException("projection " + file + " was built from journal " + existing.journalId
                        + ", not from " + journal + "; rebuild it with: runledger rebuild");
            }
            if (existing.version == config.schemaVersion()) {
                startProjecting(existing.checkpoint);
                return;
            }
            if (!existing.exists && journal.headIndex() == Journal.NONE) {
                createEmpty();
                startProjecting(Journal.NONE);
                return;
            }
            // Another schema version, an unreadable file, or a first build over a non-empty journal.
            if (existing.readable) {
                readPool = new ReadPool(name, file, config.readers());
                appliedIndex = existing.checkpoint;
            }
            schemaVersion = existing.version;
            state = ProjectionStatus.State.REBUILDING;
            LOG.info("projection {} - {}; rebuilding at schema version {} beside it{}", name,
                    existing.exists ? "file has schema version " + existing.version : "file does not exist",
                    config.schemaVersion(), existing.readable ? " while the old file keeps serving" : "");
            worker = new Thread(this::rebuildThenProject, "runledger-rebuild-" + name);
            worker.setUncaughtExceptionHandler(this::uncaught);
            worker.start();
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("projection " + file + " - cannot open: " + e.getMessage(), e);
        }
    }

    static Path rebuildFile(Path file) {
        return file.resolveSibling(file.getFileName() + ".rebuild");
    }

    private record FileState(boolean exists, boolean readable, int version, String journalId, long checkpoint) {
    }

    private static FileState inspect(Path file) {
        if (!Files.exists(file)) {
            return new FileState(false, false, -1, null, Journal.NONE);
        }
        try (Connection c = Sqlite.openReader(file)) {
            if (!Sqlite.hasTable(c, "projection_meta")) {
                return new FileState(true, false, -1, null, Journal.NONE);
            }
            String version = Sqlite.meta(c, "schema_version");
            String journalId = Sqlite.meta(c, "journal_id");
            String checkpoint = Sqlite.meta(c, "checkpoint_index");
            int v = version == null ? -1 : Integer.parseInt(version);
            return new FileState(true, Schema.isKnown(v), v, journalId,
                    checkpoint == null ? Journal.NONE : Long.parseLong(checkpoint));
        } catch (SQLException | NumberFormatException e) {
            LOG.warn("projection {} - unreadable ({}); it will be rebuilt", file, e.getMessage());
            return new FileState(true, false, -1, null, Journal.NONE);
        }
    }

    private void createEmpty() throws SQLException {
        try (Connection c = Sqlite.openWriter(file)) {
            Schema.create(c, config.schemaVersion(), true);
            Sqlite.putMeta(c, "schema_version", Integer.toString(config.schemaVersion()));
            Sqlite.putMeta(c, "journal_id", journal.id());
            Sqlite.putMeta(c, "checkpoint_index", Long.toString(Journal.NONE));
            c.commit();
        }
    }

    private void startProjecting(long checkpoint) throws SQLException {
        if (readPool == null) {
            readPool = new ReadPool(name, file, config.readers());
        }
        schemaVersion = config.schemaVersion();
        Connection writer = Sqlite.openWriter(file);
        ApplyEngine engine = new ApplyEngine(writer, name, config.strict(), config.maxCachedRuns());
        publish(checkpoint);
        state = ProjectionStatus.State.RUNNING;
        LOG.info("projection {} - projecting {} from checkpoint {} (schema version {}, head {})", name, journal,
                checkpoint, schemaVersion, journal.headIndex());
        worker = new Thread(() -> project(writer, engine), "runledger-projector-" + name);
        worker.setUncaughtExceptionHandler(this::uncaught);
        worker.start();
    }

    private void uncaught(Thread t, Throwable e) {
        state = ProjectionStatus.State.FAILED;
        lastError = String.valueOf(e);
        config.failureHandler().onFailure(t.getName(), "worker thread died", e);
    }

    private void project(Connection writer, ApplyEngine engine) {
        JournalReader reader = journal.readAfter(appliedIndex);
        long lastLagCheck = 0;
        long backoffMillis = 100;
        try {
            while (running) {
                long batchLast = Journal.NONE;
                try {
                    JournalEntry entry = reader.next(config.pollInterval());
                    if (entry != null) {
                        int n = 0;
                        long appendedAt = 0;
                        try {
                            do {
                                engine.apply(entry);
                                batchLast = entry.index();
                                if (entry instanceof JournalEntry.Event ev) {
                                    appendedAt = ev.appendedAtMicros();
                                }
                                n++;
                            } while (n < config.maxBatchEvents() && (entry = reader.next()) != null);
                        } catch (PoisonEventException poison) {
                            commitBatch(writer, engine, batchLast, n);
                            throw poison;
                        }
                        commitBatch(writer, engine, batchLast, n);
                        metrics.lagSeconds = appendedAt == 0 ? 0
                                : Math.max(0, (System.currentTimeMillis() * 1000 - appendedAt) / 1e6);
                        backoffMillis = 100;
                    }
                    long now = System.nanoTime();
                    if (entry == null || now - lastLagCheck > 100_000_000L) {
                        lastLagCheck = now;
                        long lag = journal.countBetween(appliedIndex, journal.headIndex());
                        metrics.lagEvents.set(lag);
                        if (lag == 0) {
                            metrics.lagSeconds = 0;
                        }
                    }
                } catch (PoisonEventException poison) {
                    state = ProjectionStatus.State.FAILED;
                    lastError = poison.getMessage();
                    config.failureHandler().onFailure(Thread.currentThread().getName(),
                            "stopped at a poison event (strict mode); checkpoint " + appliedIndex, poison);
                    return;
                } catch (Exception e) {
                    rollbackQuietly(writer, engine);
                    lastError = e.toString();
                    config.failureHandler().onFailure(Thread.currentThread().getName(),
                            "cannot apply batch after checkpoint " + appliedIndex + "; retrying in " + backoffMillis + " ms", e);
                    reader.close();
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
                    backoffMillis = Math.min(backoffMillis * 2, 5_000);
                    reader = journal.readAfter(appliedIndex);
                }
            }
        } finally {
            reader.close();
            try {
                engine.close();
                writer.close();
            } catch (SQLException e) {
                config.failureHandler().onFailure(Thread.currentThread().getName(), "cannot close the writer", e);
            }
        }
    }

    private void commitBatch(Connection writer, ApplyEngine engine, long last, int n) throws SQLException {
        if (n == 0 || last == Journal.NONE) {
            return;
        }
        engine.flush(last);
        writer.commit();
        engine.afterCommit();
        metrics.batchSize.record(n);
        long handled = engine.applied() + engine.quarantined();
        metrics.applied.increment(handled - reportedHandled);
        metrics.quarantined.increment(engine.quarantined() - quarantinedTotal);
        reportedHandled = handled;
        quarantinedTotal = engine.quarantined();
        publish(last); // last: whoever waits for this index then also sees the counters that include it
    }

    private static void rollbackQuietly(Connection writer, ApplyEngine engine) {
        try {
            writer.rollback();
        } catch (SQLException ignored) {
            // the connection is broken; the retry reopens nothing but will fail loudly again
        }
        engine.afterRollback();
    }

    private void publish(long index) {
        synchronized (appliedMonitor) {
            appliedIndex = index;
            appliedMonitor.notifyAll();
        }
    }

    private void rebuildThenProject() {
        Path partial = rebuildFile(file);
        long started = System.nanoTime();
        try {
            Replay.deleteWithCompanions(partial);
            Replay.Outcome outcome = Replay.build(name, journal, partial, config.schemaVersion(), config.strict(), 2,
                    Replay.TO_HEAD, (done, total) -> {
                        metrics.rebuildProgress = total == 0 ? 1 : (double) done / total;
                    }, () -> !running);
            metrics.rebuildEvents.increment(outcome.events());
            LOG.info("projection {} - rebuilt {} events ({} runs, {} commands, {} quarantined) in {} ms; switching",
                    name, outcome.events(), outcome.runs(), outcome.commands(), outcome.quarantined(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            swapIn(partial);
            metrics.rebuildProgress = -1;
            startProjecting(outcome.lastIndex());
        } catch (InterruptedException e) {
            LOG.info("projection {} - rebuild cancelled by close", name);
        } catch (Exception e) {
            state = ProjectionStatus.State.FAILED;
            lastError = e instanceof PoisonEventException ? e.getMessage() : e.toString();
            config.failureHandler().onFailure(Thread.currentThread().getName(), "rebuild of " + file + " failed", e);
        }
    }

    /** Renames the finished file over the serving one, with no reader open on the old file. */
    private void swapIn(Path built) throws Exception {
        ReadPool pool = readPool != null ? readPool : new ReadPool(name, file, config.readers());
        pool.swap(file, ignored -> {
            replaceFile(built, file);
            return null;
        });
        readPool = pool;
    }

    /**
     * Atomically puts {@code built} in place of {@code target}, keeping the old file as {@code .bak}
     * until the rename has happened. A stale WAL beside the target would be replayed into the new file,
     * so it goes first; losing it only rolls the old file back to its last checkpointed transaction.
     */
    static void replaceFile(Path built, Path target) throws IOException {
        Path backup = target.resolveSibling(target.getFileName() + ".bak");
        Files.deleteIfExists(backup);
        if (Files.exists(target)) {
            Files.createLink(backup, target);
        }
        Files.deleteIfExists(target.resolveSibling(target.getFileName() + "-wal"));
        Files.deleteIfExists(target.resolveSibling(target.getFileName() + "-shm"));
        Files.move(built, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Replay.fsyncDirectory(target.toAbsolutePath().getParent());
        Files.deleteIfExists(backup);
    }

    @Override
    public RunQueries queries() {
        return queries;
    }

    @Override
    public long appliedIndex() {
        return appliedIndex;
    }

    @Override
    public boolean awaitApplied(long index, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (appliedMonitor) {
            while (appliedIndex < index) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !running) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(appliedMonitor, left);
            }
            return true;
        }
    }

    @Override
    public ProjectionStatus status() {
        long head = journal.headIndex();
        return new ProjectionStatus(name, journal.id(), head, appliedIndex, metrics.lagEvents.get(), schemaVersion, state,
                quarantinedTotal, metrics.rebuildProgress, lastError);
    }

    @Override
    public void close() {
        if (state == ProjectionStatus.State.RUNNING && running) {
            // Graceful: apply what the journal already holds, so the final checkpoint covers every append.
            try {
                awaitApplied(journal.headIndex(), Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        running = false;
        Thread w = worker;
        if (w != null) {
            try {
                w.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (w.isAlive()) {
                LOG.error("projection {} - worker {} did not stop within 30 s", name, w.getName());
            }
        }
        synchronized (appliedMonitor) {
            appliedMonitor.notifyAll();
        }
        if (readPool != null) {
            readPool.close();
        }
        metrics.close();
        state = ProjectionStatus.State.CLOSED;
        try {
            lockChannel.close();
        } catch (IOException e) {
            LOG.warn("projection {} - cannot release its lock file", name, e);
        }
    }

    private ReadPool pool() {
        ReadPool pool = readPool;
        if (pool == null) {
            throw new ProjectionUnavailableException("projection " + name + " is being built (" + Math.round(
                    Math.max(0, metrics.rebuildProgress) * 100) + "% done); no readable file yet",
                    Math.max(0, metrics.rebuildProgress));
        }
        return pool;
    }
}
