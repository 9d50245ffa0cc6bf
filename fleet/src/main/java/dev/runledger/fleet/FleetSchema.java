package dev.runledger.fleet;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The fleet projection's tables in one PostgreSQL schema: the robot's SQLite tables with {@code robot_id}
 * first in every key, plus {@code source_offsets} and {@code robot_positions}, which the projector writes
 * in the same transaction as the rows they cover. Command and summary JSON are {@code text}, byte for byte;
 * labels are kept twice, normalized in {@code run_labels} (what queries use) and as {@code jsonb} on the run
 * (what the benchmarks compare against). The run's key is also the primary key's prefix of every child table.
 */
final class FleetSchema {
    static final String DEFAULT = "runledger";
    static final int VERSION = 1;
    private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_]{0,47}");

    private FleetSchema() {
    }

    /** A schema name is spliced into SQL, so only plain lower-case identifiers are accepted. */
    static String checkName(String schema) {
        if (schema == null || !NAME.matcher(schema).matches()) {
            throw new IllegalArgumentException("a fleet schema name is 1-48 characters of [a-z0-9_], not starting with a"
                    + " digit, but was " + (schema == null ? "null" : "\"" + schema + "\""));
        }
        return schema;
    }

    static List<String> tables(String s) {
        return List.of(
                "CREATE TABLE " + s + ".runs("
                        + " robot_id text NOT NULL,"
                        + " id text NOT NULL,"
                        + " created_at text NOT NULL,"
                        + " created_ms bigint NOT NULL,"
                        + " created_index bigint NOT NULL,"      // journal index of run.created on its robot
                        + " protocol_id text,"
                        + " status text NOT NULL,"
                        + " completed_at text,"
                        + " completed_index bigint,"
                        + " labels jsonb NOT NULL,"
                        + " summary text,"
                        + " command_count integer NOT NULL,"
                        + " damaged boolean NOT NULL DEFAULT false,"
                        + " PRIMARY KEY(robot_id, id))",
                "CREATE TABLE " + s + ".run_commands("
                        + " robot_id text NOT NULL,"
                        + " run_id text NOT NULL,"
                        + " index_in_run integer NOT NULL,"
                        + " command_id text NOT NULL,"
                        + " command_type text NOT NULL,"
                        + " status text,"
                        + " command text NOT NULL,"
                        + " PRIMARY KEY(robot_id, run_id, index_in_run))",
                "CREATE TABLE " + s + ".run_labels("
                        + " robot_id text NOT NULL,"
                        + " run_id text NOT NULL,"
                        + " key text NOT NULL,"
                        + " value text NOT NULL,"
                        // The run's creation time, index and status, copied here so that a label filter is answered
                        // from the label index alone, newest first, and stops at the page length (see FleetQueries).
                        + " created_ms bigint NOT NULL,"
                        + " created_index bigint NOT NULL,"
                        + " status text NOT NULL,"
                        + " PRIMARY KEY(robot_id, run_id, key))",
                "CREATE TABLE " + s + ".run_tombstones("
                        + " robot_id text NOT NULL,"
                        + " run_id text NOT NULL,"
                        + " deleted_index bigint NOT NULL,"
                        + " PRIMARY KEY(robot_id, run_id))",
                "CREATE TABLE " + s + ".quarantine("
                        + " robot_id text NOT NULL,"
                        + " journal_index bigint,"              // null when the record named no index
                        + " run_id text,"
                        + " event_type text,"
                        + " error text NOT NULL,"
                        + " event text NOT NULL,"
                        + " source_partition integer NOT NULL,"
                        + " source_offset bigint NOT NULL,"
                        + " PRIMARY KEY(source_partition, source_offset))",
                "CREATE TABLE " + s + ".projection_meta(key text PRIMARY KEY, value text)",
                "CREATE TABLE " + s + ".source_offsets("
                        + " topic text NOT NULL,"
                        + " partition integer NOT NULL,"
                        + " next_offset bigint NOT NULL,"
                        + " PRIMARY KEY(topic, partition))",
                "CREATE TABLE " + s + ".robot_positions("
                        + " robot_id text NOT NULL,"
                        + " journal_id text NOT NULL,"
                        + " last_index bigint NOT NULL,"
                        + " applied_at timestamptz NOT NULL DEFAULT now(),"
                        + " PRIMARY KEY(robot_id, journal_id))");
    }

    static List<String> indexes(String s) {
        return List.of(
                "CREATE INDEX run_labels_kv ON " + s + ".run_labels(key, value, created_ms DESC, robot_id DESC,"
                        + " created_index DESC) INCLUDE (run_id, status)",
                "CREATE UNIQUE INDEX run_commands_id ON " + s + ".run_commands(robot_id, run_id, command_id)",
                "CREATE INDEX runs_created ON " + s + ".runs(created_ms DESC, robot_id DESC, created_index DESC)",
                "CREATE INDEX runs_robot_created ON " + s + ".runs(robot_id, created_index DESC)",
                "CREATE INDEX runs_robot_created_ms ON " + s + ".runs(robot_id, created_ms DESC, created_index DESC)",
                "CREATE INDEX runs_status ON " + s + ".runs(status, created_ms DESC)",
                // key and value are far from independent (value "pcr" only occurs under key "assay"): without this
                // the planner multiplies their frequencies and misjudges how selective a label filter is.
                "CREATE STATISTICS " + s + ".run_labels_kv_stats (dependencies, mcv) ON key, value FROM " + s + ".run_labels");
    }

    static boolean exists(Connection c, String schema) throws SQLException {
        try (var ps = c.prepareStatement("SELECT 1 FROM information_schema.tables WHERE table_schema = ?"
                + " AND table_name = 'source_offsets'")) {
            ps.setString(1, schema);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Creates the schema and its tables unless they exist; one transaction, so a crash leaves none or all. */
    static void ensure(Connection c, String schema) throws SQLException {
        checkName(schema);
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            // Two projectors starting at once must not both create: the advisory lock orders them.
            st.execute("SELECT pg_advisory_xact_lock(hashtext('runledger-schema:" + schema + "'))");
            if (!exists(c, schema)) {
                st.execute("CREATE SCHEMA IF NOT EXISTS " + schema);
                for (String ddl : tables(schema)) {
                    st.execute(ddl);
                }
                for (String ddl : indexes(schema)) {
                    st.execute(ddl);
                }
                st.execute("INSERT INTO " + schema + ".projection_meta(key, value) VALUES('schema_version', '" + VERSION + "')");
            }
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }
}
