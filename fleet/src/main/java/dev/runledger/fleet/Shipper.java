package dev.runledger.fleet;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.ReaderPositions;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Ships one robot's journal to a Kafka topic, in journal order: every event goes out as a
 * {@link FleetRecord} from a transactional, idempotent producer with {@code acks=all}, in transactions
 * committed whenever it has caught up with the journal (at most 10 ms apart near the head, 250 ms while
 * catching up). The last index of the last committed transaction is the checkpoint, written beside
 * the journal as a registered reader (so compaction never drops a deletion the shipper has not passed).
 *
 * <p>The journal is read, and each record made, by a {@link ShipReader} on a thread of its own; the thread that
 * calls {@link #run} only sends and commits. On two cores that took the 600k-event benchmark (medians of 3 rounds)
 * from 157k-171k to 187k-244k events/s, its one thread having been busy 85% of the time with a third of the
 * machine idle.
 *
 * <p>Why transactions: a batch that expires while the broker is away fails, but the idempotent producer
 * then re-sequences and delivers the batches after it, so without them the topic got events 1012... before
 * 990...1011 (measured with a 30 s broker stop). An aborted transaction is invisible to read-committed
 * consumers, so what they see is every event in journal order, some perhaps twice: after a crash between a
 * commit and the checkpoint, the shipper resends from the checkpoint, and the fleet projector drops the
 * duplicates by (robot, journal, index). A restarted shipper fences its killed predecessor.
 *
 * <p>A broker that goes away is waited for: the producer retries within its delivery timeout; past it,
 * the shipper aborts, closes the producer, backs off (up to 5 s) and resends from the checkpoint.
 */
public final class Shipper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Shipper.class);
    private static final long MAX_BACKOFF_MILLIS = 5_000;
    /**
     * A transaction is committed once the journal has nothing more to read, or after this many events or
     * milliseconds when it keeps having more (catching up). Each commit waits for the broker (10-30 ms
     * here), so committing every 50 ms while catching up cost 60% of the throughput.
     */
    private static final int TRANSACTION_EVENTS = 50_000;
    private static final long LIVE_TRANSACTION_NANOS = 10_000_000L;
    private static final long CATCH_UP_TRANSACTION_NANOS = 250_000_000L;
    private static final Duration OPEN_TRANSACTION_POLL = Duration.ofMillis(1);
    /** Further behind the head than this, the shipper is catching up: fewer, larger transactions. */
    private static final long CATCH_UP_EVENTS = 20_000;

    /** What a shipment did. */
    public record Summary(long events, long bytes, long damaged, long lastIndex, long retries, Duration took) {
    }

    private final ShipperConfig config;
    private final Journal journal;
    private volatile boolean running = true;
    /** The last index of the last committed transaction. */
    private final AtomicLong acked;
    private volatile long ackedAppendedMicros;
    private final AtomicReference<Exception> sendFailure = new AtomicReference<>();
    private long checkpointed;
    private long lastCheckpointNanos;
    private final Counter shippedEvents;
    private final Counter shippedBytes;
    private final Counter sendErrors;
    private final Counter retries;
    private final Counter damagedExcerpts;
    private final AtomicLong lagEvents = new AtomicLong();
    private final io.micrometer.core.instrument.Timer ackLatency;
    private final io.micrometer.core.instrument.Timer commitTime;
    /** One callback for every send: a lambda per record was an allocation per event. */
    private final Callback onSent;

    public Shipper(ShipperConfig config) {
        this.config = config;
        this.journal = config.journal();
        long start = ReaderPositions.read(journal.directory()).getOrDefault(config.readerName(), Journal.NONE);
        this.acked = new AtomicLong(start);
        this.checkpointed = start;
        // Registered from the first moment, so a compaction started now already waits for this shipper.
        ReaderPositions.record(journal.directory(), config.readerName(), start);
        MeterRegistry registry = config.meterRegistry();
        String robot = config.robotId();
        shippedEvents = Counter.builder("ship.events").description("Events Kafka acknowledged").tag("robot", robot)
                .register(registry);
        shippedBytes = Counter.builder("ship.bytes").description("Record value bytes Kafka acknowledged").baseUnit("bytes")
                .tag("robot", robot).register(registry);
        sendErrors = Counter.builder("ship.send.errors").description("Sends Kafka did not acknowledge in time")
                .tag("robot", robot).register(registry);
        onSent = (metadata, error) -> {
            if (error != null) {
                sendErrors.increment();
                sendFailure.compareAndSet(null, error);
            }
        };
        retries = Counter.builder("ship.retries").description("Times the shipper resent from its checkpoint")
                .tag("robot", robot).register(registry);
        damagedExcerpts = Counter.builder("ship.damaged").description("Damaged excerpts shipped as such (empty value)")
                .tag("robot", robot).register(registry);
        ackLatency = io.micrometer.core.instrument.Timer.builder("ship.ack.latency")
                .description("From the append of a transaction's oldest event to Kafka committing it")
                .publishPercentiles(0.5, 0.99).tag("robot", robot).register(registry);
        commitTime = io.micrometer.core.instrument.Timer.builder("ship.commit")
                .description("How long a transaction's commit waited for Kafka (the shipper sends nothing meanwhile)")
                .publishPercentiles(0.5, 0.99).tag("robot", robot).register(registry);
        Gauge.builder("ship.lag.events", lagEvents, AtomicLong::get).description("Events appended that Kafka has not acknowledged")
                .tag("robot", robot).register(registry);
        Gauge.builder("ship.lag.seconds", this, Shipper::lagSeconds)
                .description("Age of the newest acknowledged event while others wait, 0 when caught up").baseUnit("seconds")
                .tag("robot", robot).register(registry);
    }

    /** The last journal index Kafka acknowledged ({@link Journal#NONE} before any). */
    public long acknowledged() {
        return acked.get();
    }

    private void refreshLag() {
        lagEvents.set(journal.countBetween(acked.get(), journal.headIndex()));
    }

    private double lagSeconds() {
        if (lagEvents.get() == 0 || ackedAppendedMicros == 0) {
            return 0;
        }
        return Math.max(0, (System.currentTimeMillis() * 1000 - ackedAppendedMicros) / 1e6);
    }

    /**
     * Ships until the journal's head as it was at the call (or, with {@code follow}, until {@link #close}),
     * then flushes and writes the checkpoint.
     */
    public Summary run() throws InterruptedException {
        long startNanos = System.nanoTime();
        long eventsBefore = (long) shippedEvents.count();
        long bytesBefore = (long) shippedBytes.count();
        long damagedBefore = (long) damagedExcerpts.count();
        long retriesBefore = (long) retries.count();
        long target = journal.headIndex();
        long backoff = 100;
        while (running) {
            try (KafkaProducer<byte[], byte[]> producer = producer()) {
                // Fences any earlier incarnation of this shipper (a killed process) and aborts its open transaction.
                producer.initTransactions();
                boolean done = shipWith(producer, target);
                checkpoint(true);
                if (done) {
                    break;
                }
                backoff = 100;
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                if (!running) {
                    break;
                }
                retries.increment();
                checkpoint(true);
                LOG.warn("shipper {} -> {}: {}; resending from index {} in {} ms", config.robotId(), config.bootstrap(),
                        e.toString(), acked.get(), backoff);
                Thread.sleep(backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            }
        }
        checkpoint(true);
        return new Summary((long) shippedEvents.count() - eventsBefore, (long) shippedBytes.count() - bytesBefore,
                (long) damagedExcerpts.count() - damagedBefore, acked.get(), (long) retries.count() - retriesBefore,
                Duration.ofNanos(System.nanoTime() - startNanos));
    }

    /**
     * Sends from the checkpoint on, in transactions (see {@link #TRANSACTION_EVENTS}); returns true once
     * everything up to {@code target} is committed (not
     * following), false to be called again with a fresh producer (the journal was compacted: the chain
     * changed), and throws when a send or a commit failed (the open transaction is then aborted, so a
     * read-committed consumer never sees a record after a gap).
     */
    private boolean shipWith(KafkaProducer<byte[], byte[]> producer, long target) throws Exception {
        sendFailure.set(null);
        long compactions = journal.compactions();
        Transaction txn = new Transaction();
        try (ShipReader reader = new ShipReader(journal, compactions, acked.get(), config.topic(), config.robotId(), config.pollInterval())) {
            long lastLag = 0;
            while (running) {
                failIfSendFailed();
                if (journal.compactions() != compactions) {
                    txn.commit(producer); // what was sent carries the old chain; the rest is sent with the new one
                    return false;
                }
                long now = System.nanoTime();
                if (txn.events > 0 && commitDue(txn, now)) {
                    txn.commit(producer);
                }
                if (now - lastLag > 100_000_000L) {
                    lastLag = now;
                    refreshLag();
                    checkpoint(false);
                }
                // With a transaction open, come back soon enough to commit it when it is due.
                ShipReader.Chunk chunk = reader.poll(txn.events > 0 ? OPEN_TRANSACTION_POLL : config.pollInterval());
                if (chunk == null) {
                    continue;
                }
                for (ShipReader.Prepared p : chunk.records()) {
                    txn.begin(producer);
                    producer.send(p.record(), onSent);
                    txn.events++;
                    txn.bytes += p.record().value().length;
                    txn.lastIndex = p.index();
                    if (p.damaged()) {
                        txn.damaged++;
                    } else {
                        txn.lastAppendedMicros = p.appendedAtMicros();
                        if (txn.firstAppendedMicros == 0) {
                            txn.firstAppendedMicros = p.appendedAtMicros();
                        }
                    }
                    if (!config.follow() && p.index() >= target) {
                        txn.commit(producer);
                        refreshLag();
                        return true;
                    }
                    if (txn.events >= TRANSACTION_EVENTS) {
                        txn.commit(producer);
                    }
                }
                // A chunk queued behind this one means the journal had more after all: committing here would
                // commit once per appended batch near the head, more often than the broker can answer.
                if (chunk.caughtUp() && !reader.hasQueued()) {
                    txn.commit(producer); // nothing more right now: make what was sent visible
                    if (!config.follow()) { // at the end of what the journal held: everything up to the target is sent
                        refreshLag();
                        return true;
                    }
                }
            }
            txn.commit(producer);
            return true;
        }
    }

    /** Live (near the head), a transaction is committed after 10 ms for latency; catching up, after 250 ms for throughput. */
    private boolean commitDue(Transaction txn, long now) {
        long age = now - txn.startNanos;
        if (age < LIVE_TRANSACTION_NANOS) {
            return false;
        }
        if (txn.catchingUp == null) { // asked once per transaction: counting excerpts is not free
            txn.catchingUp = journal.countBetween(txn.lastIndex, journal.headIndex()) >= CATCH_UP_EVENTS;
        }
        return !txn.catchingUp || age >= CATCH_UP_TRANSACTION_NANOS;
    }

    /** Events sent in the open transaction; committing makes them visible and moves the checkpoint. */
    private final class Transaction {
        boolean open;
        long startNanos;
        long events;
        long bytes;
        long damaged;
        long lastIndex = Journal.NONE;
        long lastAppendedMicros;
        long firstAppendedMicros;
        Boolean catchingUp;

        void begin(KafkaProducer<byte[], byte[]> producer) {
            if (!open) {
                producer.beginTransaction();
                open = true;
                startNanos = System.nanoTime();
            }
        }

        void commit(KafkaProducer<byte[], byte[]> producer) throws Exception {
            if (!open) {
                return;
            }
            long t0 = System.nanoTime();
            producer.commitTransaction(); // flushes, and throws if any send of it failed
            commitTime.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
            failIfSendFailed();
            open = false;
            acked.set(lastIndex);
            ackedAppendedMicros = lastAppendedMicros;
            shippedEvents.increment(events);
            shippedBytes.increment(bytes);
            damagedExcerpts.increment(damaged);
            if (firstAppendedMicros > 0) {
                ackLatency.record(Math.max(0, System.currentTimeMillis() * 1000 - firstAppendedMicros), TimeUnit.MICROSECONDS);
            }
            events = 0;
            bytes = 0;
            damaged = 0;
            firstAppendedMicros = 0;
            catchingUp = null;
        }
    }

    private void failIfSendFailed() throws Exception {
        Exception failure = sendFailure.get();
        if (failure != null) {
            throw failure;
        }
    }

    /** Writes the acknowledged index as this shipper's reader position: always with {@code force}, else at most once per interval. */
    private void checkpoint(boolean force) {
        long now = System.nanoTime();
        long position = acked.get();
        if (position == checkpointed || (!force && now - lastCheckpointNanos < config.checkpointInterval().toNanos())) {
            return;
        }
        ReaderPositions.record(journal.directory(), config.readerName(), position);
        checkpointed = position;
        lastCheckpointNanos = now;
    }

    private KafkaProducer<byte[], byte[]> producer() {
        return new KafkaProducer<>(producerSettings(config.bootstrap(), config.robotId(), config.topic()), new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    /**
     * The producer settings the shipper uses (the raw-producer benchmark uses the same): idempotent,
     * transactional (one transactional id per robot and topic), {@code acks=all}, batched (up to 20 ms,
     * 512 KiB batches, LZ4).
     */
    public static Map<String, Object> producerSettings(String bootstrap, String robotId, String topic) {
        return Map.ofEntries(
                Map.entry(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                Map.entry(ProducerConfig.CLIENT_ID_CONFIG, "runledger-shipper-" + robotId),
                Map.entry(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "runledger-shipper-" + robotId + "-" + topic),
                Map.entry(ProducerConfig.ACKS_CONFIG, "all"),
                Map.entry(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true),
                Map.entry("max.in.flight.requests.per.connection", 5),
                Map.entry(ProducerConfig.LINGER_MS_CONFIG, 20),
                Map.entry(ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024),
                Map.entry(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4"),
                Map.entry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000),
                Map.entry(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000),
                Map.entry(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000));
    }

    /** Asks {@link #run} to stop: it flushes what was sent, writes the checkpoint and returns. */
    @Override
    public void close() {
        running = false;
    }
}
