package dev.runledger.fleet;

import dev.runledger.ledger.ChildJvm;
import dev.runledger.ledger.ExpectErrorLogs;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.ledger.JournalCompaction;
import dev.runledger.ledger.JournalSurgery;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.ReaderPositions;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestClock;
import dev.runledger.ledger.TestEvents;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The shipper against a real Kafka broker (KRaft, a child JVM from Maven Central's artifacts). */
class ShipperTest {
    @TempDir
    static Path brokerDir;
    private static KafkaBroker kafka;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() throws Exception {
        kafka = KafkaBroker.start(brokerDir.resolve("kafka"));
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }

    private static void appendRuns(Ledger ledger, String prefix, int runs, int commands) {
        for (int r = 0; r < runs; r++) {
            String runId = prefix + r;
            List<RunEvent> batch = new ArrayList<>();
            batch.add(TestEvents.created(runId, Map.of("robot", "flex")));
            for (int c = 0; c < commands; c++) {
                batch.add(TestEvents.command(runId, "c-" + c, c % 2 == 0 ? "running" : "succeeded"));
            }
            batch.add(TestEvents.completed(runId));
            ledger.append(batch);
        }
    }

    /** Records the broker holds for {@code topic}, committed or not. */
    private static long logEnd(Admin admin, String topic) throws Exception {
        TopicPartition p = new TopicPartition(topic, 0);
        return admin.listOffsets(Map.of(p, OffsetSpec.latest())).partitionResult(p).get(30, TimeUnit.SECONDS).offset();
    }

    private static List<ConsumerRecord<byte[], byte[]>> records(String topic) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap(), ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition p = new TopicPartition(topic, 0);
            consumer.assign(List.of(p));
            consumer.seekToBeginning(List.of(p));
            long end = consumer.endOffsets(List.of(p)).get(p);
            while (consumer.position(p) < end) {
                consumer.poll(Duration.ofMillis(500)).forEach(out::add);
            }
        }
        return out;
    }

    /** Runs a following shipper on a thread of its own; what ends it abnormally goes to {@code failure}. */
    private static Thread startFollowing(Shipper shipper, AtomicReference<Throwable> failure) {
        Thread shipping = new Thread(() -> {
            try {
                shipper.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "test-shipper");
        shipping.start();
        return shipping;
    }

    private static ShipperConfig.Builder config(Journal journal, String topic) {
        return ShipperConfig.builder(journal, "robot-1", kafka.bootstrap()).topic(topic).meterRegistry(new SimpleMeterRegistry());
    }

    @Test
    void shouldShipEveryEventInJournalOrderByteIdenticalWithItsHeadersAndResumeFromItsCheckpoint() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journalDir)) {
            appendRuns(ledger, "r-", 20, 50);
            ledger.deleteRun("r-3");
            Journal journal = ledger.journal();
            Shipper.Summary first;
            try (Shipper shipper = new Shipper(config(journal, "ship-order").build())) {
                first = shipper.run();
            }
            assertThat(first.events()).isEqualTo(20 * 52 + 1);
            assertThat(first.lastIndex()).isEqualTo(journal.headIndex());
            assertThat(ReaderPositions.read(journalDir)).containsEntry("shipper-robot-1-ship-order", journal.headIndex());

            List<ConsumerRecord<byte[], byte[]>> records = records("ship-order");
            assertThat(records).hasSize(20 * 52 + 1);
            ConsumerRecord<byte[], byte[]> some = records.get(77);
            long index = Long.parseLong(FleetRecord.header(some.headers(), FleetRecord.INDEX));
            assertThat(new String(some.key(), StandardCharsets.UTF_8)).isEqualTo("robot-1");
            assertThat(FleetRecord.header(some.headers(), FleetRecord.ROBOT)).isEqualTo("robot-1");
            assertThat(FleetRecord.header(some.headers(), FleetRecord.JOURNAL)).isEqualTo(journal.id());
            assertThat(FleetRecord.header(some.headers(), FleetRecord.CHAIN)).isEqualTo(JournalAudit.chainAt(journal, index));
            try (var reader = journal.readFrom(index)) {
                var entry = (dev.runledger.ledger.JournalEntry.Event) reader.next();
                assertThat(new String(some.value(), StandardCharsets.UTF_8))
                        .isEqualTo(dev.runledger.ledger.NdjsonCodec.encodeToString(entry.event()));
            }

            appendRuns(ledger, "more-", 2, 10);
            try (Shipper again = new Shipper(config(journal, "ship-order").build())) {
                assertThat(again.run().events()).as("only what came since the checkpoint").isEqualTo(2 * 12);
            }
            ShipVerifier.Report report = ShipVerifier.verify(journal, "robot-1", kafka.bootstrap(), "ship-order",
                    journal.headIndex());
            assertThat(report.ok()).as("%s", report).isTrue();
            assertThat(report.duplicates()).isZero();
            assertThat(report.events()).isEqualTo(20 * 52 + 1 + 24);
        }
    }

    @Test
    void shouldHoldCompactionBackUntilItHasShippedADeletion() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journalDir)) {
            appendRuns(ledger, "r-", 3, 5);
            try (Shipper shipper = new Shipper(config(ledger.journal(), "ship-hold").build())) {
                shipper.run();
            }
            ledger.deleteRun("r-1");
            JournalCompaction.Result held = ledger.compact(false);
            assertThat(held.droppedRuns()).isZero();
            assertThat(held.heldBackBy()).containsExactly("shipper-robot-1-ship-hold");
            try (Shipper shipper = new Shipper(config(ledger.journal(), "ship-hold").build())) {
                shipper.run();
            }
            assertThat(ledger.compact(false).droppedRunIds()).containsExactly("r-1");
            // Shipping on after the compaction: the chain is the compacted journal's.
            appendRuns(ledger, "after-", 1, 3);
            try (Shipper shipper = new Shipper(config(ledger.journal(), "ship-hold").build())) {
                assertThat(shipper.run().events()).isEqualTo(5);
            }
            List<ConsumerRecord<byte[], byte[]>> records = records("ship-hold");
            ConsumerRecord<byte[], byte[]> last = records.get(records.size() - 1);
            assertThat(FleetRecord.header(last.headers(), FleetRecord.CHAIN)).isEqualTo(JournalAudit.chainAt(ledger.journal(),
                    ledger.journal().headIndex()));
        }
    }

    /** The chain head after every excerpt of the journal as it is now. */
    private static Map<Long, String> chains(Journal journal) {
        Map<Long, String> chains = new java.util.HashMap<>();
        try (JournalAudit.ChainedReader reader = JournalAudit.readChained(journal, Journal.NONE)) {
            for (var entry = reader.next(); entry != null; entry = reader.next()) {
                chains.put(entry.index(), reader.chainHex());
            }
        }
        return chains;
    }

    /**
     * A shipper waiting at the head when an online compaction swaps the journal under it (the usual case on a
     * robot): what it sends after the swap carries the compacted journal's chain heads. A journal reader reopens
     * on the compacted copy by itself but goes on with the old journal's chain, so the shipper must notice the
     * compaction before it sends anything read there; without that check in the read-ahead thread this failed in
     * one run of two. The topic then verifies, events compacted away since they were shipped included (the
     * verifier counted each as "damaged in the journal but shipped as an event").
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldFollowAcrossAnOnlineCompactionWithTheChainOfTheJournalItReadFrom() throws Exception {
        try (Ledger ledger = Ledger.open(dir.resolve("journal"))) {
            Journal journal = ledger.journal();
            appendRuns(ledger, "before-", 4, 20);
            ledger.deleteRun("before-1");
            Shipper shipper = new Shipper(config(journal, "ship-follow-compact").follow(true).build());
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread shipping = startFollowing(shipper, failed);
            for (int round = 0; round < 3; round++) {
                long head = journal.headIndex();
                // Compaction goes by the shipper's registered position, which follows its commits within the interval.
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ReaderPositions.read(journal.directory())
                        .getOrDefault("shipper-robot-1-ship-follow-compact", Journal.NONE) >= head);
                Map<Long, String> oldChains = chains(journal);
                JournalCompaction.Result compaction = ledger.compact(false);
                assertThat(compaction.droppedRuns()).as("round %d: %s", round, compaction).isEqualTo(1);
                Map<Long, String> newChains = chains(journal);
                appendRuns(ledger, "after-" + round + "-", 3, 20);
                long after = journal.headIndex();
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> shipper.acknowledged() >= after);
                Map<Long, String> nowChains = chains(journal);
                for (ConsumerRecord<byte[], byte[]> r : records("ship-follow-compact")) {
                    long index = Long.parseLong(FleetRecord.header(r.headers(), FleetRecord.INDEX));
                    String chain = FleetRecord.header(r.headers(), FleetRecord.CHAIN);
                    if (index > head) {
                        assertThat(chain).as("round %d, index %d, appended after the compaction", round, index)
                                .isEqualTo(nowChains.get(index));
                    }
                }
                ledger.deleteRun("after-" + round + "-0");
                assertThat(oldChains).isNotEqualTo(newChains);
            }
            shipper.close();
            shipping.join(30_000);
            assertThat(failed.get()).isNull();
            ShipVerifier.Report report = ShipVerifier.verify(journal, "robot-1", kafka.bootstrap(), "ship-follow-compact",
                    journal.headIndex());
            assertThat(report.missing()).as("%s", report).isZero();
            assertThat(report.outOfOrder()).as("%s", report).isZero();
            assertThat(report.different()).as("%s", report).isZero();
        }
    }

    /**
     * A day of the journal in which every event is dead is left out whole by compaction, with no stand-ins:
     * the indexes shipped from it are then in no journal. The verifier knows them from the lineage, and a
     * shipper resumes after them.
     */
    @Test
    void shouldVerifyAndGoOnAfterACompactionLeftOutAWholeShippedDay() throws Exception {
        TestClock clock = new TestClock();
        try (Ledger ledger = Ledger.open(dev.runledger.ledger.LedgerConfig.builder(dir.resolve("journal")).clock(clock)
                .meterRegistry(new SimpleMeterRegistry()).build())) {
            Journal journal = ledger.journal();
            appendRuns(ledger, "day0-", 3, 40);
            clock.advance(Duration.ofDays(1));
            appendRuns(ledger, "day1-", 1, 10);
            for (int r = 0; r < 3; r++) {
                ledger.deleteRun("day0-" + r);
            }
            try (Shipper shipper = new Shipper(config(journal, "ship-dropped-day").build())) {
                shipper.run();
            }
            JournalCompaction.Result compaction = ledger.compact(false);
            assertThat(compaction.droppedDays()).as("%s", compaction).isEqualTo(1);

            clock.advance(Duration.ofDays(1));
            appendRuns(ledger, "day2-", 1, 10);
            try (Shipper shipper = new Shipper(config(journal, "ship-dropped-day").build())) {
                assertThat(shipper.run().events()).as("only what came after its checkpoint").isEqualTo(12);
            }
            ShipVerifier.Report report = ShipVerifier.verify(journal, "robot-1", kafka.bootstrap(), "ship-dropped-day",
                    journal.headIndex());
            assertThat(report.missing()).as("%s", report).isZero();
            assertThat(report.outOfOrder()).as("%s", report).isZero();
            assertThat(report.different()).as("%s", report).isZero();
            assertThat(report.events()).as("what the journal still holds: day 1's run and day 2's (the deletions were dropped too)")
                    .isEqualTo(12 + 12);
        }
    }

    @Test
    void shouldShipADamagedExcerptAsDamagedNeverAsAnEvent() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journalDir)) {
            appendRuns(ledger, "r-", 1, 3);
        }
        long damagedAt = JournalSurgery.appendTruncatedCommand(journalDir, TestEvents.command("r-0", "c-x", "succeeded"));
        try (Ledger ledger = Ledger.open(journalDir)) {
            appendRuns(ledger, "s-", 1, 2);
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            try (Shipper shipper = new Shipper(config(ledger.journal(), "ship-damaged").meterRegistry(registry).build())) {
                assertThat(shipper.run().damaged()).isEqualTo(1);
            }
            assertThat(registry.get("ship.damaged").counter().count()).isEqualTo(1);
            ConsumerRecord<byte[], byte[]> damaged = records("ship-damaged").stream()
                    .filter(r -> FleetRecord.header(r.headers(), FleetRecord.INDEX).equals(Long.toString(damagedAt)))
                    .findFirst().orElseThrow();
            assertThat(damaged.value()).isEmpty();
            assertThat(FleetRecord.header(damaged.headers(), FleetRecord.DAMAGED)).isNotBlank();
            ShipVerifier.Report report = ShipVerifier.verify(ledger.journal(), "robot-1", kafka.bootstrap(), "ship-damaged",
                    ledger.journal().headIndex());
            assertThat(report.ok()).as("%s", report).isTrue();
            assertThat(report.damaged()).isEqualTo(1);
        }
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    @ExpectErrorLogs("Kafka's producer logs ERROR when it aborts a transaction while the broker is away: the point here")
    void shouldWaitOutABrokerStoppedForThirtySecondsAndCatchUp() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (KafkaBroker own = KafkaBroker.start(dir.resolve("own-kafka")); Ledger ledger = Ledger.open(journalDir)) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Shipper shipper = new Shipper(ShipperConfig.builder(ledger.journal(), "robot-1", own.bootstrap())
                    .topic("ship-outage").follow(true).meterRegistry(registry).build());
            Thread shipping = startFollowing(shipper, failure);
            appendRuns(ledger, "before-", 5, 20);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60))
                    .until(() -> shipper.acknowledged() == ledger.journal().headIndex());

            own.stop();
            long outageStart = System.nanoTime();
            while (System.nanoTime() - outageStart < TimeUnit.SECONDS.toNanos(30)) { // the robot runs on meanwhile
                appendRuns(ledger, "during-" + (System.nanoTime() - outageStart) / 1_000_000_000L + "-", 1, 20);
                Thread.sleep(1_000);
            }
            assertThat(shipper.acknowledged()).isLessThan(ledger.journal().headIndex());
            own.restart();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(120))
                    .until(() -> shipper.acknowledged() == ledger.journal().headIndex());
            shipper.close();
            shipping.join(30_000);
            assertThat(failure.get()).isNull();
            assertThat(registry.get("ship.retries").counter().count()).as("it resent from its checkpoint").isPositive();
            ShipVerifier.Report report = ShipVerifier.verify(ledger.journal(), "robot-1", own.bootstrap(), "ship-outage",
                    ledger.journal().headIndex());
            assertThat(report.ok()).as("%s", report).isTrue();
            System.out.println("broker outage of 30 s: " + report.events() + " events, " + report.duplicates()
                    + " sent twice, " + (long) registry.get("ship.retries").counter().count() + " resends");
        }
    }

    /** The child of {@link #shouldResendFromItsCheckpointWhereverItIsKilled}: ships a journal, then exits. */
    public static void main(String[] args) throws Exception {
        try (Journal journal = Journal.openExisting(Path.of(args[0]));
             Shipper shipper = new Shipper(ShipperConfig.builder(journal, "robot-1", args[1]).topic(args[2]).build())) {
            shipper.run();
        }
        System.out.println("shipped");
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void shouldResendFromItsCheckpointWhereverItIsKilled() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (Ledger ledger = Ledger.open(journalDir)) {
            appendRuns(ledger, "r-", 60, 300);
        }
        Random random = new Random(11);
        long duplicates = 0;
        int cut = 0;
        try (Journal journal = Journal.openExisting(journalDir);
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap()))) {
            long events = journal.countBetween(Journal.NONE, journal.headIndex());
            for (int trial = 0; trial < 20; trial++) {
                String topic = "ship-kill-" + trial;
                String readerName = "shipper-robot-1-" + topic; // the child's default: each trial starts from nothing
                admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
                Process child = ChildJvm.start(ShipperTest.class, dir.resolve("trial-" + trial + ".log"),
                        Map.of("CHILD_JVM_QUICK_START", "yes"), journalDir.toString(), kafka.bootstrap(), topic);
                String killedAt;
                if (trial % 5 == 0) {
                    // Early, by time: while it starts, connects, or sends its first transaction.
                    long delay = 200 + random.nextInt(1_500);
                    Thread.sleep(delay);
                    killedAt = delay + " ms after its start";
                } else {
                    // Once the broker holds a random number of its records, committed or not: the kill lands
                    // mid-transaction or between two, before or after the checkpoint (written once a second).
                    long target = 1 + random.nextInt((int) (events * 9 / 10));
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (child.isAlive() && logEnd(admin, topic) < target) {
                        assertThat(System.nanoTime()).as("trial %d: the topic reaches %d records", trial, target).isLessThan(deadline);
                        Thread.sleep(2);
                    }
                    killedAt = "past " + target + " records sent";
                }
                boolean wasShipping = child.isAlive();
                ChildJvm.kill9(child);
                long before = ReaderPositions.read(journalDir).getOrDefault(readerName, Journal.NONE);
                if (wasShipping && before != journal.headIndex()) {
                    cut++;
                }
                try (Shipper restarted = new Shipper(ShipperConfig.builder(journal, "robot-1", kafka.bootstrap()).topic(topic)
                        .meterRegistry(new SimpleMeterRegistry()).build())) {
                    restarted.run();
                }
                ShipVerifier.Report report = ShipVerifier.verify(journal, "robot-1", kafka.bootstrap(), topic, journal.headIndex());
                assertThat(report.ok()).as("trial %d, killed %s: %s", trial, killedAt, report).isTrue();
                duplicates += report.duplicates();
                if (trial % 5 == 4) { // (the verifier above already told duplicates by their index header)
                    // The headers make exactly-once possible downstream: (robot, journal, index) seen once each.
                    Set<String> seen = new HashSet<>();
                    long distinct = records(topic).stream().filter(r -> seen.add(FleetRecord.header(r.headers(), FleetRecord.ROBOT)
                            + "/" + FleetRecord.header(r.headers(), FleetRecord.JOURNAL) + "/"
                            + FleetRecord.header(r.headers(), FleetRecord.INDEX))).count();
                    assertThat(distinct).as("trial %d", trial).isEqualTo(report.events());
                }
            }
        }
        // Kills are placed by the child's own progress, so nearly all of them cut a shipment short.
        assertThat(cut).as("kills that came before the shipper was done").isGreaterThanOrEqualTo(16);
        assertThat(duplicates).as("records a restart sent again").isPositive();
        System.out.println("shipper kill trials: " + cut + " of 20 cut short, " + duplicates + " records sent twice in all");
        assertThat(Files.exists(journalDir)).isTrue();
    }
}
