package dev.runledger.ledger;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JournalCompactionTest {
    /** Crash-test children live for seconds: C1 and the serial collector start them faster. */
    static final Map<String, String> QUICK = Map.of("CHILD_JVM_QUICK_START", "yes");

    @TempDir
    Path dir;

    /** Every readable event, by index, as NDJSON. */
    private static Map<Long, String> events(Path journalDir) {
        Map<Long, String> out = new LinkedHashMap<>();
        try (Journal journal = Journal.openExisting(journalDir); JournalReader r = journal.readFrom(Journal.NONE)) {
            for (JournalEntry e; (e = r.next()) != null; ) {
                if (e instanceof JournalEntry.Compacted) {
                    continue;
                }
                assertThat(e).as("index %d", e.index()).isInstanceOf(JournalEntry.Event.class);
                out.put(e.index(), NdjsonCodec.encodeToString(((JournalEntry.Event) e).event()));
            }
        }
        return out;
    }

    private static Map<Long, String> without(Map<Long, String> all, String... runIds) {
        Map<Long, String> out = new LinkedHashMap<>(all);
        out.values().removeIf(line -> {
            for (String id : runIds) {
                if (line.contains("\"runId\":\"" + id + "\"")) {
                    return true;
                }
            }
            return false;
        });
        return out;
    }

    private static void commands(Ledger ledger, String runId, int n, String note) {
        List<RunEvent> batch = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            batch.add(new RunEvent.CommandRecorded(runId, TestEvents.commandJson("c-" + i, "aspirate", "succeeded")
                    .replace("\"notes\":[]", "\"notes\":[\"" + note + "\"]")));
        }
        ledger.append(batch);
    }

    @Test
    void shouldDropDeletedRunsAndKeepEveryLiveEventAtItsIndexByteForByte() throws IOException {
        Path journal = dir.resolve("journal");
        String liveDigest;
        long head;
        try (Ledger ledger = Ledger.open(journal)) {
            ledger.append(TestEvents.created("live-1"));
            commands(ledger, "live-1", 50, "kept");
            ledger.append(TestEvents.created("dead-1"));
            commands(ledger, "dead-1", 50, "gone");
            ledger.append(TestEvents.completed("dead-1"));
            ledger.append(new RunEvent.RunDeleted("dead-1", RunEvent.RunDeleted.RETENTION));
            ledger.append(TestEvents.created("again"));
            ledger.append(new RunEvent.RunDeleted("again"));
            ledger.append(TestEvents.created("again")); // a new incarnation of a deleted id: live
            commands(ledger, "again", 5, "kept");
            ledger.append(TestEvents.completed("live-1"));
            liveDigest = JournalAudit.runDigest(ledger.journal(), "live-1").sha256();
            head = ledger.journal().headIndex();
        }
        Files.writeString(journal.resolve("NOTES.txt"), "keep me");
        Map<Long, String> before = events(journal);
        Map<Long, String> expected = without(before, "dead-1");
        expected.entrySet().removeIf(e -> e.getValue().contains("\"runId\":\"again\"") && e.getKey() < firstIndexOfSecondAgain(before));

        JournalCompaction.Result result = JournalCompaction.compact(journal, false);

        assertThat(result.droppedRuns()).isEqualTo(2);
        assertThat(result.droppedEvents()).isEqualTo(53 + 2);
        assertThat(result.steps().keySet()).as("where the time went").containsExactlyElementsOf(JournalCompaction.STEPS_OFFLINE);
        assertThat(result.steps().values().stream().reduce(java.time.Duration.ZERO, java.time.Duration::plus))
                .as("the old files' deletion counts in the compaction's time").isEqualTo(result.took());
        assertThat(result.appendsHeld()).as("offline, no append could run at all").isEqualTo(result.took());
        assertThat(events(journal)).as("live events at their own indexes, the same bytes").isEqualTo(expected);
        try (Journal j = Journal.openExisting(journal)) {
            assertThat(j.headIndex()).as("positions never go backwards").isEqualTo(head);
            assertThat(JournalAudit.runDigest(j, "live-1").sha256()).isEqualTo(liveDigest);
            JournalAudit.Check check = JournalAudit.verify(j);
            assertThat(check.damaged()).as("checksums and the new chain verify against the new seal").isEmpty();
            assertThat(check.chainHead()).isEqualTo(result.chainAfter());
        }
        assertThat(Files.exists(journal.resolve(JournalCompaction.LINEAGE_FILE))).isTrue();
        assertThat(journal.resolve("NOTES.txt")).as("a file a person left there comes along").hasContent("keep me");
        assertThat(journal.resolve(StateSnapshot.FILE)).as("the snapshot names dropped runs: left behind").doesNotExist();
        try (Ledger ledger = Ledger.open(journal)) {
            assertThat(ledger.integrity().intact()).isTrue();
            assertThat(ledger.phaseOf("dead-1")).as("no trace left").isEqualTo(RunLifecycle.Phase.ABSENT);
            assertThat(ledger.phaseOf("again")).isEqualTo(RunLifecycle.Phase.LIVE);
            assertThat(ledger.append(TestEvents.created("after"))).isGreaterThan(head);
        }
        assertThat(dir.resolve("journal.compacting")).doesNotExist();
        assertThat(dir.resolve("journal.precompact")).doesNotExist();
    }

    /**
     * A robot's journal is one file per day. A day in which every event belongs to a deleted run is left
     * out whole (no stand-ins, its file gone); a day with anything else in it (a live run's event, a damaged
     * excerpt) is copied excerpt by excerpt; the days after keep their indexes, and a reader positioned in
     * the day that went on from the next one.
     */
    @Test
    void shouldLeaveOutWholeDaysWhereEveryEventIsDeadAndKeepEveryOtherIndex() throws IOException {
        Path journal = dir.resolve("journal");
        TestClock clock = new TestClock();
        long inDroppedDay;
        long head;
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal).clock(clock)
                .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).build())) {
            ledger.append(TestEvents.created("day0-a"));
            commands(ledger, "day0-a", 30, "gone");
            ledger.append(TestEvents.completed("day0-a"));
            inDroppedDay = ledger.journal().headIndex();
            clock.advance(java.time.Duration.ofDays(1));
            ledger.append(TestEvents.created("day1-damaged"));
            commands(ledger, "day1-damaged", 10, "flip-me");
            ledger.append(TestEvents.completed("day1-damaged"));
            clock.advance(java.time.Duration.ofDays(1));
            ledger.append(TestEvents.created("day2-b"));
            commands(ledger, "day2-b", 30, "gone");
            ledger.append(TestEvents.completed("day2-b"));
            ledger.append(TestEvents.created("live")); // a live run on day 2: the day stays, b's events as stand-ins
            clock.advance(java.time.Duration.ofDays(2)); // day 3 has no file at all; day 4
            commands(ledger, "live", 10, "kept");
            for (String id : List.of("day0-a", "day1-damaged", "day2-b")) {
                ledger.append(new RunEvent.RunDeleted(id, RunEvent.RunDeleted.RETENTION));
            }
            long measuredOnDay4 = ((ChronicleJournal) ledger.journal()).usedBytes(); // remembers the days before 4
            clock.advance(java.time.Duration.ofDays(1)); // day 5: the head's
            ledger.append(TestEvents.completed("live"));
            head = ledger.journal().headIndex();
            try (ChronicleJournal fresh = ChronicleJournal.open(journal, false)) {
                assertThat(((ChronicleJournal) ledger.journal()).usedBytes())
                        .as("the bytes remembered for closed days, the rest measured: as a fresh count")
                        .isEqualTo(fresh.usedBytes()).isGreaterThan(measuredOnDay4);
            }
        }
        assertThat(cycleFiles(journal)).as("a file per day written").hasSize(5);
        JournalSurgery.flipBit(journal, "flip-me", 4, 0);
        Map<Long, String> before = readable(journal);
        Map<Long, String> expected = without(before, "day0-a", "day1-damaged", "day2-b");

        JournalCompaction.Result result = JournalCompaction.compact(journal, false);

        assertThat(result.droppedDays()).as("day 0 only: day 1 holds a damaged excerpt, day 2 a live run").isEqualTo(1);
        assertThat(result.droppedRuns()).isEqualTo(3);
        assertThat(result.droppedEvents()).as("all but the damaged excerpt").isEqualTo(before.size() - expected.size());
        assertThat(cycleFiles(journal)).hasSize(4);
        assertThat(readable(journal)).as("live events at their own indexes, the same bytes").isEqualTo(expected);
        assertThat(Files.readString(journal.resolve(JournalCompaction.LINEAGE_FILE))).contains("\"droppedDays\":[[");
        assertThat(JournalCompaction.droppedDays(journal)).singleElement()
                .satisfies(range -> assertThat(inDroppedDay).isBetween(range[0], range[1]));
        try (Journal j = Journal.openExisting(journal)) {
            assertThat(j.headIndex()).as("positions never go backwards").isEqualTo(head);
            JournalAudit.Check check = JournalAudit.verify(j);
            assertThat(check.damaged()).as("the damaged excerpt of day 1 was kept, not dropped unseen").hasSize(1);
            assertThat(check.chainHead()).isEqualTo(result.chainAfter());
            try (JournalReader r = j.readAfter(inDroppedDay)) {
                JournalEntry next = r.next();
                assertThat(next).as("a reader placed in the day that went on from the next day").isNotNull();
                assertThat(next.index()).isGreaterThan(inDroppedDay);
            }
        }
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal).clock(clock)
                .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).build())) {
            assertThat(ledger.phaseOf("day0-a")).isEqualTo(RunLifecycle.Phase.ABSENT);
            assertThat(ledger.append(TestEvents.created("after"))).isGreaterThan(head);
        }
    }

    private static List<Path> cycleFiles(Path journal) throws IOException {
        try (Stream<Path> files = Files.list(journal)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".cq4")).toList();
        }
    }

    /** Every excerpt but stand-ins, by index: events as NDJSON, damaged ones as "damaged". */
    private static Map<Long, String> readable(Path journalDir) {
        Map<Long, String> out = new LinkedHashMap<>();
        try (Journal journal = Journal.openExisting(journalDir); JournalReader r = journal.readFrom(Journal.NONE)) {
            for (JournalEntry e; (e = r.next()) != null; ) {
                if (e instanceof JournalEntry.Event ev) {
                    out.put(e.index(), NdjsonCodec.encodeToString(ev.event()));
                } else if (!(e instanceof JournalEntry.Compacted)) {
                    out.put(e.index(), "damaged");
                }
            }
        }
        return out;
    }

    private static long firstIndexOfSecondAgain(Map<Long, String> events) {
        int seen = 0;
        for (Map.Entry<Long, String> e : events.entrySet()) {
            if (e.getValue().startsWith("{\"type\":\"run.created\",\"runId\":\"again\"") && ++seen == 2) {
                return e.getKey();
            }
        }
        throw new AssertionError("no second creation of again");
    }

    @Test
    void shouldNotDropADeletionARegisteredReaderHasNotPassedUnlessForced() {
        Path journal = dir.resolve("journal");
        long created;
        try (Ledger ledger = Ledger.open(journal)) {
            created = ledger.append(TestEvents.created("r-1"));
            ledger.append(new RunEvent.RunDeleted("r-1"));
        }
        ReaderPositions.record(journal, "projection-behind", created);

        JournalCompaction.Result held = JournalCompaction.compact(journal, false);
        assertThat(held.droppedRuns()).isZero();
        assertThat(held.heldBackRuns()).isEqualTo(1);
        assertThat(held.heldBackBy()).containsExactly("projection-behind");
        assertThat(events(journal)).hasSize(2);

        JournalCompaction.Result forced = JournalCompaction.compact(journal, true);
        assertThat(forced.droppedRuns()).isEqualTo(1);
        assertThat(events(journal)).isEmpty();
        assertThat(ReaderPositions.read(journal)).as("registrations survive compaction").containsKey("projection-behind");
    }

    @Test
    void shouldRefuseWhileTheLedgerIsOpen() {
        Path journal = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journal)) {
            ledger.append(TestEvents.created("r-1"));
            assertThatThrownBy(() -> JournalCompaction.compact(journal, false)).hasMessageContaining("is open for appending");
        }
    }

    /** Erasure: a run's unique marker is nowhere in the data directory once it is deleted and compacted. */
    @Test
    void shouldLeaveNoByteOfAnErasedRunAnywhereInTheDirectory() throws IOException {
        Path journal = dir.resolve("journal");
        String marker = "MARKER-" + UUID.randomUUID();
        try (Ledger ledger = Ledger.open(journal)) {
            ledger.append(TestEvents.created("keep"));
            ledger.append(TestEvents.created("secret", Map.of("owner", marker)));
            commands(ledger, "secret", 100, marker);
            ledger.append(new RunEvent.SummaryRecorded("secret", "{\"note\":\"" + marker + "\"}"));
            commands(ledger, "keep", 10, "fine");
        }
        try (Ledger ledger = Ledger.open(journal)) { // a snapshot and a seal were written at close: still there
            assertThat(occurrences(dir, marker)).isPositive();
            ledger.append(new RunEvent.RunDeleted("secret", RunEvent.RunDeleted.ERASE));
        }
        JournalCompaction.compact(journal, false);

        assertThat(occurrences(dir, marker)).isZero();
        assertThat(events(journal).values()).anyMatch(line -> line.contains("\"runId\":\"keep\""));
    }

    private static int occurrences(Path root, String marker) throws IOException {
        byte[] needle = marker.getBytes(StandardCharsets.US_ASCII);
        int n = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                byte[] bytes = Files.readAllBytes(f);
                outer:
                for (int i = 0; i + needle.length <= bytes.length; i++) {
                    for (int k = 0; k < needle.length; k++) {
                        if (bytes[i + k] != needle[k]) {
                            continue outer;
                        }
                    }
                    n++;
                }
            }
        }
        return n;
    }

    /** The child of {@link #shouldLeaveOneWholeJournalWhereverACompactionIsKilled}: compacts its journal. */
    public static void main(String[] args) {
        if (args.length > 1) {
            System.setProperty("runledger.compaction.haltAt", args[1]);
        }
        JournalCompaction.compact(Path.of(args[0]), false);
        System.out.println("compacted");
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void shouldLeaveOneWholeJournalWhereverACompactionIsKilled() throws Exception {
        killCompactions(20);
    }

    /** The same with five times the kills, for the slow profile ({@code mvn -Pslow verify}): 129 s here. */
    @Test
    @Tag("slow")
    @Timeout(value = 1200, unit = TimeUnit.SECONDS)
    void shouldLeaveOneWholeJournalWhereverACompactionIsKilledInAHundredTrials() throws Exception {
        killCompactions(100);
    }

    /**
     * {@code trials} children compacting a copy of one journal: all but four killed at times spread over 40% to
     * about 150% of a whole compaction, the last four halted at the two crash points a timed kill rarely hits.
     */
    private void killCompactions(int trials) throws Exception {
        Path template = dir.resolve("template");
        try (Ledger ledger = Ledger.open(template)) {
            for (int r = 0; r < 40; r++) {
                ledger.append(TestEvents.created("r-" + r));
                commands(ledger, "r-" + r, 500, "x");
                ledger.append(TestEvents.completed("r-" + r));
                if (r % 2 == 0) {
                    ledger.append(new RunEvent.RunDeleted("r-" + r, RunEvent.RunDeleted.RETENTION));
                }
            }
        }
        Map<Long, String> all = events(template);
        List<String> dead = new ArrayList<>();
        for (int r = 0; r < 40; r += 2) {
            dead.add("r-" + r);
        }
        Map<Long, String> live = without(all, dead.toArray(String[]::new));
        // How long a child takes to start and compact, so that the kills spread over all of it: before the
        // copy, during it, after it is marked complete, between the renames, after the swap.
        Path timed = dir.resolve("timed").resolve("journal");
        copyTree(template, timed);
        long t0 = System.nanoTime();
        Process whole = ChildJvm.start(JournalCompactionTest.class, dir.resolve("timed.log"), QUICK, timed.toString());
        assertThat(whole.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(whole.exitValue()).isZero();
        long fullMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(events(timed)).isEqualTo(live);

        Random random = new Random(42);
        int compacted = 0;
        int timedKills = trials - 4;
        for (int trial = 0; trial < trials; trial++) {
            Path journal = dir.resolve("trial-" + trial).resolve("journal");
            copyTree(template, journal);
            if (trial < timedKills) {
                Process child = ChildJvm.start(JournalCompactionTest.class, dir.resolve("trial-" + trial + ".log"), QUICK,
                        journal.toString());
                Thread.sleep(fullMillis * (40 + trial * 112 / timedKills) / 100 + random.nextInt(50)); // 40% .. 145%+
                ChildJvm.kill9(child);
            } else { // the two short windows a timed kill rarely hits: after the copy is complete, between the renames
                Process child = ChildJvm.start(JournalCompactionTest.class, dir.resolve("trial-" + trial + ".log"), QUICK,
                        journal.toString(), trial % 2 == 0 ? "copied" : "renamed");
                assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
                assertThat(child.exitValue()).as("halted at the crash point").isEqualTo(137);
            }

            Map<Long, String> after = events(journal); // opening recovers whatever the kill left
            if (after.size() == live.size()) {
                assertThat(after).as("trial %d: compacted", trial).isEqualTo(live);
                compacted++;
            } else {
                assertThat(after).as("trial %d: not compacted", trial).isEqualTo(all);
            }
            assertThat(journal.resolveSibling("journal.compacting")).as("trial %d", trial).doesNotExist();
            assertThat(journal.resolveSibling("journal.precompact")).as("trial %d", trial).doesNotExist();
            try (Ledger ledger = Ledger.open(journal)) {
                assertThat(ledger.integrity().intact()).as("trial %d: the seal matches the journal in use", trial).isTrue();
            }
        }
        assertThat(compacted).as("some kills came after the point of no return, some before").isBetween(1, trials - 1);
        System.out.println("compaction kill trials: " + compacted + " of " + trials + " had finished (a whole run took "
                + fullMillis + " ms)");
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else if (!f.getFileName().toString().equals(ChronicleLedger.LOCK_FILE)) {
                    Files.copy(f, target);
                }
            }
        }
    }
}
