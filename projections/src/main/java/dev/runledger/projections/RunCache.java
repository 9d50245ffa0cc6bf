package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.RawJson;
import dev.runledger.ledger.RunLifecycle.Phase;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The runs the projector has touched recently, as it knows them (committed columns plus what the open
 * batch changed), loaded from the database on a miss, so the result never depends on what the cache
 * held. Bounded twice: by runs, and by the command positions live runs keep (id to index in run).
 * Without the second bound, runs that never complete (an engine that stops mid-run, a load test) kept a
 * million positions alive and G1 pauses grew to 80 ms.
 */
final class RunCache implements AutoCloseable {
    /** About 100 bytes of heap each: the cache holds at most ~50 MB of command positions. */
    static final long MAX_CACHED_POSITIONS = 500_000;

    private final Map<String, RunRow> runs = new LinkedHashMap<>(1024, 0.75f, true);
    private final int maxRuns;
    /** Entries in the command-position maps of cached runs, kept in step with every change to them. */
    private long positions;
    private final PreparedStatement selRun;
    private final PreparedStatement selLabels;
    private final PreparedStatement selTombstone;
    private final PreparedStatement selCommandIds;

    RunCache(Connection c, int maxRuns) throws SQLException {
        this.maxRuns = maxRuns;
        selRun = c.prepareStatement("SELECT created_at, created_ms, created_index, protocol_id, status, completed_at,"
                + " completed_index, command_count, damaged, rowid FROM runs WHERE id = ?");
        selLabels = c.prepareStatement("SELECT key, value FROM run_labels WHERE run_id = ?");
        selTombstone = c.prepareStatement("SELECT deleted_index FROM run_tombstones WHERE run_id = ?");
        selCommandIds = c.prepareStatement("SELECT command_id, index_in_run FROM run_commands WHERE rowid BETWEEN ? AND ?");
    }

    /** The run as committed plus this batch's changes; a run never seen comes back {@link Phase#ABSENT}. */
    RunRow get(String runId) throws SQLException {
        RunRow run = runs.get(runId);
        if (run == null) {
            run = load(runId);
            runs.put(runId, run);
        }
        return run;
    }

    /** Whether {@code run} is still the cached row for its id (a deletion replaces it with a tombstone). */
    boolean isCurrent(RunRow run) {
        return runs.get(run.id) == run;
    }

    void put(RunRow run) {
        RunRow old = runs.put(run.id, run);
        if (old != null && old != run) {
            dropPositions(old);
        }
    }

    /** The run's command positions, loaded on first use after a miss or eviction. */
    Map<String, Integer> positions(RunRow run) throws SQLException {
        if (run.commandIndex == null) {
            run.commandIndex = loadCommandIndex(run);
            positions += run.commandIndex.size();
        }
        return run.commandIndex;
    }

    /** A new command position was added to {@code run}'s map. */
    void positionAdded() {
        positions++;
    }

    /** Forgets {@code run}'s positions: it completed (no command may follow) or was deleted. */
    void dropPositions(RunRow run) {
        if (run.commandIndex != null) {
            positions -= run.commandIndex.size();
            run.commandIndex = null;
        }
    }

    /** After a commit every row is clean: evict the least recently used beyond either bound. */
    void trim() {
        if (runs.size() <= maxRuns && positions <= MAX_CACHED_POSITIONS) {
            return;
        }
        Iterator<RunRow> it = runs.values().iterator();
        int targetRuns = maxRuns * 3 / 4;
        // eldest first; the most recently used run always stays
        while ((runs.size() > targetRuns || positions > MAX_CACHED_POSITIONS * 3 / 4) && runs.size() > 1 && it.hasNext()) {
            RunRow evicted = it.next();
            dropPositions(evicted);
            it.remove();
        }
    }

    /** After a rollback the cache may hold changes the database does not: forget it all. */
    void clear() {
        runs.clear();
        positions = 0;
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
            selCommandIds.setLong(1, ApplyEngine.firstCommandRowid(run.rowid));
            selCommandIds.setLong(2, ApplyEngine.lastCommandRowid(run.rowid));
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
        for (PreparedStatement ps : new PreparedStatement[] {selRun, selLabels, selTombstone, selCommandIds}) {
            ps.close();
        }
    }

    /** A run as the projector knows it: committed columns plus what this batch changed. */
    static final class RunRow {
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
        /** Command id to position; null until needed (see {@link RunCache#positions}). */
        private Map<String, Integer> commandIndex;
        boolean inDb;
        boolean dirty;
        byte[] pendingSummary;
        LinkedHashMap<Integer, PendingCommand> pendingCommands;

        RunRow(String id) {
            this.id = id;
        }

        /** A run created in this batch: its positions start empty instead of being loaded. */
        void startPositions() {
            commandIndex = new HashMap<>();
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

    /** A command's folded state in the open batch: written once at flush, whatever happened to it. */
    static final class PendingCommand {
        final int position;
        final String commandId;
        final boolean insert;
        String commandType;
        String status;
        RawJson json;

        PendingCommand(int position, String commandId, boolean insert) {
            this.position = position;
            this.commandId = commandId;
            this.insert = insert;
        }
    }
}
