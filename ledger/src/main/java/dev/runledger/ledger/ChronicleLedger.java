package dev.runledger.ledger;

import dev.runledger.ledger.RejectedEventException.Reason;
import dev.runledger.ledger.RunLifecycle.Phase;
import dev.runledger.ledger.RunLifecycle.Violation;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Chronicle appender behind one lock. Several Chronicle appenders contending for the queue's
 * write lock halve throughput and produce 100+ ms stalls (STACK.md); a {@link ReentrantLock} in front
 * of a single appender keeps Chronicle's lock uncontended and also makes "check the run's state, then
 * write" atomic, which the lifecycle rules need anyway.
 */
final class ChronicleLedger implements Ledger {
    private static final Logger LOG = LoggerFactory.getLogger(ChronicleLedger.class);
    static final String LOCK_FILE = "ledger.lock";

    private final ChronicleJournal journal;
    private final FileChannel lockChannel;
    private final FileLock fileLock;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final ExcerptAppender appender;
    private final EventEncoding.Writer encoder = new EventEncoding.Writer();
    private final Map<String, RunState> runs;
    private final Durability durability;
    private final Metrics metrics;
    private final Thread syncer;
    private Thread appenderOwner;
    private int unsyncedEvents;
    private long lastSyncNanos = System.nanoTime();
    private volatile boolean closed;

    private ChronicleLedger(ChronicleJournal journal, FileChannel lockChannel, FileLock fileLock, LedgerConfig config,
                            Map<String, RunState> runs) {
        this.journal = journal;
        this.lockChannel = lockChannel;
        this.fileLock = fileLock;
        this.clock = config.clock();
        this.runs = runs;
        this.durability = config.durability();
        this.metrics = new Metrics(config.meterRegistry());
        this.appender = journal.createAppender();
        this.appenderOwner = Thread.currentThread();
        if (durability instanceof Durability.Sync sync) {
            syncer = new Thread(() -> syncLoop(sync), "runledger-journal-sync");
            syncer.setDaemon(true);
            syncer.start();
        } else {
            syncer = null;
        }
    }

    static ChronicleLedger open(LedgerConfig config) {
        Path dir = config.journalDirectory().toAbsolutePath().normalize();
        FileChannel channel = null;
        ChronicleJournal journal = null;
        try {
            Files.createDirectories(dir);
            channel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock fileLock;
            try {
                fileLock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                fileLock = null;
            }
            if (fileLock == null) {
                throw new IllegalStateException("journal " + dir + " is already open for appending by another ledger ("
                        + LOCK_FILE + " is locked); one process at a time may append");
            }
            journal = ChronicleJournal.open(dir, true);
            long start = System.nanoTime();
            Map<String, RunState> runs = new HashMap<>();
            long events = recoverState(journal, runs);
            LOG.info("opened {}: {} runs known, state recovered in {} ms (scanned {} events)", journal, runs.size(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), events);
            return new ChronicleLedger(journal, channel, fileLock, config, runs);
        } catch (IOException e) {
            closeQuietly(journal, channel);
            throw new UncheckedIOException("cannot open ledger at " + dir, e);
        } catch (RuntimeException e) {
            closeQuietly(journal, channel);
            throw e;
        }
    }

    /**
     * Rebuilds the run table: from the snapshot written at the last close (if it belongs to this journal
     * and the journal still holds its index), then the journal's lifecycle events after it. Only
     * creations, completions, deletions and label changes matter, so commands (nearly all excerpts) are
     * skipped after reading one byte. Events that break a rule (an old journal, a bug) are ignored here;
     * projections quarantine them.
     */
    private static long recoverState(ChronicleJournal journal, Map<String, RunState> runs) {
        long after = Journal.NONE;
        try {
            StateSnapshot.Loaded snapshot = StateSnapshot.read(journal.directory(), journal.id());
            if (snapshot != null && snapshot.lastIndex() != Journal.NONE
                    && snapshot.lastIndex() <= journal.headIndex() && indexExists(journal, snapshot.lastIndex())) {
                snapshot.runs().forEach((id, e) -> runs.put(id, RunState.of(e)));
                after = snapshot.lastIndex();
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: ignoring {} ({}); scanning the whole journal", journal, StateSnapshot.FILE, e.toString());
            runs.clear();
        }
        long count = 0;
        EventEncoding.Reader reader = new EventEncoding.Reader();
        byte[] buf = new byte[4096];
        try (ExcerptTailer tailer = journal.queue().createTailer()) {
            if (after != Journal.NONE) {
                tailer.moveToIndex(after);
                try (DocumentContext skipped = tailer.readingDocument()) {
                    skipped.isPresent(); // the snapshot covers this one
                }
            }
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    count++;
                    Bytes<?> bytes = dc.wire().bytes();
                    long p = bytes.readPosition();
                    if (bytes.readRemaining() < EventEncoding.HEADER_BYTES
                            || bytes.readByte(p + 1) == EventEncoding.COMMAND_RECORDED
                            || bytes.readByte(p + 1) == EventEncoding.SUMMARY_RECORDED) {
                        continue;
                    }
                    int length = (int) bytes.readRemaining();
                    if (length > buf.length) {
                        buf = new byte[length];
                    }
                    bytes.read(buf, 0, length);
                    RunEvent event;
                    try {
                        event = reader.reset(buf, length).decode();
                    } catch (EventEncoding.CorruptExcerptException e) {
                        continue;
                    }
                    RunState state = runs.computeIfAbsent(event.runId(), k -> new RunState());
                    if (RunLifecycle.check(event, state.phase, state.phaseIndex, state.labelKeys()) == null) {
                        state.apply(event, dc.index());
                    }
                }
            }
        }
        return count;
    }

    private static boolean indexExists(ChronicleJournal journal, long index) {
        try (ExcerptTailer tailer = journal.queue().createTailer()) {
            return tailer.moveToIndex(index);
        }
    }

    @Override
    public long append(RunEvent event) {
        Objects.requireNonNull(event, "event");
        long start = System.nanoTime();
        lock.lock();
        try {
            ensureOpen();
            RunState state = runs.get(event.runId());
            Violation v = state == null
                    ? RunLifecycle.check(event, Phase.ABSENT, Journal.NONE, Set.of())
                    : RunLifecycle.check(event, state.phase, state.phaseIndex, state.labelKeys());
            if (v != null) {
                throw reject(v, 0, event);
            }
            return writeAndApply(event, state);
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
            for (int i = 0; i < events.size(); i++) {
                RunEvent event = Objects.requireNonNull(events.get(i), "event " + i + " of the batch is null");
                RunState s = overlay.computeIfAbsent(event.runId(), id -> RunState.copyOf(runs.get(id)));
                Violation v = RunLifecycle.check(event, s.phase, s.phaseIndex, s.labelKeys());
                if (v != null) {
                    throw reject(v, i, event);
                }
                s.apply(event, Journal.NONE);
            }
            long last = Journal.NONE;
            for (RunEvent event : events) {
                last = writeAndApply(event, runs.get(event.runId()));
            }
            return last;
        } finally {
            lock.unlock();
            metrics.latency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        }
    }

    private long writeAndApply(RunEvent event, RunState state) {
        claimAppender();
        byte[] buf = encoder.encode(event, micros(clock));
        long index = ChronicleJournal.write(appender, buf, encoder.length());
        if (state == null) {
            state = new RunState();
            runs.put(event.runId(), state);
        }
        state.apply(event, index);
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
            writeSnapshot();
        } finally {
            lock.unlock();
        }
        if (syncer != null) {
            LockSupport.unpark(syncer);
        }
        closeQuietly(journal, lockChannel);
        try {
            fileLock.release();
        } catch (IOException | RuntimeException ignored) {
            // the channel is closed already, which releases the lock
        }
    }

    /** Saves the run table for the next open; a failure costs that open a full scan, nothing else. */
    private void writeSnapshot() {
        long head = journal.headIndex();
        if (head == Journal.NONE) {
            return;
        }
        try {
            Map<String, StateSnapshot.RunEntry> entries = new HashMap<>(runs.size() * 2);
            runs.forEach((id, s) -> entries.put(id, new StateSnapshot.RunEntry(s.phase, s.phaseIndex, s.labelKeys())));
            StateSnapshot.write(journal.directory(), journal.id(), head, entries);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: cannot write {}; the next open scans the whole journal", journal, StateSnapshot.FILE, e);
        }
    }

    private static void closeQuietly(ChronicleJournal journal, FileChannel channel) {
        if (journal != null) {
            journal.close();
        }
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                LOG.warn("cannot close {}", LOCK_FILE, e);
            }
        }
    }

    /** A run as the append rules see it; mutated only under the ledger's lock. */
    private static final class RunState {
        Phase phase = Phase.ABSENT;
        long phaseIndex = Journal.NONE;
        Set<String> labelKeys;

        static RunState of(StateSnapshot.RunEntry e) {
            RunState s = new RunState();
            s.phase = e.phase();
            s.phaseIndex = e.phaseIndex();
            s.labelKeys = e.labelKeys().isEmpty() ? null : new HashSet<>(e.labelKeys());
            return s;
        }

        static RunState copyOf(RunState other) {
            RunState copy = new RunState();
            if (other != null) {
                copy.phase = other.phase;
                copy.phaseIndex = other.phaseIndex;
                copy.labelKeys = other.labelKeys == null ? null : new HashSet<>(other.labelKeys);
            }
            return copy;
        }

        Set<String> labelKeys() {
            return labelKeys == null ? Set.of() : labelKeys;
        }

        void apply(RunEvent event, long index) {
            Phase next = RunLifecycle.next(phase, event);
            if (next != phase || event instanceof RunEvent.RunCreated) {
                phase = next;
                phaseIndex = index;
            }
            if (event instanceof RunEvent.RunCreated created) {
                labelKeys = created.labels().isEmpty() ? null : new HashSet<>(created.labels().keySet());
            } else if (event instanceof RunEvent.LabelsChanged change) {
                if (labelKeys == null) {
                    labelKeys = new HashSet<>();
                }
                labelKeys.addAll(change.set().keySet());
                change.remove().forEach(labelKeys::remove);
            } else if (event instanceof RunEvent.RunDeleted) {
                labelKeys = null;
            }
        }
    }

    private static final class Metrics {
        final Timer latency;
        final Counter[] appends = new Counter[7];
        final Map<Reason, Counter> rejected = new EnumMap<>(Reason.class);

        Metrics(MeterRegistry registry) {
            latency = Timer.builder("ledger.append.latency")
                    .description("Time to validate and append one event or batch to the journal")
                    .publishPercentiles(0.5, 0.99, 0.999) // a summary: Prometheus drops these if a histogram is on
                    .register(registry);
            for (String type : List.of(RunEvent.RunCreated.TYPE, RunEvent.CommandRecorded.TYPE,
                    RunEvent.LabelsChanged.TYPE, RunEvent.SummaryRecorded.TYPE, RunEvent.RunCompleted.TYPE,
                    RunEvent.RunDeleted.TYPE)) {
                Counter c = Counter.builder("ledger.appends").description("Events appended to the journal")
                        .tag("type", type).register(registry);
                appends[code(type)] = c;
            }
            for (Reason reason : Reason.values()) {
                rejected.put(reason, Counter.builder("ledger.append.rejected")
                        .description("Events refused at append").tag("reason", reason.tag()).register(registry));
            }
        }

        private static int code(String type) {
            return switch (type) {
                case RunEvent.RunCreated.TYPE -> EventEncoding.RUN_CREATED;
                case RunEvent.CommandRecorded.TYPE -> EventEncoding.COMMAND_RECORDED;
                case RunEvent.LabelsChanged.TYPE -> EventEncoding.LABELS_CHANGED;
                case RunEvent.SummaryRecorded.TYPE -> EventEncoding.SUMMARY_RECORDED;
                case RunEvent.RunCompleted.TYPE -> EventEncoding.RUN_COMPLETED;
                default -> EventEncoding.RUN_DELETED;
            };
        }

        void appended(RunEvent event) {
            appends[EventEncoding.typeCode(event)].increment();
        }
    }
}
