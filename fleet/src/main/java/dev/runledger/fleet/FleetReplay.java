package dev.runledger.fleet;

import com.zaxxer.hikari.HikariDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Replays the fleet topic into a fresh schema: {@link #rebuild} swaps it in for the live one, {@link #verify}
 * compares it with the live one table by table. The topic keeps everything ({@code retention.ms=-1}), so a
 * replay from offset 0 sees every robot's every event.
 */
public final class FleetReplay {
    private static final Logger LOG = LoggerFactory.getLogger(FleetReplay.class);
    private static final int MAX_DIFFERENCES = 100;

    /** Each table compared by {@link #verify}: its key columns (in order) and its other columns. */
    private static final List<Table> TABLES = List.of(
            new Table("runs", List.of("robot_id", "id"), List.of("created_at", "created_ms", "created_index", "protocol_id",
                    "status", "completed_at", "completed_index", "labels::text", "summary", "command_count", "damaged")),
            new Table("run_commands", List.of("robot_id", "run_id", "index_in_run"), List.of("command_id", "command_type",
                    "status", "command")),
            new Table("run_labels", List.of("robot_id", "run_id", "key"), List.of("value", "created_ms", "created_index", "status")),
            new Table("run_tombstones", List.of("robot_id", "run_id"), List.of("deleted_index")),
            new Table("quarantine", List.of("source_partition", "source_offset"), List.of("robot_id", "journal_index", "run_id",
                    "event_type", "error", "event")),
            new Table("robot_positions", List.of("robot_id", "journal_id"), List.of("last_index")),
            new Table("projection_meta", List.of("key"), List.of("value")));

    private record Table(String name, List<String> key, List<String> columns) {
    }

    /** What {@link #verify} found: equal, or the differences, each naming robot, run, command and column. */
    public record Verification(boolean equal, long rowsCompared, List<String> differences, Map<Integer, Long> offsets,
                               Duration took) {
    }

    /** What {@link #rebuild} did. */
    public record Rebuilt(FleetProjector.Summary replay, String retired, Duration took) {
    }

    private FleetReplay() {
    }

    /**
     * Replays the whole topic into {@code SCHEMA_rebuild} while the live schema keeps serving, catches up
     * with the live projector's stored offsets while holding its lock (it waits one batch at most), and swaps
     * the schemas by renaming them in one transaction; readers see the old tables or the new ones, never an
     * error. The old schema is dropped afterwards.
     */
    public static Rebuilt rebuild(FleetProjectorConfig config) throws InterruptedException, SQLException {
        long start = System.nanoTime();
        String live = config.schema();
        String fresh = scratchName(live, "rebuild");
        String retired = scratchName(live, "retired");
        try (HikariDataSource pool = FleetDatabase.pool(config.jdbcUrl(), "runledger-fleet-rebuild", 2)) {
            try (Connection c = pool.getConnection()) {
                dropSchema(c, fresh); // a leftover of an interrupted rebuild
                dropSchema(c, retired);
            }
            FleetProjector.Summary replay = new FleetProjector(config, fresh).run();
            LOG.info("fleet rebuild: replayed {} records into {} in {} ms; catching up with {}", replay.records(), fresh,
                    replay.took().toMillis(), live);
            try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                Map<Integer, Long> liveOffsets = Map.of();
                boolean hasLive = FleetSchema.exists(c, live);
                if (hasLive) {
                    lockProjector(c, live, config.topic());
                    liveOffsets = FleetApply.storedOffsets(c, live, config.topic(), false);
                    // The live projector is held at its next batch: bring the fresh schema exactly to where it stands.
                    new FleetProjector(config, fresh).run(liveOffsets);
                }
                try (Statement st = c.createStatement()) {
                    st.execute("INSERT INTO " + fresh + ".projection_meta(key, value) VALUES('generation', gen_random_uuid()::text)"
                            + " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
                    if (hasLive) {
                        st.execute("ALTER SCHEMA " + live + " RENAME TO " + retired);
                    }
                    st.execute("ALTER SCHEMA " + fresh + " RENAME TO " + live);
                }
                c.commit();
                LOG.info("fleet rebuild: {} swapped in for {} at offsets {}", fresh, live, liveOffsets);
            }
            try (Connection c = pool.getConnection()) {
                dropSchema(c, retired);
            }
            return new Rebuilt(replay, retired, Duration.ofNanos(System.nanoTime() - start));
        }
    }

    /**
     * Replays the topic into a scratch schema up to exactly the offsets the live schema has applied and compares
     * every table row by row, inside one snapshot of the live schema (its projector may go on meanwhile).
     */
    public static Verification verify(FleetProjectorConfig config) throws InterruptedException, SQLException {
        long start = System.nanoTime();
        String live = config.schema();
        String scratch = scratchName(live, "verify");
        try (HikariDataSource pool = FleetDatabase.pool(config.jdbcUrl(), "runledger-fleet-verify", 2);
             Connection snapshot = pool.getConnection()) {
            snapshot.setAutoCommit(false);
            snapshot.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            if (!FleetSchema.exists(snapshot, live)) {
                throw new IllegalStateException("there is no fleet projection in schema " + live + " to verify");
            }
            Map<Integer, Long> offsets = FleetApply.storedOffsets(snapshot, live, config.topic(), false);
            try (Connection c = pool.getConnection()) {
                dropSchema(c, scratch);
            }
            try {
                new FleetProjector(config, scratch).run(offsets);
                List<String> differences = new ArrayList<>();
                long rows = 0;
                try (Connection replay = pool.getConnection()) {
                    replay.setAutoCommit(false);
                    for (Table t : TABLES) {
                        rows += compare(t, snapshot, live, replay, scratch, differences);
                    }
                    replay.rollback();
                }
                snapshot.rollback();
                return new Verification(differences.isEmpty(), rows, List.copyOf(differences), offsets,
                        Duration.ofNanos(System.nanoTime() - start));
            } finally {
                try (Connection c = pool.getConnection()) {
                    dropSchema(c, scratch);
                }
            }
        }
    }

    private static long compare(Table t, Connection live, String liveSchema, Connection replay, String replaySchema,
                                List<String> differences) throws SQLException {
        String where = t.name.equals("projection_meta") ? " WHERE key <> 'generation'" : "";
        long rows = 0;
        try (PreparedStatement a = live.prepareStatement(select(t, liveSchema) + where + order(t));
             PreparedStatement b = replay.prepareStatement(select(t, replaySchema) + where + order(t))) {
            a.setFetchSize(2_000);
            b.setFetchSize(2_000);
            try (ResultSet ra = a.executeQuery(); ResultSet rb = b.executeQuery()) {
                boolean hasA = ra.next();
                boolean hasB = rb.next();
                int width = t.key.size() + t.columns.size();
                while (hasA || hasB) {
                    rows++;
                    String[] va = hasA ? row(ra, width) : null;
                    String[] vb = hasB ? row(rb, width) : null;
                    int cmp = !hasA ? 1 : !hasB ? -1 : compareKeys(va, vb, t.key.size());
                    if (cmp < 0) {
                        note(differences, t.name + " " + describe(t, va) + ": in the live projection, not in the replay");
                        hasA = ra.next();
                    } else if (cmp > 0) {
                        note(differences, t.name + " " + describe(t, vb) + ": in the replay, missing from the live projection");
                        hasB = rb.next();
                    } else {
                        for (int i = t.key.size(); i < width; i++) {
                            if (!Objects.equals(va[i], vb[i])) {
                                note(differences, t.name + " " + describe(t, va) + ": column "
                                        + t.columns.get(i - t.key.size()).replace("::text", "") + " is " + abbreviate(va[i])
                                        + " live but " + abbreviate(vb[i]) + " replayed");
                            }
                        }
                        hasA = ra.next();
                        hasB = rb.next();
                    }
                }
            }
        }
        return rows;
    }

    private static String select(Table t, String schema) {
        List<String> cols = new ArrayList<>(t.key);
        cols.addAll(t.columns);
        return "SELECT " + String.join(", ", cols) + " FROM " + schema + "." + t.name;
    }

    /** Byte order (collation "C") on both sides, the order {@link #compareKeys} walks them in. */
    private static String order(Table t) {
        List<String> keys = new ArrayList<>();
        for (String k : t.key) {
            boolean text = !k.equals("index_in_run") && !k.equals("source_partition") && !k.equals("source_offset");
            keys.add(text ? k + " COLLATE \"C\"" : k);
        }
        return " ORDER BY " + String.join(", ", keys);
    }

    private static String[] row(ResultSet rs, int width) throws SQLException {
        String[] v = new String[width];
        for (int i = 0; i < width; i++) {
            v[i] = rs.getString(i + 1);
        }
        return v;
    }

    private static int compareKeys(String[] a, String[] b, int keys) {
        for (int i = 0; i < keys; i++) {
            int cmp;
            if (isNumber(a[i]) && isNumber(b[i])) {
                cmp = Long.compare(Long.parseLong(a[i]), Long.parseLong(b[i]));
            } else {
                cmp = Arrays.compareUnsigned(a[i].getBytes(StandardCharsets.UTF_8), b[i].getBytes(StandardCharsets.UTF_8));
            }
            if (cmp != 0) {
                return cmp;
            }
        }
        return 0;
    }

    private static boolean isNumber(String s) {
        return s != null && s.matches("-?\\d{1,18}");
    }

    private static String describe(Table t, String[] row) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < t.key.size(); i++) {
            String name = switch (t.key.get(i)) {
                case "robot_id" -> "robot";
                case "id", "run_id" -> "run";
                case "index_in_run" -> "command";
                default -> t.key.get(i);
            };
            sb.append(i == 0 ? "" : " ").append(name).append(' ').append(row[i]);
        }
        return sb.toString();
    }

    private static void note(List<String> differences, String difference) {
        if (differences.size() < MAX_DIFFERENCES) {
            differences.add(difference);
        } else if (differences.size() == MAX_DIFFERENCES) {
            differences.add("... and more (only the first " + MAX_DIFFERENCES + " are listed)");
        }
    }

    private static String abbreviate(String v) {
        if (v == null) {
            return "null";
        }
        return "\"" + (v.length() <= 80 ? v : v.substring(0, 80) + "...") + "\"";
    }

    private static String scratchName(String schema, String what) {
        String name = schema + "_" + what;
        return FleetSchema.checkName(name.length() <= 48 ? name : name.substring(0, 48));
    }

    private static void lockProjector(Connection c, String schema, String topic) throws SQLException {
        try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
            lock.setString(1, "runledger-projector:" + schema + ":" + topic);
            lock.executeQuery().close();
        }
    }

    private static void dropSchema(Connection c, String schema) throws SQLException {
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(true);
        try (Statement st = c.createStatement()) {
            st.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } finally {
            c.setAutoCommit(auto);
        }
    }
}
