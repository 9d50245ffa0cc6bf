package dev.runledger.fleet;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.EventType;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RawJson;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.RunEvent.CommandRecorded;
import dev.runledger.ledger.RunEvent.LabelsChanged;
import dev.runledger.ledger.RunEvent.RunCompleted;
import dev.runledger.ledger.RunEvent.RunCreated;
import dev.runledger.ledger.RunEvent.SummaryRecorded;
import dev.runledger.ledger.RunLifecycle;
import dev.runledger.ledger.RunLifecycle.Phase;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.postgresql.PGConnection;
import org.postgresql.copy.PGCopyOutputStream;

import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * Applies fleet records to the PostgreSQL projection with the SQLite projector's rules (the same
 * {@link RunLifecycle} checks, first record of a command fixes its position, labels kept in step, deletions
 * leave a tombstone, anything the rules refuse is quarantined and its run flagged damaged), one Kafka batch
 * per transaction together with {@code source_offsets} and {@code robot_positions}.
 *
 * <p>Exactly once on top of an at-least-once shipper: a record whose journal index is at or below what was
 * applied for its robot is a duplicate and skipped. Indexes of one robot never go backwards, even when a
 * compaction gives its journal a new id, so the comparison is with the highest index applied for the robot
 * over all its journals; {@code robot_positions} keeps one row per journal so an audit can follow the lineage.
 *
 * <p>Like the SQLite projector, changes are folded within a batch: a command recorded queued, running, then
 * succeeded is written once; a run's row once. The state the rules need is cached per run and fetched for a
 * whole batch in one query per table, never a query per event.
 */
final class FleetApply {
    private static final int MAX_QUARANTINED_TEXT = 4096;
    private static final byte[] NULL_FIELD = {'\\', 'N', '\t'};
    private final Connection c;
    private final String s;
    private final String topic;
    private final int maxCachedRuns;
    /** Access order: the least recently used clean runs are evicted after a commit. */
    private final LinkedHashMap<RunKey, RunState> cache = new LinkedHashMap<>(1024, 0.75f, true);
    private final List<RunState> dirty = new ArrayList<>();
    private final List<Object[]> quarantineRows = new ArrayList<>();
    private final List<Object[]> immediateDeletes = new ArrayList<>();
    private final Map<String, Long> robotMax = new HashMap<>();
    private final Map<String, Map<String, Long>> journalPositions = new HashMap<>();
    private final Set<RobotJournal> dirtyPositions = new LinkedHashSet<>();
    private final Map<Integer, Long> nextOffsets = new HashMap<>();

    long applied;
    long duplicates;
    long quarantined;
    private long committedApplied;
    private long committedDuplicates;
    private long committedQuarantined;
    /** Which incarnation of the schema the cache describes (a rebuild gives the swapped-in one a new generation). */
    private String generation;

    record RunKey(String robot, String run) {
    }

    static final class PendingCommand {
        final int position;
        final String commandId;
        /** The position is new in this batch: no row can be there yet, so it goes in by COPY, not upsert. */
        final boolean fresh;
        String commandType;
        String status;
        RawJson json;

        PendingCommand(int position, String commandId, boolean fresh) {
            this.position = position;
            this.commandId = commandId;
            this.fresh = fresh;
        }
    }

    static final class RunState {
        final RunKey key;
        Phase phase = Phase.ABSENT;
        long createdIndex = Journal.NONE;
        long completedIndex = Journal.NONE;
        long deletedIndex = Journal.NONE;
        String createdAt;
        long createdMs;
        String protocolId;
        String status;
        String completedAt;
        final TreeMap<String, String> labels = new TreeMap<>();
        int commandCount;
        boolean damaged;
        Map<String, Integer> positions;
        boolean dirty;
        boolean labelsDirty;
        /** The status changed: the copies in its label rows follow. */
        boolean statusDirty;
        String pendingSummary;
        LinkedHashMap<Integer, PendingCommand> pending;

        RunState(RunKey key) {
            this.key = key;
        }

        long phaseIndex() {
            return switch (phase) {
                case LIVE -> createdIndex;
                case COMPLETED -> completedIndex;
                case DELETED -> deletedIndex;
                case ABSENT -> Journal.NONE;
            };
        }
    }

    /**
     * One record, its headers read and its value decoded (or the reason it could not be, with the value kept for
     * the quarantine). Kafka's record is not kept: a batch waits for the writer across young collections, and the
     * record's value and header buffers doubled what was copied and promoted with it.
     */
    record Decoded(int partition, long offset, String robot, String journal, long index, RunEvent event, String error,
                   byte[] refusedValue, RunKey run, RobotJournal source) {
        static Decoded refused(ConsumerRecord<byte[], byte[]> r, String robot, String journal, long index, String error,
                               RobotJournal source) {
            return new Decoded(r.partition(), r.offset(), robot, journal, index, null, error,
                    r.value() == null ? new byte[0] : r.value(), null, source);
        }
    }

    /** One journal of one robot: whose position a record moves. */
    record RobotJournal(String robot, String journal) {
    }

    /**
     * The few robot and journal names a topic carries, one instance of each pair, kept by the fetch thread. Decoding
     * gives the writer keys whose strings are shared and whose hashes are already computed: its per-record lookups
     * (the run cache, the positions) then hash nothing new, and that work is done on the fetch thread, off the path
     * on which PostgreSQL waits for the writer.
     */
    static final class Names {
        private static final int MAX = 10_000;
        private final Map<RobotJournal, RobotJournal> sources = new HashMap<>();

        RobotJournal source(String robot, String journal) {
            if (sources.size() > MAX) {
                sources.clear(); // a topic with that many robots still works, with less sharing
            }
            RobotJournal key = new RobotJournal(robot, journal);
            return sources.computeIfAbsent(key, k -> k);
        }
    }

    FleetApply(Connection c, String schema, String topic, int maxCachedRuns) throws SQLException {
        this.c = c;
        this.s = schema;
        this.topic = topic;
        this.maxCachedRuns = maxCachedRuns;
        this.generation = generation();
        loadPositions();
    }

    private String generation() throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT value FROM " + s + ".projection_meta WHERE key = 'generation'");
             ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private void loadPositions() throws SQLException {
        robotMax.clear();
        journalPositions.clear();
        try (PreparedStatement ps = c.prepareStatement("SELECT robot_id, journal_id, last_index FROM " + s + ".robot_positions");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                notePosition(rs.getString(1), rs.getString(2), rs.getLong(3));
            }
        }
    }

    private void notePosition(String robot, String journal, long index) {
        robotMax.merge(robot, index, Math::max);
        journalPositions.computeIfAbsent(robot, r -> new HashMap<>()).merge(journal, index, Math::max);
    }

    /** The offsets this schema has applied, per partition of the topic: where a consumer resumes. */
    static Map<Integer, Long> storedOffsets(Connection c, String schema, String topic, boolean lock) throws SQLException {
        Map<Integer, Long> offsets = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT partition, next_offset FROM " + schema
                + ".source_offsets WHERE topic = ?" + (lock ? " FOR UPDATE" : ""))) {
            ps.setString(1, topic);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    offsets.put(rs.getInt(1), rs.getLong(2));
                }
            }
        }
        return offsets;
    }

    /**
     * Applies one batch of records and commits it with the offsets it reaches ({@code to}, the consumer's
     * positions after the batch). {@code from} is where the consumer stood for each partition when the batch
     * began; if the schema's stored offsets differ (another projector, or a rebuild swapped in under us), nothing
     * is written and the stored offsets are returned so the caller can seek there. Returns null when the batch was committed.
     */
    Map<Integer, Long> applyBatch(List<Decoded> batch, Map<Integer, Long> from, Map<Integer, Long> to) throws SQLException {
        boolean ok = false;
        try {
            try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
                lock.setString(1, "runledger-projector:" + s + ":" + topic);
                lock.executeQuery().close();
            }
            String current = generation();
            if (!Objects.equals(current, generation)) {
                // A rebuild swapped a new schema in under this name: what is cached describes the old one.
                clearState();
                loadPositions();
                generation = current;
            }
            Map<Integer, Long> stored = storedOffsets(c, s, topic, true);
            for (Map.Entry<Integer, Long> e : from.entrySet()) {
                Long have = stored.get(e.getKey());
                if (have != null && have.longValue() != e.getValue()) {
                    c.rollback();
                    ok = true;
                    clearState();
                    loadPositions();
                    c.commit();
                    return stored;
                }
            }
            nextOffsets.clear();
            // The consumer's positions, not last offset + 1: a transaction's commit marker takes an offset of its own.
            nextOffsets.putAll(to);
            prefetch(batch);
            for (Decoded d : batch) {
                apply(d);
            }
            flush();
            c.commit();
            ok = true;
            committedApplied = applied;
            committedDuplicates = duplicates;
            committedQuarantined = quarantined;
            trim();
            return null;
        } finally {
            if (!ok) {
                rollback();
            }
        }
    }

    /** Reads a record's headers and decodes its value; needs no state but {@code names}, so the fetching thread does it. */
    static Decoded decode(ConsumerRecord<byte[], byte[]> r, Names names) {
        String robot = FleetRecord.header(r.headers(), FleetRecord.ROBOT);
        if (robot == null && r.key() != null) {
            robot = new String(r.key(), StandardCharsets.UTF_8);
        }
        String journal = FleetRecord.header(r.headers(), FleetRecord.JOURNAL);
        String indexText = FleetRecord.header(r.headers(), FleetRecord.INDEX);
        long index = Journal.NONE;
        String error = null;
        if (robot == null || robot.isEmpty()) {
            error = "the record names no robot (no " + FleetRecord.ROBOT + " header and no key)";
            robot = "";
        } else if (journal == null) {
            error = "the record has no " + FleetRecord.JOURNAL + " header";
        } else if (indexText == null) {
            error = "the record has no " + FleetRecord.INDEX + " header";
        } else {
            try {
                index = Long.parseLong(indexText);
            } catch (NumberFormatException e) {
                error = FleetRecord.INDEX + " header is not a journal index: \"" + abbreviate(indexText) + "\"";
            }
        }
        RobotJournal source = journal == null ? null : names.source(robot, journal);
        if (source != null) {
            robot = source.robot();
            journal = source.journal();
        }
        if (error != null) {
            return Decoded.refused(r, robot, journal, index, error, source);
        }
        String damage = FleetRecord.header(r.headers(), FleetRecord.DAMAGED);
        if (damage != null) {
            return Decoded.refused(r, robot, journal, index, "damaged excerpt on the robot: " + damage, source);
        }
        byte[] value = r.value() == null ? new byte[0] : r.value();
        try {
            RunEvent event = NdjsonCodec.decode(value, 0, value.length);
            RunKey run = null;
            if (event.runId() != null) {
                run = new RunKey(robot, event.runId());
                run.hashCode(); // computes and keeps the run id's hash here, not on the writer
            }
            return new Decoded(r.partition(), r.offset(), robot, journal, index, event, null, null, run, source);
        } catch (IllegalArgumentException e) { // InvalidEventException, and what a record parser refuses
            return Decoded.refused(r, robot, journal, index, "cannot decode the event: " + e.getMessage(), source);
        }
    }

    private boolean isDuplicate(Decoded d) {
        if (d.journal == null || d.index == Journal.NONE) {
            return false;
        }
        Long max = robotMax.get(d.robot);
        return max != null && d.index <= max;
    }

    /** Loads, in one query per table, the state of every run the batch names that is not cached. */
    private void prefetch(List<Decoded> batch) throws SQLException {
        Map<RunKey, Boolean> missing = new LinkedHashMap<>();
        for (Decoded d : batch) {
            if (d.run != null) {
                RunKey key = d.run;
                RunState known = cache.get(key);
                boolean needsPositions = d.event instanceof CommandRecorded;
                if (known == null) {
                    missing.merge(key, needsPositions, Boolean::logicalOr);
                } else if (needsPositions && known.phase == Phase.LIVE && known.positions == null) {
                    missing.merge(key, true, Boolean::logicalOr);
                }
            }
        }
        load(missing);
    }

    /** Loads the state of the runs in {@code missing} not yet cached, and their command positions where marked. */
    private void load(Map<RunKey, Boolean> missing) throws SQLException {
        if (missing.isEmpty()) {
            return;
        }
        List<RunKey> load = new ArrayList<>();
        for (RunKey k : missing.keySet()) {
            if (!cache.containsKey(k)) {
                load.add(k);
            }
        }
        if (!load.isEmpty()) {
            Map<RunKey, RunState> found = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT r.robot_id, r.id, r.created_at, r.created_ms, r.created_index,"
                    + " r.protocol_id, r.status, r.completed_at, r.completed_index, r.command_count, r.damaged"
                    + " FROM unnest(?::text[], ?::text[]) AS k(robot_id, id) JOIN " + s + ".runs r USING (robot_id, id)")) {
                bindKeys(ps, load);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        RunState run = new RunState(new RunKey(rs.getString(1), rs.getString(2)));
                        run.createdAt = rs.getString(3);
                        run.createdMs = rs.getLong(4);
                        run.createdIndex = rs.getLong(5);
                        run.protocolId = rs.getString(6);
                        run.status = rs.getString(7);
                        run.completedAt = rs.getString(8);
                        long completed = rs.getLong(9);
                        run.completedIndex = rs.wasNull() ? Journal.NONE : completed;
                        run.commandCount = rs.getInt(10);
                        run.damaged = rs.getBoolean(11);
                        run.phase = run.completedIndex == Journal.NONE ? Phase.LIVE : Phase.COMPLETED;
                        found.put(run.key, run);
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT l.robot_id, l.run_id, l.key, l.value"
                    + " FROM unnest(?::text[], ?::text[]) AS k(robot_id, run_id) JOIN " + s + ".run_labels l USING (robot_id, run_id)")) {
                bindKeys(ps, new ArrayList<>(found.keySet()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        found.get(new RunKey(rs.getString(1), rs.getString(2))).labels.put(rs.getString(3), rs.getString(4));
                    }
                }
            }
            List<RunKey> absent = new ArrayList<>();
            for (RunKey k : load) {
                if (!found.containsKey(k)) {
                    absent.add(k);
                }
            }
            Map<RunKey, Long> tombstones = new HashMap<>();
            if (!absent.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement("SELECT t.robot_id, t.run_id, t.deleted_index"
                        + " FROM unnest(?::text[], ?::text[]) AS k(robot_id, run_id) JOIN " + s + ".run_tombstones t"
                        + " USING (robot_id, run_id)")) {
                    bindKeys(ps, absent);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            tombstones.put(new RunKey(rs.getString(1), rs.getString(2)), rs.getLong(3));
                        }
                    }
                }
            }
            for (RunKey k : load) {
                RunState run = found.get(k);
                if (run == null) {
                    run = new RunState(k);
                    Long deleted = tombstones.get(k);
                    if (deleted != null) {
                        run.phase = Phase.DELETED;
                        run.deletedIndex = deleted;
                    }
                }
                cache.put(k, run);
            }
        }
        List<RunKey> needPositions = new ArrayList<>();
        for (Map.Entry<RunKey, Boolean> e : missing.entrySet()) {
            RunState run = cache.get(e.getKey());
            if (e.getValue() && run.phase == Phase.LIVE && run.positions == null) {
                needPositions.add(e.getKey());
                run.positions = new HashMap<>();
            }
        }
        loadPositions(needPositions);
    }

    private void loadPositions(List<RunKey> runs) throws SQLException {
        if (runs.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT c.robot_id, c.run_id, c.command_id, c.index_in_run"
                + " FROM unnest(?::text[], ?::text[]) AS k(robot_id, run_id) JOIN " + s + ".run_commands c"
                + " USING (robot_id, run_id)")) {
            bindKeys(ps, runs);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    cache.get(new RunKey(rs.getString(1), rs.getString(2))).positions.put(rs.getString(3), rs.getInt(4));
                }
            }
        }
    }

    private void bindKeys(PreparedStatement ps, List<RunKey> keys) throws SQLException {
        String[] robots = new String[keys.size()];
        String[] runs = new String[keys.size()];
        for (int i = 0; i < keys.size(); i++) {
            robots[i] = keys.get(i).robot();
            runs[i] = keys.get(i).run();
        }
        Array a = c.createArrayOf("text", robots);
        Array b = c.createArrayOf("text", runs);
        ps.setArray(1, a);
        ps.setArray(2, b);
    }

    private RunState state(RunKey key) throws SQLException {
        RunState run = cache.get(key);
        if (run == null) { // prefetch loads every run a batch names; this is the safety net, one run at a time
            load(Map.of(key, false));
            run = cache.get(key);
        }
        return run;
    }

    private void apply(Decoded d) throws SQLException {
        if (isDuplicate(d)) {
            duplicates++;
            return;
        }
        if (d.journal != null && d.index != Journal.NONE) {
            notePosition(d.robot, d.journal, d.index);
            dirtyPositions.add(d.source);
        }
        if (d.error != null) {
            quarantine(d, null, null, d.error, text(d.refusedValue));
            return;
        }
        RunEvent event = d.event;
        if (event.eventType() == EventType.JOURNAL_LOSS) {
            applied++;
            immediateDeletes.add(new Object[] {"meta", "journal_loss:" + d.robot + ":" + d.index, NdjsonCodec.encodeToString(event)});
            return;
        }
        RunKey key = d.run;
        RunState run = state(key);
        RunLifecycle.Violation violation = RunLifecycle.check(event, run.phase, run.phaseIndex(), run.labels.keySet());
        if (violation != null) {
            markDamaged(run);
            quarantine(d, event.runId(), event.type(), violation.message(), NdjsonCodec.encodeToString(event));
            return;
        }
        applied++;
        switch (event.eventType()) {
            case RUN_CREATED -> create(key, (RunCreated) event, d.index);
            case COMMAND_RECORDED -> recordCommand(run, ((CommandRecorded) event).command());
            case LABELS_CHANGED -> {
                LabelsChanged e = (LabelsChanged) event;
                run.labels.putAll(e.set());
                e.remove().forEach(run.labels::remove);
                run.labelsDirty = true;
                markDirty(run);
            }
            case SUMMARY_RECORDED -> {
                run.pendingSummary = ((SummaryRecorded) event).summary().text();
                markDirty(run);
            }
            case RUN_COMPLETED -> {
                RunCompleted e = (RunCompleted) event;
                run.phase = Phase.COMPLETED;
                run.status = e.status().wireName();
                run.statusDirty = true;
                run.completedAt = e.completedAt();
                run.completedIndex = d.index;
                run.positions = null; // no command may follow
                markDirty(run);
            }
            case RUN_DELETED -> delete(run, d.index);
            case JOURNAL_LOSS -> throw new IllegalStateException("journal.loss is applied before any run is looked up");
        }
    }

    private void create(RunKey key, RunCreated e, long index) {
        RunState run = new RunState(key);
        run.phase = Phase.LIVE;
        run.createdAt = e.createdAt();
        run.createdMs = Instant.parse(e.createdAt()).toEpochMilli();
        run.createdIndex = index;
        run.protocolId = e.protocolId();
        run.status = "created";
        run.labels.putAll(e.labels());
        run.labelsDirty = true;
        run.positions = new HashMap<>();
        cache.put(key, run);
        immediateDeletes.add(new Object[] {"untombstone", key.robot(), key.run()});
        markDirty(run);
    }

    private void recordCommand(RunState run, CommandJson command) throws SQLException {
        if (run.positions == null) {
            run.positions = new HashMap<>();
            loadPositions(List.of(run.key));
        }
        Integer position = run.positions.get(command.id());
        if (run.pending == null) {
            run.pending = new LinkedHashMap<>();
        }
        PendingCommand pending;
        if (position == null) {
            position = run.commandCount++;
            run.positions.put(command.id(), position);
            pending = new PendingCommand(position, command.id(), true);
            run.pending.put(position, pending);
            if ("created".equals(run.status)) {
                run.status = "running";
                run.statusDirty = true;
            }
        } else {
            pending = run.pending.computeIfAbsent(position, p -> new PendingCommand(p, command.id(), false));
        }
        pending.commandType = command.commandType();
        pending.status = command.status();
        pending.json = command.json();
        markDirty(run);
    }

    private void delete(RunState run, long index) {
        immediateDeletes.add(new Object[] {"delete", run.key.robot(), run.key.run(), index});
        RunState tombstone = new RunState(run.key);
        tombstone.phase = Phase.DELETED;
        tombstone.deletedIndex = index;
        cache.put(run.key, tombstone);
    }

    private void markDamaged(RunState run) {
        if (run.phase == Phase.LIVE || run.phase == Phase.COMPLETED) {
            run.damaged = true;
            markDirty(run);
        }
    }

    private void markDirty(RunState run) {
        if (!run.dirty) {
            run.dirty = true;
            dirty.add(run);
        }
    }

    private void quarantine(Decoded d, String runId, String type, String error, String event) {
        quarantined++;
        quarantineRows.add(new Object[] {d.robot, d.index == Journal.NONE ? null : d.index, runId, type, error,
                event.length() > MAX_QUARANTINED_TEXT ? event.substring(0, MAX_QUARANTINED_TEXT) + "... ("
                        + event.length() + " characters in all)" : event,
                d.partition, d.offset});
    }

    /**
     * Writes the batch in the order its effects happened where order matters: deletions and re-creations
     * (rare) one statement each in event order, then every folded row as multi-row upserts.
     */
    private void flush() throws SQLException {
        for (Object[] op : immediateDeletes) {
            switch ((String) op[0]) {
                case "delete" -> {
                    for (String table : new String[] {"run_commands", "run_labels"}) {
                        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + "." + table
                                + " WHERE robot_id = ? AND run_id = ?")) {
                            ps.setString(1, (String) op[1]);
                            ps.setString(2, (String) op[2]);
                            ps.executeUpdate();
                        }
                    }
                    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + ".runs WHERE robot_id = ? AND id = ?")) {
                        ps.setString(1, (String) op[1]);
                        ps.setString(2, (String) op[2]);
                        ps.executeUpdate();
                    }
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".run_tombstones(robot_id, run_id,"
                            + " deleted_index) VALUES(?, ?, ?) ON CONFLICT (robot_id, run_id) DO UPDATE SET"
                            + " deleted_index = excluded.deleted_index")) {
                        ps.setString(1, (String) op[1]);
                        ps.setString(2, (String) op[2]);
                        ps.setLong(3, (Long) op[3]);
                        ps.executeUpdate();
                    }
                }
                case "untombstone" -> {
                    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + ".run_tombstones WHERE robot_id = ?"
                            + " AND run_id = ?")) {
                        ps.setString(1, (String) op[1]);
                        ps.setString(2, (String) op[2]);
                        ps.executeUpdate();
                    }
                }
                case "meta" -> {
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".projection_meta(key, value)"
                            + " VALUES(?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")) {
                        ps.setString(1, (String) op[1]);
                        ps.setString(2, (String) op[2]);
                        ps.executeUpdate();
                    }
                }
                default -> throw new IllegalStateException("unknown operation " + op[0]);
            }
        }
        immediateDeletes.clear();
        copyFreshCommands();
        try (PreparedStatement runs = c.prepareStatement("INSERT INTO " + s + ".runs(robot_id, id, created_at, created_ms,"
                + " created_index, protocol_id, status, completed_at, completed_index, labels, summary, command_count, damaged)"
                + " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?) ON CONFLICT (robot_id, id) DO UPDATE SET"
                + " status = excluded.status, completed_at = excluded.completed_at, completed_index = excluded.completed_index,"
                + " labels = excluded.labels, summary = coalesce(excluded.summary, runs.summary),"
                + " command_count = excluded.command_count, damaged = excluded.damaged");
             PreparedStatement labelsGone = c.prepareStatement("DELETE FROM " + s + ".run_labels WHERE robot_id = ? AND run_id = ?");
             PreparedStatement labels = c.prepareStatement("INSERT INTO " + s + ".run_labels(robot_id, run_id, key, value,"
                     + " created_ms, created_index, status) VALUES(?, ?, ?, ?, ?, ?, ?)");
             PreparedStatement labelStatus = c.prepareStatement("UPDATE " + s + ".run_labels SET status = ? WHERE robot_id = ?"
                     + " AND run_id = ?");
             PreparedStatement commands = c.prepareStatement("INSERT INTO " + s + ".run_commands(robot_id, run_id, index_in_run,"
                     + " command_id, command_type, status, command) VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (robot_id, run_id,"
                     + " index_in_run) DO UPDATE SET command_type = excluded.command_type, status = excluded.status,"
                     + " command = excluded.command")) {
            int queued = 0;
            for (RunState run : dirty) {
                run.dirty = false;
                if (!written(run)) {
                    continue;
                }
                runs.setString(1, run.key.robot());
                runs.setString(2, run.key.run());
                runs.setString(3, run.createdAt);
                runs.setLong(4, run.createdMs);
                runs.setLong(5, run.createdIndex);
                runs.setString(6, run.protocolId);
                runs.setString(7, run.status);
                runs.setString(8, run.completedAt);
                if (run.completedIndex == Journal.NONE) {
                    runs.setNull(9, Types.BIGINT);
                } else {
                    runs.setLong(9, run.completedIndex);
                }
                runs.setString(10, jsonObject(run.labels));
                runs.setString(11, run.pendingSummary);
                runs.setInt(12, run.commandCount);
                runs.setBoolean(13, run.damaged);
                runs.addBatch();
                run.pendingSummary = null;
                if (run.labelsDirty) {
                    run.labelsDirty = false;
                    labelsGone.setString(1, run.key.robot());
                    labelsGone.setString(2, run.key.run());
                    labelsGone.addBatch();
                    for (Map.Entry<String, String> l : run.labels.entrySet()) {
                        labels.setString(1, run.key.robot());
                        labels.setString(2, run.key.run());
                        labels.setString(3, l.getKey());
                        labels.setString(4, l.getValue());
                        labels.setLong(5, run.createdMs);
                        labels.setLong(6, run.createdIndex);
                        labels.setString(7, run.status);
                        labels.addBatch();
                    }
                } else if (run.statusDirty && !run.labels.isEmpty()) {
                    labelStatus.setString(1, run.status);
                    labelStatus.setString(2, run.key.robot());
                    labelStatus.setString(3, run.key.run());
                    labelStatus.addBatch();
                }
                run.statusDirty = false;
                if (run.pending != null) {
                    for (PendingCommand p : run.pending.values()) {
                        if (p.fresh) {
                            continue; // already sent by copyFreshCommands
                        }
                        commands.setString(1, run.key.robot());
                        commands.setString(2, run.key.run());
                        commands.setInt(3, p.position);
                        commands.setString(4, p.commandId);
                        commands.setString(5, p.commandType);
                        commands.setString(6, p.status);
                        commands.setString(7, p.json.text());
                        commands.addBatch();
                        if (++queued % 5_000 == 0) {
                            commands.executeBatch();
                        }
                    }
                    run.pending = null;
                }
            }
            dirty.clear();
            runs.executeBatch();
            labelsGone.executeBatch();
            labels.executeBatch();
            labelStatus.executeBatch();
            commands.executeBatch();
        }
        if (!quarantineRows.isEmpty()) {
            try (PreparedStatement q = c.prepareStatement("INSERT INTO " + s + ".quarantine(robot_id, journal_index, run_id,"
                    + " event_type, error, event, source_partition, source_offset) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"
                    + " ON CONFLICT DO NOTHING")) {
                for (Object[] row : quarantineRows) {
                    for (int i = 0; i < row.length; i++) {
                        q.setObject(i + 1, row[i]);
                    }
                    q.addBatch();
                }
                q.executeBatch();
            }
            quarantineRows.clear();
        }
        try (PreparedStatement pos = c.prepareStatement("INSERT INTO " + s + ".robot_positions(robot_id, journal_id, last_index,"
                + " applied_at) VALUES(?, ?, ?, now()) ON CONFLICT (robot_id, journal_id) DO UPDATE SET"
                + " last_index = excluded.last_index, applied_at = excluded.applied_at");
             PreparedStatement off = c.prepareStatement("INSERT INTO " + s + ".source_offsets(topic, partition, next_offset)"
                     + " VALUES(?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset")) {
            for (RobotJournal source : dirtyPositions) {
                String robot = source.robot();
                String journal = source.journal();
                pos.setString(1, robot);
                pos.setString(2, journal);
                pos.setLong(3, journalPositions.get(robot).get(journal));
                pos.addBatch();
            }
            for (Map.Entry<Integer, Long> e : nextOffsets.entrySet()) {
                off.setString(1, topic);
                off.setInt(2, e.getKey());
                off.setLong(3, e.getValue());
                off.addBatch();
            }
            pos.executeBatch();
            off.executeBatch();
        }
        dirtyPositions.clear();
    }

    /** A dirty run whose rows are written: not deleted later in the batch, nor replaced by a re-creation. */
    private boolean written(RunState run) {
        return cache.get(run.key) == run && run.phase != Phase.DELETED && run.phase != Phase.ABSENT;
    }

    /**
     * Sends the batch's new command rows with one COPY (text format) before the other statements: measured on the
     * 600k-event benchmark, multi-row upserts cost PostgreSQL more than COPY of the same rows. The rows are
     * streamed as they are made, 64 KiB at a time, so PostgreSQL parses and indexes the first rows while the
     * rest are still being escaped; they were first gathered whole (megabytes per batch, copied once more to be
     * sent), and the database sat idle until the last one was made.
     */
    private void copyFreshCommands() throws SQLException {
        CommandCopy copy = null;
        try {
            for (RunState run : dirty) {
                if (run.pending == null || !written(run)) {
                    continue;
                }
                for (PendingCommand p : run.pending.values()) {
                    if (p.fresh) {
                        if (copy == null) {
                            copy = new CommandCopy();
                        }
                        copy.row(run.key, p);
                    }
                }
            }
            if (copy != null) {
                copy.finish();
                copy = null;
            }
        } finally {
            if (copy != null) {
                copy.cancel();
            }
        }
    }

    /**
     * The COPY of new command rows. The command JSON goes from the event's bytes to the wire without becoming a
     * String. Every field is escaped the same way, on its UTF-8 bytes: the characters COPY gives a meaning
     * (backslash, tab, newline, carriage return) are ASCII, so they never occur inside a multi-byte character,
     * and a character outside the Basic Multilingual Plane stays whole.
     */
    private final class CommandCopy {
        private final PGCopyOutputStream out;

        CommandCopy() throws SQLException {
            out = new PGCopyOutputStream(c.unwrap(PGConnection.class), "COPY " + s + ".run_commands(robot_id, run_id,"
                    + " index_in_run, command_id, command_type, status, command) FROM STDIN", 1 << 16);
        }

        void row(RunKey run, PendingCommand p) throws SQLException {
            try {
                field(run.robot());
                field(run.run());
                field(Integer.toString(p.position));
                field(p.commandId);
                field(p.commandType);
                if (p.status == null) {
                    out.write(NULL_FIELD);
                } else {
                    field(p.status);
                }
                escaped(p.json.bytesForWriting());
                out.write('\n');
            } catch (java.io.IOException e) {
                throw failed(e);
            }
        }

        /** The driver wraps what PostgreSQL or the connection said in an IOException; the projector handles SQLExceptions. */
        private SQLException failed(java.io.IOException e) {
            return e.getCause() instanceof SQLException sql ? sql
                    : new SQLException("cannot send command rows with COPY: " + e.getMessage(), e);
        }

        /** A text field and the tab that ends it. */
        private void field(String value) throws java.io.IOException {
            escaped(value.getBytes(StandardCharsets.UTF_8));
            out.write('\t');
        }

        /** Writes {@code utf8}, with COPY's four special characters escaped (a run of plain bytes at a time). */
        private void escaped(byte[] utf8) throws java.io.IOException {
            int from = 0;
            for (int i = 0; i < utf8.length; i++) {
                byte b = utf8[i];
                if (b == '\\' || b == '\t' || b == '\n' || b == '\r') {
                    out.write(utf8, from, i - from);
                    out.write('\\');
                    out.write(b == '\t' ? 't' : b == '\n' ? 'n' : b == '\r' ? 'r' : '\\');
                    from = i + 1;
                }
            }
            out.write(utf8, from, utf8.length - from);
        }

        void finish() throws SQLException {
            try {
                out.close(); // ends the COPY; PostgreSQL reports a bad row here
            } catch (java.io.IOException e) {
                throw failed(e);
            }
        }

        /** Leaves the connection usable after a failure (the transaction is rolled back by the caller). */
        void cancel() {
            try {
                if (out.isActive()) {
                    out.cancelCopy();
                }
            } catch (SQLException ignored) {
                // the COPY is gone with the connection; the projector reconnects
            }
        }
    }

    /** Every row is clean after a commit: keep the most recently used runs, forget the rest. */
    private void trim() {
        if (cache.size() <= maxCachedRuns) {
            return;
        }
        Iterator<RunState> it = cache.values().iterator();
        int excess = cache.size() - maxCachedRuns;
        while (excess-- > 0 && it.hasNext()) {
            it.next();
            it.remove();
        }
    }

    private void clearState() {
        cache.clear();
        dirty.clear();
        quarantineRows.clear();
        immediateDeletes.clear();
        dirtyPositions.clear();
        nextOffsets.clear();
    }

    /** Undoes the open transaction and forgets what it changed; positions come back from the database. */
    void rollback() {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // a broken connection: the transaction dies with it
        }
        clearState();
        applied = committedApplied;
        duplicates = committedDuplicates;
        quarantined = committedQuarantined;
        try {
            loadPositions();
            c.commit();
        } catch (SQLException ignored) {
            // a broken connection: the projector makes a new engine on a new one, which loads them again
        }
    }

    private static String jsonObject(Map<String, String> map) {
        StringBuilder sb = new StringBuilder(16 + map.size() * 24).append('{');
        JsonStringEncoder enc = JsonStringEncoder.getInstance();
        boolean first = true;
        for (Map.Entry<String, String> e : map.entrySet()) {
            sb.append(first ? "\"" : ",\"");
            first = false;
            enc.quoteAsString(e.getKey(), sb);
            sb.append("\":\"");
            enc.quoteAsString(e.getValue(), sb);
            sb.append('"');
        }
        return sb.append('}').toString();
    }

    private static String text(byte[] value) {
        return new String(value, 0, Math.min(value.length, MAX_QUARANTINED_TEXT * 4), StandardCharsets.UTF_8);
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    @Override
    public String toString() {
        return "FleetApply[" + s + ", " + topic + ", " + cache.size() + " runs cached]";
    }
}
