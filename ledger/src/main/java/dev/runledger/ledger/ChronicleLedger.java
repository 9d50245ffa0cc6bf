package dev.runledger.ledger;

import dev.runledger.ledger.RejectedEventException.Reason;
import dev.runledger.ledger.RunTable.RunState;
import dev.runledger.ledger.RunLifecycle.Phase;
import dev.runledger.ledger.RunLifecycle.Violation;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import net.openhft.chronicle.queue.ExcerptAppender;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Clock;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Chronicle appender behind one lock. Several Chronicle appenders contending for the queue's
 * write lock halve throughput (measured ~1.3M/s down to ~0.6M/s) and produce 100+ ms stalls; a
 * {@link ReentrantLock} in front of a single appender keeps Chronicle's lock uncontended and also makes
 * "check the run's state, then write" atomic, which the lifecycle rules need anyway.
 */
final class ChronicleLedger implements Ledger {
    private static final Logger LOG = LoggerFactory.getLogger(ChronicleLedger.class);
    static final String LOCK_FILE = "ledger.lock";

    private final ChronicleJournal journal;
    /** Replaced by an online compaction (the lock moves to the new directory with it); guarded by {@link #lock}. */
    private ExclusiveFileLock fileLock;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    /** Made anew after an online compaction swapped the queue; guarded by {@link #lock}. */
    private ExcerptAppender appender;
    private final EventEncoding.Writer encoder = new EventEncoding.Writer();
    private final RunTable runs;
    private final Durability durability;
    private final Metrics metrics;
    private final DiskSpace disk;
    private final Sealer sealer;
    private final JournalIntegrity integrity;
    private final boolean refuseAppends;
    private final Thread syncer;
    private final Thread sealerThread;
    /** The last index the appender synced to disk (Sync durability), or NONE. */
    private volatile long syncedIndex = Journal.NONE;
    private long lastAppended = Journal.NONE;
    /** Set while a loss found at open may have left a hole that readers stop at: appends are then read back. */
    private boolean checkReachable;
    private Thread appenderOwner;
    private int unsyncedEvents;
    private long lastSyncNanos = System.nanoTime();
    private volatile boolean closed;
    /** Retention's view of the runs; guarded by its own monitor, so the long catch-up scan holds no append lock. */
    private final Retention retention;
    private final RetentionPolicy retentionPolicy;
    /** Applies retention after completions and compacts when the dead share or the size passes its threshold; null if neither. */
    private final Thread housekeeper;
    private final Counter retentionDeleted;
    private volatile boolean retentionDue;
    private volatile boolean housekeeperStopping;
    private final double compactWhenDead;
    private final long compactWhenBytes;
    /** Set at open and by every deletion; the housekeeper then checks the dead share and the size. */
    private volatile boolean compactionDue;
    private volatile long lastDeletionIndex = Journal.NONE;
    /** Compactions start at most once a minute: runs held back by a slow reader keep the share high meanwhile. */
    private long lastCompactionStart = System.nanoTime() - COMPACTION_GAP_NANOS;
    private static final long COMPACTION_GAP_NANOS = TimeUnit.MINUTES.toNanos(1);
    private volatile Ledger.RetentionStatus retentionStatus;
    /** One compaction at a time; it takes retention, lock and sealer in that order (the order retain() uses). */
    private final Object compacting = new Object();
    private final CompactionMetrics compactionMetrics;

    private ChronicleLedger(ChronicleJournal journal, ExclusiveFileLock fileLock, LedgerConfig config, RunTable runs,
                            SealCheck.Outcome sealed) {
        this.journal = journal;
        this.fileLock = fileLock;
        this.clock = config.clock();
        this.runs = runs;
        this.durability = config.durability();
        this.metrics = new Metrics(config.meterRegistry());
        io.micrometer.core.instrument.Gauge.builder("ledger.journal.missing.events", sealed.integrity(),
                        JournalIntegrity::missingEvents)
                .description("Events the journal's seal vouched for that it no longer held at open")
                .register(config.meterRegistry());
        this.disk = new DiskSpace(journal.directory(), config.diskSpace());
        this.integrity = sealed.integrity();
        this.refuseAppends = !integrity.intact() && config.refuseAppendsAfterLoss();
        this.checkReachable = !integrity.intact();
        this.sealer = new Sealer(journal, sealed.trusted());
        this.appender = journal.createAppender();
        this.appenderOwner = Thread.currentThread();
        if (durability instanceof Durability.Sync sync) {
            syncer = new Thread(() -> syncLoop(sync), "runledger-journal-sync");
            syncer.setDaemon(true);
            syncer.start();
        } else {
            syncer = null;
        }
        if (!integrity.intact() && !refuseAppends) {
            recordLoss(); // strict mode: written when a person accepts the loss (runledger repair)
        }
        this.retention = new Retention(journal);
        this.retentionPolicy = config.retention();
        this.retentionStatus = new Ledger.RetentionStatus(retentionPolicy, null, 0, 0);
        io.micrometer.core.instrument.Gauge.builder("ledger.journal.bytes", journal,
                        j -> closed ? Double.NaN : j.usedBytes())
                .description("Bytes the journal's cycles hold (their files are sparse and longer)").baseUnit("bytes")
                .register(config.meterRegistry());
        for (String state : new String[] {"live", "dead"}) {
            io.micrometer.core.instrument.Gauge.builder("ledger.journal.events", this, l -> l.journalEvents(state.equals("live")))
                    .description("Events in the journal of runs now live, and of runs deleted (what compaction would drop)")
                    .tag("state", state).register(config.meterRegistry());
        }
        this.compactionMetrics = new CompactionMetrics(config.meterRegistry());
        this.retentionDeleted = Counter.builder("ledger.retention.deleted")
                .description("Runs deleted by the retention policy").register(config.meterRegistry());
        this.compactWhenDead = config.compactWhenDead();
        this.compactWhenBytes = config.compactWhenBytes();
        if ((retentionPolicy != null || compactsByItself()) && !refuseAppends) {
            retentionDue = retentionPolicy != null; // the policy may be new, or stricter than the last one: apply it at open
            compactionDue = compactsByItself();
            housekeeper = new Thread(this::housekeepingLoop, "runledger-housekeeping");
            housekeeper.setDaemon(true);
        } else {
            housekeeper = null;
        }
        long interval = config.sealInterval().toNanos();
        sealerThread = new Thread(() -> sealLoop(interval), "runledger-journal-sealer");
        sealerThread.setDaemon(true);
        if (!refuseAppends) { // a refused journal keeps its old seal until a person accepts the loss
            sealerThread.start();
        }
        if (housekeeper != null) {
            housekeeper.start();
        }
    }

    @Override
    public List<String> retain(RetentionPolicy policy, boolean dryRun) {
        java.util.Objects.requireNonNull(policy, "policy");
        synchronized (retention) {
            retention.catchUp(); // the long part, while appends go on
            lock.lock();
            try {
                ensureOpen();
                retention.catchUp(); // what was appended meanwhile: a few events at most
                List<String> victims = retention.victims(policy, clock.instant());
                if (!dryRun) {
                    if (!victims.isEmpty()) {
                        List<RunEvent> deletions = new java.util.ArrayList<>(victims.size());
                        for (String runId : victims) {
                            deletions.add(new RunEvent.RunDeleted(runId, RunEvent.RunDeleted.RETENTION));
                        }
                        append(deletions); // the lock is reentrant; the deletions are validated like any batch
                        retentionDeleted.increment(victims.size());
                    }
                    Ledger.RetentionStatus last = retentionStatus;
                    retentionStatus = new Ledger.RetentionStatus(retentionPolicy, clock.instant(), victims.size(),
                            last.totalDeleted() + victims.size());
                }
                return victims;
            } finally {
                lock.unlock();
            }
        }
    }

    @Override
    public JournalCompaction.Result compact(boolean force) {
        synchronized (compacting) {
            ensureOpen();
            Retention.Known known;
            synchronized (retention) {
                retention.catchUp(); // incremental: what was appended since the last scrape or retention pass
                known = retention.known(); // spares the compaction a pass over the whole journal
            }
            JournalCompaction.Swapped swapped;
            try {
                swapped = JournalCompaction.compactOnline(journal, force, known, lastStep -> {
                    sealer.sealTo(journal.headIndex(), false); // the long part of the chain, while appends go on
                    synchronized (retention) {
                        lock.lock();
                        long held = System.nanoTime();
                        try {
                            ensureOpen();
                            JournalCompaction.Swapped s = swapHeld(lastStep);
                            // All of it: the seal's tail and the appender's renewal as well as the copy's tail and swap.
                            return new JournalCompaction.Swapped(s.result().withAppendsHeld(
                                    java.time.Duration.ofNanos(System.nanoTime() - held)), s.appendLock(), s.droppedDeletions());
                        } finally {
                            lock.unlock();
                        }
                    }
                });
            } catch (RuntimeException e) {
                compactionMetrics.failed.increment();
                throw e;
            }
            compactionMetrics.done(swapped.result());
            return swapped.result();
        }
    }

    /** The part of an online compaction appends wait for: the tail is copied, the copy swapped in, the appender renewed. */
    private JournalCompaction.Swapped swapHeld(java.util.function.Function<String, JournalCompaction.Swapped> lastStep) {
        synchronized (sealer) {
            String head = sealer.chainTo(journal.headIndex()); // what was appended since the seal above; no file written
            if (durability instanceof Durability.Sync && unsyncedEvents > 0) {
                syncNow(); // acknowledged as synced: it must be in the copy's synced files too
            }
            claimAppender();
            appender.close();
            JournalCompaction.Swapped swapped;
            try {
                swapped = lastStep.apply(head);
            } finally {
                appender = journal.createAppender(); // on the new queue, or on the old one reopened if the swap failed
                appenderOwner = Thread.currentThread();
            }
            ExclusiveFileLock old = fileLock;
            fileLock = swapped.appendLock();
            old.close();
            runs.forgetDropped(swapped.droppedDeletions());
            retention.reset();
            try {
                sealer.restart(Seal.read(journal.directory(), journal.id()));
            } catch (java.io.IOException | RuntimeException e) {
                LOG.warn("{}: cannot read the seal of the compacted journal; sealing its chain from the start", journal, e);
                sealer.restart(null);
            }
            syncedIndex = lastAppended; // the copy's files were synced whole
            unsyncedEvents = 0;
            return swapped;
        }
    }

    /** Live or dead events, caught up to the journal's head (a scrape reads what was appended since the last). */
    private double journalEvents(boolean live) {
        if (closed) {
            return Double.NaN;
        }
        synchronized (retention) {
            retention.catchUp();
            return live ? retention.liveEvents() : retention.deadEvents();
        }
    }

    @Override
    public Ledger.RetentionStatus retentionStatus() {
        return retentionStatus;
    }

    /**
     * Applies the configured policy whenever a completion was appended (and once at open), and compacts
     * when deletions have made enough of the journal dead.
     */
    private void housekeepingLoop() {
        learnDaySizes();
        while (!housekeeperStopping) {
            if (retentionDue) {
                retentionDue = false;
                try {
                    List<String> deleted = retain(retentionPolicy, false);
                    if (!deleted.isEmpty()) {
                        LOG.info("{}: retention deleted {} run(s) ({}): {}", journal, deleted.size(), retentionPolicy,
                                deleted.size() <= 10 ? deleted : deleted.subList(0, 10) + " ...");
                    }
                } catch (RuntimeException e) {
                    if (!housekeeperStopping) {
                        LOG.error("{}: retention ({}) failed; it runs again after the next completion", journal,
                                retentionPolicy, e);
                    }
                }
            }
            if (compactionDue && System.nanoTime() - lastCompactionStart >= COMPACTION_GAP_NANOS) {
                compactionDue = false;
                try {
                    compactIfDead();
                } catch (RuntimeException e) {
                    if (!housekeeperStopping) {
                        LOG.error("{}: compaction failed (the journal is unchanged); tried again after the next deletion",
                                journal, e);
                    }
                }
            }
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
        }
    }

    /**
     * Reads the size of every closed day once, in the background at open: otherwise the first compaction
     * (for its report of the bytes before it) and the first scrape of {@code ledger_journal_bytes} open every
     * day's file while they wait, 31-91 ms of a compaction for a robot's year of 365 files.
     */
    private void learnDaySizes() {
        try {
            journal.usedBytes();
        } catch (RuntimeException e) {
            if (!housekeeperStopping) {
                LOG.warn("{}: cannot read the sizes of its days' files; the first compaction or scrape reads them", journal, e);
            }
        }
    }

    private boolean compactsByItself() {
        return compactWhenDead > 0 || compactWhenBytes > 0;
    }

    private void compactIfDead() {
        double dead;
        long deadEvents;
        synchronized (retention) {
            retention.catchUp();
            deadEvents = retention.deadEvents();
            long all = retention.liveEvents() + deadEvents;
            dead = all == 0 ? 0 : (double) deadEvents / all;
        }
        boolean byShare = compactWhenDead > 0 && dead >= compactWhenDead;
        long bytes = compactWhenBytes > 0 && deadEvents > 0 ? journal.usedBytes() : 0;
        boolean bySize = bytes > compactWhenBytes && compactWhenBytes > 0;
        if (!byShare && !bySize) {
            return;
        }
        // Give registered readers the time to pass the deletions, rather than hold those runs back until the next compaction.
        ReaderPositions.awaitPassed(journal.directory(), lastDeletionIndex, java.time.Duration.ofSeconds(10),
                () -> housekeeperStopping);
        if (housekeeperStopping) {
            return;
        }
        if (byShare) {
            LOG.info("{}: {}% of the journal's events belong to deleted runs (threshold {}%): compacting", journal,
                    Math.round(dead * 100), Math.round(compactWhenDead * 100));
        } else {
            LOG.info("{}: the journal holds {} bytes (limit {}), {}% of its events of deleted runs: compacting", journal,
                    bytes, compactWhenBytes, Math.round(dead * 100));
        }
        lastCompactionStart = System.nanoTime();
        JournalCompaction.Result r = compact(false);
        if (compactWhenBytes > 0 && r.bytesAfter() > compactWhenBytes) {
            LOG.warn("{}: after compaction the journal still holds {} bytes, above its limit of {}: the runs kept take more"
                    + " than the limit allows (keep fewer runs, or raise the limit){}", journal, r.bytesAfter(), compactWhenBytes,
                    r.heldBackRuns() > 0 ? "; " + r.heldBackRuns() + " deleted run(s) were held back for readers " + r.heldBackBy()
                            : "");
        }
    }

    /**
     * Writes the loss found at open into the journal itself, as its first new event, so that projections,
     * audits and shipped copies see the gap where it is. Being an append, it also proves (or makes, by
     * padding the hole) that appends after the loss are reachable.
     */
    private void recordLoss() {
        lock.lock();
        try {
            writeAndApply(new RunEvent.JournalLoss(integrity.lastReadableIndex(), integrity.sealedIndex(),
                    integrity.missingEvents(), integrity.withinDurabilityWindow(), clock.instant().toString()), 0, 1);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Extends the seal in the background: over what was synced (Sync durability; the seal is then
     * durable), or over everything appended (the default, where nothing is synced before close).
     */
    private void sealLoop(long intervalNanos) {
        while (!closed) {
            LockSupport.parkNanos(intervalNanos);
            if (closed) {
                return;
            }
            try {
                if (durability instanceof Durability.Sync) {
                    sealer.sealTo(syncedIndex, true);
                } else {
                    sealer.sealTo(journal.headIndex(), false);
                }
            } catch (RuntimeException e) {
                LOG.warn("{}: cannot extend {}; retrying in the next interval", journal, Seal.FILE, e);
            }
        }
    }

    static ChronicleLedger open(LedgerConfig config) {
        Path dir = config.journalDirectory().toAbsolutePath().normalize();
        JournalCompaction.recover(dir); // before the lock below: taking it creates the directory, if a swap left none
        ExclusiveFileLock fileLock = ExclusiveFileLock.acquire(dir.resolve(LOCK_FILE), "journal " + dir
                + " is already open for appending by another ledger; one process at a time may append");
        ChronicleJournal journal = null;
        try {
            journal = ChronicleJournal.open(dir, true, config.clock()); // its days follow the ledger's clock
            SealCheck.Outcome sealed = SealCheck.check(journal);
            return new ChronicleLedger(journal, fileLock, config, RunTable.recover(journal), sealed);
        } catch (RuntimeException e) {
            if (journal != null) {
                journal.close();
            }
            fileLock.close();
            throw e;
        }
    }

    @Override
    public long append(RunEvent event) {
        Objects.requireNonNull(event, "event");
        long start = System.nanoTime();
        lock.lock();
        try {
            ensureOpen();
            refuseReserved(event, 0);
            RunState state = runs.get(event.runId());
            Violation v = state == null
                    ? RunLifecycle.check(event, Phase.ABSENT, Journal.NONE, Set.of())
                    : state.check(event);
            if (v != null) {
                throw reject(v, 0, event);
            }
            requireSpace(estimatedBytes(event), 1);
            return writeAndApply(event, 0, 1);
        } finally {
            lock.unlock();
            metrics.latency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public long append(List<? extends RunEvent> events) {
        if (events.isEmpty()) {
            throw new IllegalArgumentException("cannot append an empty batch");
        }
        long start = System.nanoTime();
        lock.lock();
        try {
            ensureOpen();
            // Validate the whole batch against the state the earlier events of the batch would leave.
            Map<String, RunState> overlay = new HashMap<>();
            long bytes = 0;
            for (int i = 0; i < events.size(); i++) {
                RunEvent event = Objects.requireNonNull(events.get(i), "event " + i + " of the batch is null");
                refuseReserved(event, i);
                RunState s = overlay.computeIfAbsent(event.runId(), id -> RunState.copyOf(runs.get(id)));
                Violation v = s.check(event);
                if (v != null) {
                    throw reject(v, i, event);
                }
                s.apply(event, Journal.NONE);
                bytes += estimatedBytes(event);
            }
            requireSpace(bytes, events.size());
            long last = Journal.NONE;
            for (int i = 0; i < events.size(); i++) {
                last = writeAndApply(events.get(i), i, events.size());
            }
            return last;
        } finally {
            lock.unlock();
            metrics.latency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        }
    }

    /** Refuses, before writing any of it, a batch the disk cannot take; the estimate errs on the large side. */
    private void requireSpace(long bytes, int events) {
        if (!disk.fits(bytes)) {
            metrics.rejected.get(Reason.JOURNAL_FULL).increment();
            throw new JournalFullException("journal " + journal.directory() + ": the disk has " + Math.max(0, disk.usableBytes())
                    + " bytes free, too few for " + events + " event(s) of about " + bytes + " bytes and "
                    + DiskSpace.RESERVE_BYTES + " bytes kept in reserve; nothing was appended", 0, events, null);
        }
    }

    private static long estimatedBytes(RunEvent event) {
        long json = switch (event.eventType()) {
            case COMMAND_RECORDED -> ((RunEvent.CommandRecorded) event).command().json().length();
            case SUMMARY_RECORDED -> ((RunEvent.SummaryRecorded) event).summary().length();
            case RUN_CREATED, LABELS_CHANGED, RUN_COMPLETED, RUN_DELETED, JOURNAL_LOSS -> 0;
        };
        return json + 4096; // ids, labels and framing stay well below a page
    }

    private long writeAndApply(RunEvent event, int position, int batchSize) {
        claimAppender();
        if (housekeeper != null && event.eventType() == EventType.RUN_COMPLETED && retentionPolicy != null) {
            retentionDue = true;
            LockSupport.unpark(housekeeper);
        }
        byte[] buf = encoder.encode(event, micros(clock));
        long index;
        try {
            index = ChronicleJournal.write(appender, buf, encoder.length());
        } catch (InternalError fault) {
            // The disk filled under us after all (another process took the space): a mapped page could not be backed.
            metrics.rejected.get(Reason.JOURNAL_FULL).increment();
            throw new JournalFullException("journal " + journal.directory() + ": appended " + position + " of " + batchSize
                    + " events before the disk filled (" + fault.getMessage() + ")", position, batchSize, fault);
        }
        disk.used(encoder.length());
        if (checkReachable) {
            requireReachable(index);
        }
        lastAppended = index;
        runs.apply(event, index);
        if (event.eventType() == EventType.RUN_DELETED) {
            lastDeletionIndex = index;
            compactionDue = compactsByItself();
        }
        metrics.appended(event);
        if (durability instanceof Durability.Sync sync) {
            unsyncedEvents++;
            if (unsyncedEvents >= sync.everyEvents()
                    || System.nanoTime() - lastSyncNanos >= sync.everyInterval().toNanos()) {
                syncNow();
            }
        }
        return index;
    }

    /**
     * After a loss, an acknowledged index must be one every reader reaches: if a hole left by the loss
     * hides it, the hole is padded; if that cannot be done, the append is refused rather than acknowledged.
     */
    private void requireReachable(long index) {
        long from = integrity.lastReadableIndex();
        if (journal.reachable(from, index)) {
            checkReachable = false;
            return;
        }
        if (journal.padHoleBefore(from, index)) {
            LOG.warn("{}: padded the hole the loss left before index {}, so readers reach what is appended", journal, index);
            checkReachable = false;
            return;
        }
        throw new IllegalStateException("journal " + journal.directory() + ": the event appended at index " + index
                + " is not reachable by readers past the damage found at open (" + integrity.detail() + "); it is not"
                + " acknowledged. Run runledger verify --journal " + journal.directory());
    }

    /** journal.loss records what the ledger found at open; nobody else may claim a loss. */
    private void refuseReserved(RunEvent event, int position) {
        if (event.eventType() == EventType.JOURNAL_LOSS) {
            metrics.rejected.get(Reason.RESERVED_TYPE).increment();
            throw new RejectedEventException(Reason.RESERVED_TYPE, position, event.type()
                    + " rejected: only the ledger records a journal loss, when it finds one at open");
        }
    }

    private RejectedEventException reject(Violation v, int position, RunEvent event) {
        metrics.rejected.get(v.reason()).increment();
        return new RejectedEventException(v.reason(), position, event.type() + " rejected: " + v.message());
    }

    private static long micros(Clock clock) {
        java.time.Instant now = clock.instant();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    /** Hands the one appender to the calling thread; callers hold the lock. */
    private void claimAppender() {
        Thread current = Thread.currentThread();
        if (current != appenderOwner) {
            // Safe: the lock gives the hand-over a happens-before edge; Chronicle just checks the owner.
            appender.singleThreadedCheckReset();
            appenderOwner = current;
        }
    }

    private void syncNow() {
        claimAppender();
        appender.sync();
        syncedIndex = lastAppended;
        unsyncedEvents = 0;
        lastSyncNanos = System.nanoTime();
    }

    private void syncLoop(Durability.Sync sync) {
        long interval = sync.everyInterval().toNanos();
        while (!closed) {
            LockSupport.parkNanos(interval);
            lock.lock();
            try {
                if (!closed && unsyncedEvents > 0 && System.nanoTime() - lastSyncNanos >= interval) {
                    syncNow();
                }
            } catch (RuntimeException e) {
                LOG.error("{}: periodic sync failed; appends go on but may not survive a power cut", journal, e);
            } finally {
                lock.unlock();
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("ledger on " + journal.directory() + " is closed");
        }
        if (refuseAppends) {
            throw new IllegalStateException("ledger on " + journal.directory() + " refuses appends (strict mode): "
                    + integrity.detail() + ". To accept the loss and append again: runledger repair --journal "
                    + journal.directory() + " --accept-loss");
        }
    }

    @Override
    public JournalIntegrity integrity() {
        return integrity;
    }

    @Override
    public Phase phaseOf(String runId) {
        lock.lock();
        try {
            RunState s = runs.get(runId);
            return s == null ? Phase.ABSENT : s.phase;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Journal journal() {
        return journal;
    }

    @Override
    public void close() {
        if (housekeeper != null && housekeeper != Thread.currentThread()) {
            housekeeperStopping = true; // the loop finishes its pass (a compaction under way included) and stops
            LockSupport.unpark(housekeeper);
            try {
                housekeeper.join(TimeUnit.MINUTES.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (durability instanceof Durability.Sync && unsyncedEvents > 0) {
                syncNow();
            }
            appender.singleThreadedCheckReset();
            appender.close();
            runs.saveSnapshot(journal);
        } finally {
            lock.unlock();
        }
        if (syncer != null) {
            LockSupport.unpark(syncer);
        }
        if (!refuseAppends) {
            LockSupport.unpark(sealerThread);
            try {
                sealerThread.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // Durable only where this mode synced everything (Sync durability syncs at close above).
            sealer.sealTo(journal.headIndex(), durability instanceof Durability.Sync);
        }
        journal.close();
        fileLock.close();
    }

    /** What online compactions did, for {@code /metrics}. */
    private static final class CompactionMetrics {
        final Timer duration;
        final Timer appendsHeld;
        final Counter reclaimed;
        final Counter dropped;
        final Counter failed;
        volatile double lastSeconds = Double.NaN;

        CompactionMetrics(MeterRegistry registry) {
            duration = Timer.builder("ledger.compaction.duration")
                    .description("Time an online compaction took, from its start until the old files were deleted").register(registry);
            appendsHeld = Timer.builder("ledger.compaction.appends.held")
                    .description("How long appends waited for a compaction's tail and swap (max: the longest append stall)")
                    .register(registry);
            reclaimed = Counter.builder("ledger.compaction.reclaimed").baseUnit("bytes")
                    .description("Disk space compactions returned to the file system").register(registry);
            dropped = Counter.builder("ledger.compaction.dropped")
                    .description("Events of deleted runs compactions dropped").register(registry);
            failed = Counter.builder("ledger.compaction.failed").description("Compactions that failed (the journal is unchanged)")
                    .register(registry);
            io.micrometer.core.instrument.Gauge.builder("ledger.compaction.last", this, m -> m.lastSeconds)
                    .description("When the journal was last compacted (seconds since the epoch; NaN: never while open)")
                    .baseUnit("seconds").register(registry);
        }

        void done(JournalCompaction.Result r) {
            duration.record(r.took());
            appendsHeld.record(r.appendsHeld());
            reclaimed.increment(r.reclaimedBytes());
            dropped.increment(r.droppedEvents());
            lastSeconds = System.currentTimeMillis() / 1000.0;
        }
    }

    private static final class Metrics {
        final Timer latency;
        final Map<EventType, Counter> appends = new EnumMap<>(EventType.class);
        final Map<Reason, Counter> rejected = new EnumMap<>(Reason.class);

        Metrics(MeterRegistry registry) {
            latency = Timer.builder("ledger.append.latency")
                    .description("Time to validate and append one event or batch to the journal")
                    .publishPercentiles(0.5, 0.99, 0.999) // a summary: Prometheus drops these if a histogram is on
                    .register(registry);
            for (EventType type : EventType.values()) {
                appends.put(type, Counter.builder("ledger.appends").description("Events appended to the journal")
                        .tag("type", type.wireName()).register(registry));
            }
            for (Reason reason : Reason.values()) {
                rejected.put(reason, Counter.builder("ledger.append.rejected")
                        .description("Events refused at append").tag("reason", reason.tag()).register(registry));
            }
        }

        void appended(RunEvent event) {
            appends.get(event.eventType()).increment();
        }
    }
}
