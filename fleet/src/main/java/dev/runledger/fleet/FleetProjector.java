package dev.runledger.fleet;

import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Consumes the fleet topic and materializes it in PostgreSQL (see {@link FleetApply} for the rules). It reads
 * only committed records ({@code read_committed}: a shipper's aborted transaction never shows), assigns
 * itself every partition and seeks to the offsets stored in the projection's own {@code source_offsets};
 * Kafka's consumer-group offsets are never used, so the offsets can never disagree with the rows.
 *
 * <p>PostgreSQL going away is survived: the open transaction is lost with the connection, the projector
 * backs off (100 ms doubling to 5 s), reconnects through the pool and seeks back to the stored offsets.
 */
public final class FleetProjector implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FleetProjector.class);
    private static final long MAX_BACKOFF_MILLIS = 5_000;

    private final FleetProjectorConfig config;
    private final String schema;
    private volatile boolean running = true;
    private volatile KafkaConsumer<byte[], byte[]> consumer;
    private final Counter applied;
    private final Counter duplicates;
    private final Counter quarantined;
    private final Counter retries;
    private final Timer batchTime;
    private final AtomicLong lagRecords = new AtomicLong();
    private final AtomicLong newestAppliedMillis = new AtomicLong();

    /**
     * What one {@link #run} did. {@code reseeks} counts batches dropped unwritten because the schema's stored offsets
     * had moved under the projector (another writer, or a rebuild swapped in); normally 0.
     */
    public record Summary(long records, long applied, long duplicates, long quarantined, long batches, long retries,
                          long reseeks, Duration took) {
    }

    public FleetProjector(FleetProjectorConfig config) {
        this(config, config.schema());
    }

    /** A projector writing into {@code schema} instead of the configured one (rebuild and verify replay into a fresh one). */
    FleetProjector(FleetProjectorConfig config, String schema) {
        this.config = config;
        this.schema = FleetSchema.checkName(schema);
        MeterRegistry registry = config.meterRegistry();
        String[] tags = {"schema", schema};
        applied = Counter.builder("fleet.projector.records").description("Fleet records applied, skipped or quarantined")
                .tags(tags).tag("outcome", "applied").register(registry);
        duplicates = Counter.builder("fleet.projector.records").tags(tags).tag("outcome", "duplicate").register(registry);
        quarantined = Counter.builder("fleet.projector.records").tags(tags).tag("outcome", "quarantined").register(registry);
        retries = Counter.builder("fleet.projector.retries").description("Batches lost to a PostgreSQL or Kafka failure and redone")
                .tags(tags).register(registry);
        batchTime = Timer.builder("fleet.projector.batch").description("Time to apply and commit one batch")
                .publishPercentiles(0.5, 0.99).tags(tags).register(registry);
        Gauge.builder("fleet.projector.lag.records", lagRecords, AtomicLong::get)
                .description("Committed records on the topic not yet applied").tags(tags).register(registry);
        Gauge.builder("fleet.projector.lag.seconds", this, FleetProjector::lagSeconds).baseUnit("seconds")
                .description("Age of the newest applied record while others wait, 0 when caught up").tags(tags).register(registry);
    }

    private double lagSeconds() {
        long newest = newestAppliedMillis.get();
        return lagRecords.get() == 0 || newest == 0 ? 0 : Math.max(0, (System.currentTimeMillis() - newest) / 1e3);
    }

    /**
     * Applies the topic up to its end as it was at the call (or, with {@code follow}, until {@link #close}).
     */
    public Summary run() throws InterruptedException {
        return run(null);
    }

    /**
     * Applies up to {@code target} (next offset per partition), exactly: records past it are left for later.
     * A null target means the end at the call, or none when following.
     *
     * <p>Two threads: a fetcher ({@code runledger-fleet-fetch}) owns the Kafka consumer, polls and decodes the next
     * batch while this thread writes the previous one to PostgreSQL, since on 2 cores the decoding and the
     * database's work each take about half the time. When a batch fails or the stored offsets moved, this thread
     * asks the fetcher to seek back to the stored offsets; batches fetched before that (an older epoch) are dropped.
     */
    Summary run(Map<Integer, Long> target) throws InterruptedException {
        long start = System.nanoTime();
        long retriesBefore = (long) retries.count();
        Map<String, Object> settings = consumerSettings(config.bootstrap());
        try (HikariDataSource pool = writerPool(config.jdbcUrl(), schema);
             KafkaConsumer<byte[], byte[]> kafka = new KafkaConsumer<>(settings, new ByteArrayDeserializer(),
                     new ByteArrayDeserializer())) {
            consumer = kafka;
            List<TopicPartition> partitions = partitions(kafka);
            if (partitions.isEmpty()) {
                return new Summary(0, 0, 0, 0, 0, 0, 0, Duration.ofNanos(System.nanoTime() - start));
            }
            kafka.assign(partitions);
            Map<Integer, Long> end = target;
            if (end == null && !config.follow()) {
                end = new HashMap<>();
                for (Map.Entry<TopicPartition, Long> e : kafka.endOffsets(partitions).entrySet()) {
                    end.put(e.getKey().partition(), e.getValue());
                }
            }
            Fetcher fetcher = new Fetcher(kafka, partitions, end);
            try {
                return write(pool, fetcher, start, retriesBefore);
            } finally {
                fetcher.stop();
            }
        } finally {
            consumer = null;
        }
    }

    /** The writing side of {@link #run(Map)}: applies fetched batches, each in one transaction, until the end or a stop. */
    private Summary write(HikariDataSource pool, Fetcher fetcher, long start, long retriesBefore) throws InterruptedException {
        long records = 0;
        long batches = 0;
        long reseeks = 0;
        long backoff = 100;
        FleetApply engine = null;
        long appliedBefore = 0;
        long duplicatesBefore = 0;
        long quarantinedBefore = 0;
        while (running) {
            try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                FleetSchema.ensure(c, schema);
                engine = new FleetApply(c, schema, config.topic(), config.maxCachedRuns());
                appliedBefore = 0;
                duplicatesBefore = 0;
                quarantinedBefore = 0;
                fetcher.seek(FleetApply.storedOffsets(c, schema, config.topic(), false));
                c.commit();
                while (running) {
                    Batch batch = fetcher.next();
                    if (batch == null) {
                        continue; // nothing yet, or a batch fetched before the last seek
                    }
                    if (batch.end) {
                        return summary(records, batches, reseeks, retriesBefore, start, engine);
                    }
                    Timer.Sample sample = Timer.start();
                    Map<Integer, Long> elsewhere = engine.applyBatch(batch.records, batch.from, batch.to);
                    if (elsewhere != null) {
                        LOG.warn("fleet projector {}: the stored offsets {} are not where this projector stood ({}): another"
                                + " writer moved them (a rebuild swapped in?); continuing from the stored offsets", schema,
                                elsewhere, batch.from);
                        fetcher.seek(elsewhere);
                        reseeks++;
                        continue;
                    }
                    sample.stop(batchTime);
                    batches++;
                    records += batch.records.size();
                    applied.increment(engine.applied - appliedBefore);
                    duplicates.increment(engine.duplicates - duplicatesBefore);
                    quarantined.increment(engine.quarantined - quarantinedBefore);
                    appliedBefore = engine.applied;
                    duplicatesBefore = engine.duplicates;
                    quarantinedBefore = engine.quarantined;
                    newestAppliedMillis.set(batch.newestTimestamp);
                    backoff = 100;
                }
            } catch (SQLException | RuntimeException e) {
                if (!running) {
                    break;
                }
                retries.increment();
                LOG.warn("fleet projector {}: {}; reconnecting and resuming from the stored offsets in {} ms", schema,
                        e.toString(), backoff);
                Thread.sleep(backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            }
        }
        return engine == null
                ? new Summary(records, 0, 0, 0, batches, (long) retries.count() - retriesBefore, reseeks,
                        Duration.ofNanos(System.nanoTime() - start))
                : summary(records, batches, reseeks, retriesBefore, start, engine);
    }

    /** One transaction's records, decoded, with the consumer's positions before and after them; or the end marker. */
    private record Batch(long epoch, List<FleetApply.Decoded> records, Map<Integer, Long> from, Map<Integer, Long> to,
                         long newestTimestamp, boolean end) {
    }

    /**
     * The thread that owns the consumer. It fetches and decodes one batch ahead of the writer; a seek request
     * (from the writer, after a failure or when the stored offsets moved) starts a new epoch.
     */
    private final class Fetcher {
        private final KafkaConsumer<byte[], byte[]> kafka;
        private final List<TopicPartition> partitions;
        private final Map<Integer, Long> end;
        private final java.util.concurrent.BlockingQueue<Batch> ready = new java.util.concurrent.ArrayBlockingQueue<>(1);
        private final java.util.concurrent.atomic.AtomicReference<Map<Integer, Long>> seekTo =
                new java.util.concurrent.atomic.AtomicReference<>();
        private final AtomicLong epoch = new AtomicLong();
        private final Thread thread;
        private final FleetApply.Names names = new FleetApply.Names();
        private volatile boolean fetching = true;
        private volatile RuntimeException failure;

        Fetcher(KafkaConsumer<byte[], byte[]> kafka, List<TopicPartition> partitions, Map<Integer, Long> end) {
            this.kafka = kafka;
            this.partitions = partitions;
            this.end = end;
            this.thread = new Thread(this::loop, "runledger-fleet-fetch-" + schema);
            thread.setDaemon(true);
        }

        /** Asks for the consumer to continue from {@code stored}; batches fetched before are dropped. */
        void seek(Map<Integer, Long> stored) {
            epoch.incrementAndGet();
            seekTo.set(Map.copyOf(stored));
            ready.clear();
            if (!thread.isAlive()) {
                thread.start();
            }
        }

        /** The next batch of the current epoch, or null after a short wait. */
        Batch next() throws InterruptedException {
            RuntimeException f = failure;
            if (f != null) {
                throw f;
            }
            Batch b = ready.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
            return b == null || b.epoch != epoch.get() ? null : b;
        }

        private void loop() {
            long backoff = 100;
            long current = -1;
            while (fetching && running) {
                try {
                    Map<Integer, Long> to = seekTo.getAndSet(null);
                    if (to != null) {
                        current = epoch.get();
                        FleetProjector.seek(kafka, partitions, to);
                    }
                    if (current < 0) {
                        Thread.sleep(10);
                        continue;
                    }
                    Batch b;
                    if (end != null && reached(kafka, partitions, end)) {
                        b = new Batch(current, List.of(), Map.of(), Map.of(), 0, true);
                    } else {
                        Map<Integer, Long> from = positions(kafka, partitions);
                        List<ConsumerRecord<byte[], byte[]>> records = collect(kafka, end);
                        refreshLag(kafka, partitions);
                        if (records.isEmpty()) {
                            continue;
                        }
                        List<FleetApply.Decoded> decoded = new ArrayList<>(records.size());
                        for (ConsumerRecord<byte[], byte[]> r : records) {
                            decoded.add(FleetApply.decode(r, names));
                        }
                        b = new Batch(current, decoded, from, positions(kafka, partitions),
                                records.get(records.size() - 1).timestamp(), false);
                    }
                    while (fetching && running && seekTo.get() == null && !ready.offer(b, 50, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        // the writer is busy with the previous batch
                    }
                    if (b.end) {
                        Thread.sleep(10); // the writer returns on it; stay ready in case it asks for a seek instead
                    }
                    backoff = 100;
                } catch (WakeupException | InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    if (!fetching || !running) {
                        return;
                    }
                    retries.increment();
                    LOG.warn("fleet projector {}: fetching from Kafka failed ({}); retrying in {} ms", schema, e.toString(), backoff);
                    try {
                        Thread.sleep(backoff);
                    } catch (InterruptedException stop) {
                        return;
                    }
                    backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
                } catch (Error e) {
                    failure = new IllegalStateException("the fleet fetch thread failed", e);
                    LOG.error("fleet projector {}: the fetch thread failed", schema, e);
                    return;
                }
            }
        }

        void stop() throws InterruptedException {
            fetching = false;
            kafka.wakeup();
            thread.join(30_000);
        }
    }

    private Summary summary(long records, long batches, long reseeks, long retriesBefore, long start, FleetApply engine) {
        return new Summary(records, engine.applied, engine.duplicates, engine.quarantined, batches,
                (long) retries.count() - retriesBefore, reseeks, Duration.ofNanos(System.nanoTime() - start));
    }

    /**
     * The projector's one connection. Its commits do not wait for the WAL flush ({@code synchronous_commit=off}):
     * Kafka holds every record and the offsets commit with the rows, so a PostgreSQL crash can only lose the last
     * transactions whole, offsets included, and the projector applies those records again. Each batch used to
     * wait for a flush (10-50 ms on this VM's disk) while the topic kept filling.
     */
    private static HikariDataSource writerPool(String jdbcUrl, String schema) {
        com.zaxxer.hikari.HikariConfig config = FleetDatabase.poolConfig(jdbcUrl, "runledger-fleet-" + schema, 1);
        config.setConnectionInitSql("SET synchronous_commit = off");
        return new HikariDataSource(config);
    }

    /** Creates the fleet projection's schema, tables and indexes in {@code db} unless they exist. */
    public static void ensureSchema(javax.sql.DataSource db, String schema) throws SQLException {
        try (Connection c = db.getConnection()) {
            FleetSchema.ensure(c, schema);
        }
    }

    /** The topic's partitions; while following, waits for the topic to exist. */
    private List<TopicPartition> partitions(KafkaConsumer<byte[], byte[]> kafka) throws InterruptedException {
        while (running) {
            List<PartitionInfo> infos = kafka.partitionsFor(config.topic(), Duration.ofSeconds(30));
            if (infos != null && !infos.isEmpty()) {
                List<TopicPartition> partitions = new ArrayList<>();
                for (PartitionInfo p : infos) {
                    partitions.add(new TopicPartition(p.topic(), p.partition()));
                }
                return partitions;
            }
            if (!config.follow()) {
                LOG.info("fleet projector {}: topic {} does not exist (yet); nothing to apply", schema, config.topic());
                return List.of();
            }
            Thread.sleep(1_000);
        }
        return List.of();
    }

    private static void seek(KafkaConsumer<byte[], byte[]> kafka, List<TopicPartition> partitions, Map<Integer, Long> stored) {
        List<TopicPartition> fresh = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            Long next = stored.get(tp.partition());
            if (next == null) {
                fresh.add(tp);
            } else {
                kafka.seek(tp, next);
            }
        }
        if (!fresh.isEmpty()) {
            kafka.seekToBeginning(fresh);
        }
    }

    private static Map<Integer, Long> positions(KafkaConsumer<byte[], byte[]> kafka, List<TopicPartition> partitions) {
        Map<Integer, Long> positions = new HashMap<>();
        for (TopicPartition tp : partitions) {
            positions.put(tp.partition(), kafka.position(tp));
        }
        return positions;
    }

    private static boolean reached(KafkaConsumer<byte[], byte[]> kafka, List<TopicPartition> partitions, Map<Integer, Long> end) {
        for (TopicPartition tp : partitions) {
            if (kafka.position(tp) < end.getOrDefault(tp.partition(), 0L)) {
                return false;
            }
        }
        return true;
    }

    /**
     * One transaction's worth: polls until {@code maxBatchRecords}, until a poll comes back empty (caught up:
     * latency wins), or until {@code maxBatchDelay} has passed (catching up: bigger transactions win). Records at
     * or past {@code end} are cut off and the consumer rewound to them.
     */
    private List<ConsumerRecord<byte[], byte[]>> collect(KafkaConsumer<byte[], byte[]> kafka, Map<Integer, Long> end) {
        List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>();
        long deadline = System.nanoTime() + config.maxBatchDelay().toNanos();
        Map<TopicPartition, Long> rewind = new HashMap<>();
        while (running && batch.size() < config.maxBatchRecords()) {
            ConsumerRecords<byte[], byte[]> polled = kafka.poll(batch.isEmpty() ? Duration.ofMillis(200) : Duration.ZERO);
            if (polled.isEmpty()) {
                break; // caught up: what is in hand is applied now, not after the batch delay
            }
            for (ConsumerRecord<byte[], byte[]> r : polled) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                if (rewind.containsKey(tp)) {
                    continue;
                }
                if ((end != null && r.offset() >= end.getOrDefault(r.partition(), 0L))
                        || batch.size() >= config.maxBatchRecords()) {
                    rewind.put(tp, r.offset());
                    continue;
                }
                batch.add(r);
            }
            if (System.nanoTime() > deadline) {
                break;
            }
        }
        rewind.forEach(kafka::seek);
        return batch;
    }

    private void refreshLag(KafkaConsumer<byte[], byte[]> kafka, List<TopicPartition> partitions) {
        long lag = 0;
        for (TopicPartition tp : partitions) {
            OptionalLong l = kafka.currentLag(tp);
            if (l.isPresent()) {
                lag += l.getAsLong();
            }
        }
        lagRecords.set(lag);
    }

    /**
     * Consumer settings: committed records only, no group (partitions are assigned and offsets come from
     * PostgreSQL), large fetches for catching up.
     */
    static Map<String, Object> consumerSettings(String bootstrap) {
        return Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.CLIENT_ID_CONFIG, "runledger-fleet-projector",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10_000,
                ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 64 * 1024 * 1024,
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 16 * 1024 * 1024,
                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 50);
    }

    /** Asks {@link #run} to stop after the batch in hand (committed or rolled back whole). */
    @Override
    public void close() {
        running = false;
        KafkaConsumer<byte[], byte[]> k = consumer;
        if (k != null) {
            k.wakeup();
        }
    }
}
