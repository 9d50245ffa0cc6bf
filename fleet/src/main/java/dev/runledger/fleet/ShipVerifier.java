package dev.runledger.fleet;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.NdjsonCodec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Compares a topic with one robot's journal: every event up to {@code upTo} present at least once, in
 * journal order, byte-identical, with the chain head of the journal at that event. A record sent again
 * after a restart (at-least-once) is a duplicate, not an error, if it is byte-identical to the first.
 */
public final class ShipVerifier {
    private static final int MAX_PROBLEMS = 20;

    /** What the comparison found; {@link #ok()} when nothing is missing, out of order or different. */
    public record Report(long events, long records, long duplicates, long missing, long outOfOrder, long different,
                         long chainDifferent, long damaged, boolean compactedSince, List<String> problems) {
        /**
         * Chain heads differ for events shipped before a compaction (it recomputes the chain), so they count
         * against the topic only if the journal was never compacted.
         */
        public boolean ok() {
            return missing == 0 && outOfOrder == 0 && different == 0 && (chainDifferent == 0 || compactedSince);
        }
    }

    private ShipVerifier() {
    }

    /** Reads the whole topic as committed (read_committed) at the call, and the journal up to {@code upTo} (inclusive). */
    public static Report verify(Journal journal, String robotId, String bootstrap, String topic, long upTo) {
        List<String> problems = new ArrayList<>();
        long[] n = new long[8]; // events, records, duplicates, missing, outOfOrder, different, chainDifferent, damaged
        byte[] robot = robotId.getBytes(StandardCharsets.UTF_8);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000), new ByteArrayDeserializer(), new ByteArrayDeserializer());
             JournalAudit.ChainedReader journalReader = JournalAudit.readChained(journal, Journal.NONE)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            long maxIndex = Journal.NONE;
            TopicPartition robotPartition = null;
            JournalEntry pending = null;
            List<long[]> droppedDays = dev.runledger.ledger.JournalCompaction.droppedDays(journal.directory());
            while (!caughtUp(consumer, end)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (!Arrays.equals(r.key(), robot) || !journal.id().equals(FleetRecord.header(r.headers(), FleetRecord.JOURNAL))) {
                        continue;
                    }
                    n[1]++;
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (robotPartition == null) {
                        robotPartition = tp;
                    } else if (!robotPartition.equals(tp)) {
                        n[4]++;
                        note(problems, "records of robot " + robotId + " in two partitions (" + robotPartition + ", " + tp
                                + "): their order is not kept");
                    }
                    long index = Long.parseLong(FleetRecord.header(r.headers(), FleetRecord.INDEX));
                    if (index > upTo) {
                        continue;
                    }
                    boolean droppedDay = inDroppedDay(droppedDays, index);
                    if (index <= maxIndex) {
                        n[2]++;
                        if (!droppedDay && !sameAsJournal(journal, index, r.value())) {
                            n[5]++;
                            note(problems, "index " + index + " sent again with other bytes (offset " + r.offset() + ")");
                        }
                        continue;
                    }
                    if (droppedDay) {
                        // A day compaction left out whole after it was shipped: nothing left to compare with.
                        maxIndex = index;
                        continue;
                    }
                    // The next record must be the journal's next shippable entry: anything between is missing.
                    JournalEntry entry = pending != null ? pending : journalReader.next();
                    pending = null;
                    while (entry != null && entry.index() < index) {
                        if (!(entry instanceof JournalEntry.Compacted)) {
                            n[0]++;
                            n[3]++;
                            note(problems, "index " + entry.index() + " is not in the topic (the next record there is "
                                    + index + ")");
                        }
                        entry = journalReader.next();
                    }
                    if (entry == null || entry.index() != index) {
                        pending = entry; // the journal's next entry, for the topic's next record
                        n[5]++;
                        note(problems, "the topic has index " + index + ", which the journal does not hold");
                        continue;
                    }
                    maxIndex = index;
                    if (entry instanceof JournalEntry.Compacted) {
                        // An event of a run deleted and compacted away after it was shipped: the journal no longer
                        // has its bytes or its chain head to compare with (it was counted as "damaged in the journal").
                        continue;
                    }
                    n[0]++;
                    compare(entry, r, journalReader.chainHex(), n, problems);
                }
            }
            JournalEntry rest = pending != null ? pending : journalReader.next();
            for (; rest != null && rest.index() <= upTo; rest = journalReader.next()) {
                if (!(rest instanceof JournalEntry.Compacted)) {
                    n[0]++;
                    n[3]++;
                    note(problems, "index " + rest.index() + " is not in the topic (it ends at " + maxIndex + ")");
                }
            }
        }
        boolean compacted = dev.runledger.ledger.JournalCompaction.lastCompaction(journal.directory()) != null;
        return new Report(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], compacted, List.copyOf(problems));
    }

    private static void compare(JournalEntry entry, ConsumerRecord<byte[], byte[]> r, String chain, long[] n,
                                List<String> problems) {
        String damaged = FleetRecord.header(r.headers(), FleetRecord.DAMAGED);
        if (entry instanceof JournalEntry.Event ev) {
            if (damaged != null || !Arrays.equals(NdjsonCodec.encode(ev.event()), r.value())) {
                n[5]++;
                note(problems, "index " + entry.index() + " differs from the journal (offset " + r.offset() + ")");
            }
        } else if (damaged == null) {
            n[5]++;
            note(problems, "index " + entry.index() + " is damaged in the journal but was shipped as an event");
        } else {
            n[7]++;
        }
        if (!chain.equals(FleetRecord.header(r.headers(), FleetRecord.CHAIN))) {
            n[6]++;
            note(problems, "index " + entry.index() + ": chain head " + FleetRecord.header(r.headers(), FleetRecord.CHAIN)
                    + " in the topic, " + chain + " in the journal");
        }
    }

    private static boolean sameAsJournal(Journal journal, long index, byte[] value) {
        try (var reader = journal.readFrom(index)) {
            JournalEntry e = reader.next();
            if (e instanceof JournalEntry.Event ev && e.index() == index) {
                return Arrays.equals(NdjsonCodec.encode(ev.event()), value);
            }
            if (e instanceof JournalEntry.Compacted && e.index() == index) {
                return true; // compacted away since it was shipped: nothing left to compare with
            }
            return e != null && e.index() == index && value.length == 0; // a damaged excerpt, sent again as such
        }
    }

    private static boolean inDroppedDay(List<long[]> droppedDays, long index) {
        for (long[] day : droppedDays) {
            if (index >= day[0] && index <= day[1]) {
                return true;
            }
        }
        return false;
    }

    private static boolean caughtUp(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    private static void note(List<String> problems, String problem) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(problem);
        }
    }
}
