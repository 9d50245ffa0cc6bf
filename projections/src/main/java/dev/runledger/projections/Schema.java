package dev.runledger.projections;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The projection's tables (names and columns are a contract with users of the file, listed in the README). The projector addresses rows
 * by rowid only, so every index on {@code run_commands} is a secondary index: a rebuild creates them
 * once after the load, which is much cheaper than maintaining them row by row (measured: the
 * {@code (run_id, index_in_run)} index alone cost 0.37 s of a 1.3 s load of 200k rows).
 */
final class Schema {
    /** The schema version this code writes. A projection at another version is rebuilt by replay. */
    static final int CURRENT_VERSION = 2;

    private Schema() {
    }

    static List<String> tables(int version) {
        List<String> ddl = new ArrayList<>(List.of(
                """
                CREATE TABLE runs(
                  id TEXT PRIMARY KEY,
                  created_at TEXT NOT NULL,
                  created_ms INTEGER NOT NULL,      -- createdAt as epoch millis, for range filters
                  created_index INTEGER NOT NULL,   -- journal index of run.created: newest-first order and cursor
                  protocol_id TEXT,
                  status TEXT NOT NULL,             -- created|running|succeeded|failed|stopped
                  completed_at TEXT,
                  completed_index INTEGER,
                  labels TEXT NOT NULL,             -- JSON object, keys sorted
                  summary TEXT,                     -- JSON, byte for byte as appended
                  command_count INTEGER NOT NULL,
                  damaged INTEGER NOT NULL DEFAULT 0)""",
                """
                CREATE TABLE run_commands(         -- rowid = runs.rowid << 24 | index_in_run (see ApplyEngine)
                  run_id TEXT NOT NULL,
                  index_in_run INTEGER NOT NULL,
                  command_id TEXT NOT NULL,
                  command_type TEXT NOT NULL,
                  status TEXT,
                  command TEXT NOT NULL)            -- JSON, byte for byte as last recorded""",
                """
                CREATE TABLE run_labels(
                  run_id TEXT NOT NULL,
                  key TEXT NOT NULL,
                  value TEXT NOT NULL,
                  PRIMARY KEY(run_id, key)) WITHOUT ROWID""",
                """
                CREATE TABLE run_tombstones(
                  run_id TEXT PRIMARY KEY,
                  deleted_index INTEGER NOT NULL) WITHOUT ROWID""",
                "CREATE TABLE projection_meta(key TEXT PRIMARY KEY, value TEXT)",
                """
                CREATE TABLE quarantine(
                  journal_index INTEGER PRIMARY KEY,
                  run_id TEXT,
                  event_type TEXT,
                  error TEXT NOT NULL,
                  event TEXT NOT NULL)"""));
        return ddl;
    }

    static List<String> secondaryIndexes(int version) {
        List<String> ddl = new ArrayList<>(List.of(
                "CREATE UNIQUE INDEX runs_created ON runs(created_index)",
                "CREATE UNIQUE INDEX run_commands_position ON run_commands(run_id, index_in_run)",
                "CREATE INDEX runs_status ON runs(status, created_index)",
                "CREATE UNIQUE INDEX run_commands_id ON run_commands(run_id, command_id)",
                "CREATE INDEX run_labels_kv ON run_labels(key, value, run_id)"));
        if (version >= 2) {
            // v2: commands of one type across runs ("every pickUpTip of the last week") without a scan.
            ddl.add("CREATE INDEX run_commands_type ON run_commands(command_type, run_id)");
        }
        ddl.add(CREATED_ORDER_INDEX);
        return ddl;
    }

    /**
     * Pages newest {@code createdAt} first (order=created) without sorting every run. Added after version 2 was out;
     * an index changes no answer, so {@link #ensureIndexes} adds it to older files rather than forcing a replay.
     */
    static final String CREATED_ORDER_INDEX = "CREATE INDEX IF NOT EXISTS runs_created_ms ON runs(created_ms, created_index)";

    static void ensureIndexes(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(CREATED_ORDER_INDEX);
        }
    }

    static boolean isKnown(int version) {
        return version == 1 || version == 2;
    }

    static void create(Connection c, int version, boolean withSecondaryIndexes) throws SQLException {
        try (Statement s = c.createStatement()) {
            for (String ddl : tables(version)) {
                s.execute(ddl);
            }
            if (withSecondaryIndexes) {
                for (String ddl : secondaryIndexes(version)) {
                    s.execute(ddl);
                }
            }
            s.execute("PRAGMA user_version = " + version);
        }
    }

    static void createSecondaryIndexes(Connection c, int version) throws SQLException {
        try (Statement s = c.createStatement()) {
            for (String ddl : secondaryIndexes(version)) {
                s.execute(ddl);
            }
            // Statistics for the planner; a bounded sample is as good here and 10x cheaper than a full scan.
            s.execute("PRAGMA analysis_limit = 1000");
            s.execute("ANALYZE");
        }
    }
}
