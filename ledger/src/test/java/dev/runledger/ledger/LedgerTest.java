package dev.runledger.ledger;

import dev.runledger.ledger.RejectedEventException.Reason;
import dev.runledger.ledger.RunLifecycle.Phase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LedgerTest {
    @TempDir
    Path dir;

    @Test
    void shouldRefuseABatchTheDiskCannotTakeAndAppendAgainWhenSpaceReturns() {
        // Less than 100 commands need; the ledger asks the disk when it opens, then as space runs short.
        java.util.concurrent.atomic.AtomicLong free = new java.util.concurrent.atomic.AtomicLong(DiskSpace.RESERVE_BYTES + 100_000);
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).diskSpace(d -> free.get()).build())) {
            ledger.append(TestEvents.created("r-1"));
            long head = ledger.journal().headIndex();
            List<RunEvent> batch = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                batch.add(TestEvents.command("r-1", "c-" + i, "queued"));
            }

            assertThatThrownBy(() -> ledger.append(batch)).isInstanceOfSatisfying(JournalFullException.class, e -> {
                assertThat(e.appended()).isZero();
                assertThat(e.attempted()).isEqualTo(100);
                assertThat(e).hasMessageContaining("too few for 100 event(s)").hasMessageContaining("nothing was appended");
            });
            assertThat(ledger.journal().headIndex()).as("nothing of the batch written").isEqualTo(head);

            free.set(1L << 30); // space returns
            assertThat(ledger.append(batch)).isGreaterThan(head);
            assertThat(ledger.journal().countBetween(head, ledger.journal().headIndex())).isEqualTo(100);
        }
    }

    /**
     * The ledger's clock names the day an append goes into; a clock behind the journal's last day (set
     * back, or a ledger reopened with an earlier one) must not send appends to an earlier day's file, whose
     * indexes are below the head.
     */
    @Test
    void shouldNeverAppendBelowTheHeadWhenTheClockIsBehindTheJournalsLastDay() {
        TestClock clock = new TestClock();
        clock.advance(Duration.ofDays(3));
        long head;
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).clock(clock)
                .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).build())) {
            ledger.append(TestEvents.created("r-1"));
            head = ledger.journal().headIndex();
        }
        clock.advance(Duration.ofDays(-2));
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).clock(clock)
                .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).build())) {
            assertThat(ledger.append(TestEvents.created("r-2"))).as("after the head of the later day").isGreaterThan(head);
            assertThat(ledger.append(TestEvents.completed("r-1"))).isGreaterThan(head);
        }
    }

    @Test
    void shouldReturnIncreasingIndexesReadableFromTheJournal() {
        try (Ledger ledger = Ledger.open(dir)) {
            long a = ledger.append(TestEvents.created("r-1"));
            long b = ledger.recordCommand("r-1", TestEvents.commandJson("c-1", "home", "queued"));

            assertThat(b).isGreaterThan(a);
            assertThat(ledger.journal().headIndex()).isEqualTo(b);
            try (JournalReader reader = ledger.journal().readFrom(b)) {
                JournalEntry.Event entry = (JournalEntry.Event) reader.next();
                assertThat(entry.index()).isEqualTo(b);
                assertThat(entry.event()).isEqualTo(new RunEvent.CommandRecorded("r-1", TestEvents.commandJson("c-1", "home", "queued")));
            }
        }
    }

    @Test
    void shouldExportEveryEventAsAppendedByteForByte() {
        List<RunEvent> events = List.of(
                TestEvents.created("r-1"),
                TestEvents.command("r-1", "c-1", "queued"),
                new RunEvent.SummaryRecorded("r-1", "{\"errors\":[],\"n\":1.0,\"big\":1e400}"),
                new RunEvent.LabelsChanged("r-1", Map.of("stage", "qc"), List.of("tenant")),
                TestEvents.completed("r-1"),
                new RunEvent.RunDeleted("r-1"));
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(events);
        }

        List<String> exported = new ArrayList<>();
        try (Journal journal = Journal.openExisting(dir); JournalReader reader = journal.readFrom(Journal.NONE)) {
            JournalEntry e;
            while ((e = reader.next()) != null) {
                assertThat(e).as("%s", e).isInstanceOf(JournalEntry.Event.class);
                exported.add(NdjsonCodec.encodeToString(((JournalEntry.Event) e).event()));
            }
        }

        assertThat(exported).containsExactlyElementsOf(events.stream().map(NdjsonCodec::encodeToString).toList());
    }

    @Test
    void shouldRejectEventsTheRunStateDoesNotAllow() {
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-1"));
            ledger.append(TestEvents.created("r-gone"));
            long deletedAt = ledger.deleteRun("r-gone");
            ledger.append(TestEvents.created("r-done"));
            long completedAt = ledger.append(TestEvents.completed("r-done"));

            assertRejected(ledger, TestEvents.command("r-nope", "c", "queued"), Reason.UNKNOWN_RUN,
                    "command.recorded rejected: run \"r-nope\" does not exist");
            assertRejected(ledger, TestEvents.command("r-gone", "c", "queued"), Reason.DELETED_RUN,
                    "command.recorded rejected: run \"r-gone\" was deleted at index " + deletedAt);
            assertRejected(ledger, TestEvents.created("r-1"), Reason.DUPLICATE_RUN,
                    "run.created rejected: run \"r-1\" already exists (created at index");
            assertRejected(ledger, TestEvents.command("r-done", "c", "queued"), Reason.RUN_COMPLETED,
                    "run \"r-done\" is already completed at index " + completedAt + "; no command may be recorded after run.completed");
            assertRejected(ledger, TestEvents.completed("r-done"), Reason.RUN_COMPLETED, "is already completed");
            assertRejected(ledger, new RunEvent.RunDeleted("r-gone"), Reason.DELETED_RUN, "was deleted");
        }
    }

    @Test
    void shouldAllowLabelsAndSummaryAfterCompletionAndRecreationAfterDeletion() {
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-1"));
            ledger.append(TestEvents.completed("r-1"));
            ledger.changeLabels("r-1", Map.of("reviewed", "yes"), List.of());
            ledger.recordSummary("r-1", "{}");
            ledger.deleteRun("r-1");
            ledger.append(TestEvents.created("r-1"));

            assertThat(ledger.phaseOf("r-1")).isEqualTo(Phase.LIVE);
        }
    }

    @Test
    void shouldCapLabelsAtSixtyFourPerRunAcrossChanges() {
        Map<String, String> sixtyFour = new HashMap<>();
        for (int i = 0; i < 64; i++) {
            sixtyFour.put("k" + i, "v");
        }
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-1", sixtyFour));
            ledger.changeLabels("r-1", Map.of("k1", "replaced"), List.of());

            assertRejected(ledger, new RunEvent.LabelsChanged("r-1", Map.of("k64", "v"), List.of()),
                    Reason.TOO_MANY_LABELS, "run \"r-1\" would have 65 labels, at most 64 are allowed");
            ledger.changeLabels("r-1", Map.of("k64", "v"), List.of("k0"));
        }
    }

    @Test
    void shouldWriteNothingOfARejectedBatch() {
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-1"));
            long head = ledger.journal().headIndex();

            assertThatThrownBy(() -> ledger.append(List.of(
                    TestEvents.command("r-1", "c-1", "queued"),
                    TestEvents.created("r-2"),
                    TestEvents.completed("r-1"),
                    TestEvents.command("r-1", "c-2", "queued"))))
                    .isInstanceOf(RejectedEventException.class)
                    .hasMessageStartingWith("event 3 of the batch: command.recorded rejected: run \"r-1\" is already completed")
                    .extracting(e -> ((RejectedEventException) e).batchPosition()).isEqualTo(3);

            assertThat(ledger.journal().headIndex()).isEqualTo(head);
            assertThat(ledger.phaseOf("r-2")).isEqualTo(Phase.ABSENT);
            assertThat(ledger.phaseOf("r-1")).isEqualTo(Phase.LIVE);
        }
    }

    @Test
    void shouldValidateABatchAgainstItsOwnEarlierEvents() {
        try (Ledger ledger = Ledger.open(dir)) {
            long last = ledger.append(List.of(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"),
                    new RunEvent.RunDeleted("r-1"), TestEvents.created("r-1")));

            assertThat(last).isEqualTo(ledger.journal().headIndex());
            assertThat(ledger.phaseOf("r-1")).isEqualTo(Phase.LIVE);
        }
    }

    @Test
    void shouldRecoverRunStateWhenReopened() {
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-live"));
            ledger.append(TestEvents.created("r-done"));
            ledger.append(TestEvents.completed("r-done"));
            ledger.append(TestEvents.created("r-gone"));
            ledger.deleteRun("r-gone");
        }

        try (Ledger ledger = Ledger.open(dir)) {
            assertThat(ledger.phaseOf("r-live")).isEqualTo(Phase.LIVE);
            assertThat(ledger.phaseOf("r-done")).isEqualTo(Phase.COMPLETED);
            assertThat(ledger.phaseOf("r-gone")).isEqualTo(Phase.DELETED);
            assertRejected(ledger, TestEvents.command("r-done", "c", "queued"), Reason.RUN_COMPLETED, "already completed");
            ledger.append(TestEvents.command("r-live", "c", "queued"));
        }
    }

    @Test
    void shouldRecoverFromTheSnapshotAndTheEventsAppendedAfterIt() {
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-live"));
            ledger.append(TestEvents.created("r-done", Map.of("a", "1", "b", "2")));
            ledger.append(TestEvents.completed("r-done"));
        }
        assertThat(dir.resolve(StateSnapshot.FILE)).exists();
        // written past the ledger, after its snapshot: the next open must still see them
        JournalSurgery.appendUnchecked(dir, List.of(TestEvents.created("r-after"), new RunEvent.RunDeleted("r-live")));

        try (Ledger ledger = Ledger.open(dir)) {
            assertThat(ledger.phaseOf("r-after")).isEqualTo(Phase.LIVE);
            assertThat(ledger.phaseOf("r-live")).isEqualTo(Phase.DELETED);
            assertThat(ledger.phaseOf("r-done")).isEqualTo(Phase.COMPLETED);
            assertRejected(ledger, TestEvents.created("r-after"), Reason.DUPLICATE_RUN, "already exists");
            Map<String, String> sixtyTwo = new HashMap<>();
            for (int i = 0; i < 62; i++) {
                sixtyTwo.put("k" + i, "v");
            }
            ledger.changeLabels("r-done", sixtyTwo, List.of());
            assertRejected(ledger, new RunEvent.LabelsChanged("r-done", Map.of("one-too-many", "v"), List.of()),
                    Reason.TOO_MANY_LABELS, "would have 65 labels");
        }
    }

    @Test
    void shouldTrustAValidSnapshotInsteadOfScanningTheJournal() throws Exception {
        long head;
        try (Ledger ledger = Ledger.open(dir)) {
            head = ledger.append(TestEvents.created("r-1"));
        }
        // A run only the snapshot knows: if the open scanned the journal instead, it would be absent.
        String journalId;
        int anchor;
        try (Journal journal = Journal.openExisting(dir)) {
            journalId = journal.id();
            anchor = ((ChronicleJournal) journal).excerptChecksum(head);
        }
        StateSnapshot.write(dir, journalId, head, anchor, Map.of(
                "r-1", new StateSnapshot.RunEntry(Phase.LIVE, head, java.util.Set.of()),
                "only-in-snapshot", new StateSnapshot.RunEntry(Phase.COMPLETED, head, java.util.Set.of())));

        try (Ledger ledger = Ledger.open(dir)) {
            assertThat(ledger.phaseOf("only-in-snapshot")).isEqualTo(Phase.COMPLETED);
            assertThat(ledger.phaseOf("r-1")).isEqualTo(Phase.LIVE);
        }
    }

    @Test
    void shouldScanTheWholeJournalWhenTheSnapshotIsDamagedOrForeign() throws Exception {
        Path other = dir.resolveSibling(dir.getFileName() + "-other");
        try (Ledger ledger = Ledger.open(other)) {
            ledger.append(TestEvents.created("foreign"));
        }
        try (Ledger ledger = Ledger.open(dir)) {
            ledger.append(TestEvents.created("r-1"));
            ledger.append(TestEvents.completed("r-1"));
        }
        java.nio.file.Files.copy(other.resolve(StateSnapshot.FILE), dir.resolve(StateSnapshot.FILE),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try (Ledger ledger = Ledger.open(dir)) {
            assertThat(ledger.phaseOf("foreign")).isEqualTo(Phase.ABSENT);
            assertThat(ledger.phaseOf("r-1")).isEqualTo(Phase.COMPLETED);
        }
        byte[] snapshot = java.nio.file.Files.readAllBytes(dir.resolve(StateSnapshot.FILE));
        java.nio.file.Files.write(dir.resolve(StateSnapshot.FILE), java.util.Arrays.copyOf(snapshot, snapshot.length - 6));
        try (Ledger ledger = Ledger.open(dir)) {
            assertThat(ledger.phaseOf("r-1")).isEqualTo(Phase.COMPLETED);
        }
    }

    @Test
    void shouldRefuseASecondLedgerOnTheSameJournal() {
        try (Ledger ledger = Ledger.open(dir)) {
            assertThatThrownBy(() -> Ledger.open(dir))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is already open for appending by another ledger");
        }
    }

    @Test
    void shouldKeepTheJournalIdAcrossReopens() {
        String id;
        try (Ledger ledger = Ledger.open(dir)) {
            id = ledger.journal().id();
        }
        try (Journal journal = Journal.openExisting(dir)) {
            assertThat(journal.id()).isEqualTo(id).hasSize(36);
        }
        assertThatThrownBy(() -> Journal.openExisting(dir.resolve("elsewhere")))
                .hasMessageContaining("no journal at");
    }

    @Test
    void shouldAppendWithPeriodicSyncDurability() {
        LedgerConfig config = LedgerConfig.builder(dir).durability(Durability.syncEvery(10, Duration.ofMillis(5))).build();
        try (Ledger ledger = Ledger.open(config)) {
            ledger.append(TestEvents.created("r-1"));
            for (int i = 0; i < 25; i++) {
                ledger.append(TestEvents.command("r-1", "c-" + i, "queued"));
            }
        }
        try (Journal journal = Journal.openExisting(dir)) {
            assertThat(journal.countBetween(Journal.NONE, journal.headIndex())).isEqualTo(26);
        }
    }

    @Test
    void shouldRejectInvalidDurabilitySettingsByName() {
        assertThatThrownBy(() -> Durability.syncEvery(0, Duration.ofMillis(5)))
                .hasMessage("sync everyEvents must be at least 1 but was 0");
        assertThatThrownBy(() -> Durability.syncEvery(1, Duration.ZERO))
                .hasMessage("sync everyInterval must be positive but was PT0S");
    }

    private static void assertRejected(Ledger ledger, RunEvent event, Reason reason, String message) {
        long head = ledger.journal().headIndex();
        assertThatThrownBy(() -> ledger.append(event))
                .isInstanceOf(RejectedEventException.class)
                .hasMessageContaining(message)
                .extracting(e -> ((RejectedEventException) e).reason()).isEqualTo(reason);
        assertThat(ledger.journal().headIndex()).isEqualTo(head);
    }
}
