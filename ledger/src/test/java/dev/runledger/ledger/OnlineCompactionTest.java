package dev.runledger.ledger;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Compaction by the ledger that appends to the journal: appends and reads go on, positions keep their meaning. */
class OnlineCompactionTest {
    @TempDir
    Path dir;

    /** Every event the journal reads, by index, as NDJSON; stand-ins left out. */
    private static Map<Long, String> events(Journal journal) {
        Map<Long, String> out = new TreeMap<>();
        try (JournalReader r = journal.readFrom(Journal.NONE)) {
            for (JournalEntry e; (e = r.next()) != null; ) {
                if (!(e instanceof JournalEntry.Compacted)) {
                    assertThat(e).as("index %d", e.index()).isInstanceOf(JournalEntry.Event.class);
                    out.put(e.index(), NdjsonCodec.encodeToString(((JournalEntry.Event) e).event()));
                }
            }
        }
        return out;
    }

    /** 40 runs of 500 commands in {@code journalDir}, every other one deleted: half of it for a compaction to drop. */
    private static Path halfDeadJournal(Path journalDir) {
        try (Ledger ledger = Ledger.open(journalDir)) {
            for (int r = 0; r < 40; r++) {
                ledger.append(run("r-" + r, 500));
                if (r % 2 == 0) {
                    ledger.append(new RunEvent.RunDeleted("r-" + r, RunEvent.RunDeleted.RETENTION));
                }
            }
        }
        return journalDir;
    }

    private static List<RunEvent> run(String runId, int commands) {
        List<RunEvent> batch = new ArrayList<>();
        batch.add(TestEvents.created(runId));
        for (int i = 0; i < commands; i++) {
            batch.add(TestEvents.command(runId, "c-" + i, "succeeded"));
        }
        batch.add(TestEvents.completed(runId));
        return batch;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldKeepEveryAcknowledgedEventAndEveryReaderPositionWhileFourThreadsAppendThroughCompactions() throws Exception {
        Path journalDir = dir.resolve("journal");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journalDir).meterRegistry(registry).build())) {
            for (int r = 0; r < 40; r++) { // a history to compact: every other run deleted
                ledger.append(run("old-" + r, 200));
                if (r % 2 == 0) {
                    ledger.append(new RunEvent.RunDeleted("old-" + r, RunEvent.RunDeleted.RETENTION));
                }
            }
            // What each appender was told: index -> event. Appended during the compactions below.
            Map<Long, String> acknowledged = new ConcurrentSkipListMap<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> appenders = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                appenders.add(new Thread(() -> {
                    try {
                        for (int r = 0; !stop.get(); r++) {
                            String runId = "t" + thread + "-" + r;
                            ledger.append(TestEvents.created(runId));
                            for (int c = 0; c < 20; c++) {
                                RunEvent cmd = TestEvents.command(runId, "c-" + c, "succeeded");
                                acknowledged.put(ledger.append(cmd), NdjsonCodec.encodeToString(cmd));
                                java.util.concurrent.locks.LockSupport.parkNanos(20_000); // an engine's pace, not a flood
                            }
                            if (r % 3 == 0) { // some die during the compactions; the next compaction drops them
                                ledger.append(TestEvents.completed(runId));
                                ledger.append(new RunEvent.RunDeleted(runId, RunEvent.RunDeleted.USER));
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }, "test-appender-" + t));
            }
            // A reader tailing from the start: it must see every index once, in order, across the swaps.
            List<Long> seen = new ArrayList<>();
            Map<Long, String> read = new TreeMap<>();
            CountDownLatch readerDone = new CountDownLatch(1);
            AtomicBoolean readerStop = new AtomicBoolean();
            Thread reader = new Thread(() -> {
                try (JournalReader r = ledger.journal().readAfter(Journal.NONE)) {
                    while (true) {
                        JournalEntry e = r.next(Duration.ofMillis(50));
                        if (e == null && readerStop.get()) {
                            break; // stopped, and nothing more to read
                        }
                        if (e != null) {
                            seen.add(e.index());
                            if (e instanceof JournalEntry.Event ev) {
                                read.put(e.index(), NdjsonCodec.encodeToString(ev.event()));
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    readerDone.countDown();
                }
            }, "test-tailer");
            reader.start();
            appenders.forEach(Thread::start);

            Thread.sleep(200);
            JournalCompaction.Result first = ledger.compact(false);
            Thread.sleep(200);
            JournalCompaction.Result second = ledger.compact(false);
            Thread.sleep(100);
            stop.set(true);
            for (Thread a : appenders) {
                a.join(TimeUnit.SECONDS.toMillis(30));
            }
            readerStop.set(true);
            assertThat(readerDone.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(failure.get()).isNull();

            assertThat(first.droppedRuns()).as("the old deleted runs").isGreaterThanOrEqualTo(20);
            assertThat(second.droppedRuns()).as("runs deleted while the first compaction ran").isPositive();
            assertThat(ledger.journal().compactions()).isEqualTo(2);
            Map<Long, String> now = events(ledger.journal());
            Set<String> deletedRuns = new HashSet<>();
            now.values().stream().filter(l -> l.contains("\"type\":\"run.deleted\"")).forEach(l -> deletedRuns.add(
                    l.replaceAll(".*\"runId\":\"([^\"]*)\".*", "$1")));
            acknowledged.forEach((index, line) -> {
                String runId = line.replaceAll(".*\"runId\":\"([^\"]*)\".*", "$1");
                if (!deletedRuns.contains(runId) && !first.droppedRunIds().contains(runId)
                        && !second.droppedRunIds().contains(runId)) {
                    assertThat(now.get(index)).as("acknowledged index %d of live run %s", index, runId).isEqualTo(line);
                }
            });
            for (int i = 1; i < seen.size(); i++) {
                assertThat(seen.get(i)).as("the tailer's %dth entry", i).isGreaterThan(seen.get(i - 1));
            }
            assertThat(seen.get(seen.size() - 1)).isEqualTo(ledger.journal().headIndex());
            // What the tailer read as an event is what the journal holds now, or was dropped since.
            read.forEach((index, line) -> {
                if (now.containsKey(index)) {
                    assertThat(now.get(index)).isEqualTo(line);
                }
            });
            assertThat(registry.get("ledger.compaction.appends.held").timer().count()).isEqualTo(2);
            assertThat(registry.get("ledger.compaction.dropped").counter().count())
                    .isEqualTo((double) first.droppedEvents() + second.droppedEvents()).isPositive();
            assertThat(registry.get("ledger.compaction.reclaimed").counter().count())
                    .isEqualTo((double) first.reclaimedBytes() + second.reclaimedBytes());
            // The ledger goes on: appends land after the head, and a deleted run stays refused.
            long head = ledger.journal().headIndex();
            assertThat(ledger.append(run("after", 3))).isGreaterThan(head);
        }
        try (Ledger reopened = Ledger.open(journalDir)) {
            assertThat(reopened.integrity().intact()).as("the seal vouches for the compacted journal").isTrue();
            assertThat(reopened.phaseOf("after")).isEqualTo(RunLifecycle.Phase.COMPLETED);
            assertThat(reopened.phaseOf("old-0")).as("dropped whole").isEqualTo(RunLifecycle.Phase.ABSENT);
            assertThat(reopened.phaseOf("old-1")).isEqualTo(RunLifecycle.Phase.COMPLETED);
        }
        try (Journal journal = Journal.openExisting(journalDir)) {
            assertThat(JournalAudit.verify(journal).ok()).as("every checksum").isTrue();
        }
        assertThat(journalDir.resolveSibling("journal.compacting")).doesNotExist();
        assertThat(journalDir.resolveSibling("journal.precompact")).doesNotExist();
        assertThat(Files.readAllLines(journalDir.resolve(JournalCompaction.LINEAGE_FILE))).hasSize(2);
    }

    @Test
    void shouldHoldBackADeletionARegisteredReaderHasNotPassedAndSaySo() {
        Path journalDir = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journalDir)) {
            ledger.append(run("a", 5));
            long deleted = ledger.append(new RunEvent.RunDeleted("a"));
            ReaderPositions.record(journalDir, "shipper", deleted - 1);
            JournalCompaction.Result held = ledger.compact(false);
            assertThat(held.droppedRuns()).isZero();
            assertThat(held.heldBackRuns()).isEqualTo(1);
            assertThat(held.heldBackBy()).containsExactly("shipper");
            ReaderPositions.record(journalDir, "shipper", deleted);
            JournalCompaction.Result dropped = ledger.compact(false);
            assertThat(dropped.droppedRunIds()).containsExactly("a");
            assertThat(dropped.bytesAfter()).as("bytes the cycles hold").isLessThan(dropped.bytesBefore());
            assertThat(dropped.steps().keySet()).as("where the time went").containsExactlyElementsOf(JournalCompaction.STEPS_ONLINE);
            assertThat(dropped.steps().values().stream().reduce(Duration.ZERO, Duration::plus))
                    .as("the old files' deletion counts in the compaction's time").isEqualTo(dropped.took());
            assertThat(dropped.appendsHeld()).isLessThanOrEqualTo(dropped.steps().get("appends held"));
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldCompactByItselfOnceTheDeadSharePassesTheThreshold() {
        Path journalDir = dir.resolve("journal");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journalDir).meterRegistry(registry)
                .retention(RetentionPolicy.builder().keepRuns(2).build()).compactWhenDead(0.5).build())) {
            for (int r = 0; r < 6; r++) {
                ledger.append(run("r-" + r, 50));
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ledger.journal().compactions() > 0);
            assertThat(events(ledger.journal()).values()).noneMatch(l -> l.contains("\"runId\":\"r-0\""))
                    .anyMatch(l -> l.contains("\"runId\":\"r-5\""));
            assertThat(registry.get("ledger.compaction.last").gauge().value()).isPositive();
        }
    }

    /**
     * A size limit compacts a journal whose dead share is far below any share threshold (one run of six):
     * a robot's disk fills with the runs it keeps when they are large. Below the limit nothing happens;
     * the limit is checked at open, as the share is.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldCompactByItselfOnceTheJournalPassesItsSizeLimitWithAnythingDead() throws Exception {
        Path journalDir = dir.resolve("journal");
        RetentionPolicy keepFive = RetentionPolicy.builder().keepRuns(5).build();
        long bytes;
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journalDir).meterRegistry(new SimpleMeterRegistry())
                .retention(keepFive).compactWhenDead(0.5).compactWhenBytes(1L << 40).build())) {
            for (int r = 0; r < 6; r++) {
                ledger.append(run("r-" + r, 50));
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ledger.retentionStatus().totalDeleted() == 1);
            Thread.sleep(2_500); // the housekeeper looks every second after a deletion: it has looked, and left it
            assertThat(ledger.journal().compactions()).as("1 of 6 runs dead, far below both thresholds").isZero();
            bytes = ((ChronicleJournal) ledger.journal()).usedBytes();
        }
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journalDir).meterRegistry(new SimpleMeterRegistry())
                .retention(keepFive).compactWhenBytes(bytes - 1).build())) {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ledger.journal().compactions() > 0);
            assertThat(events(ledger.journal()).values()).noneMatch(l -> l.contains("\"runId\":\"r-0\""))
                    .anyMatch(l -> l.contains("\"runId\":\"r-1\""));
            assertThat(((ChronicleJournal) ledger.journal()).usedBytes()).isLessThan(bytes);
        }
    }

    @Test
    void shouldRefuseANegativeSizeLimit() {
        assertThatThrownBy(() -> LedgerConfig.builder(dir).compactWhenBytes(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("compactWhenBytes").hasMessageContaining("-1");
    }

    /**
     * A copy slower than the appends: C1 has no SHA-256 intrinsic, so a child compiled by C1 alone copies
     * (and chains) more slowly than its own appender appends. One copy pass chased the head forever and the
     * compaction never ended (4 of 6 such children were still copying after 15 s). Each must now finish,
     * with every acknowledged run readable afterwards.
     */
    @Test
    @Timeout(value = 200, unit = TimeUnit.SECONDS)
    void shouldFinishAnOnlineCompactionWhileAppendsOutpaceItsCopy() throws Exception {
        Path template = halfDeadJournal(dir.resolve("template"));
        for (int round = 0; round < 3; round++) {
            Path journalDir = dir.resolve("outpaced-" + round).resolve("journal");
            Path acks = dir.resolve("outpaced-" + round + ".acks");
            JournalCompactionTest.copyTree(template, journalDir);
            Process child = ChildJvm.start(OnlineCompactionTest.class, dir.resolve("outpaced-" + round + ".log"),
                    JournalCompactionTest.QUICK, journalDir.toString(), acks.toString());
            boolean done = child.waitFor(45, TimeUnit.SECONDS);
            if (!done) {
                ChildJvm.kill9(child);
            }
            assertThat(done).as("round %d: the compaction ended (see outpaced-%d.log)", round, round).isTrue();
            assertThat(child.exitValue()).isZero();
            try (Journal journal = Journal.openExisting(journalDir)) {
                Map<Long, String> after = events(journal);
                assertThat(after.values()).noneMatch(l -> l.contains("\"runId\":\"r-0\""));
                List<String> acked = Files.readAllLines(acks, StandardCharsets.US_ASCII);
                assertThat(acked).isNotEmpty();
                for (String ack : acked) {
                    String[] parts = ack.split(" ");
                    assertThat(after.get(Long.parseLong(parts[1]))).as("round %d: acknowledged %s", round, ack)
                            .contains("\"runId\":\"" + parts[0] + "\"");
                }
            }
        }
    }

    /**
     * The child of {@link #shouldLeaveOneWholeJournalWhereverAnOnlineCompactionIsKilled}: appends runs on a
     * thread, writing each acknowledged index to {@code args[1]}, while the main thread compacts.
     */
    public static void main(String[] args) throws Exception {
        if (args.length > 2) {
            System.setProperty("runledger.compaction.haltAt", args[2]);
        }
        Path acks = Path.of(args[1]);
        try (Ledger ledger = Ledger.open(Path.of(args[0]));
             var out = Files.newByteChannel(acks, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE)) {
            AtomicBoolean stop = new AtomicBoolean();
            Thread appender = new Thread(() -> {
                try {
                    for (int r = 0; !stop.get(); r++) {
                        long index = ledger.append(run("new-" + r, 10));
                        // Written after the append returned: every line is an acknowledged run.
                        out.write(java.nio.ByteBuffer.wrap(("new-" + r + " " + index + "\n").getBytes(StandardCharsets.US_ASCII)));
                    }
                } catch (IOException | RuntimeException e) {
                    if (!stop.get()) {
                        e.printStackTrace();
                    }
                }
            }, "child-appender");
            appender.start();
            ledger.compact(false);
            stop.set(true);
            appender.join();
        }
        System.out.println("compacted");
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void shouldLeaveOneWholeJournalWithEveryAcknowledgedEventWhereverAnOnlineCompactionIsKilled() throws Exception {
        killOnlineCompactions(20);
    }

    /** The same with five times the kills, for the slow profile ({@code mvn -Pslow verify}): 314 s here. */
    @Test
    @Tag("slow")
    @Timeout(value = 1500, unit = TimeUnit.SECONDS)
    void shouldLeaveOneWholeJournalWithEveryAcknowledgedEventWhereverAnOnlineCompactionIsKilledInAHundredTrials()
            throws Exception {
        killOnlineCompactions(100);
    }

    /**
     * {@code trials} children appending while they compact a copy of one journal: all but four killed at times
     * spread over 40% to about 150% of a whole run, the last four halted at the two crash points.
     */
    private void killOnlineCompactions(int trials) throws Exception {
        Path template = halfDeadJournal(dir.resolve("template"));
        long fullMillis;
        {
            Path timed = dir.resolve("timed").resolve("journal");
            JournalCompactionTest.copyTree(template, timed);
            long t0 = System.nanoTime();
            Process whole = ChildJvm.start(OnlineCompactionTest.class, dir.resolve("timed.log"), timed.toString(),
                    dir.resolve("timed.acks").toString());
            assertThat(whole.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(whole.exitValue()).isZero();
            fullMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        }
        Map<Long, String> before;
        try (Journal journal = Journal.openExisting(template)) {
            before = events(journal);
        }
        Random random = new Random(7);
        int compacted = 0;
        int timedKills = trials - 4;
        for (int trial = 0; trial < trials; trial++) {
            Path journalDir = dir.resolve("trial-" + trial).resolve("journal");
            Path acks = dir.resolve("trial-" + trial + ".acks");
            JournalCompactionTest.copyTree(template, journalDir);
            if (trial < timedKills) {
                Process child = ChildJvm.start(OnlineCompactionTest.class, dir.resolve("trial-" + trial + ".log"),
                        journalDir.toString(), acks.toString());
                Thread.sleep(fullMillis * (40 + trial * 112 / timedKills) / 100 + random.nextInt(50));
                ChildJvm.kill9(child);
            } else {
                Process child = ChildJvm.start(OnlineCompactionTest.class, dir.resolve("trial-" + trial + ".log"),
                        journalDir.toString(), acks.toString(), trial % 2 == 0 ? "copied" : "renamed");
                assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
                assertThat(child.exitValue()).as("halted at the crash point").isEqualTo(137);
            }
            int t = trial;
            try (Ledger ledger = Ledger.open(journalDir)) { // opening recovers whatever the kill left
                assertThat(ledger.integrity().intact()).as("trial %d: the seal matches the journal in use", trial).isTrue();
                Map<Long, String> after = events(ledger.journal());
                boolean dropped = after.values().stream().noneMatch(l -> l.contains("\"runId\":\"r-0\""));
                if (dropped) {
                    compacted++;
                }
                before.forEach((index, line) -> {
                    boolean deadRun = false;
                    for (int r = 0; r < 40; r += 2) {
                        deadRun |= line.contains("\"runId\":\"r-" + r + "\"");
                    }
                    if (!deadRun || !dropped) {
                        assertThat(after.get(index)).as("trial %d: index %d", t, index).isEqualTo(line);
                    }
                });
                if (Files.exists(acks)) {
                    for (String ack : Files.readAllLines(acks, StandardCharsets.US_ASCII)) {
                        String[] parts = ack.split(" ");
                        if (parts.length == 2 && !parts[1].isEmpty()) { // a line cut by the kill was never whole
                            assertThat(after.get(Long.parseLong(parts[1]))).as("trial %d: acknowledged %s", trial, ack)
                                    .contains("\"type\":\"run.completed\"").contains("\"runId\":\"" + parts[0] + "\"");
                        }
                    }
                }
                ledger.append(run("after-restart", 1)); // and it appends on
            }
            assertThat(journalDir.resolveSibling("journal.compacting")).as("trial %d", trial).doesNotExist();
            assertThat(journalDir.resolveSibling("journal.precompact")).as("trial %d", trial).doesNotExist();
        }
        assertThat(compacted).as("some kills came after the point of no return, some before").isBetween(1, trials - 1);
        System.out.println("online compaction kill trials: " + compacted + " of " + trials + " had swapped (a whole run took "
                + fullMillis + " ms)");
    }
}
