package dev.runledger.ledger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checksums, the hash chain, digests, and distrust of everything read back from disk. */
class JournalIntegrityTest {
    @TempDir
    Path dir;

    private Ledger open() {
        return Ledger.open(LedgerConfig.builder(dir.resolve("journal")).build());
    }

    @Test
    void shouldMoveEveryChainHeadAfterAChangeButKeepARunsDigest() {
        long first;
        long second;
        try (Ledger ledger = open()) {
            first = ledger.append(TestEvents.created("r-1"));
            second = ledger.append(TestEvents.command("r-1", "c-1", "queued"));
            ledger.append(TestEvents.completed("r-1"));
        }
        try (Journal j = Journal.openExisting(dir.resolve("journal"))) {
            String atFirst = JournalAudit.chainAt(j, first);
            String atSecond = JournalAudit.chainAt(j, second);
            String head = JournalAudit.chainAt(j, Journal.NONE);
            assertThat(atFirst).hasSize(64).isNotEqualTo(atSecond).isNotEqualTo(head);
            assertThat(JournalAudit.chainAt(j, j.headIndex())).isEqualTo(head);
            assertThat(JournalAudit.verify(j).chainHead()).isEqualTo(head);
            assertThatThrownBy(() -> JournalAudit.chainAt(j, second + 1_000_000)).hasMessageContaining("holds no excerpt at index");
        }
        String digest;
        try (Journal j = Journal.openExisting(dir.resolve("journal"))) {
            digest = JournalAudit.runDigest(j, "r-1").sha256();
        }
        try (Ledger ledger = open()) {
            ledger.append(TestEvents.created("r-2"));
            ledger.append(TestEvents.command("r-2", "c-1", "queued"));
            JournalAudit.RunDigest again = JournalAudit.runDigest(ledger.journal(), "r-1");
            assertThat(again.sha256()).as("other runs' events do not change a run's digest").isEqualTo(digest);
            assertThat(again.events()).isEqualTo(3);
            assertThat(JournalAudit.runDigest(ledger.journal(), "r-2").sha256()).isNotEqualTo(digest);
        }
    }

    @Test
    void shouldVerifyAnIntactJournalAsAllChecked() {
        try (Ledger ledger = open()) {
            ledger.append(List.of(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued")));
            JournalAudit.Check check = JournalAudit.verify(ledger.journal());
            assertThat(check.ok()).isTrue();
            assertThat(check.excerpts()).isEqualTo(2);
            assertThat(check.unchecked()).isZero();
            assertThat(check.damaged()).isEmpty();
        }
    }

    @Test
    void shouldDistrustADamagedSnapshotAndScanInstead() throws IOException {
        try (Ledger ledger = open()) {
            for (int i = 0; i < 50; i++) {
                ledger.append(TestEvents.created("r-" + i));
                ledger.append(TestEvents.completed("r-" + i));
            }
        }
        Path snapshot = dir.resolve("journal").resolve(StateSnapshot.FILE);
        assertThat(snapshot).exists();
        try (FileChannel ch = FileChannel.open(snapshot, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            long middle = ch.size() / 2;
            ch.read(b, middle);
            b.put(0, (byte) (b.get(0) ^ 0x01));
            b.rewind();
            ch.write(b, middle);
        }
        try (Ledger ledger = open()) {
            for (int i = 0; i < 50; i++) {
                int run = i;
                assertThat(ledger.phaseOf("r-" + run)).isEqualTo(RunLifecycle.Phase.COMPLETED);
                assertThatThrownBy(() -> ledger.append(TestEvents.command("r-" + run, "c-1", "queued")))
                        .isInstanceOf(RejectedEventException.class);
            }
        }
    }

    @Test
    void shouldKeepMemoryBoundedForAHugeDamagedExcerpt() {
        String garbage = "x".repeat(8 << 20);
        long index = JournalSurgery.appendGarbage(dir.resolve("journal"), garbage);
        try (Journal j = Journal.openExisting(dir.resolve("journal")); JournalReader reader = j.readFrom(Journal.NONE)) {
            JournalEntry entry = reader.next();
            assertThat(entry).isInstanceOf(JournalEntry.Unreadable.class);
            JournalEntry.Unreadable bad = (JournalEntry.Unreadable) entry;
            assertThat(bad.index()).isEqualTo(index);
            assertThat(bad.length()).isEqualTo(8 << 20);
            assertThat(bad.prefix()).hasSize(JournalEntry.Unreadable.MAX_KEPT_BYTES);
            assertThat(bad.text()).hasSizeLessThan(20_000).endsWith("(" + (8 << 20) + " bytes in all)");
            assertThat(JournalAudit.verify(j).damaged()).singleElement()
                    .satisfies(d -> assertThat(d.reason()).hasSizeLessThanOrEqualTo(203));
        }
    }

    /** Ten events, then the cycle file cut inside the 9th: its start remains (read back as damaged), the 10th is gone. */
    private Path tenEventsCutInsideTheNinth() throws IOException {
        Path journal = dir.resolve("journal");
        try (Ledger ledger = open()) {
            appendTen(ledger);
            assertThat(ledger.integrity().intact()).isTrue();
        }
        JournalSurgery.truncateAt(journal, "c-8\",\"commandType");
        return journal;
    }

    private long appendTen(Ledger ledger) {
        long last = ledger.append(TestEvents.created("r-1"));
        for (int i = 1; i < 10; i++) {
            last = ledger.append(TestEvents.command("r-1", "c-" + i, "queued"));
        }
        return last;
    }

    @Test
    void shouldReportEventsMissingAfterTheSeal() throws IOException {
        Path journal = tenEventsCutInsideTheNinth();

        try (Ledger ledger = open()) {
            JournalIntegrity found = ledger.integrity();
            assertThat(found.intact()).isFalse();
            assertThat(found.missingEvents()).isEqualTo(1);
            assertThat(found.withinDurabilityWindow()).as("the default durability never synced them").isTrue();
            assertThat(found.detail()).startsWith("journal truncated: events after index ")
                    .contains("(1 events, up to sealed index " + found.sealedIndex() + ") are missing")
                    .contains("within the durability window");
        }
        assertThat(Files.readString(journal.resolve(SealCheck.LOSSES_FILE))).contains("\"missingEvents\":1")
                .contains("\"accepted\":false");
        try (Journal j = Journal.openExisting(journal); JournalReader reader = j.readFrom(Journal.NONE)) {
            List<RunEvent.JournalLoss> losses = new ArrayList<>();
            JournalEntry e;
            while ((e = reader.next()) != null) {
                if (e instanceof JournalEntry.Event ev && ev.event() instanceof RunEvent.JournalLoss loss) {
                    losses.add(loss);
                }
            }
            assertThat(losses).as("the loss is recorded in the journal itself, where readers meet it").singleElement()
                    .satisfies(loss -> {
                        assertThat(loss.missingEvents()).isEqualTo(1);
                        assertThat(loss.withinDurabilityWindow()).isTrue();
                        assertThat(loss.runId()).isNull();
                    });
            String line = NdjsonCodec.encodeToString(losses.get(0));
            assertThat(line).startsWith("{\"type\":\"journal.loss\",\"afterIndex\":").doesNotContain("runId");
            assertThat(NdjsonCodec.decode(line)).isEqualTo(losses.get(0));
        }
        try (Ledger ledger = open()) {
            assertThat(ledger.integrity().intact()).as("resealed after the loss was recorded").isTrue();
            assertThatThrownBy(() -> ledger.append(new RunEvent.JournalLoss(1, 2, 1, false, "2026-11-22T10:00:00Z")))
                    .isInstanceOfSatisfying(RejectedEventException.class,
                            r -> assertThat(r.reason()).isEqualTo(RejectedEventException.Reason.RESERVED_TYPE))
                    .hasMessageContaining("only the ledger records a journal loss");
        }
    }

    /**
     * The finding of issue 9 this work has not fixed yet: after a cut inside a cycle file, Chronicle's
     * appender resumes at the write position its header recorded, past the zeroed hole where readers stop,
     * so the new event's index is acknowledged but no reader reaches it. Detection works (the test above;
     * strict mode refuses appends until repair); making appends land where readers continue needs the
     * hole filled with a padding (metadata) document, or the appends moved to a fresh cycle.
     */
    @Test
    void shouldAppendWhereEveryReaderSeesItAfterACut() throws IOException {
        Path journal = tenEventsCutInsideTheNinth();
        long appended;
        try (Ledger ledger = open()) {
            appended = ledger.append(TestEvents.created("r-after-loss"));
        }
        try (Journal j = Journal.openExisting(journal); JournalReader reader = j.readFrom(Journal.NONE)) {
            List<Long> read = new ArrayList<>();
            JournalEntry e;
            while ((e = reader.next()) != null) {
                read.add(e.index());
            }
            assertThat(read).as("an acknowledged append is reachable by every reader").contains(appended);
        }
    }

    @Test
    void shouldRefuseAppendsAfterALossInStrictModeUntilItIsAccepted() throws IOException {
        Path journal = tenEventsCutInsideTheNinth();
        LedgerConfig strict = LedgerConfig.builder(journal).refuseAppendsAfterLoss(true).build();
        try (Ledger ledger = Ledger.open(strict)) {
            assertThatThrownBy(() -> ledger.append(TestEvents.created("r-2")))
                    .hasMessageContaining("refuses appends (strict mode): journal truncated")
                    .hasMessageContaining("runledger repair --journal " + journal.toAbsolutePath().normalize() + " --accept-loss");
        }
        JournalIntegrity accepted = JournalRepair.acceptLoss(journal);
        assertThat(accepted.missingEvents()).isEqualTo(1);
        try (Ledger ledger = Ledger.open(strict)) {
            assertThat(ledger.integrity().intact()).isTrue();
            ledger.append(TestEvents.created("r-2"));
        }
        assertThat(Files.readString(journal.resolve(SealCheck.LOSSES_FILE))).contains("\"accepted\":true");
        assertThat(JournalRepair.acceptLoss(journal).intact()).as("nothing left to accept").isTrue();
    }

    @Test
    void shouldFindEventsMissingBeforeTheSealWithVerify() throws IOException {
        Path journal = tenEventsCutInsideTheNinth();
        try (Journal j = Journal.openExisting(journal)) {
            JournalAudit.Check check = JournalAudit.verify(j);
            assertThat(check.ok()).isFalse();
            assertThat(check.damaged()).anySatisfy(d -> assertThat(d.reason()).startsWith("journal truncated: the seal"
                    + " vouched for 10 events"));
        }
    }

    /**
     * A journal written by the last code before deletion reasons and compaction (format 2, checksummed,
     * sealed, with a state snapshot of format RLS2): it reads byte for byte (its deletion without a
     * reason), its seal still vouches for it, and retention and compaction work on it.
     */
    @Test
    void shouldReadAJournalWrittenBeforeDeletionReasonsAndCompactIt() throws IOException {
        Path journal = unzip("/fixtures/journal-v2.zip", dir.resolve("v2"));
        String expected;
        try (InputStream in = JournalIntegrityTest.class.getResourceAsStream("/fixtures/journal-v2.ndjson")) {
            expected = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(export(journal)).isEqualTo(expected);
        try (Journal j = Journal.openExisting(journal)) {
            JournalAudit.Check check = JournalAudit.verify(j);
            assertThat(check.ok()).as("%s", check.damaged()).isTrue();
            assertThat(check.unchecked()).isZero();
        }
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal).build())) {
            assertThat(ledger.integrity().intact()).as("its seal vouches for it").isTrue();
            assertThat(ledger.phaseOf("r-2")).isEqualTo(RunLifecycle.Phase.DELETED);
            assertThat(ledger.retain(RetentionPolicy.builder().keepRuns(0).pin(RetentionPolicy.Pin.parse("kind=calibration"))
                    .build(), false)).containsExactly("r-1");
        }
        JournalCompaction.Result compacted = JournalCompaction.compact(journal, false);
        assertThat(compacted.droppedRuns()).isEqualTo(2);
        assertThat(export(journal)).isEqualTo(expected.lines().filter(l -> l.contains("\"runId\":\"r-3\""))
                .map(l -> l + "\n").collect(java.util.stream.Collectors.joining()));
    }

    private static String export(Path journal) {
        StringBuilder exported = new StringBuilder();
        try (Journal j = Journal.openExisting(journal); JournalReader reader = j.readFrom(Journal.NONE)) {
            for (JournalEntry e; (e = reader.next()) != null; ) {
                if (e instanceof JournalEntry.Event ev) {
                    exported.append(NdjsonCodec.encodeToString(ev.event())).append('\n');
                } else {
                    assertThat(e).as("index %d", e.index()).isInstanceOf(JournalEntry.Compacted.class);
                }
            }
        }
        return exported.toString();
    }

    /**
     * A journal written by the format before checksums (version 1 excerpts), kept as a fixture: it must
     * open, read and export byte for byte forever, reported as unchecked, and take new (checked) appends.
     */
    @Test
    void shouldReadAJournalWrittenBeforeChecksums() throws IOException {
        Path journal = unzip("/fixtures/journal-v1.zip", dir.resolve("v1"));
        String expected;
        try (InputStream in = JournalIntegrityTest.class.getResourceAsStream("/fixtures/journal-v1.ndjson")) {
            expected = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try (Journal j = Journal.openExisting(journal)) {
            StringBuilder exported = new StringBuilder();
            try (JournalReader reader = j.readFrom(Journal.NONE)) {
                JournalEntry e;
                while ((e = reader.next()) != null) {
                    assertThat(e).isInstanceOf(JournalEntry.Event.class);
                    exported.append(NdjsonCodec.encodeToString(((JournalEntry.Event) e).event())).append('\n');
                }
            }
            assertThat(exported.toString()).isEqualTo(expected);
            JournalAudit.Check check = JournalAudit.verify(j);
            assertThat(check.ok()).isTrue();
            assertThat(check.unchecked()).isEqualTo(check.excerpts()).isEqualTo(expected.lines().count());
        }
        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journal).build())) {
            List<String> runs = new ArrayList<>();
            expected.lines().map(NdjsonCodec::decode).filter(e -> e instanceof RunEvent.RunCreated).forEach(e -> runs.add(e.runId()));
            assertThat(runs).isNotEmpty();
            ledger.append(TestEvents.created("after-upgrade"));
            JournalAudit.Check check = JournalAudit.verify(ledger.journal());
            assertThat(check.ok()).isTrue();
            assertThat(check.excerpts() - check.unchecked()).isEqualTo(1);
        }
    }

    private static Path unzip(String resource, Path target) throws IOException {
        Files.createDirectories(target);
        try (ZipInputStream zip = new ZipInputStream(JournalIntegrityTest.class.getResourceAsStream(resource))) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                Path file = target.resolve(entry.getName()).normalize();
                if (!file.startsWith(target)) {
                    throw new IOException("zip entry outside the target: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(file);
                    continue;
                }
                Files.createDirectories(file.getParent());
                try (OutputStream out = Files.newOutputStream(file)) {
                    zip.transferTo(out);
                }
            }
        }
        return target.resolve("journal");
    }
}
