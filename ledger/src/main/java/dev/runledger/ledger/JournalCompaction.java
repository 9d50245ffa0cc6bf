package dev.runledger.ledger;

import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Rewrites a journal without the events of deleted runs: offline ({@link #compact}, the ledger's lock is
 * taken: stop the appending process first; readers in other processes must reopen afterwards), or online
 * from the ledger that appends to it ({@link Ledger#compact}), which copies while appends go on and holds
 * them only for the tail and the swap.
 *
 * <p>What stays the same: every event of every live run, byte for byte, at its own index (a dropped
 * event leaves a one-byte stand-in that readers skip, so positions handed to clients, projection
 * checkpoints and reader positions keep their meaning and indexes never go backwards); the journal id;
 * per-run digests. What changes: the hash chain (recomputed and sealed; the old head is kept in
 * {@code journal.lineage}, one JSON line per compaction) and the disk used.
 *
 * <p>A deleted run is dropped whole (its creation, commands, deletion) only once every registered
 * reader ({@link ReaderPositions}) has passed its deletion, unless forced.
 *
 * <p>Crash-safe: the new journal is written beside the old ({@code DIR.compacting}) and synced, then
 * swapped in by two renames (the old journal aside to {@code DIR.precompact}, the copy into its place).
 * Whatever a {@code kill -9} interrupts, the next open of the journal ({@link #recover}) tells from the
 * directories that exist where it stopped: before the first rename the copy is discarded, between the
 * two the swap is finished, after them the old journal is deleted. Exactly one whole journal is in use.
 */
public final class JournalCompaction {
    private static final Logger LOG = LoggerFactory.getLogger(JournalCompaction.class);
    static final String LINEAGE_FILE = "journal.lineage";
    /** Marked a finished copy in earlier versions; recovery now tells by which directories exist, and removes it. */
    private static final String LEGACY_MARKER = "COMPACTION-COMPLETE";
    /** The online copy catches up with appends until one pass copies fewer excerpts than this; the rest waits. */
    private static final long TAIL_EXCERPTS = 2_000;
    private static final int MAX_CATCH_UP_PASSES = 8;
    /** This many dead indexes in a row are written as stand-ins unread; fewer are read (a jump costs a tailer move). */
    private static final long MIN_DEAD_SPAN = 32;

    /**
     * What a compaction did. {@code took} is all of it, the old files' deletion included; {@code steps} says
     * where that time went, in order ({@link #STEPS_ONLINE} or {@link #STEPS_OFFLINE}). {@code appendsHeld} is
     * how long appends waited for it: the tail and the swap online, all of it offline (no ledger was open).
     */
    public record Result(long excerpts, long droppedEvents, int droppedRuns, int heldBackRuns, List<String> heldBackBy,
                         long bytesBefore, long bytesAfter, Duration took, Duration appendsHeld, String chainBefore,
                         String chainAfter, Set<String> droppedRunIds, int droppedDays, Map<String, Duration> steps) {
        public Result {
            steps = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(steps));
        }

        /** Disk space returned to the file system. */
        public long reclaimedBytes() {
            return Math.max(0, bytesBefore - bytesAfter);
        }

        Result withAppendsHeld(Duration held) {
            return new Result(excerpts, droppedEvents, droppedRuns, heldBackRuns, heldBackBy, bytesBefore, bytesAfter, took,
                    held, chainBefore, chainAfter, droppedRunIds, droppedDays, steps);
        }

        /** This result once every step has run: {@code took} is their sum. */
        Result withSteps(Laps laps) {
            return new Result(excerpts, droppedEvents, droppedRuns, heldBackRuns, heldBackBy, bytesBefore, bytesAfter,
                    laps.total(), appendsHeld, chainBefore, chainAfter, droppedRunIds, droppedDays, laps.steps());
        }
    }

    /** The steps of an online compaction, in the order they run: appends wait only during {@code appends held}. */
    public static final List<String> STEPS_ONLINE = List.of("finding deleted runs", "copy", "sync", "appends held",
            "old files deleted");
    /** The steps of an offline compaction ({@link #compact}); the copy's sync is part of {@code copy}. */
    public static final List<String> STEPS_OFFLINE = List.of("finding deleted runs", "copy", "swap", "old files deleted");

    private JournalCompaction() {
    }

    /**
     * Compacts the journal in {@code dir}, which no ledger may have open. With {@code force}, registered
     * readers are not waited for (a reader that has not applied a deletion then never will: rebuild it).
     */
    public static Result compact(Path dir, boolean force) {
        Path journalDir = dir.toAbsolutePath().normalize();
        long start = System.nanoTime();
        if (!Files.exists(journalDir.resolve(ChronicleJournal.ID_FILE)) && !Files.isDirectory(sibling(journalDir, ".compacting"))) {
            throw new IllegalArgumentException("no journal at " + journalDir + " (" + ChronicleJournal.ID_FILE + " not found)");
        }
        try (ExclusiveFileLock swapLock = lockCompaction(journalDir)) {
            recoverLocked(journalDir);
            try (ExclusiveFileLock lock = ExclusiveFileLock.acquire(journalDir.resolve(ChronicleLedger.LOCK_FILE), "journal "
                    + journalDir + " is open for appending (a running serve or ledger); compact it there"
                    + " (serve --compact-when-dead, DELETE /runs/{id}?erase=true) or stop it first")) {
                Path copy;
                Result result;
                Laps steps = new Laps(start);
                try (ChronicleJournal source = ChronicleJournal.open(journalDir, false);
                     Copy c = new Copy(source, force, start)) {
                    steps.lap("finding deleted runs");
                    // The seal written when its ledger closed holds the chain head already; hashing every byte
                    // again cost 40% of the compaction, so only a seal behind the head does.
                    String sealedHead = sealedHead(journalDir, source);
                    c.copyAll(sealedHead == null);
                    result = c.finish(sealedHead, start);
                    copy = c.copy;
                }
                steps.lap("copy");
                swap(journalDir, copy, false);
                steps.lap("swap");
                deleteTree(sibling(journalDir, ".precompact"));
                steps.lap("old files deleted");
                result = result.withSteps(steps);
                result = result.withAppendsHeld(result.took()); // no ledger was open: appends could not run at all
                log(journalDir, result);
                return result;
            }
        }
    }

    static ExclusiveFileLock lockCompaction(Path journalDir) {
        return ExclusiveFileLock.acquire(sibling(journalDir, ".compaction.lock"), "journal " + journalDir
                + " is being compacted already");
    }

    /**
     * Compacts {@code source} while its ledger goes on appending: the bulk is copied now, and
     * {@code holdingAppends} is called with what remains (the tail, the seal, the swap), which it must run
     * while no append, seal or scan uses the journal. Called by the ledger only. {@code known} is what the
     * ledger's retention view knows up to some index: the deleted runs' [created, deleted] ranges (a run
     * deleted after it is copied whole and dropped next time) and what each day holds; null reads the
     * journal for them first.
     */
    static Swapped compactOnline(ChronicleJournal source, boolean force, Retention.Known known,
                                 HoldAppends holdingAppends) {
        long start = System.nanoTime();
        Path journalDir = source.directory();
        Laps steps = new Laps(start);
        try (ExclusiveFileLock swapLock = lockCompaction(journalDir);
             Copy c = new Copy(source, force, start, known)) {
            steps.lap("finding deleted runs");
            // Each pass copies what was appended during the last, and is shorter while the copy gains on the
            // appends. Once a pass is no shorter than the one before, appends are outpacing the copy: further
            // passes would only grow (a copy with C1's SHA-256 behind a full-speed appender went on for minutes,
            // eight passes each longer than the last), so the tail is taken as it is, with appends held longer.
            long copied = c.copyAll(false);
            int passes = 1;
            while (copied >= TAIL_EXCERPTS && passes < MAX_CATCH_UP_PASSES) {
                long pass = c.copyAll(false);
                passes++;
                boolean gaining = pass < copied;
                copied = pass;
                if (!gaining) {
                    break;
                }
            }
            steps.lap("copy");
            c.syncBulk(); // so that the sync with appends held writes only the tail
            c.copyAll(false); // what arrived during the sync, still without holding appends
            steps.lap("sync");
            Swapped swapped = holdingAppends.run(chainBefore -> {
                long held = System.nanoTime();
                c.laps = new Laps();
                c.copyAll(false);
                c.laps.lap("tail");
                Result r = c.finish(chainBefore, start);
                // The ledger's lock file moves with the copy: locked before the rename, it is never free.
                ExclusiveFileLock appendLock = ExclusiveFileLock.acquire(c.copy.resolve(ChronicleLedger.LOCK_FILE),
                        "the compacted copy of " + journalDir);
                try {
                    source.swapIn(c.copy, c.laps::lap);
                } catch (RuntimeException e) {
                    appendLock.close();
                    throw e;
                }
                c.laps.lap("swap");
                // Its time is set once every step has run (withSteps, below).
                Result result = r.withAppendsHeld(Duration.ofNanos(System.nanoTime() - held));
                Map<String, Long> deletions = new HashMap<>();
                c.dead.ranges.forEach((runId, ranges) -> deletions.put(runId, ranges.get(ranges.size() - 1)[1]));
                return new Swapped(result, appendLock, deletions);
            });
            steps.lap("appends held");
            // Deleting the old files (hundreds of MB) takes a while: not while appends wait.
            deleteTree(sibling(journalDir, ".precompact"));
            steps.lap("old files deleted");
            Result result = swapped.result().withSteps(steps);
            log(journalDir, result);
            LOG.info("{}: compaction took {}, its copy in {} passes; appends were held for {}", journalDir, steps, passes,
                    c.laps);
            return new Swapped(result, swapped.appendLock(), swapped.droppedDeletions());
        }
    }

    /**
     * An online compaction swapped in: what it did, the ledger's lock on the new directory, and for each
     * run it dropped the index of its last deletion dropped (the run may live again after it).
     */
    record Swapped(Result result, ExclusiveFileLock appendLock, Map<String, Long> droppedDeletions) {
    }

    /** Runs the last step of an online compaction with appends held (see {@link #compactOnline}). */
    @FunctionalInterface
    interface HoldAppends {
        /** Holds appends, extends the old journal's chain to its head, and runs {@code lastStep} with its hex. */
        Swapped run(java.util.function.Function<String, Swapped> lastStep);
    }

    private static void log(Path journalDir, Result result) {
        LOG.info("compacted {}: dropped {} events of {} deleted runs ({} days left out whole; {} runs held back for readers {}),"
                        + " {} -> {} bytes in {} ms, appends held {} ms", journalDir, result.droppedEvents(), result.droppedRuns(),
                result.droppedDays(),
                result.heldBackRuns(), result.heldBackBy(), result.bytesBefore(), result.bytesAfter(), result.took().toMillis(),
                result.appendsHeld().toMillis());
    }

    /** Runs deleted within the journal: for each run id, the index ranges [created, deleted] to drop. */
    private static final class Dead {
        final Map<String, List<long[]>> ranges = new HashMap<>();
        int runs;
        int heldBack;

        /** Whether every excerpt of {@code day} is one this compaction drops (its stand-ins aside). */
        boolean dropsDay(Retention.Day day) {
            if (day.unaccounted) {
                return false;
            }
            for (Map.Entry<String, Retention.Pieces> e : day.spans.entrySet()) {
                for (long[] range : e.getValue().ranges) {
                    if (!dropsSpan(e.getKey(), range[0], range[1])) {
                        return false;
                    }
                }
            }
            return true;
        }

        /** Whether the indexes {@code first} to {@code last} all lie in one range of {@code runId} this compaction drops. */
        boolean dropsSpan(String runId, long first, long last) {
            List<long[]> r = ranges.get(runId);
            for (int i = 0; r != null && i < r.size(); i++) {
                if (first >= r.get(i)[0] && last <= r.get(i)[1]) {
                    return true;
                }
            }
            return false;
        }

        boolean drops(String runId, long index) {
            return dropsSpan(runId, index, index);
        }
    }

    /** {@link #deadRuns} from ranges the ledger already knows (its retention view), without reading the journal. */
    private static Dead deadRuns(Map<String, List<long[]>> known, long passedByAll) {
        Dead dead = new Dead();
        known.forEach((runId, ranges) -> {
            for (long[] range : ranges) {
                if (range[1] <= passedByAll) {
                    dead.ranges.computeIfAbsent(runId, k -> new ArrayList<>()).add(range);
                    dead.runs++;
                } else {
                    dead.heldBack++;
                }
            }
        });
        return dead;
    }

    /**
     * The compacted copy being written beside the journal, excerpt by excerpt at the same indexes, with
     * its hash chain computed as it goes. Deleted runs are found once, at the start: a run deleted later is
     * copied whole and dropped by the next compaction (its events can only precede its deletion).
     */
    private static final class Copy implements AutoCloseable {
        final ChronicleJournal source;
        final Path journalDir;
        final Path copy;
        final Map<String, Long> readers;
        final long passedByAll;
        final Dead dead;
        final long bytesBefore;
        /** The copy's days before its last, measured once before appends are held: appends never touch them again. */
        private final Map<Integer, Long> closedCopyDays = new HashMap<>();
        final RollCycle rollCycle;
        final long epoch;
        /**
         * Days (cycles) in which every excerpt is dead or a stand-in, the head's day excepted: left out whole,
         * unread, with no stand-ins (a day's file holds its own indexes, so the days after keep theirs).
         */
        final java.util.BitSet dropDays = new java.util.BitSet();
        long dropDayEvents;
        final List<long[]> droppedDayRanges = new ArrayList<>();
        /**
         * Index ranges, start to end, that deleted runs fill within a day that stays: written as stand-ins
         * without reading them (the retention view checked their checksums when it read them).
         */
        final java.util.TreeMap<Long, Long> deadSpans = new java.util.TreeMap<>();
        final SetTimeProvider clock = new SetTimeProvider(0);
        final EventEncoding.Reader reader = new EventEncoding.Reader();
        final BytesStore<?, ?> stand = BytesStore.wrap(new byte[] {EventEncoding.COMPACTED});
        final JournalAudit.Chain after;
        JournalAudit.Chain before;
        /** Timed steps while appends are held (online only). */
        Laps laps;
        SingleChronicleQueue target;
        ExcerptAppender appender;
        /** The last of the appender's wires whose owner check is off. */
        private net.openhft.chronicle.wire.Wire checkedOff;
        long copied = Journal.NONE;
        long excerpts;
        long dropped;
        boolean finished;

        Copy(ChronicleJournal source, boolean force, long start) {
            this(source, force, start, null);
        }

        /** {@code known}: the deleted runs' ranges and the days, if the caller knows them (null: a first pass reads them). */
        Copy(ChronicleJournal source, boolean force, long start, Retention.Known known) {
            this.source = source;
            this.journalDir = source.directory();
            this.copy = sibling(journalDir, ".compacting");
            deleteTree(copy);
            this.readers = ReaderPositions.read(journalDir);
            this.passedByAll = force ? Long.MAX_VALUE : readers.values().stream().mapToLong(Long::longValue).min()
                    .orElse(Long.MAX_VALUE);
            if (known == null) {
                Retention read = new Retention(source);
                read.catchUp();
                known = read.known();
            }
            this.dead = deadRuns(known.deadRanges(), passedByAll);
            this.rollCycle = source.rollCycle();
            // A day read to its end and not the head's: appends only go to the head's day or a later one.
            int lastWhole = Math.min(known.openDay(), source.headIndex() == Journal.NONE ? -1
                    : rollCycle.toCycle(source.headIndex())) - 1;
            known.days().forEach((cycle, day) -> {
                if (cycle <= lastWhole && dead.dropsDay(day)) {
                    dropDays.set(cycle);
                    dropDayEvents += day.events;
                    droppedDayRanges.add(new long[] {day.first, day.last});
                } else { // a deleted run gets no more events: its span is whole even in a day still growing
                    addDeadSpans(day);
                }
            });
            this.bytesBefore = source.usedBytes();
            this.epoch = source.epoch();
            this.after = new JournalAudit.Chain(source.id());
            try {
                Files.createDirectories(copy);
                Files.writeString(copy.resolve(ChronicleJournal.ID_FILE), source.id() + "\n", StandardCharsets.UTF_8);
            } catch (IOException e) {
                deleteTree(copy);
                throw new UncheckedIOException("cannot compact " + journalDir + ": " + e.getMessage(), e);
            }
            target = SingleChronicleQueueBuilder.binary(copy).rollCycle(rollCycle).epoch(epoch).timeProvider(clock).build();
            appender = target.createAppender();
            // One thread writes the copy; Chronicle's owner check on every write cost ~14% of the compaction.
            appender.singleThreadedCheckDisabled(true);
        }

        /**
         * The day's dead pieces, joined where one ends just before the next begins. A deleted run's events
         * and its deletion lie apart (retention appends the deletion after the next run's events), so run by
         * run the dead part of a one-file year was 2,150 pieces, each a tailer jump or a read; joined, what
         * lies between the first and the newest kept runs is one span.
         */
        private void addDeadSpans(Retention.Day day) {
            List<long[]> pieces = new ArrayList<>();
            day.spans.forEach((runId, runPieces) -> {
                for (long[] range : runPieces.merged ? List.<long[]>of() : runPieces.ranges) {
                    if (dead.dropsSpan(runId, range[0], range[1])) {
                        pieces.add(range);
                    }
                }
            });
            pieces.sort(Comparator.comparingLong(r -> r[0]));
            long first = Long.MIN_VALUE;
            long last = Long.MIN_VALUE;
            for (long[] range : pieces) {
                if (first != Long.MIN_VALUE && range[0] == last + 1) {
                    last = range[1];
                    continue;
                }
                addDeadSpan(first, last);
                first = range[0];
                last = range[1];
            }
            addDeadSpan(first, last);
        }

        private void addDeadSpan(long first, long last) {
            if (first != Long.MIN_VALUE && last - first + 1 >= MIN_DEAD_SPAN) {
                deadSpans.put(first, last);
            }
        }

        /** Copies what the journal holds past the last call; {@code chainBefore} also hashes the old bytes. Returns how many. */
        long copyAll(boolean chainBefore) {
            if (chainBefore && before == null && copied == Journal.NONE) {
                before = new JournalAudit.Chain(source.id());
                // The old chain runs through every excerpt: each day is read, and its dead excerpts become stand-ins.
                dropDays.clear();
                dropDayEvents = 0;
                droppedDayRanges.clear();
                deadSpans.clear();
            }
            long from = excerpts;
            // Up to the head as it is now: appends faster than the copy would otherwise keep one pass going forever.
            long upTo = source.headIndex();
            copied = source.readRaw(copied, (index, buf, length) -> copyExcerpt(index, buf, length) && index < upTo,
                    dropDays.isEmpty() ? null : dropDays::get, deadSpans.isEmpty() ? null : this::standInsAfter);
            return excerpts - from;
        }

        /**
         * After the excerpt at {@code index}: if a dead span begins next (or began with it, at the start of a
         * day), writes its stand-ins and returns where it ends; otherwise {@code index}.
         */
        private long standInsAfter(long index) {
            Long end = deadSpans.get(index);
            if (end == null) {
                end = deadSpans.get(index + 1);
            }
            if (end == null || end <= index) {
                return index;
            }
            standIns(index + 1, end);
            return end;
        }

        /** Stand-ins for the indexes {@code first} to {@code last} of one day, all deleted runs' events. */
        private void standIns(long first, long last) {
            clock.currentTimeMillis(epoch + (long) rollCycle.toCycle(first) * rollCycle.lengthInMillis());
            for (long index = first; index <= last; index++) {
                appender.writeBytes(stand);
                after.add(index, STAND_IN, 1);
                if (index == first) {
                    uncheckedWire();
                }
            }
            if (appender.lastIndexAppended() != last) {
                throw new IllegalStateException("compaction of " + journalDir + " wrote the stand-in of index " + last
                        + " at " + appender.lastIndexAppended() + "; nothing was changed");
            }
            excerpts += last - first + 1;
            dropped += last - first + 1;
        }

        /**
         * The appender's wire (a new one each day) checks its owner thread on every write too: 15-20% of a
         * million stand-in writes (210-260 ms checked, 170-210 ms not). Only this thread writes the copy.
         */
        private void uncheckedWire() {
            net.openhft.chronicle.wire.Wire wire = appender.wire();
            if (wire != checkedOff && wire != null) {
                wire.bytes().singleThreadedCheckDisabled(true);
                checkedOff = wire;
            }
        }

        private boolean copyExcerpt(long index, byte[] buf, int length) {
            if (before != null) {
                before.add(index, buf, length);
            }
            excerpts++;
            boolean standIn = EventEncoding.isCompacted(buf, length); // left by an earlier compaction
            boolean drop = false;
            if (!standIn) {
                String runId = reader.reset(buf, length).runIdUnchecked();
                drop = runId != null && dead.drops(runId, index) && intact(reader);
            }
            // Chronicle writes to the cycle its clock names: set it to the source excerpt's cycle
            clock.currentTimeMillis(epoch + (long) rollCycle.toCycle(index) * rollCycle.lengthInMillis());
            if (drop) {
                dropped++;
            }
            if (standIn || drop) {
                appender.writeBytes(stand);
                after.add(index, STAND_IN, 1);
            } else {
                // Not writeBytes(BytesStore.wrap(...)): Chronicle copies a heap store into the mapped file a
                // byte at a time (1.1 us for 500 bytes, against 0.46 us this way); it was most of a daily copy.
                ChronicleJournal.write(appender, buf, length);
                after.add(index, buf, length);
            }
            if (appender.lastIndexAppended() != index) {
                throw new IllegalStateException("compaction of " + journalDir + " wrote the excerpt of index " + index
                        + " at " + appender.lastIndexAppended() + "; nothing was changed");
            }
            return true;
        }

        private void lap(String step) {
            if (laps != null) {
                laps.lap(step);
            }
        }

        /** Flushes what the copy holds so far to disk (Linux's fsync writes a mapped file's dirty pages too). */
        void syncBulk() {
            try {
                syncFiles(copy);
                warmUp();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot compact " + journalDir + ": " + e.getMessage(), e);
            }
        }

        /**
         * Runs, once, the code the held step runs for the first time in a process (a lineage line, opening a
         * queue), so that class loading and first-call costs are not paid while appends wait: measured,
         * they were 8 ms and about 10 ms of a 40 ms hold.
         */
        private void warmUp() throws IOException {
            lineage(source, copied, droppedDayRanges, new Result(excerpts, dropped + dropDayEvents, dead.runs, dead.heldBack, List.of(), bytesBefore, 0,
                    Duration.ZERO, Duration.ZERO, "", "", Set.of(), dropDays.cardinality(), Map.of()));
            SingleChronicleQueueBuilder.binary(copy).readOnly(true).build().close();
            // Measuring each of a daily copy's files took up to 7 ms of the held step, with appends waiting.
            ChronicleJournal.usedBytes(target, closedCopyDays);
        }

        /**
         * Seals, syncs and marks the copy complete, with everything else the directory holds; the caller swaps.
         * {@code chainBefore}: the old journal's chain head, or null if {@link #copyAll} hashed it.
         */
        Result finish(String chainBefore, long start) {
            try {
                appender.close();
                long bytesAfter = ChronicleJournal.usedBytes(target, closedCopyDays);
                target.close();
                lap("close");
                if (excerpts > 0) {
                    // Durable: the cycles are synced below, before anything can rename the copy into place.
                    new Seal(source.id(), copied, excerpts, after.head(), true, System.currentTimeMillis()).write(copy, false);
                }
                lap("seal");
                copyOtherFiles();
                lap("other files");
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                List<String> heldBackBy = new ArrayList<>();
                readers.forEach((name, position) -> {
                    if (position == passedByAll && dead.heldBack > 0) {
                        heldBackBy.add(name);
                    }
                });
                String headBefore = chainBefore != null ? chainBefore : (before != null ? before : after).hex();
                Result result = new Result(excerpts, dropped + dropDayEvents, dead.runs, dead.heldBack, List.copyOf(heldBackBy), bytesBefore,
                        bytesAfter, took, took, headBefore, after.hex(), Set.copyOf(dead.ranges.keySet()), dropDays.cardinality(),
                        Map.of());
                Files.writeString(copy.resolve(LINEAGE_FILE), lineage(source, copied, droppedDayRanges, result) + "\n", StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                lap("lineage");
                // One pass: the copy is whole on disk once this returns, and only then may it be renamed.
                Path readersCopy = copy.resolve(ReaderPositions.DIRECTORY);
                if (Files.isDirectory(readersCopy)) {
                    syncFiles(readersCopy);
                }
                syncFiles(copy);
                lap("sync");
                finished = true;
                crashPoint("copied");
                return result;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot compact " + journalDir + ": " + e.getMessage(), e);
            }
        }

        /**
         * Everything else in the directory comes along (losses, lineage, reader positions, whatever a person put
         * there), except what the copy has its own of (cycles, Chronicle's tables, id, seal) or must not carry:
         * the state snapshot names runs this compaction may have dropped, and the next open rescans without it.
         */
        private void copyOtherFiles() throws IOException {
            Set<String> own = Set.of(ChronicleJournal.ID_FILE, Seal.FILE, StateSnapshot.FILE, ChronicleLedger.LOCK_FILE,
                    LEGACY_MARKER);
            try (Stream<Path> files = Files.list(journalDir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    // Names first: a year of daily files is 365 names, and a stat of each cost ms while appends waited.
                    if (!own.contains(name) && !name.endsWith(".cq4") && !name.endsWith(".cq4t") && !name.endsWith(".tmp")
                            && Files.isRegularFile(f)) {
                        Files.copy(f, copy.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            Path readersDir = journalDir.resolve(ReaderPositions.DIRECTORY);
            if (Files.isDirectory(readersDir)) {
                Path to = copy.resolve(ReaderPositions.DIRECTORY);
                Files.createDirectories(to);
                try (Stream<Path> files = Files.list(readersDir)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        if (!f.getFileName().toString().startsWith(".")) {
                            Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                }
            }
        }

        /** An unfinished copy is removed; a finished one is the caller's to swap in. */
        @Override
        public void close() {
            if (!finished) {
                try {
                    appender.close();
                    target.close();
                } catch (RuntimeException ignored) {
                    // the copy is deleted anyway
                }
                deleteTree(copy);
            }
        }
    }

    private static final byte[] STAND_IN = {EventEncoding.COMPACTED};

    /** Times consecutive steps (each lap ends one, named, and starts the next); logs as "12 ms (tail 1, close 3, ...)". */
    static final class Laps {
        private final long start;
        private long last;
        private final Map<String, Duration> steps = new java.util.LinkedHashMap<>();

        Laps() {
            this(System.nanoTime());
        }

        /** Laps whose first step began at {@code start} ({@link System#nanoTime}). */
        Laps(long start) {
            this.start = start;
            this.last = start;
        }

        void lap(String step) {
            long now = System.nanoTime();
            steps.merge(step, Duration.ofNanos(now - last), Duration::plus);
            last = now;
        }

        Map<String, Duration> steps() {
            return steps;
        }

        Duration total() {
            return Duration.ofNanos(last - start);
        }

        @Override
        public String toString() {
            java.util.StringJoiner out = new java.util.StringJoiner(", ", total().toMillis() + " ms (", ")");
            steps.forEach((step, took) -> out.add(step + " " + took.toMillis()));
            return out.toString();
        }
    }

    /** One line of {@code journal.lineage}: where the journal stood, and what this compaction did. */
    private static String lineage(ChronicleJournal source, long headIndex, List<long[]> droppedDays, Result r)
            throws IOException {
        java.io.StringWriter out = new java.io.StringWriter();
        try (com.fasterxml.jackson.core.JsonGenerator g = JsonScanner.FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("compactedAt", Instant.now().toString());
            g.writeStringField("journalId", source.id());
            g.writeNumberField("headIndex", headIndex);
            g.writeStringField("chainBefore", r.chainBefore());
            g.writeStringField("chainAfter", r.chainAfter());
            g.writeNumberField("excerpts", r.excerpts());
            g.writeNumberField("droppedEvents", r.droppedEvents());
            g.writeNumberField("droppedRuns", r.droppedRuns());
            // Days left out whole have no stand-ins: their first and last index say which positions went with them.
            g.writeArrayFieldStart("droppedDays");
            for (long[] day : droppedDays) {
                g.writeStartArray();
                g.writeNumber(day[0]);
                g.writeNumber(day[1]);
                g.writeEndArray();
            }
            g.writeEndArray();
            g.writeNumberField("bytesBefore", r.bytesBefore());
            g.writeNumberField("bytesAfter", r.bytesAfter());
            g.writeNumberField("millis", r.took().toMillis());
            g.writeEndObject();
        }
        return out.toString();
    }

    /** The chain head the seal vouches for, if the seal covers the journal's last excerpt; else null. */
    private static String sealedHead(Path journalDir, ChronicleJournal source) {
        try {
            Seal seal = Seal.read(journalDir, source.id());
            return seal != null && seal.index() == source.headIndex() ? seal.chainHex() : null;
        } catch (IOException | RuntimeException unusable) {
            return null;
        }
    }

    /** A damaged excerpt is never dropped on the strength of a run id its checksum does not vouch for. */
    private static boolean intact(EventEncoding.Reader reader) {
        try {
            reader.check();
            return true;
        } catch (EventEncoding.CorruptExcerptException e) {
            return false;
        }
    }

    /**
     * Finishes or discards what an interrupted compaction left beside {@code dir}: a copy not yet renamed
     * into place is deleted; a swap between its two renames is finished; the old journal of a finished
     * swap is deleted.
     */
    public static void recover(Path dir) {
        Path journalDir = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(sibling(journalDir, ".compacting")) && !Files.isDirectory(sibling(journalDir, ".precompact"))
                && !Files.exists(journalDir.resolve(LEGACY_MARKER))) {
            return; // the common case: nothing was interrupted
        }
        ExclusiveFileLock swapLock;
        try {
            swapLock = ExclusiveFileLock.acquire(sibling(journalDir, ".compaction.lock"), "compaction");
        } catch (IllegalStateException compacting) {
            return; // a compaction is running in another process: it finishes what it started
        }
        try (swapLock) {
            recoverLocked(journalDir);
        }
    }

    static void recoverLocked(Path journalDir) {
        Path copy = sibling(journalDir, ".compacting");
        Path old = sibling(journalDir, ".precompact");
        try {
            if (!Files.isDirectory(journalDir)) {
                // Between the two renames: the old journal is aside, and the copy was whole and synced before it went.
                if (Files.isDirectory(copy)) {
                    LOG.warn("{}: finishing a compaction interrupted between its two renames", journalDir);
                    swap(journalDir, copy);
                } else if (Files.isDirectory(old)) {
                    LOG.warn("{}: putting the journal back from {} (a compaction was interrupted)", journalDir, old);
                    Files.move(old, journalDir, StandardCopyOption.ATOMIC_MOVE);
                    fsync(journalDir.getParent());
                }
            }
            if (Files.isDirectory(copy)) {
                // The old journal is in place: the copy is unfinished, or was never swapped in. It goes.
                LOG.warn("{}: removing the copy of an interrupted compaction ({}); the journal is as it was", journalDir, copy);
                deleteTree(copy);
            }
            if (Files.isDirectory(old) && Files.isDirectory(journalDir)) {
                deleteTree(old);
            }
            Files.deleteIfExists(journalDir.resolve(LEGACY_MARKER));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot recover from an interrupted compaction of " + journalDir, e);
        }
    }

    /** Two renames, each atomic: the old journal aside, the copy into its place; then the old one goes. */
    static void swap(Path journalDir, Path copy) {
        swap(journalDir, copy, true);
    }

    /** As {@link #swap(Path, Path)}; without {@code deleteOld} the old journal stays as {@code DIR.precompact} for the caller. */
    static void swap(Path journalDir, Path copy, boolean deleteOld) {
        Path old = sibling(journalDir, ".precompact");
        try {
            if (Files.isDirectory(journalDir)) {
                deleteTree(old);
                Files.move(journalDir, old, StandardCopyOption.ATOMIC_MOVE);
                crashPoint("renamed");
            }
            Files.move(copy, journalDir, StandardCopyOption.ATOMIC_MOVE);
            fsync(journalDir.getParent());
            if (deleteOld) {
                deleteTree(old);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot swap the compacted journal into " + journalDir
                    + "; the next open of the journal finishes it", e);
        }
    }

    /**
     * Crash injection for the kill tests: the windows after the copy is synced and between the renames are
     * too short to hit with a timed {@code kill -9}, so a test child sets {@code runledger.compaction.haltAt} to halt the
     * JVM there, exactly as a kill would (no finally blocks, no shutdown hooks).
     */
    private static void crashPoint(String name) {
        if (name.equals(System.getProperty("runledger.compaction.haltAt"))) {
            Runtime.getRuntime().halt(137);
        }
    }

    static Path sibling(Path dir, String suffix) {
        return dir.resolveSibling(dir.getFileName() + suffix);
    }

    /**
     * The share of the journal's events that belong to deleted runs (what a compaction would drop, if
     * every reader has passed their deletions), 0 for an empty or missing journal. Reads the whole journal.
     */
    public static double deadShare(Path journalDir) {
        if (!Files.exists(journalDir.resolve(ChronicleJournal.ID_FILE))) {
            return 0;
        }
        try (ChronicleJournal journal = ChronicleJournal.open(journalDir, false)) {
            Retention counts = new Retention(journal);
            counts.catchUp();
            long all = counts.liveEvents() + counts.deadEvents();
            return all == 0 ? 0 : (double) counts.deadEvents() / all;
        }
    }

    /**
     * The index ranges of every day the journal's compactions left out whole ({@code droppedDays} of each
     * lineage line): an index there was dropped, not lost. Empty if there were none or the lineage cannot be read.
     */
    public static List<long[]> droppedDays(Path journalDir) {
        Path file = journalDir.resolve(LINEAGE_FILE);
        List<long[]> out = new ArrayList<>();
        try {
            if (!Files.exists(file)) {
                return out;
            }
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.startsWith("{")) {
                    continue;
                }
                try (com.fasterxml.jackson.core.JsonParser p = JsonScanner.FACTORY.createParser(line)) {
                    p.nextToken();
                    while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                        String field = p.currentName();
                        p.nextToken();
                        if (!field.equals("droppedDays")) {
                            p.skipChildren();
                            continue;
                        }
                        while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.START_ARRAY) {
                            p.nextToken();
                            long first = p.getLongValue();
                            p.nextToken();
                            long last = p.getLongValue();
                            p.nextToken(); // the pair's END_ARRAY
                            out.add(new long[] {first, last});
                        }
                    }
                }
            }
            return out;
        } catch (IOException | RuntimeException e) {
            return out; // a lineage it cannot read vouches for nothing
        }
    }

    /** The last compaction's line of {@code journal.lineage} (a JSON object), or null if the journal was never compacted. */
    public static String lastCompaction(Path journalDir) {
        Path file = journalDir.resolve(LINEAGE_FILE);
        try {
            if (!Files.exists(file)) {
                return null;
            }
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (lines.get(i).startsWith("{")) {
                    return lines.get(i);
                }
            }
            return null;
        } catch (IOException e) {
            return null; // health reports what it can
        }
    }

    private static void syncFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    fsync(f);
                }
            }
        }
        fsync(dir);
    }

    private static void fsync(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException notSupported) {
                // some file systems refuse to open a directory for sync; renames there are as durable as they get
            }
        } else {
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
