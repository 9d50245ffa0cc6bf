package dev.runledger.fleet;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.NdjsonCodec;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Reads a journal ahead of the {@link Shipper}, on a thread of its own, and turns each excerpt into the record
 * the shipper sends (its NDJSON value and headers), handed over in chunks. With one thread doing both, the
 * shipper's thread was busy about 85% of a 600k-event shipment and Kafka's {@code send} was 43% of that; reading,
 * decoding, encoding and the chain step were the rest, while a third of the two cores sat idle.
 *
 * <p>The chunks say when the reader found nothing more ({@link Chunk#caughtUp}): that, not an empty queue, is
 * when the shipper commits, as it did when it read the journal itself. The reader is confined to its thread,
 * as a Chronicle tailer must be, and holds at most {@link #QUEUED_CHUNKS} chunks ahead.
 */
final class ShipReader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ShipReader.class);
    static final int CHUNK_RECORDS = 256;
    static final int QUEUED_CHUNKS = 16;

    /** One excerpt, ready to send: an event, or a damaged excerpt with an empty value and a damage header. */
    record Prepared(long index, ProducerRecord<byte[], byte[]> record, long appendedAtMicros, boolean damaged) {
    }

    /** Records in journal order; {@code caughtUp} when the journal had nothing after the last of them. */
    record Chunk(List<Prepared> records, boolean caughtUp) {
    }

    private final Journal journal;
    private final long after;
    private final long compactions;
    private final String topic;
    private final String robotId;
    private final Duration pollInterval;
    private final BlockingQueue<Chunk> chunks = new ArrayBlockingQueue<>(QUEUED_CHUNKS);
    private final Thread thread;
    private volatile boolean stopped;
    private volatile Throwable failure;

    /**
     * Starts reading the entries after {@code after} ({@link Journal#NONE}: from the start) of the journal as it
     * was after its {@code compactions}-th compaction; it stops at the next one (see {@link #readLoop}).
     */
    ShipReader(Journal journal, long compactions, long after, String topic, String robotId, Duration pollInterval) {
        this.journal = journal;
        this.compactions = compactions;
        this.after = after;
        this.topic = topic;
        this.robotId = robotId;
        this.pollInterval = pollInterval;
        this.thread = new Thread(this::readLoop, "runledger-ship-read-" + robotId);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * The next chunk, waiting up to {@code timeout}; null if none came. Throws what stopped the reading thread
     * (a journal that cannot be read), so the shipper's retry loop reports it and starts again from its checkpoint.
     */
    Chunk poll(Duration timeout) throws InterruptedException {
        Chunk chunk = chunks.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (chunk == null && failure != null) {
            throw new IllegalStateException("reading journal " + journal.directory() + " after index " + after + " failed: "
                    + failure, failure);
        }
        return chunk;
    }

    /** Whether a chunk is waiting: if so, a {@link Chunk#caughtUp} before it is out of date. */
    boolean hasQueued() {
        return !chunks.isEmpty();
    }

    private void readLoop() {
        try (JournalAudit.ChainedReader reader = JournalAudit.readChained(journal, after)) {
            byte[] key = FleetRecord.utf8(robotId);
            byte[] journalHeader = FleetRecord.utf8(journal.id());
            ByteArrayOutputStream line = new ByteArrayOutputStream(64 * 1024); // reused: no regrowth per event
            List<Prepared> pending = new ArrayList<>(CHUNK_RECORDS);
            boolean saidCaughtUp = false;
            while (!stopped) {
                // Once the shipper knows it is caught up, wait for the next append rather than spin.
                JournalEntry entry = saidCaughtUp ? reader.next(pollInterval) : reader.next();
                if (journal.compactions() != compactions) {
                    // The reader reopened on the compacted copy, but its chain went on from the old journal's: what it
                    // reads now carries a chain head that neither journal has. Hand over what was read before and
                    // stop; the shipper sees the compaction too and starts again from its checkpoint on the new chain.
                    if (!pending.isEmpty()) {
                        hand(new Chunk(pending, false));
                    }
                    return;
                }
                if (entry == null) {
                    if (!saidCaughtUp && hand(new Chunk(pending, true))) {
                        pending = new ArrayList<>(CHUNK_RECORDS);
                        saidCaughtUp = true;
                    }
                    continue;
                }
                saidCaughtUp = false;
                if (entry instanceof JournalEntry.Compacted) {
                    continue; // nothing to ship; the checkpoint moves past it with the next committed record
                }
                pending.add(prepare(entry, reader.chainHex(), key, journalHeader, line));
                if (pending.size() == CHUNK_RECORDS) {
                    if (!hand(new Chunk(pending, false))) {
                        return;
                    }
                    pending = new ArrayList<>(CHUNK_RECORDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable e) { // an Error too: the shipper must not wait for a thread that is gone
            failure = e; // the shipper throws it from poll, logs it and resends from its checkpoint
        }
    }

    private Prepared prepare(JournalEntry entry, String chainHex, byte[] key, byte[] journalHeader, ByteArrayOutputStream line) {
        long index = entry.index();
        RecordHeaders headers = new RecordHeaders();
        headers.add(FleetRecord.ROBOT, key);
        headers.add(FleetRecord.JOURNAL, journalHeader);
        headers.add(FleetRecord.INDEX, FleetRecord.utf8(Long.toString(index)));
        headers.add(FleetRecord.CHAIN, FleetRecord.utf8(chainHex));
        if (entry instanceof JournalEntry.Event ev) {
            line.reset();
            try {
                NdjsonCodec.encode(ev.event(), line);
            } catch (IOException e) {
                throw new IllegalStateException("a ByteArrayOutputStream cannot fail", e);
            }
            return new Prepared(index, new ProducerRecord<>(topic, null, key, line.toByteArray(), headers), ev.appendedAtMicros(),
                    false);
        }
        JournalEntry.Unreadable bad = (JournalEntry.Unreadable) entry;
        headers.add(FleetRecord.DAMAGED, FleetRecord.utf8(bad.reason()));
        LOG.warn("shipper {}: excerpt {} is damaged ({}); shipped as damaged, not as an event", robotId, index, bad.reason());
        return new Prepared(index, new ProducerRecord<>(topic, null, key, new byte[0], headers), 0, true);
    }

    /** Queues a chunk, waiting while the shipper is behind; false once the shipper stopped reading. */
    private boolean hand(Chunk chunk) throws InterruptedException {
        while (!stopped) {
            if (chunks.offer(chunk, 50, TimeUnit.MILLISECONDS)) {
                return true;
            }
        }
        return false;
    }

    /** Stops the reading thread (it closes its reader) and waits for it; what it had read ahead is dropped. */
    @Override
    public void close() {
        stopped = true;
        chunks.clear();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("shipper {}: the journal reader thread did not stop within 10 s", robotId);
        }
    }
}
