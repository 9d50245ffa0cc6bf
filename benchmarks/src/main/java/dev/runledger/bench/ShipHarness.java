package dev.runledger.bench;

import dev.runledger.fleet.FleetRecord;
import dev.runledger.fleet.KafkaBroker;
import dev.runledger.fleet.Shipper;
import dev.runledger.fleet.ShipperConfig;
import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Shipping to a real local Kafka broker (KRaft, a child JVM): the catch-up of a robot that was offline for
 * 1M events (first, with a cold JVM); the shipper over the 600k-event seed journal beside the raw
 * kafka-clients producer sending the same records with the same settings; the end-to-end lag at 20k
 * events/s, from the append to Kafka committing it and to a read-committed consumer seeing it.
 */
final class ShipHarness {
    private static final int THROUGHPUT_ROUNDS = Integer.getInteger("bench.ship.rounds", 3);

    private ShipHarness() {
    }

    static List<Row> run() throws Exception {
        System.out.println("\n== ship: a robot's journal to a local Kafka broker (acks=all, idempotent, transactional) ==");
        Path seed = RebuildHarness.seedJournal("seed-20x10k", RebuildHarness.RUNS, RebuildHarness.COMMANDS);
        Path dir = Bench.tempDir("ship");
        List<Row> rows = new ArrayList<>();
        try (KafkaBroker kafka = KafkaBroker.start(dir.resolve("kafka"))) {
            for (String topic : new String[] {"bench-lag", "bench-catchup"}) {
                kafka.createTopic(topic, 1);
            }
            for (int round = 1; round <= THROUGHPUT_ROUNDS; round++) {
                kafka.createTopic("bench-ship-" + round, 1);
                kafka.createTopic("bench-raw-" + round, 1);
            }
            // First, cold: a robot back online ships its backlog with a shipper that has not run yet.
            Row catchUp = catchUp(dir.resolve("catchup"), kafka.bootstrap());
            Path journalDir = dir.resolve("seed");
            copyJournal(seed, journalDir); // the shipper writes its checkpoint beside the journal: not into the cache
            rows.add(throughput(journalDir, kafka.bootstrap()));
            Bench.settle();
            rows.add(lag(dir.resolve("lag"), kafka.bootstrap()));
            rows.add(catchUp);
        } finally {
            Bench.delete(dir);
        }
        return rows;
    }

    /**
     * The shipper over the 600k-event seed journal, then the raw producer with the same records, in
     * {@link #THROUGHPUT_ROUNDS} alternating rounds (each to topics of its own), reported as medians. One
     * shipper run followed by one raw run favoured whichever came second: the first ran while the broker was
     * still writing out the catch-up's million records and this JVM still compiling, and single runs of the
     * same code gave 0.54x to 1.13x raw.
     */
    private static Row throughput(Path journalDir, String bootstrap) throws Exception {
        double[] shipSeconds = new double[THROUGHPUT_ROUNDS];
        double[] rawSeconds = new double[THROUGHPUT_ROUNDS];
        long shipped = 0;
        long sent = 0;
        try (Journal journal = Journal.openExisting(journalDir)) {
            for (int round = 0; round < THROUGHPUT_ROUNDS; round++) {
                long t0 = System.nanoTime();
                try (Shipper shipper = new Shipper(ShipperConfig.builder(journal, "bench", bootstrap).topic("bench-ship-" + (round + 1))
                        .meterRegistry(new SimpleMeterRegistry()).build())) {
                    shipped = shipper.run().events();
                }
                shipSeconds[round] = (System.nanoTime() - t0) / 1e9;
                // Built after the shipper ran and dropped after the raw run: 600k records held in memory slowed
                // the shipper by GC when they were alive during its run.
                List<ProducerRecord<byte[], byte[]>> records = records(journal, "bench-raw-" + (round + 1));
                sent = records.size();
                System.gc(); // building them started a marking cycle: not inside the baseline's timing
                rawSeconds[round] = raw(bootstrap, records);
                records = null;
                System.gc();
                System.out.printf(java.util.Locale.ROOT, "   round %d: shipper %,d events in %.2f s (%,.0f events/s); raw producer, same"
                        + " records and settings: %.2f s (%,.0f events/s, %.2fx)%n", round + 1, shipped, shipSeconds[round],
                        shipped / shipSeconds[round], rawSeconds[round], sent / rawSeconds[round], rawSeconds[round] / shipSeconds[round]);
            }
        }
        double shipRate = shipped / Bench.median(shipSeconds);
        double rawRate = sent / Bench.median(rawSeconds);
        System.out.printf(java.util.Locale.ROOT, "   median of %d rounds: shipper %,.0f events/s; raw producer %,.0f events/s%n",
                THROUGHPUT_ROUNDS, shipRate, rawRate);
        return new Row("ship 600k events to Kafka, median of " + THROUGHPUT_ROUNDS, Row.fmt("%,.0f events/s", shipRate),
                Row.fmt("raw producer %,.0f events/s", rawRate), Row.fmt("%.2fx raw", shipRate / rawRate),
                ">= 150k/s and >= 0.7x raw", shipRate >= 150_000 && shipRate / rawRate >= 0.7);
    }

    /** The records the shipper would send, built once, for the raw producer. */
    private static List<ProducerRecord<byte[], byte[]>> records(Journal journal, String topic) {
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        byte[] key = "bench".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] journalId = journal.id().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (JournalAudit.ChainedReader reader = JournalAudit.readChained(journal, Journal.NONE)) {
            for (JournalEntry e; (e = reader.next()) != null; ) {
                if (e instanceof JournalEntry.Event ev) {
                    RecordHeaders h = new RecordHeaders();
                    h.add(FleetRecord.ROBOT, key);
                    h.add(FleetRecord.JOURNAL, journalId);
                    h.add(FleetRecord.INDEX, Long.toString(e.index()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    h.add(FleetRecord.CHAIN, reader.chainHex().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    out.add(new ProducerRecord<>(topic, null, key, NdjsonCodec.encode(ev.event()), h));
                }
            }
        }
        return out;
    }

    /**
     * The plain producer: the shipper's settings and its catching-up transaction cadence (250 ms or 50,000
     * records, as in {@code Shipper}), nothing else. It used 50 ms or 20,000, the shipper's cadence before that
     * was lengthened, and so was measured with more commits than the shipper it stood beside.
     */
    private static double raw(String bootstrap, List<ProducerRecord<byte[], byte[]>> records) {
        Map<String, Object> settings = new HashMap<>(Shipper.producerSettings(bootstrap, "bench-raw", "bench-raw"));
        long t0 = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(settings, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            long txnStart = System.nanoTime();
            int inTxn = 0;
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r);
                if (++inTxn >= 50_000 || System.nanoTime() - txnStart >= 250_000_000L) {
                    producer.commitTransaction();
                    producer.beginTransaction();
                    txnStart = System.nanoTime();
                    inTxn = 0;
                }
            }
            producer.commitTransaction();
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Unmeasured seconds at the full rate before the measured ones; see {@link #lag}. */
    private static final int LAG_WARMUP_SECONDS = Integer.getInteger("bench.ship.lagWarmup", 30);
    private static final int LAG_MEASURE_SECONDS = Integer.getInteger("bench.ship.lagSeconds", 20);

    /**
     * An engine appending 20,000 events/s (100-event batches) while the shipper follows. Each batch is timed
     * from its append to the shipper's commit taking it in (a probe polls {@link Shipper#acknowledged} every
     * millisecond) and to a read-committed consumer seeing it. The first {@link #LAG_WARMUP_SECONDS} at the
     * same rate are not counted: on two cores the JIT compilers of this JVM and the broker's were still busy
     * for 30-40 s (a quarter of the machine), and the p99 of the first seconds was theirs, not the shipper's.
     */
    private static Row lag(Path dir, String bootstrap) throws Exception {
        List<String> real = Bench.realCommands();
        java.util.concurrent.ConcurrentSkipListMap<Long, Long> appendedAt = new java.util.concurrent.ConcurrentSkipListMap<>();
        Map<Long, Long> consumerPending = new ConcurrentHashMap<>();
        List<long[]> acked = java.util.Collections.synchronizedList(new ArrayList<>()); // {appended at, lag}
        List<long[]> consumed = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        long measureFrom;
        try (Ledger ledger = Ledger.open(dir.resolve("journal"))) {
            ledger.append(new RunEvent.RunCreated("lag-run", "2026-01-01T00:00:00Z", "proto", Map.of()));
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            Shipper shipper = new Shipper(ShipperConfig.builder(ledger.journal(), "lag", bootstrap).topic("bench-lag").follow(true)
                    .meterRegistry(registry).build());
            List<Thread> threads = List.of(new Thread(() -> {
                try {
                    shipper.run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "bench-shipper"), new Thread(() -> consume(bootstrap, consumerPending, consumed, stop), "bench-consumer"),
                    new Thread(() -> {
                        while (!stop.get()) {
                            Bench.visibleUpTo(appendedAt, shipper.acknowledged(), acked);
                            LockSupport.parkNanos(1_000_000L);
                        }
                    }, "bench-ack-probe"));
            threads.forEach(Thread::start);
            Thread.sleep(2_000); // the consumer is assigned and the shipper's producer initialized
            long interval = 5_000_000L; // 100 events every 5 ms: 20,000 events/s
            long next = System.nanoTime();
            measureFrom = next + LAG_WARMUP_SECONDS * 1_000_000_000L;
            long end = measureFrom + LAG_MEASURE_SECONDS * 1_000_000_000L;
            int n = 0;
            while (System.nanoTime() < end) {
                List<RunEvent> batch = new ArrayList<>(100);
                for (int i = 0; i < 100; i++, n++) {
                    batch.add(new RunEvent.CommandRecorded("lag-run", CommandJson.parse(Bench.withId(real.get(n % real.size()),
                            "lag-" + n))));
                }
                long now = System.nanoTime();
                long last = ledger.append(batch);
                consumerPending.put(last, now); // the last of each batch stands for it
                appendedAt.put(last, now);
                next += interval;
                LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
            }
            for (int i = 0; i < 100 && !(appendedAt.isEmpty() && consumerPending.isEmpty()); i++) {
                Thread.sleep(50);
            }
            stop.set(true);
            shipper.close();
            for (Thread t : threads) {
                t.join(30_000);
            }
            var commits = registry.get("ship.commit").timer().takeSnapshot();
            System.out.printf(java.util.Locale.ROOT, "   commits during the lag run (warm-up included): %d, p50 %.1f ms, p99 %.1f ms,"
                    + " max %.1f ms%n", commits.count(), commits.percentileValues()[0].value(java.util.concurrent.TimeUnit.MILLISECONDS),
                    commits.percentileValues()[1].value(java.util.concurrent.TimeUnit.MILLISECONDS),
                    commits.max(java.util.concurrent.TimeUnit.MILLISECONDS));
        }
        long from = measureFrom;
        double[] warmAck = Bench.latencyMillis(acked, l -> l[0] < from);
        double[] ack = Bench.latencyMillis(acked, l -> l[0] >= from);
        double[] toConsumer = Bench.latencyMillis(consumed, l -> l[0] >= from);
        System.out.printf(java.util.Locale.ROOT, "   warm-up, %d s at the same rate (not counted): append -> Kafka committed p50 %.1f ms,"
                + " p99 %.1f ms, max %.1f ms%n", LAG_WARMUP_SECONDS, warmAck[0], warmAck[1], warmAck[2]);
        System.out.printf(java.util.Locale.ROOT, "   lag at 20,000 events/s for %d s: append -> Kafka committed p50 %.1f ms, p99 %.1f ms,"
                + " max %.1f ms; append -> a read-committed consumer p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d batches of 100;"
                + " %d never committed)%n", LAG_MEASURE_SECONDS, ack[0], ack[1], ack[2], toConsumer[0], toConsumer[1], toConsumer[2],
                (long) ack[3], appendedAt.size());
        return new Row("ship lag at 20k events/s, append -> Kafka ack", Row.fmt("p99 %.1f ms", ack[1]),
                Row.fmt("to a consumer: p99 %.1f ms", toConsumer[1]), "-", "p99 <= 100 ms", ack[1] <= 100 && appendedAt.isEmpty());
    }

    private static void consume(String bootstrap, Map<Long, Long> appendedAt, List<long[]> latencies, AtomicBoolean stop) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 10), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition p = new TopicPartition("bench-lag", 0);
            consumer.assign(List.of(p));
            consumer.seekToBeginning(List.of(p));
            while (!stop.get()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long seen = System.nanoTime();
                    Long appended = appendedAt.remove(Long.parseLong(FleetRecord.header(r.headers(), FleetRecord.INDEX)));
                    if (appended != null) {
                        latencies.add(new long[] {appended, seen - appended});
                    }
                }
            }
        }
    }

    /** A robot offline for 1M events: the time to ship its backlog once the network is back. */
    private static Row catchUp(Path dir, String bootstrap) throws Exception {
        List<String> real = Bench.realCommands();
        long events = 0;
        try (Ledger ledger = Ledger.open(dir.resolve("journal"))) {
            for (int r = 0; events < 1_000_000; r++) {
                String runId = "offline-" + r;
                List<RunEvent> batch = new ArrayList<>(3002);
                batch.add(new RunEvent.RunCreated(runId, "2026-01-01T00:00:00Z", "proto", Map.of("robot", "flex")));
                for (int c = 0; c < 1000; c++) {
                    String base = Bench.withId(real.get((r * 7919 + c) % real.size()), runId + "-" + c);
                    for (String status : new String[] {"queued", "running", "succeeded"}) {
                        batch.add(new RunEvent.CommandRecorded(runId, CommandJson.parse(Bench.withStatus(base, status))));
                    }
                }
                batch.add(new RunEvent.RunCompleted(runId, dev.runledger.ledger.CompletionStatus.SUCCEEDED, "2026-01-01T01:00:00Z"));
                ledger.append(batch);
                events += batch.size();
            }
            long t0 = System.nanoTime();
            long shipped;
            try (Shipper shipper = new Shipper(ShipperConfig.builder(ledger.journal(), "offline", bootstrap).topic("bench-catchup")
                    .meterRegistry(new SimpleMeterRegistry()).build())) {
                shipped = shipper.run().events();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf(java.util.Locale.ROOT, "   catch-up after 1M events offline: %,d events in %.1f s (%,.0f events/s)%n",
                    shipped, seconds, shipped / seconds);
            return new Row("ship catch-up after 1M events offline", Row.fmt("%.1f s", seconds),
                    Row.fmt("%,.0f events/s", shipped / seconds), "-", "(measured)", null);
        }
    }

    private static void copyJournal(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().equals("ledger.lock")) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
    }
}
