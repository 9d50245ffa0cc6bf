package dev.runledger.projections;

import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalEntry;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.RunEvent.CommandRecorded;
import dev.runledger.ledger.RunEvent.LabelsChanged;
import dev.runledger.ledger.RunEvent.RunCompleted;
import dev.runledger.ledger.RunEvent.RunCreated;
import dev.runledger.ledger.RunEvent.RunDeleted;
import dev.runledger.ledger.RunEvent.SummaryRecorded;
import dev.runledger.ledger.RunLifecycle;
import dev.runledger.ledger.RunLifecycle.Phase;

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
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Applies journal entries to a SQLite projection inside the caller's transaction. Shared by the live
 * projector and the rebuild, so both produce identical tables.
 *
 * <p>Within one batch, changes are folded in memory: a command recorded queued, running and then
 * succeeded is written once with its final bytes; a run's row is written once. Everything the rules
 * need (phase, labels, command positions) is cached per run and reloaded from the database on a miss,
 * so the result never depends on where batches end or on what the cache held.
 *
 * <p>Rows are addressed by rowid, never through a secondary index: each run gets a rowid from a counter
 * and its commands live at {@code runRowid << 24 | index_in_run}, so an upsert is a rowid lookup and
 * deleting a run's commands is a rowid range delete. That is what lets a rebuild load with no index
 * but the primary keys. A run can hold 2^24 (16,777,216) commands; more are quarantined.
 */
final class ApplyEngine implements AutoCloseable {
    private final Connection c;
    private final String name;
    private final boolean strict;
    private final int maxCachedRuns;
    static final int POSITION_BITS = 24;
    static final int MAX_COMMANDS_PER_RUN = 1 << POSITION_BITS;
    /** About 100 bytes of heap each: the cache holds at most ~50 MB of command positions. */
    static final long MAX_CACHED_POSITIONS = 500_000;
    private final Map<String, RunRow> cache = new LinkedHashMap<>(1024, 0.75f, true);
    private final List<RunRow> dirty = new ArrayList<>();
    private long applied;
    private long quarantined;
    private long committedApplied;
    private long committedQuarantined;
    private long nextRunRowid;
    /** Entries in the command-position maps of cached runs, kept in step with every change to them. */
    private long cachedPositions;

    private final PreparedStatement insRun;
    private final PreparedStatement updRun;
    private final PreparedStatement updRunSummary;
    private final PreparedStatement insCmd;
    private final PreparedStatement updCmd;
    private final PreparedStatement upsLabel;
    private final PreparedStatement delLabel;
    private final PreparedStatement delRunLabels;
    private final PreparedStatement delRunCommands;
    private final PreparedStatement delRun;
    private final PreparedStatement insTombstone;
    private final PreparedStatement delTombstone;
    private final PreparedStatement insQuarantine;
    private final PreparedStatement selRun;
    private final PreparedStatement selLabels;
    private final PreparedStatement selTombstone;
    private final PreparedStatement selCommandIds;
    private final PreparedStatement putCheckpoint;

    ApplyEngine(Connection c, String name, boolean strict, int maxCachedRuns) throws SQLException {
        this.c = c;
        this.name = name;
        this.strict = strict;
        this.maxCachedRuns = maxCachedRuns;
        insRun = c.prepareStatement("INSERT INTO runs(id, created_at, created_ms, created_index, protocol_id, status,"
                + " completed_at, completed_index, labels, summary, command_count, damaged, rowid)"
                + " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?)");
        updRun = c.prepareStatement("UPDATE runs SET status = ?, completed_at = ?, completed_index = ?, labels = ?,"
                + " command_count = ?, damaged = ? WHERE rowid = ?");
        updRunSummary = c.prepareStatement("UPDATE runs SET summary = CAST(? AS TEXT) WHERE rowid = ?");
        insCmd = c.prepareStatement("INSERT INTO run_commands(run_id, index_in_run, command_id, command_type, status, command,"
                + " rowid) VALUES(?, ?, ?, ?, ?, CAST(? AS TEXT), ?)");
        updCmd = c.prepareStatement("UPDATE run_commands SET command_type = ?, status = ?, command = CAST(? AS TEXT)"
                + " WHERE rowid = ?");
        upsLabel = c.prepareStatement("INSERT INTO run_labels(run_id, key, value) VALUES(?, ?, ?)"
                + " ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value");
        delLabel = c.prepareStatement("DELETE FROM run_labels WHERE run_id = ? AND key = ?");
        delRunLabels = c.prepareStatement("DELETE FROM run_labels WHERE run_id = ?");
        delRunCommands = c.prepareStatement("DELETE FROM run_commands WHERE rowid BETWEEN ? AND ?");
        delRun = c.prepareStatement("DELETE FROM runs WHERE rowid = ?");
        insTombstone = c.prepareStatement("INSERT INTO run_tombstones(run_id, deleted_index) VALUES(?, ?)"
                + " ON CONFLICT(run_id) DO UPDATE SET deleted_index = excluded.deleted_index");
        delTombstone = c.prepareStatement("DELETE FROM run_tombstones WHERE run_id = ?");
        insQuarantine = c.prepareStatement("INSERT INTO quarantine(journal_index, run_id, event_type, error, event)"
                + " VALUES(?, ?, ?, ?, ?)");
        selRun = c.prepareStatement("SELECT created_at, created_ms, created_index, protocol_id, status, completed_at,"
                + " completed_index, command_count, damaged, rowid FROM runs WHERE id = ?");
        selLabels = c.prepareStatement("SELECT key, value FROM run_labels WHERE run_id = ?");
        selTombstone = c.prepareStatement("SELECT deleted_index FROM run_tombstones WHERE run_id = ?");
        selCommandIds = c.prepareStatement("SELECT command_id, index_in_run FROM run_commands WHERE rowid BETWEEN ? AND ?");
        putCheckpoint = c.prepareStatement("INSERT INTO projection_meta(key, value) VALUES('checkpoint_index', ?)"
                + " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
        try (java.sql.Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT ifnull(max(rowid), 0) FROM runs")) {
            nextRunRowid = rs.next() ? rs.getLong(1) + 1 : 1;
        }
    }

    private static long firstCommandRowid(long runRowid) {
        return runRowid << POSITION_BITS;
    }

    private static long lastCommandRowid(long runRowid) {
        return (runRowid << POSITION_BITS) | (MAX_COMMANDS_PER_RUN - 1);
    }

    long applied() {
        return applied;
    }

    long quarantined() {
        return quarantined;
    }

    /** Applies one entry to the open transaction (or quarantines it). */
    void apply(JournalEntry entry) throws SQLException {
        if (entry instanceof JournalEntry.Unreadable bad) {
            quarantine(entry.index(), null, null, "unreadable excerpt: " + bad.reason(), bad.text());
            return;
        }
        RunEvent event = ((JournalEntry.Event) entry).event();
        long index = entry.index();
        RunRow run = row(event.runId());
        RunLifecycle.Violation violation = RunLifecycle.check(event, run.phase, run.phaseIndex(), run.labels.keySet());
        if (violation == null && event instanceof CommandRecorded e) {
            if (run.commandIndex == null) {
                run.commandIndex = loadCommandIndex(run);
                cachedPositions += run.commandIndex.size();
            }
            if (run.commandCount >= MAX_COMMANDS_PER_RUN && !run.commandIndex.containsKey(e.command().id())) {
                violation = new RunLifecycle.Violation(null, "run " + run.id + " already holds " + MAX_COMMANDS_PER_RUN
                        + " commands, the most a projection keeps per run");
            }
        }
        if (violation != null) {
            if (run.phase == Phase.LIVE || run.phase == Phase.COMPLETED) {
                run.damaged = true;
                markDirty(run);
            }
            quarantine(index, event.runId(), event.type(), violation.message(), NdjsonCodec.encodeToString(event));
            return;
        }
        applied++;
        if (event instanceof CommandRecorded e) {
            recordCommand(run, e.command());
        } else if (event instanceof RunCreated e) {
            create(e, index);
        } else if (event instanceof LabelsChanged e) {
            changeLabels(run, e);
        } else if (event instanceof SummaryRecorded e) {
            run.pendingSummary = e.summary().toByteArray();
            markDirty(run);
        } else if (event instanceof RunCompleted e) {
            run.phase = Phase.COMPLETED;
            run.status = e.status().wireName();
            run.completedAt = e.completedAt();
            run.completedIndex = index;
            dropPositions(run); // no command may follow, so positions are no longer needed
            markDirty(run);
        } else if (event instanceof RunDeleted) {
            delete(run, index);
        }
    }

    private void create(RunCreated e, long index) throws SQLException {
        RunRow run = new RunRow(e.runId());
        run.phase = Phase.LIVE;
        run.createdAt = e.createdAt();
        run.createdMs = Instant.parse(e.createdAt()).toEpochMilli();
        run.createdIndex = index;
        run.protocolId = e.protocolId();
        run.status = "created";
        run.labels.putAll(e.labels());
        run.commandIndex = new HashMap<>();
        run.rowid = nextRunRowid++;
        cache.put(run.id, run);
        delTombstone.setString(1, run.id);
        delTombstone.executeUpdate();
        for (Map.Entry<String, String> label : e.labels().entrySet()) {
            upsertLabel(run.id, label.getKey(), label.getValue());
        }
        markDirty(run);
    }

    private void recordCommand(RunRow run, CommandJson command) throws SQLException {
        Integer position = run.commandIndex.get(command.id());
        PendingCommand pending;
        if (position == null) {
            position = run.commandCount++;
            run.commandIndex.put(command.id(), position);
            cachedPositions++;
            pending = new PendingCommand(position, command.id(), true);
            run.pendingCommands().put(position, pending);
            if ("created".equals(run.status)) {
                run.status = "running";
            }
        } else {
            pending = run.pendingCommands().computeIfAbsent(position, p -> new PendingCommand(p, command.id(), false));
        }
        pending.commandType = command.commandType();
        pending.status = command.status();
        pending.json = command.json();
        markDirty(run);
    }

    private void changeLabels(RunRow run, LabelsChanged e) throws SQLException {
        for (Map.Entry<String, String> label : e.set().entrySet()) {
            run.labels.put(label.getKey(), label.getValue());
            upsertLabel(run.id, label.getKey(), label.getValue());
        }
        for (String key : e.remove()) {
            if (run.labels.remove(key) != null) {
                delLabel.setString(1, run.id);
                delLabel.setString(2, key);
                delLabel.executeUpdate();
            }
        }
        markDirty(run);
    }

    private void upsertLabel(String runId, String key, String value) throws SQLException {
        upsLabel.setString(1, runId);
        upsLabel.setString(2, key);
        upsLabel.setString(3, value);
        upsLabel.executeUpdate();
    }

    private void delete(RunRow run, long index) throws SQLException {
        delRunLabels.setString(1, run.id);
        delRunLabels.executeUpdate();
        if (run.inDb) {
            delRunCommands.setLong(1, firstCommandRowid(run.rowid));
            delRunCommands.setLong(2, lastCommandRowid(run.rowid));
            delRunCommands.executeUpdate();
            delRun.setLong(1, run.rowid);
            delRun.executeUpdate();
        }
        insTombstone.setString(1, run.id);
        insTombstone.setLong(2, index);
        insTombstone.executeUpdate();
        dropPositions(run);
        RunRow tombstone = new RunRow(run.id);
        tombstone.phase = Phase.DELETED;
        tombstone.deletedIndex = index;
        // The old row may sit in the dirty list; it is skipped at flush because it is no longer cached.
        cache.put(run.id, tombstone);
    }

    private void quarantine(long index, String runId, String type, String error, String event) throws SQLException {
        String message = "projection " + name + " - cannot apply " + (type == null ? "excerpt" : type) + " at index "
                + index + (runId == null ? "" : " for run " + runId) + ": " + error;
        if (strict) {
            throw new PoisonEventException(index, message + " (strict mode)");
        }
        quarantined++;
        insQuarantine.setLong(1, index);
        insQuarantine.setString(2, runId);
        insQuarantine.setString(3, type);
        insQuarantine.setString(4, error);
        insQuarantine.setString(5, event);
        insQuarantine.executeUpdate();
    }

    private void markDirty(RunRow run) {
        if (!run.dirty) {
            run.dirty = true;
            dirty.add(run);
        }
    }

    /**
     * Writes the folded changes and the checkpoint; the caller commits. Rows go through JDBC batches:
     * sqlite-jdbc binds and steps a whole batch in one native call, measured 3x faster than a call per row.
     */
    void flush(long checkpointIndex) throws SQLException {
        int batched = 0;
        for (RunRow run : dirty) {
            run.dirty = false;
            if (cache.get(run.id) != run || run.phase == Phase.DELETED) {
                continue;
            }
            if (!run.inDb) {
                bindRunInsert(run);
                insRun.addBatch();
                run.inDb = true;
            } else {
                updRun.setString(1, run.status);
                updRun.setString(2, run.completedAt);
                setNullableLong(updRun, 3, run.completedIndex);
                updRun.setString(4, Json.object(run.labels));
                updRun.setInt(5, run.commandCount);
                updRun.setInt(6, run.damaged ? 1 : 0);
                updRun.setLong(7, run.rowid);
                updRun.addBatch();
                if (run.pendingSummary != null) {
                    updRunSummary.setBytes(1, run.pendingSummary);
                    updRunSummary.setLong(2, run.rowid);
                    updRunSummary.addBatch();
                }
            }
            run.pendingSummary = null;
            if (run.pendingCommands != null) {
                for (PendingCommand p : run.pendingCommands.values()) {
                    addCommand(run, p);
                    if (++batched % 2_000 == 0) {
                        executeBatches();
                    }
                }
                run.pendingCommands = null;
            }
        }
        dirty.clear();
        executeBatches();
        putCheckpoint.setString(1, Long.toString(checkpointIndex));
        putCheckpoint.executeUpdate();
    }

    private void executeBatches() throws SQLException {
        for (PreparedStatement ps : new PreparedStatement[] {insRun, updRun, updRunSummary, insCmd, updCmd}) {
            ps.executeBatch();
        }
    }

    /**
     * After a successful commit: keeps the cache bounded (every row is clean now), by runs and by the
     * command positions live runs hold. Without the second bound, runs that never complete (an engine that
     * stops mid-run, a load test) kept a million positions alive and G1 pauses grew to 80 ms.
     */
    void afterCommit() {
        committedApplied = applied;
        committedQuarantined = quarantined;
        if (cache.size() > maxCachedRuns || cachedPositions > MAX_CACHED_POSITIONS) {
            Iterator<RunRow> it = cache.values().iterator();
            int targetRuns = maxCachedRuns * 3 / 4;
            // eldest first; the most recently used run always stays
            while ((cache.size() > targetRuns || cachedPositions > MAX_CACHED_POSITIONS * 3 / 4) && cache.size() > 1
                    && it.hasNext()) {
                RunRow evicted = it.next();
                dropPositions(evicted);
                it.remove();
            }
        }
    }

    private void dropPositions(RunRow run) {
        if (run.commandIndex != null) {
            cachedPositions -= run.commandIndex.size();
            run.commandIndex = null;
        }
    }

    /** After a rollback the cache may hold changes the database does not: forget it all. */
    void afterRollback() {
        cache.clear();
        cachedPositions = 0;
        dirty.clear();
        applied = committedApplied;
        quarantined = committedQuarantined;
    }

    private void bindRunInsert(RunRow run) throws SQLException {
        insRun.setString(1, run.id);
        insRun.setString(2, run.createdAt);
        insRun.setLong(3, run.createdMs);
        insRun.setLong(4, run.createdIndex);
        insRun.setString(5, run.protocolId);
        insRun.setString(6, run.status);
        insRun.setString(7, run.completedAt);
        setNullableLong(insRun, 8, run.completedIndex);
        insRun.setString(9, Json.object(run.labels));
        if (run.pendingSummary != null) {
            insRun.setBytes(10, run.pendingSummary);
        } else {
            insRun.setNull(10, Types.BLOB);
        }
        insRun.setInt(11, run.commandCount);
        insRun.setInt(12, run.damaged ? 1 : 0);
        insRun.setLong(13, run.rowid);
    }

    private void addCommand(RunRow run, PendingCommand p) throws SQLException {
        long rowid = firstCommandRowid(run.rowid) | p.position;
        if (p.insert) {
            insCmd.setString(1, run.id);
            insCmd.setInt(2, p.position);
            insCmd.setString(3, p.commandId);
            insCmd.setString(4, p.commandType);
            insCmd.setString(5, p.status);
            insCmd.setBytes(6, p.json.toByteArray());
            insCmd.setLong(7, rowid);
            insCmd.addBatch();
        } else {
            updCmd.setString(1, p.commandType);
            updCmd.setString(2, p.status);
            updCmd.setBytes(3, p.json.toByteArray());
            updCmd.setLong(4, rowid);
            updCmd.addBatch();
        }
    }

    private static void setNullableLong(PreparedStatement ps, int i, long value) throws SQLException {
        if (value == Journal.NONE) {
            ps.setNull(i, Types.INTEGER);
        } else {
            ps.setLong(i, value);
        }
    }

    private RunRow row(String runId) throws SQLException {
        RunRow run = cache.get(runId);
        if (run == null) {
            run = load(runId);
            cache.put(runId, run);
        }
        return run;
    }

    private RunRow load(String runId) throws SQLException {
        RunRow run = new RunRow(runId);
        selRun.setString(1, runId);
        try (ResultSet rs = selRun.executeQuery()) {
            if (rs.next()) {
                run.inDb = true;
                run.createdAt = rs.getString(1);
                run.createdMs = rs.getLong(2);
                run.createdIndex = rs.getLong(3);
                run.protocolId = rs.getString(4);
                run.status = rs.getString(5);
                run.completedAt = rs.getString(6);
                long completed = rs.getLong(7);
                run.completedIndex = rs.wasNull() ? Journal.NONE : completed;
                run.commandCount = rs.getInt(8);
                run.damaged = rs.getInt(9) != 0;
                run.rowid = rs.getLong(10);
                run.phase = run.completedIndex == Journal.NONE ? Phase.LIVE : Phase.COMPLETED;
            }
        }
        if (run.inDb) {
            selLabels.setString(1, runId);
            try (ResultSet rs = selLabels.executeQuery()) {
                while (rs.next()) {
                    run.labels.put(rs.getString(1), rs.getString(2));
                }
            }
            return run;
        }
        selTombstone.setString(1, runId);
        try (ResultSet rs = selTombstone.executeQuery()) {
            if (rs.next()) {
                run.phase = Phase.DELETED;
                run.deletedIndex = rs.getLong(1);
            } else {
                run.phase = Phase.ABSENT;
            }
        }
        return run;
    }

    private Map<String, Integer> loadCommandIndex(RunRow run) throws SQLException {
        Map<String, Integer> index = new HashMap<>(Math.max(16, run.commandCount * 2));
        if (run.commandCount > 0) {
            selCommandIds.setLong(1, firstCommandRowid(run.rowid));
            selCommandIds.setLong(2, lastCommandRowid(run.rowid));
            try (ResultSet rs = selCommandIds.executeQuery()) {
                while (rs.next()) {
                    index.put(rs.getString(1), rs.getInt(2));
                }
            }
        }
        return index;
    }

    @Override
    public void close() throws SQLException {
        for (PreparedStatement ps : new PreparedStatement[] {insRun, updRun, updRunSummary, insCmd, updCmd, upsLabel,
                delLabel, delRunLabels, delRunCommands, delRun, insTombstone, delTombstone, insQuarantine, selRun,
                selLabels, selTombstone, selCommandIds, putCheckpoint}) {
            ps.close();
        }
    }

    /** A run as the projector knows it: committed columns plus what this batch changed. */
    private static final class RunRow {
        final String id;
        long rowid;
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
        Map<String, Integer> commandIndex;
        boolean inDb;
        boolean dirty;
        byte[] pendingSummary;
        LinkedHashMap<Integer, PendingCommand> pendingCommands;

        RunRow(String id) {
            this.id = id;
        }

        long phaseIndex() {
            return switch (phase) {
                case LIVE -> createdIndex;
                case COMPLETED -> completedIndex;
                case DELETED -> deletedIndex;
                case ABSENT -> Journal.NONE;
            };
        }

        LinkedHashMap<Integer, PendingCommand> pendingCommands() {
            if (pendingCommands == null) {
                pendingCommands = new LinkedHashMap<>();
            }
            return pendingCommands;
        }
    }

    private static final class PendingCommand {
        final int position;
        final String commandId;
        final boolean insert;
        String commandType;
        String status;
        dev.runledger.ledger.RawJson json;

        PendingCommand(int position, String commandId, boolean insert) {
            this.position = position;
            this.commandId = commandId;
            this.insert = insert;
        }
    }
}
