package dev.runledger.projections;

import dev.runledger.ledger.ExclusiveFileLock;
import dev.runledger.ledger.Journal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * The live projection's lifecycle: takes the file's lock, decides at open whether the file can be
 * projected into or must first be rebuilt (missing, or of another schema version) while the old one
 * serves, runs the {@link Projector} on a named thread, publishes what it has applied to waiting readers,
 * and stops it gracefully. The loop itself is the projector's; files and metadata are {@link ProjectionFile}'s.
 */
final class SqliteProjection implements Projection {
    private static final Logger LOG = LoggerFactory.getLogger(SqliteProjection.class);

    private final ProjectionConfig config;
    private final Journal journal;
    private final ProjectionFile file;
    private final String name;
    private final ExclusiveFileLock lock;
    private final ProjectionMetrics metrics;
    private final Object appliedMonitor = new Object();
    private volatile ReadPool readPool;
    /** Resolves the current pool per call, so queries follow a swap (or fail 503-style before the first file). */
    private final RunQueries queries = new DelegatingQueries(() -> new SqliteRunQueries(pool()));
    private volatile long appliedIndex = Journal.NONE;
    /** The journal's compactions the projector has followed (guarded by appliedMonitor). */
    private long tidiedCompactions;
    private volatile ProjectionStatus.State state = ProjectionStatus.State.RUNNING;
    private volatile String lastError;
    private volatile Instant degradedSince;
    private volatile boolean running = true;
    private volatile int schemaVersion;
    /** Guards starting a worker against close(): once closing, no new projector thread starts. */
    private final Object lifecycle = new Object();
    private volatile Projector projector;
    private volatile Thread worker;

    private SqliteProjection(ProjectionConfig config, ProjectionFile file, ExclusiveFileLock lock) {
        this.config = config;
        this.journal = config.journal();
        this.file = file;
        this.name = config.name();
        this.lock = lock;
        // The lag is counted when asked (here and in status()): a figure the projector kept went stale while it
        // slept in back-off after a failed batch, missing what was appended since.
        this.metrics = new ProjectionMetrics(config.meterRegistry(), name,
                () -> journal.countBetween(appliedIndex, journal.headIndex()));
    }

    static SqliteProjection open(ProjectionConfig config) {
        ProjectionFile file = new ProjectionFile(config.database());
        SqliteProjection p = new SqliteProjection(config, file, file.lock());
        try {
            p.start();
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    private void start() {
        try {
            if (file.removeLeftovers()) {
                LOG.warn("projection {} - removed what an interrupted rebuild left beside it", name);
            }
            ProjectionFile.Meta meta = null;
            if (file.exists()) {
                try {
                    meta = file.readMeta();
                } catch (SQLException e) {
                    Path aside = file.moveAside();
                    metrics.setAside.increment();
                    LOG.warn("projection {} - unreadable ({}); kept as {} and rebuilt from the journal", name,
                            e.getMessage(), aside.getFileName());
                }
            }
            if (meta != null && meta.journalId() != null && !meta.journalId().equals(journal.id())) {
                throw new IllegalStateException("projection " + file + " was built from journal " + meta.journalId()
                        + ", not from " + journal + "; rebuild it with: runledger rebuild");
            }
            if (meta != null && meta.schemaVersion() == config.schemaVersion()) {
                startProjecting(meta.checkpoint());
                return;
            }
            if (!file.exists() && journal.headIndex() == Journal.NONE) {
                createEmpty();
                startProjecting(Journal.NONE);
                return;
            }
            // Another schema version, an unreadable file, or a first build over a non-empty journal.
            boolean serving = meta != null && meta.knownSchema();
            if (serving) {
                readPool = new ReadPool(name, file.path(), config.readers());
                appliedIndex = meta.checkpoint();
            }
            schemaVersion = meta == null ? -1 : meta.schemaVersion();
            state = ProjectionStatus.State.REBUILDING;
            LOG.info("projection {} - {}; rebuilding at schema version {} beside it{}", name,
                    file.exists() ? "file has schema version " + schemaVersion : "file does not exist",
                    config.schemaVersion(), serving ? " while the old file keeps serving" : "");
            worker = new Thread(this::rebuildThenProject, "runledger-rebuild-" + name);
            worker.setUncaughtExceptionHandler(this::uncaught);
            worker.start();
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("projection " + file + " - cannot open: " + e.getMessage(), e);
        }
    }

    private void createEmpty() throws SQLException {
        try (Connection c = Sqlite.openWriter(file.path())) {
            Schema.create(c, config.schemaVersion(), true);
            ProjectionFile.writeInitialMeta(c, config.schemaVersion(), journal.id());
            c.commit();
        }
    }

    private void startProjecting(long checkpoint) throws SQLException {
        synchronized (lifecycle) {
            if (running) {
                startProjectorThread(checkpoint);
            }
        }
    }

    private void startProjectorThread(long checkpoint) throws SQLException {
        if (readPool == null) {
            readPool = new ReadPool(name, file.path(), config.readers());
        }
        schemaVersion = config.schemaVersion();
        Projector p = new Projector(config, config.writerFactory(), metrics, checkpoint, new Projector.Listener() {
            @Override
            public void committed(long lastIndex) {
                if (state == ProjectionStatus.State.DEGRADED) {
                    LOG.info("projection {} - recovered: batches commit again (checkpoint {})", name, lastIndex);
                    state = ProjectionStatus.State.RUNNING;
                    degradedSince = null;
                }
                publish(lastIndex);
            }

            @Override
            public void tidied(long compactions) {
                synchronized (appliedMonitor) {
                    tidiedCompactions = compactions;
                    appliedMonitor.notifyAll();
                }
            }

            @Override
            public void failed(Throwable error, boolean fatal) {
                lastError = error instanceof PoisonEventException ? error.getMessage() : error.toString();
                if (fatal) {
                    state = ProjectionStatus.State.FAILED;
                } else if (Sqlite.isCorruption(error)) {
                    setAsideAndRebuild(lastError);
                } else if (state == ProjectionStatus.State.RUNNING) {
                    degradedSince = Instant.now();
                    state = ProjectionStatus.State.DEGRADED;
                }
            }
        });
        projector = p;
        publish(checkpoint);
        state = ProjectionStatus.State.RUNNING;
        LOG.info("projection {} - projecting {} from checkpoint {} (schema version {}, head {})", name, journal,
                checkpoint, schemaVersion, journal.headIndex());
        worker = new Thread(p, "runledger-projector-" + name);
        worker.setUncaughtExceptionHandler(this::uncaught);
        worker.start();
    }

    /**
     * SQLite found the file damaged while serving: retrying cannot help, and answering from it could be
     * wrong. Called on the projector thread: stops it, and a recovery thread waits for it to end, renames
     * the file to {@code FILE.corrupt-<time>} with no reader on it, and rebuilds from the journal (reads
     * answer 503 with progress meanwhile, as during a first build).
     */
    private void setAsideAndRebuild(String error) {
        Projector p = projector;
        Thread projectorThread = Thread.currentThread();
        synchronized (lifecycle) {
            if (!running || state == ProjectionStatus.State.REBUILDING) {
                return;
            }
            state = ProjectionStatus.State.REBUILDING;
            degradedSince = null;
            p.stop();
            LOG.error("projection {} - the file is damaged ({}); setting it aside and rebuilding from the journal", name, error);
            worker = new Thread(() -> {
                try {
                    projectorThread.join();
                    ReadPool pool = readPool;
                    Path[] aside = {null};
                    if (pool != null) {
                        pool.swap(file.path(), ignored -> {
                            aside[0] = file.moveAside();
                            return null;
                        });
                        readPool = null;
                        pool.close();
                    } else {
                        aside[0] = file.moveAside();
                    }
                    metrics.setAside.increment();
                    file.removeLeftovers();
                    LOG.warn("projection {} - damaged file kept as {}", name, aside[0].getFileName());
                } catch (Exception e) {
                    state = ProjectionStatus.State.FAILED;
                    lastError = "cannot set the damaged file aside: " + e;
                    config.failureHandler().onFailure(Thread.currentThread().getName(), "cannot set " + file + " aside", e);
                    return;
                }
                rebuildThenProject();
            }, "runledger-recover-" + name);
            worker.setUncaughtExceptionHandler(this::uncaught);
            worker.start();
        }
    }

    private void uncaught(Thread t, Throwable e) {
        state = ProjectionStatus.State.FAILED;
        lastError = String.valueOf(e);
        config.failureHandler().onFailure(t.getName(), "worker thread died", e);
    }

    private void publish(long index) {
        synchronized (appliedMonitor) {
            appliedIndex = index;
            appliedMonitor.notifyAll();
        }
    }

    private void rebuildThenProject() {
        long started = System.nanoTime();
        try {
            Replay.Outcome outcome = Replay.build(new Replay.Options(name, journal, file.rebuildPath(),
                    config.schemaVersion(), config.strict(), 2, Replay.TO_HEAD, () -> !running),
                    (done, total) -> metrics.rebuildProgress = total == 0 ? 1 : (double) done / total);
            metrics.rebuildEvents.increment(outcome.events());
            LOG.info("projection {} - rebuilt {} events ({} runs, {} commands, {} quarantined) in {} ms; switching",
                    name, outcome.events(), outcome.runs(), outcome.commands(), outcome.quarantined(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            swapIn();
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
    private void swapIn() throws Exception {
        ReadPool pool = readPool != null ? readPool : new ReadPool(name, file.path(), config.readers());
        pool.swap(file.path(), ignored -> {
            file.replaceWith(file.rebuildPath());
            return null;
        });
        readPool = pool;
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
        return awaitProgress(() -> appliedIndex >= index, timeout);
    }

    @Override
    public boolean awaitTidied(long compactions, Duration timeout) throws InterruptedException {
        return awaitProgress(() -> tidiedCompactions >= compactions, timeout);
    }

    /** Waits on the monitor the projector notifies after every commit and tidy-up, until {@code reached}. */
    private boolean awaitProgress(java.util.function.BooleanSupplier reached, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (appliedMonitor) {
            while (!reached.getAsBoolean()) {
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
        long checkpoint = appliedIndex; // read once: the status's checkpoint and lag must agree
        Projector p = projector;
        return new ProjectionStatus(name, journal.id(), head, checkpoint, journal.countBetween(checkpoint, head), schemaVersion,
                state, p == null ? 0 : p.quarantined(), metrics.rebuildProgress, lastError, degradedSince);
    }

    @Override
    public void close() {
        if ((state == ProjectionStatus.State.RUNNING || state == ProjectionStatus.State.DEGRADED) && running) {
            // Graceful: apply what the journal already holds, so the final checkpoint covers every append.
            try {
                awaitApplied(journal.headIndex(), Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (lifecycle) {
            running = false;
            Projector p = projector;
            if (p != null) {
                p.stop();
            }
        }
        // No worker starts from here on; the one there is (a rebuild finishing, or the projector) ends soon.
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
            checkpointWal();
        }
        metrics.close();
        state = ProjectionStatus.State.CLOSED;
        lock.close();
    }

    /**
     * Folds the WAL into the file and removes it. SQLite does that when the last connection closes, but
     * the last to close are the read-only readers, which may not: a clean stop left a ~1 MB -wal behind.
     */
    private void checkpointWal() {
        try (Connection c = Sqlite.openWriter(file.path())) {
            Sqlite.exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
        } catch (SQLException e) {
            LOG.warn("projection {} - cannot checkpoint its WAL on close ({}); SQLite replays it at the next open", name,
                    e.getMessage());
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
