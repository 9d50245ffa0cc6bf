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
    private ShipHarness() {
    }

    static List<Row> run() throws Exception {
        System.out.println("\n== ship: a robot's journal to a local Kafka broker (acks=all, idempotent, transactional) ==");
        Path seed = RebuildHarness.seedJournal("seed-20x10k", RebuildHarness.RUNS, RebuildHarness.COMMANDS);
        Path dir = Bench.tempDir("ship");
        List<Row> rows = new ArrayList<>();
        try (KafkaBroker kafka = KafkaBroker.start(dir.resolve("kafka"))) {
            for (String topic : new String[] {"bench-ship", "bench-raw", "bench-lag", "bench-catchup"}) {
                kafka.createTopic(topic, 1);
            }
            // First, cold: a robot back online ships its backlog with a shipper that has not run yet.
            Row catchUp = catchUp(dir.resolve("catchup"), kafka.bootstrap());
            Path journalDir = dir.resolve("seed");
            copyJournal(seed, journalDir); // the shipper writes its checkpoint beside the journal: not into the cache
            double shipSeconds;
            long shipped;
            try (Journal journal = Journal.openExisting(journalDir)) {
                long t0 = System.nanoTime();
                try (Shipper shipper = new Shipper(ShipperConfig.builder(journal, "bench", kafka.bootstrap()).topic("bench-ship")
                        .meterRegistry(new SimpleMeterRegistry()).build())) {
                    shipped = shipper.run().events();
                }
                shipSeconds = (System.nanoTime() - t0) / 1e9;
                // Built after the shipper ran: 600k records held in memory slowed it by GC when built before.
                List<ProducerRecord<byte[], byte[]>> records = records(journal, "bench-raw");
                double rawSeconds = raw(kafka.bootstrap(), records);
                double shipRate = shipped / shipSeconds;
                double rawRate = records.size() / rawSeconds;
                System.out.printf(java.util.Locale.ROOT, "   shipper: %,d events in %.2f s (%,.0f events/s); raw producer, same records"
                        + " and settings: %.2f s (%,.0f events/s)%n", shipped, shipSeconds, shipRate, rawSeconds, rawRate);
                rows.add(new Row("ship 600k events to Kafka", Row.fmt("%,.0f events/s", shipRate),
                        Row.fmt("raw producer %,.0f events/s", rawRate), Row.fmt("%.2fx raw", shipRate / rawRate),
                        ">= 150k/s and >= 0.7x raw", shipRate >= 150_000 && shipRate / rawRate >= 0.7));
            }
            System.gc(); // the raw section's 600k records are garbage now: not a pause inside the lag window
            rows.add(lag(dir.resolve("lag"), kafka.bootstrap()));
            rows.add(catchUp);
        } finally {
            Bench.delete(dir);
        }
        return rows;
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

    /** The plain producer: the shipper's settings and transaction cadence (50 ms or 20,000 records), nothing else. */
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
                if (++inTxn >= 20_000 || System.nanoTime() - txnStart >= 50_000_000L) {
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

    /** An engine appending 20,000 events/s for 10 s while the shipper follows; a read-committed consumer times each. */
    private static Row lag(Path dir, String bootstrap) throws Exception {
        List<String> real = Bench.realCommands();
        Map<Long, Long> appendedAt = new ConcurrentHashMap<>();
        List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        Map<Double, Double> ackPercentiles = new HashMap<>();
        double ackMax;
        try (Ledger ledger = Ledger.open(dir.resolve("journal"))) {
            ledger.append(new RunEvent.RunCreated("lag-run", "2026-01-01T00:00:00Z", "proto", Map.of()));
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            Shipper shipper = new Shipper(ShipperConfig.builder(ledger.journal(), "lag", bootstrap).topic("bench-lag").follow(true)
                    .meterRegistry(registry).build());
            Thread shipping = new Thread(() -> {
                try {
                    shipper.run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "bench-shipper");
            shipping.start();
            Thread consuming = new Thread(() -> consume(bootstrap, appendedAt, latencies, stop), "bench-consumer");
            consuming.start();
            Thread.sleep(2_000); // the consumer is assigned and the shipper's producer initialized
            long interval = 5_000_000L; // 100 events every 5 ms: 20,000 events/s
            long next = System.nanoTime();
            long end = next + 10_000_000_000L;
            int n = 0;
            while (System.nanoTime() < end) {
                List<RunEvent> batch = new ArrayList<>(100);
                for (int i = 0; i < 100; i++, n++) {
                    batch.add(new RunEvent.CommandRecorded("lag-run", CommandJson.parse(Bench.withId(real.get(n % real.size()),
                            "lag-" + n))));
                }
                long now = System.nanoTime();
                long last = ledger.append(batch);
                appendedAt.put(last, now); // the last of each batch stands for it
                next += interval;
                LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
            }
            Thread.sleep(3_000);
            stop.set(true);
            shipper.close();
            shipping.join(30_000);
            consuming.join(30_000);
            var snapshot = registry.get("ship.ack.latency").timer().takeSnapshot();
            for (var v : snapshot.percentileValues()) {
                ackPercentiles.put(v.percentile(), v.value(java.util.concurrent.TimeUnit.MILLISECONDS));
            }
            ackMax = snapshot.max(java.util.concurrent.TimeUnit.MILLISECONDS);
            var commits = registry.get("ship.commit").timer().takeSnapshot();
            System.out.printf(java.util.Locale.ROOT, "   commits during the lag run: %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                    commits.count(), commits.percentileValues()[0].value(java.util.concurrent.TimeUnit.MILLISECONDS),
                    commits.percentileValues()[1].value(java.util.concurrent.TimeUnit.MILLISECONDS),
                    commits.max(java.util.concurrent.TimeUnit.MILLISECONDS));
        }
        long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        double p50 = sorted.length == 0 ? Double.NaN : sorted[sorted.length / 2] / 1e6;
        double p99 = sorted.length == 0 ? Double.NaN : sorted[(int) (sorted.length * 0.99)] / 1e6;
        double max = sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1] / 1e6;
        double ackP50 = ackPercentiles.getOrDefault(0.5, Double.NaN);
        double ackP99 = ackPercentiles.getOrDefault(0.99, Double.NaN);
        System.out.printf(java.util.Locale.ROOT, "   lag at 20,000 events/s for 10 s: append -> Kafka committed (oldest event of each"
                + " transaction) p50 %.1f ms, p99 %.1f ms, max %.1f ms; append -> a read-committed consumer p50 %.1f ms,"
                + " p99 %.1f ms, max %.1f ms (%d batches)%n", ackP50, ackP99, ackMax, p50, p99, max, sorted.length);
        return new Row("ship lag at 20k events/s, append -> Kafka ack", Row.fmt("p99 %.1f ms", ackP99),
                Row.fmt("to a consumer: p99 %.1f ms", p99), "-", "p99 <= 100 ms", ackP99 <= 100);
    }

    private static void consume(String bootstrap, Map<Long, Long> appendedAt, List<Long> latencies, AtomicBoolean stop) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 10), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition p = new TopicPartition("bench-lag", 0);
            consumer.assign(List.of(p));
            consumer.seekToBeginning(List.of(p));
            while (!stop.get()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long seen = System.nanoTime();
                    Long appended = appendedAt.get(Long.parseLong(FleetRecord.header(r.headers(), FleetRecord.INDEX)));
                    if (appended != null) {
                        latencies.add(seen - appended);
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
