package dev.runledger.ledger;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.core.time.TimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueStore;
import net.openhft.chronicle.wire.DocumentContext;
import net.openhft.chronicle.wire.Wires;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link Journal} on a Chronicle Queue directory.
 *
 * <p>An online compaction replaces the queue under the open journal ({@link #swapIn}). Every use of the
 * queue holds the read side of {@link #swapLock}, so the swap (the write side) waits for whatever is
 * reading an excerpt and nobody touches the old queue after it closed. Readers follow by themselves:
 * the compacted copy holds every index the old one did, so a reader reopens where it was.
 */
final class ChronicleJournal implements Journal {
    static final String ID_FILE = "journal.id";
    /** Larger than any event can be (the largest excerpt Chronicle writes with 64 MiB blocks is ~16 MiB). */
    static final int MAX_EXCERPT_BYTES = 32 << 20;

    private final Path directory;
    private final String id;
    private final ReentrantReadWriteLock swapLock = new ReentrantReadWriteLock();
    /** Replaced only by {@link #swapIn}, under the write lock; read under the read lock. */
    private SingleChronicleQueue queue;
    /** How many compacted copies this open journal has swapped in; readers compare it with their own. */
    private volatile long compactions;
    private final Set<ChronicleReader> readers = ConcurrentHashMap.newKeySet();
    /** {@link #usedBytes()} of each day before the last, as measured once; cleared when files change under it. */
    private final Map<Integer, Long> closedDayBytes = new ConcurrentHashMap<>();
    /** Names the day (cycle) each excerpt is written into; null only for a journal opened read-only. */
    private final TimeProvider days;

    private ChronicleJournal(Path directory, String id, SingleChronicleQueue queue, TimeProvider days) {
        this.directory = directory;
        this.id = id;
        this.queue = queue;
        this.days = days;
    }

    /** The read side of the swap lock: held by every use of the queue. */
    private java.util.concurrent.locks.Lock queueInUse() {
        java.util.concurrent.locks.Lock l = swapLock.readLock();
        l.lock();
        return l;
    }

    static ChronicleJournal open(Path directory, boolean create) {
        return open(directory, create, null);
    }

    /**
     * Opens the journal with {@code clock} deciding which day's cycle file an append goes into (null: the
     * system clock), never one before the last day written. A ledger passes its configured clock, so that a
     * simulated year (tests, benchmarks) is laid out in days as a real robot's is.
     */
    static ChronicleJournal open(Path directory, boolean create, java.time.Clock clock) {
        Path dir = directory.toAbsolutePath().normalize();
        Path idFile = dir.resolve(ID_FILE);
        if (!create && Files.isRegularFile(idFile) && !writable(dir)) {
            return openReadOnly(dir, idFile);
        }
        JournalCompaction.recover(dir);
        try {
            if (!Files.exists(idFile)) {
                if (!create) {
                    throw new IllegalArgumentException("no journal at " + dir + " (" + ID_FILE + " not found)");
                }
                refuseDataWithoutId(dir);
                Files.createDirectories(dir);
                writeIdOnce(idFile);
            }
            String id = Files.readString(idFile, StandardCharsets.UTF_8).trim();
            // The system clock too: stepped back across midnight (NTP), Chronicle would append to the day before.
            ClockDays days = new ClockDays(clock == null ? java.time.Clock.systemUTC() : clock);
            SingleChronicleQueue queue = build(dir, days);
            if (queue.lastCycle() >= 0) { // never behind the last day written, even reopened
                days.atLeast(queue.epoch() + (long) queue.lastCycle() * queue.rollCycle().lengthInMillis());
            }
            return new ChronicleJournal(dir, id, queue, days);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open journal at " + dir, e);
        }
    }

    /** Whether this process may write the journal's directory and its metadata (root may; a reader account may not). */
    private static boolean writable(Path dir) {
        Path metadata = dir.resolve("metadata.cq4t");
        return Files.isWritable(dir) && (!Files.exists(metadata) || Files.isWritable(metadata));
    }

    /**
     * A journal this user may read but not write (an auditor's account, a backup mounted read-only): Chronicle
     * opened read-only from the start, instead of failing to map its metadata for writing and printing that
     * before falling back. Appending to it fails; an interrupted compaction cannot be recovered from here.
     */
    private static ChronicleJournal openReadOnly(Path dir, Path idFile) {
        if (Files.isDirectory(JournalCompaction.sibling(dir, ".compacting"))
                || Files.isDirectory(JournalCompaction.sibling(dir, ".precompact"))) {
            throw new IllegalStateException("journal " + dir + " has an interrupted compaction to finish, and this user"
                    + " cannot write it: open it once as its owner (any runledger command that reads it)");
        }
        try {
            String id = Files.readString(idFile, StandardCharsets.UTF_8).trim();
            return new ChronicleJournal(dir, id, SingleChronicleQueueBuilder.binary(dir).readOnly(true).build(), null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read journal at " + dir, e);
        }
    }

    /**
     * A journal's id is what its projections, snapshots and shipped copies are tied to: minting a new one
     * over existing excerpts would silently detach all of them, so a lost id is for a person to restore.
     */
    private static void refuseDataWithoutId(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var files = Files.list(dir)) {
            if (files.anyMatch(f -> f.getFileName().toString().endsWith(".cq4"))) {
                throw new IllegalStateException("journal " + dir + " holds excerpts (*.cq4) but no " + ID_FILE
                        + "; refusing to give existing data a new identity. Restore " + ID_FILE + " from a backup, or"
                        + " copy the id from a projection built from it (sqlite3 FILE \"SELECT value FROM projection_meta"
                        + " WHERE key = 'journal_id'\") into " + dir.resolve(ID_FILE));
            }
        }
    }

    // Two processes creating the same journal must agree on one id: write aside, then link into place.
    private static void writeIdOnce(Path idFile) throws IOException {
        Path tmp = idFile.resolveSibling(ID_FILE + "." + UUID.randomUUID() + ".tmp");
        Files.writeString(tmp, UUID.randomUUID() + "\n", StandardCharsets.UTF_8);
        try {
            Files.createLink(idFile, tmp);
        } catch (FileAlreadyExistsException lost) {
            // another process won the race; its id stands
        } catch (UnsupportedOperationException | IOException noLinks) {
            if (!Files.exists(idFile)) {
                Files.move(tmp, idFile, StandardCopyOption.ATOMIC_MOVE);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static SingleChronicleQueue build(Path dir, TimeProvider days) {
        SingleChronicleQueueBuilder builder = SingleChronicleQueueBuilder.binary(dir);
        return (days == null ? builder : builder.timeProvider(days)).build();
    }

    /**
     * A {@link java.time.Clock} as Chronicle's time source. Never earlier than a time it gave before: Chronicle
     * would go back to an earlier day's file and append at indexes below the head.
     */
    private static final class ClockDays implements TimeProvider {
        private final java.time.Clock clock;
        private final java.util.concurrent.atomic.AtomicLong latest = new java.util.concurrent.atomic.AtomicLong();

        ClockDays(java.time.Clock clock) {
            this.clock = clock;
        }

        @Override
        public long currentTimeMillis() {
            return latest.accumulateAndGet(clock.millis(), Math::max);
        }

        void atLeast(long millis) {
            latest.accumulateAndGet(millis, Math::max);
        }

        @Override
        public long currentTimeMicros() {
            return currentTimeMillis() * 1_000;
        }

        @Override
        public long currentTimeNanos() {
            return currentTimeMillis() * 1_000_000;
        }
    }

    @Override
    public String id() {
        return id;
    }

    RollCycle rollCycle() {
        var l = queueInUse();
        try {
            return queue.rollCycle();
        } finally {
            l.unlock();
        }
    }

    long epoch() {
        var l = queueInUse();
        try {
            return queue.epoch();
        } finally {
            l.unlock();
        }
    }

    /**
     * The bytes the journal's cycles hold, up to each cycle's last excerpt. Chronicle's cycle files are
     * sparse and far longer (64 MiB blocks), so their length says little about the disk they take.
     */
    long usedBytes() {
        var l = queueInUse();
        try {
            return usedBytes(queue, closedDayBytes);
        } finally {
            l.unlock();
        }
    }

    static long usedBytes(SingleChronicleQueue q) {
        return usedBytes(q, null);
    }

    /**
     * What the cycle files hold, summed; {@code closed} (if given) remembers the days before the last, which
     * appends never touch again: a year of daily files made each metrics scrape open 365 files.
     */
    static long usedBytes(SingleChronicleQueue q, Map<Integer, Long> closed) {
        int first = q.firstCycle();
        int last = q.lastCycle();
        if (first == Integer.MAX_VALUE || last == Integer.MIN_VALUE || first > last) {
            return 0;
        }
        long total = 0;
        for (Long key : q.listCyclesBetween(first, last)) {
            int cycle = key.intValue();
            Long known = closed == null || cycle == last ? null : closed.get(cycle);
            if (known != null) {
                total += known;
                continue;
            }
            SingleChronicleQueueStore store = q.storeForCycle(cycle, q.epoch(), false, null);
            if (store != null) {
                try {
                    long bytes = store.writePosition();
                    total += bytes;
                    if (closed != null && cycle < last) {
                        closed.put(cycle, bytes);
                    }
                } finally {
                    q.closeStore(store);
                }
            }
        }
        return total;
    }

    @Override
    public long compactions() {
        return compactions;
    }

    @Override
    public Path directory() {
        return directory;
    }

    @Override
    public long headIndex() {
        var l = queueInUse();
        try {
            long last = queue.lastIndex();
            return last < 0 ? NONE : last;
        } finally {
            l.unlock();
        }
    }

    @Override
    public long firstIndex() {
        var l = queueInUse();
        try {
            long first = queue.firstIndex();
            return first == Long.MAX_VALUE || first < 0 ? NONE : first;
        } finally {
            l.unlock();
        }
    }

    @Override
    public JournalReader readFrom(long index) {
        return new ChronicleReader(this, index, false);
    }

    @Override
    public JournalReader readAfter(long index) {
        return new ChronicleReader(this, index, true);
    }

    /** As {@link #readAfter}, extending {@code chain} (the chain head at {@code index}) over every excerpt read. */
    JournalAudit.ChainedReader readChained(long index, JournalAudit.Chain chain) {
        ChronicleReader reader = new ChronicleReader(this, index, true);
        reader.chain = chain;
        return reader;
    }

    @Override
    public long countBetween(long afterIndex, long toIndex) {
        if (toIndex == NONE || toIndex <= afterIndex) {
            return 0;
        }
        long from = afterIndex == NONE ? firstIndex() : afterIndex;
        if (from == NONE) {
            return 0;
        }
        // countExcerpts counts [from, to): shift to (after, to].
        var l = queueInUse();
        try {
            long n = queue.countExcerpts(from, toIndex);
            return afterIndex == NONE ? n + 1 : n;
        } finally {
            l.unlock();
        }
    }

    /** Receives the events a {@link #scanAfter} wants, with their journal index. */
    @FunctionalInterface
    interface ScanSink {
        /** @param appendedAtMicros when the ledger appended it (its clock, microseconds since the epoch) */
        void accept(long index, long appendedAtMicros, RunEvent event);
    }

    /**
     * Reads every excerpt after {@code after} ({@link #NONE}: from the start) and hands the ones of the
     * {@code wanted} types to {@code sink}, decoding nothing else. Every checksum is checked all the same,
     * since a flipped type byte could otherwise hide a lifecycle event as a command. Excerpts that are
     * damaged or do not decode are skipped (projections quarantine them) and counted.
     */
    ScanResult scanAfter(long after, Set<EventType> wanted, ScanSink sink) {
        long[] counts = {0, 0, after}; // excerpts, damaged, last index read
        EventEncoding.Reader reader = new EventEncoding.Reader();
        readRaw(after, (index, buf, length) -> {
            counts[2] = index;
            if (EventEncoding.isCompacted(buf, length)) {
                return true;
            }
            counts[0]++;
            try {
                reader.reset(buf, length);
                if (wanted.contains(reader.type())) {
                    sink.accept(index, reader.appendedAtMicros(), reader.decode());
                }
            } catch (EventEncoding.CorruptExcerptException e) {
                counts[1]++;
            }
            return true;
        });
        return new ScanResult(counts[0], counts[1], counts[2]);
    }

    /** What a scan read: excerpts in all, how many of them were damaged, and the index of the last one read. */
    record ScanResult(long excerpts, long damaged, long lastIndex) {
    }

    /** Receives raw excerpts: its index, and {@code length} bytes of {@code buf} (valid during the call only). */
    @FunctionalInterface
    interface RawSink {
        /** Returns false to stop reading. */
        boolean accept(long index, byte[] buf, int length);
    }

    /** {@link #readRaw(long, RawSink)} from the start. */
    long readRaw(RawSink sink) {
        return readRaw(NONE, sink);
    }

    /**
     * Hands every excerpt after {@code after} ({@link #NONE}: from the start) to {@code sink} as stored,
     * unchecked. An excerpt longer than {@link #MAX_EXCERPT_BYTES} (only a damaged length field makes one)
     * is handed over cut to that size, so memory stays bounded. Returns the index of the last excerpt
     * read, or {@code after} if there was none.
     */
    long readRaw(long after, RawSink sink) {
        return readRaw(after, sink, null, null);
    }

    /**
     * {@link #readRaw(long, RawSink)}, leaving out whole cycles (days) that {@code skipCycle} names without
     * reading past their first header (compaction drops a day in which every excerpt is dead that way); after
     * each excerpt the sink took, {@code then} (if given) may name a later index to go on after, skipping what
     * lies between unread (one tailer throughout: making one per skip cost more than the skip saved). Returns
     * the last index read or skipped to.
     */
    long readRaw(long after, RawSink sink, java.util.function.IntPredicate skipCycle, java.util.function.LongUnaryOperator then) {
        byte[] buf = new byte[64 * 1024];
        long last = after;
        var l = queueInUse();
        try (ExcerptTailer tailer = queue.createTailer()) {
            if (after != NONE) {
                positionAfter(tailer, after);
            }
            RollCycle rollCycle = queue.rollCycle();
            while (true) {
                int skipped = -1;
                long jumpTo = NONE;
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        return last;
                    }
                    int cycle = rollCycle.toCycle(dc.index());
                    if (skipCycle != null && skipCycle.test(cycle)) {
                        skipped = cycle;
                    } else {
                        Bytes<?> bytes = dc.wire().bytes();
                        int length = (int) Math.min(bytes.readRemaining(), MAX_EXCERPT_BYTES);
                        if (length > buf.length) {
                            buf = new byte[length];
                        }
                        bytes.read(buf, 0, length);
                        last = dc.index();
                        if (!sink.accept(last, buf, length)) {
                            return last;
                        }
                        long to = then == null ? last : then.applyAsLong(last);
                        if (to == last) {
                            continue;
                        }
                        jumpTo = to;
                    }
                }
                if (jumpTo != NONE) {
                    last = jumpTo;
                    positionAfter(tailer, jumpTo);
                } else if (!moveToCycleAfter(tailer, skipped, skipCycle)) {
                    return last;
                }
            }
        } finally {
            l.unlock();
        }
    }

    /**
     * Moves {@code tailer} to just after {@code index}, also when the journal no longer holds it (a day that
     * compaction dropped whole, or one never written): then to the next day that has a file, or the end.
     */
    private void positionAfter(ExcerptTailer tailer, long index) {
        if (!positionAtOrAfter(tailer, index)) {
            throw new IllegalStateException(this + " holds no excerpt at index " + index + ": it ends at "
                    + queue.lastIndex());
        }
        skipIfAt(tailer, index);
    }

    /**
     * Moves {@code tailer} to {@code index} ({@link #NONE}: the start), or where the journal goes on after it
     * when it does not hold it: the start if it lies before, the next day that has a file if it lies in a gap
     * between days (never written, or dropped whole by a compaction), the end if no day follows. False, the
     * tailer unmoved, if it lies past the last excerpt.
     */
    private boolean positionAtOrAfter(ExcerptTailer tailer, long index) {
        if (index == NONE || tailer.moveToIndex(index)) {
            if (index == NONE) {
                tailer.toStart();
            }
            return true;
        }
        long first = queue.firstIndex();
        if (first == Long.MAX_VALUE || index <= first) {
            tailer.toStart();
            return true;
        }
        if (index > queue.lastIndex()) {
            return false;
        }
        int cycle = queue.rollCycle().toCycle(index);
        if (!tailer.moveToCycle(cycle)) {
            if (!moveToCycleAfter(tailer, cycle, null)) {
                tailer.toEnd();
            }
            return true;
        }
        while (true) { // a day that lacks the index (only a damaged copy does): read up to it
            if (tailer.index() >= index) {
                return true;
            }
            try (DocumentContext dc = tailer.readingDocument()) {
                if (!dc.isPresent()) {
                    return true;
                }
            }
        }
    }

    /** Reads past the excerpt at {@code index} if the tailer stands on it: the caller asked for what follows. */
    private static void skipIfAt(ExcerptTailer tailer, long index) {
        if (tailer.index() == index) {
            try (DocumentContext dc = tailer.readingDocument()) {
                dc.isPresent();
            }
        }
    }

    /** Moves {@code tailer} to the start of the first day after {@code cycle} that has a file and is not skipped. */
    private boolean moveToCycleAfter(ExcerptTailer tailer, int cycle, java.util.function.IntPredicate skipCycle) {
        int lastCycle = queue.lastCycle();
        for (int c = cycle + 1; c <= lastCycle; c++) {
            if ((skipCycle == null || !skipCycle.test(c)) && tailer.moveToCycle(c)) {
                return true;
            }
        }
        return false;
    }

    /** The CRC-32C of the excerpt at exactly {@code index} as stored, or null if the journal holds none there. */
    Integer excerptChecksum(long index) {
        var l = queueInUse();
        try (ExcerptTailer tailer = queue.createTailer()) {
            if (!tailer.moveToIndex(index)) {
                return null;
            }
            try (DocumentContext dc = tailer.readingDocument()) {
                if (!dc.isPresent() || dc.index() != index) {
                    return null;
                }
                Bytes<?> bytes = dc.wire().bytes();
                int length = (int) Math.min(bytes.readRemaining(), MAX_EXCERPT_BYTES);
                byte[] buf = new byte[length];
                bytes.read(buf, 0, length);
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(buf, 0, length);
                return (int) crc.getValue();
            }
        } finally {
            l.unlock();
        }
    }

    /**
     * Whether a reader that goes on from {@code from} (the last excerpt known readable, or {@link #NONE})
     * reaches the excerpt at {@code index}.
     */
    boolean reachable(long from, long index) {
        long[] found = {NONE};
        readRaw(from == NONE ? NONE : from, (i, buf, length) -> {
            found[0] = i;
            return i < index;
        });
        return found[0] == index;
    }

    /**
     * Makes the excerpt at {@code index} reachable when a cut left a zeroed hole before it: Chronicle's
     * appender resumes at the write position its file header recorded, past the hole, while readers stop
     * at the hole's first (zero) header. The hole is turned into one metadata document, which readers
     * skip. Only zeros are ever overwritten; returns false if the layout is not the one expected.
     */
    boolean padHoleBefore(long from, long index) {
        var l = queueInUse();
        try {
            closedDayBytes.clear(); // the padding writes into a day's file
            return padHoleBeforeLocked(from, index);
        } finally {
            l.unlock();
        }
    }

    private boolean padHoleBeforeLocked(long from, long index) {
        long holeStart;
        try (ExcerptTailer tailer = queue.createTailer()) {
            if (from != NONE && !tailer.moveToIndex(from)) {
                return false;
            }
            long end = NONE;
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    end = dc.wire().bytes().readLimit();
                }
            }
            if (end == NONE) {
                return false;
            }
            holeStart = (end + 3) & ~3L; // headers are 4-byte aligned
        }
        int cycle = queue.rollCycle().toCycle(index);
        SingleChronicleQueueStore store = queue.storeForCycle(cycle, queue.epoch(), false, null);
        if (store == null) {
            return false;
        }
        try (FileChannel file = FileChannel.open(store.file().toPath(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // The appended excerpt's header is the first non-zero word after the hole (its index entry cannot
            // be trusted: Chronicle's index was written for the excerpts the cut removed).
            java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(64 * 1024).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long header = NONE;
            int word = 0;
            for (long at = holeStart; header == NONE && at < holeStart + MAX_EXCERPT_BYTES; at += chunk.capacity()) {
                chunk.clear();
                if (file.read(chunk, at) <= 0) {
                    return false;
                }
                for (int i = 0; i + 4 <= chunk.position(); i += 4) {
                    word = chunk.getInt(i);
                    if (word != 0) {
                        header = at + i;
                        break;
                    }
                }
            }
            if (header == NONE || (word & (Wires.META_DATA | Wires.NOT_COMPLETE)) != 0 || (word & Wires.LENGTH_MASK) == 0) {
                return false; // not a complete data excerpt after zeros: leave the file alone
            }
            long gap = header - holeStart - 4;
            if (gap < 0) {
                return false;
            }
            java.nio.ByteBuffer meta = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            meta.putInt(0, Wires.META_DATA | (int) gap);
            file.write(meta, holeStart);
            file.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot pad the hole in " + store.file(), e);
        } finally {
            queue.closeStore(store);
        }
        return reachable(from, index);
    }

    /**
     * One appender per caller thread; the {@link Ledger} serializes use of it, and makes a new one after
     * a {@link #swapIn} (the old one wrote to the queue that was closed).
     */
    ExcerptAppender createAppender() {
        var l = queueInUse();
        try {
            return queue.createAppender();
        } finally {
            l.unlock();
        }
    }

    /**
     * Replaces the journal's files with the compacted copy in {@code copy} (complete, synced, marked) while
     * the journal stays open: waits for every reader to finish the excerpt it is reading, closes their
     * tailers and the queue, swaps the directories and opens the copy. Readers reopen at their own position
     * on their next read. Appenders must be closed by the caller first, and made anew after. The old files
     * are left in {@code DIR.precompact} for the caller to delete once appends flow again.
     */
    void swapIn(Path copy, java.util.function.Consumer<String> lap) {
        swapLock.writeLock().lock();
        try {
            lap.accept("readers paused");
            for (ChronicleReader r : readers) {
                r.closeTailer();
            }
            queue.close();
            lap.accept("queue closed");
            try {
                JournalCompaction.swap(directory, copy, false); // the caller deletes the old files, appends flowing
                lap.accept("renamed");
            } catch (RuntimeException e) {
                // The caller holds the compaction lock: finish or undo the swap, so one whole journal is there.
                JournalCompaction.recoverLocked(directory);
                throw e;
            } finally {
                queue = build(directory, days);
                closedDayBytes.clear();
                compactions++;
                lap.accept("reopened");
            }
        } finally {
            swapLock.writeLock().unlock();
        }
    }

    /** Writes bytes as one excerpt, returning its index. Caller owns {@code appender} for this call. */
    static long write(ExcerptAppender appender, byte[] buf, int length) {
        try (DocumentContext dc = appender.writingDocument()) {
            try {
                dc.wire().bytes().write(buf, 0, length);
            } catch (RuntimeException e) {
                dc.rollbackOnClose();
                throw e;
            }
        }
        return appender.lastIndexAppended();
    }

    @Override
    public void close() {
        swapLock.writeLock().lock();
        try {
            queue.close();
        } finally {
            swapLock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "journal " + directory + " (id " + id + ")";
    }

    private static final class ChronicleReader implements JournalAudit.ChainedReader {
        private final ChronicleJournal journal;
        /** Extended over every excerpt read, when the reader was opened by {@link #readChained}. */
        private JournalAudit.Chain chain;
        private final EventEncoding.Reader decoder = new EventEncoding.Reader();
        private byte[] buf = new byte[4096];
        /** Where the reader was asked to start: at or after {@code start}, or strictly after it. */
        private final long start;
        private final boolean after;
        /** The last index read, or NONE: where a reader reopened on a compacted copy goes on from. */
        private long lastRead = NONE;
        private ExcerptTailer tailer;
        private long compactions;

        ChronicleReader(ChronicleJournal journal, long start, boolean after) {
            this.journal = journal;
            this.start = start;
            this.after = after;
            var l = journal.queueInUse();
            try {
                open();
            } finally {
                l.unlock();
            }
            journal.readers.add(this);
        }

        /** Opens a tailer on the journal's current queue at this reader's position; the caller holds the read lock. */
        private void open() {
            compactions = journal.compactions;
            tailer = journal.queue.createTailer();
            if (lastRead != NONE) {
                if (tailer.moveToIndex(lastRead)) {
                    skipIfAt(lastRead);
                    return;
                }
                positionAtOrAfter(lastRead); // only a damaged copy lacks it: the next index it has
                skipIfAt(lastRead);
            } else if (after) {
                if (start != NONE) {
                    positionAtOrAfter(start);
                    skipIfAt(start);
                }
            } else {
                positionAtOrAfter(start);
            }
        }

        @Override
        public String chainHex() {
            if (chain == null) {
                throw new IllegalStateException("this reader was not opened with JournalAudit.readChained");
            }
            return chain.hex();
        }

        /** Called by the swap (holding the write lock, so this reader is between reads). */
        void closeTailer() {
            if (tailer != null) {
                tailer.singleThreadedCheckReset();
                tailer.close();
                tailer = null;
            }
        }

        private void positionAtOrAfter(long index) {
            if (!journal.positionAtOrAfter(tailer, index)) {
                tailer.toEnd(); // past the end: what is appended next follows
            }
        }

        private void skipIfAt(long index) {
            ChronicleJournal.skipIfAt(tailer, index);
        }

        @Override
        public JournalEntry next() {
            var l = journal.queueInUse();
            try {
                if (tailer == null || compactions != journal.compactions) {
                    closeTailer();
                    open();
                }
                JournalEntry entry = read();
                if (entry != null) {
                    lastRead = entry.index();
                }
                return entry;
            } finally {
                l.unlock();
            }
        }

        private JournalEntry read() {
            try (DocumentContext dc = tailer.readingDocument()) {
                if (!dc.isPresent()) {
                    return null;
                }
                long index = dc.index();
                Bytes<?> bytes = dc.wire().bytes();
                long stored = bytes.readRemaining();
                if (stored > MAX_EXCERPT_BYTES) {
                    // Only a damaged length field makes one this large: report it, never allocate for it.
                    int kept = JournalEntry.Unreadable.MAX_KEPT_BYTES;
                    byte[] prefix = new byte[kept];
                    bytes.read(prefix, 0, kept);
                    return new JournalEntry.Unreadable(index, (int) Math.min(stored, Integer.MAX_VALUE), prefix, null,
                            "excerpt length " + stored + " is larger than any event can be");
                }
                int length = (int) stored;
                if (length > buf.length) {
                    buf = new byte[Math.max(length, buf.length * 2)];
                }
                bytes.read(buf, 0, length);
                if (chain != null) {
                    chain.add(index, buf, length);
                }
                if (EventEncoding.isCompacted(buf, length)) {
                    return new JournalEntry.Compacted(index);
                }
                try {
                    decoder.reset(buf, length);
                    long appendedAt = decoder.appendedAtMicros();
                    return new JournalEntry.Event(index, appendedAt, decoder.decode());
                } catch (EventEncoding.CorruptExcerptException e) {
                    return new JournalEntry.Unreadable(index, length,
                            Arrays.copyOf(buf, Math.min(length, JournalEntry.Unreadable.MAX_KEPT_BYTES)),
                            decoder.runIdUnchecked(), e.getMessage());
                }
            }
        }

        @Override
        public JournalEntry next(Duration timeout) throws InterruptedException {
            JournalEntry entry = next();
            if (entry != null) {
                return entry;
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            long pause = 20_000;
            while (true) {
                if (Thread.interrupted()) {
                    throw new InterruptedException("interrupted while waiting for the journal");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                // Chronicle has no cross-thread wake-up for tailers: back off from 20 µs to 1 ms.
                LockSupport.parkNanos(Math.min(left, pause));
                pause = Math.min(pause * 2, 1_000_000);
                entry = next();
                if (entry != null) {
                    return entry;
                }
            }
        }

        @Override
        public void close() {
            journal.readers.remove(this);
            // Closing may happen on a thread other than the one that read (shutdown hooks, tests).
            var l = journal.queueInUse();
            try {
                closeTailer();
            } finally {
                l.unlock();
            }
        }
    }
}
