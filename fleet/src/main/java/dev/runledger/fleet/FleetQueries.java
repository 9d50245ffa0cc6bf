package dev.runledger.fleet;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.RawJson;
import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQueries;
import dev.runledger.projections.RunQuery;
import dev.runledger.projections.RunView;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Queries over the fleet projection: across every robot ({@link #runs(String, RunQuery)}, newest
 * {@code createdAt} first), or one robot's runs behind the same {@link RunQueries} contract a robot's own
 * SQLite projection answers ({@link #robot(String)}, newest first by journal index, the same cursors).
 *
 * <p>Across the fleet, a label filter is driven from the label index by its most selective label (chosen by
 * bounded counts, as the robot's SQLite queries choose), newest first, stopping at the page length: 1M runs
 * answered in about a millisecond where the planner's own choice over {@code EXISTS} probes took 6 ms (941
 * primary-key probes for "assay=pcr"). Within one robot, and for filters without labels, each label is an
 * {@code EXISTS} and PostgreSQL's planner picks the plan from its statistics (extended ones on {@code key, value}).
 */
public final class FleetQueries {
    /** At most this many rows of the driving label: its index drives the query whatever its values. */
    static final int SELECTIVE_LIMIT = 2_000;
    private static final JsonFactory JSON = new JsonFactory();
    /** One robot's cursors, as its own SQLite projection makes them: a journal index, or createdAt millis~index. */
    private static final Pattern ROBOT_CURSOR = Pattern.compile("-?\\d{1,19}");
    private static final Pattern ROBOT_CREATED_CURSOR = Pattern.compile("(-?\\d{1,19})~(-?\\d{1,19})");
    private static final Pattern FLEET_CURSOR = Pattern.compile("(-?\\d{1,19})~(-?\\d{1,19})~([A-Za-z0-9._-]{1,64})");
    private static final String RUN_COLUMNS = "r.robot_id, r.id, r.created_at, r.protocol_id, r.status, r.completed_at,"
            + " r.labels::text, r.summary, r.command_count, r.damaged, r.created_ms, r.created_index";
    private final DataSource db;
    private final String s;
    private final int selectiveLimit;

    /** A run of the fleet: which robot, and the run as that robot's projection shows it. */
    public record FleetRun(String robot, RunView run) {
    }

    /** A page of fleet runs; {@code nextCursor} is null on the last page, {@code total} only on request. */
    public record FleetRunPage(List<FleetRun> runs, String nextCursor, Long total) {
    }

    public FleetQueries(DataSource db, String schema) {
        this(db, schema, SELECTIVE_LIMIT);
    }

    /** With another bound on "selective" (tests set 0 to take the common-label paths on small data). */
    FleetQueries(DataSource db, String schema, int selectiveLimit) {
        this.db = db;
        this.s = FleetSchema.checkName(schema);
        this.selectiveLimit = selectiveLimit;
    }

    @FunctionalInterface
    private interface Read<T> {
        T read(Connection c) throws SQLException, IOException;
    }

    private <T> T read(Read<T> body) {
        try (Connection c = db.getConnection()) {
            return body.read(c);
        } catch (SQLException e) {
            throw new FleetReadException("fleet query on schema " + s + " failed: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Thrown when PostgreSQL cannot answer (down, or the schema is missing). */
    public static final class FleetReadException extends RuntimeException {
        FleetReadException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Runs matching {@code query}, of one robot when {@code robot} is given (newest journal index first, cursors as
     * on the robot) or of the whole fleet (newest {@code createdAt} first, then robot, then index).
     */
    public FleetRunPage runs(String robot, RunQuery query) {
        if (robot == null && query.order() == RunQuery.Order.APPENDED) {
            throw new IllegalArgumentException("order=appended is one robot's journal order; across the fleet runs are"
                    + " ordered by createdAt (order=created), or give robot=ID");
        }
        boolean byCreated = query.order() == RunQuery.Order.CREATED;
        Matcher cursor = null;
        if (query.cursor() != null) {
            cursor = (robot == null ? FLEET_CURSOR : byCreated ? ROBOT_CREATED_CURSOR : ROBOT_CURSOR).matcher(query.cursor());
            if (!cursor.matches()) {
                throw new IllegalArgumentException("cursor must be a value returned as nextCursor (of a query in the same"
                        + " order) but was \"" + query.cursor() + "\"");
            }
        }
        Matcher keyset = cursor;
        return read(c -> {
            if (robot == null && !query.labels().isEmpty()) {
                FleetRunPage driven = drivenByLabel(c, query, keyset);
                if (driven != null) {
                    return driven;
                }
            }
            List<Object> params = new ArrayList<>();
            StringBuilder where = new StringBuilder(" WHERE true");
            if (robot != null) {
                where.append(" AND r.robot_id = ?");
                params.add(robot);
            }
            appendFilters(where, params, query, "r", "id", -1);
            String from = " FROM " + s + ".runs r";
            Long total = null;
            if (query.includeTotal()) {
                try (PreparedStatement ps = prepare(c, "SELECT count(*)" + from + where, params);
                     ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    total = rs.getLong(1);
                }
            }
            StringBuilder page = new StringBuilder("SELECT ").append(RUN_COLUMNS).append(from).append(where);
            if (robot != null && byCreated) {
                if (keyset != null) {
                    page.append(" AND (r.created_ms, r.created_index) < (?, ?)");
                    params.add(Long.parseLong(keyset.group(1)));
                    params.add(Long.parseLong(keyset.group(2)));
                }
                page.append(" ORDER BY r.created_ms DESC, r.created_index DESC");
            } else if (robot != null) {
                if (keyset != null) {
                    page.append(" AND r.created_index < ?");
                    params.add(Long.parseLong(keyset.group()));
                }
                page.append(" ORDER BY r.created_index DESC");
            } else {
                if (keyset != null) {
                    page.append(" AND (r.created_ms, r.robot_id, r.created_index) < (?, ?, ?)");
                    params.add(Long.parseLong(keyset.group(1)));
                    params.add(keyset.group(3));
                    params.add(Long.parseLong(keyset.group(2)));
                }
                page.append(" ORDER BY r.created_ms DESC, r.robot_id DESC, r.created_index DESC");
            }
            page.append(" LIMIT ?");
            params.add(query.pageLength() + 1);
            return page(c, page.toString(), params, robot, byCreated, query.pageLength(), total);
        });
    }

    /**
     * A fleet-wide label filter answered from the label index. Each label row carries its run's creation time,
     * index and status, and the index is ordered newest first within a (key, value), so for one value of the
     * driving label the page is read in order and the scan stops at the page length; the other labels are probed.
     * The driver is the label matched by the fewest rows (a count bounded at {@link #SELECTIVE_LIMIT}, as the robot's
     * SQLite queries do). A label with several values (or "exists") that is common would need a sort of all its
     * rows: then null, and the caller walks runs newest first instead.
     */
    private FleetRunPage drivenByLabel(Connection c, RunQuery query, Matcher cursor) throws SQLException {
        List<Map.Entry<String, Set<String>>> labels = new ArrayList<>(query.labels().entrySet());
        int driver = 0;
        long fewest = 0;
        if (labels.size() > 1 || labels.get(0).getValue().size() != 1) { // one label of one value drives, however common
            fewest = Long.MAX_VALUE;
            for (int i = 0; i < labels.size(); i++) {
                long n = boundedCount(c, labels.get(i).getKey(), labels.get(i).getValue());
                if (n < fewest) {
                    fewest = n;
                    driver = i;
                }
            }
        }
        Map.Entry<String, Set<String>> d = labels.get(driver);
        if (fewest > selectiveLimit && d.getValue().size() != 1) {
            return null;
        }
        List<Object> params = new ArrayList<>();
        StringBuilder where = new StringBuilder(" WHERE d.key = ?");
        params.add(d.getKey());
        appendIn(where, params, "d.value", d.getValue());
        appendFilters(where, params, query, "d", "run_id", driver);
        String from = " FROM " + s + ".run_labels d";
        Long total = null;
        if (query.includeTotal()) {
            try (PreparedStatement ps = prepare(c, "SELECT count(*)" + from + where, params); ResultSet rs = ps.executeQuery()) {
                rs.next();
                total = rs.getLong(1);
            }
        }
        if (cursor != null) {
            where.append(" AND (d.created_ms, d.robot_id, d.created_index) < (?, ?, ?)");
            params.add(Long.parseLong(cursor.group(1)));
            params.add(cursor.group(3));
            params.add(Long.parseLong(cursor.group(2)));
        }
        params.add(query.pageLength() + 1);
        String sql = "SELECT " + RUN_COLUMNS + " FROM (SELECT d.robot_id, d.run_id" + from + where
                + " ORDER BY d.created_ms DESC, d.robot_id DESC, d.created_index DESC LIMIT ?) k JOIN " + s + ".runs r"
                + " ON r.robot_id = k.robot_id AND r.id = k.run_id ORDER BY r.created_ms DESC, r.robot_id DESC, r.created_index DESC";
        return page(c, sql, params, null, true, query.pageLength(), total);
    }

    /**
     * The filters of {@code query} on the rows aliased {@code alias} (runs, or the label rows that carry their run's
     * status and time): every label but the one at {@code skip} (the driver, already matched) as an EXISTS probe,
     * then status and the creation-time range.
     */
    private void appendFilters(StringBuilder where, List<Object> params, RunQuery query, String alias, String runId,
                               int skip) {
        int i = 0;
        for (Map.Entry<String, Set<String>> label : query.labels().entrySet()) {
            if (i++ == skip) {
                continue;
            }
            where.append(" AND EXISTS (SELECT 1 FROM ").append(s).append(".run_labels l WHERE l.robot_id = ").append(alias)
                    .append(".robot_id AND l.run_id = ").append(alias).append('.').append(runId).append(" AND l.key = ?");
            params.add(label.getKey());
            appendIn(where, params, "l.value", label.getValue());
            where.append(')');
        }
        if (query.status() != null) {
            where.append(" AND ").append(alias).append(".status = ?");
            params.add(query.status());
        }
        if (query.createdFrom() != null) {
            where.append(" AND ").append(alias).append(".created_ms >= ?");
            params.add(query.createdFrom().toEpochMilli());
        }
        if (query.createdBefore() != null) {
            where.append(" AND ").append(alias).append(".created_ms < ?");
            params.add(query.createdBefore().toEpochMilli());
        }
    }

    private long boundedCount(Connection c, String key, Set<String> values) throws SQLException {
        List<Object> params = new ArrayList<>();
        StringBuilder sql = new StringBuilder("SELECT count(*) FROM (SELECT 1 FROM " + s + ".run_labels WHERE key = ?");
        params.add(key);
        appendIn(sql, params, "value", values);
        sql.append(" LIMIT ?) n");
        params.add(selectiveLimit + 1);
        try (PreparedStatement ps = prepare(c, sql.toString(), params); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void appendIn(StringBuilder sql, List<Object> params, String column, Set<String> values) {
        if (values.isEmpty()) {
            return; // the key merely has to exist
        }
        sql.append(" AND ").append(column).append(" IN (");
        int i = 0;
        for (String v : values) {
            sql.append(i++ == 0 ? "?" : ", ?");
            params.add(v);
        }
        sql.append(')');
    }

    /** Runs the page query (which returns one row more than a page) and builds the page and its cursor. */
    private static FleetRunPage page(Connection c, String sql, List<Object> params, String robot, boolean byCreated,
                                     int pageLength, Long total) throws SQLException {
        List<FleetRun> runs = new ArrayList<>();
        String next = null;
        try (PreparedStatement ps = prepare(c, sql, params); ResultSet rs = ps.executeQuery()) {
            long lastMs = 0;
            long lastIndex = 0;
            String lastRobot = null;
            while (rs.next()) {
                if (runs.size() == pageLength) {
                    next = robot == null ? lastMs + "~" + lastIndex + "~" + lastRobot
                            : byCreated ? lastMs + "~" + lastIndex : Long.toString(lastIndex);
                    break;
                }
                runs.add(new FleetRun(rs.getString(1), runView(rs)));
                lastMs = rs.getLong(11);
                lastIndex = rs.getLong(12);
                lastRobot = rs.getString(1);
            }
        }
        return new FleetRunPage(Collections.unmodifiableList(runs), next, total);
    }

    private static PreparedStatement prepare(Connection c, String sql, List<Object> params) throws SQLException {
        PreparedStatement ps = c.prepareStatement(sql);
        for (int i = 0; i < params.size(); i++) {
            ps.setObject(i + 1, params.get(i));
        }
        return ps;
    }

    private static RunView runView(ResultSet rs) throws SQLException {
        Map<String, String> labels = new TreeMap<>();
        try (JsonParser p = JSON.createParser(rs.getString(7))) {
            p.nextToken();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                labels.put(key, p.getText());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the labels of run " + rs.getString(2), e);
        }
        String summary = rs.getString(8);
        return new RunView(rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6),
                Collections.unmodifiableMap(new LinkedHashMap<>(labels)),
                summary == null ? null : RawJson.ofStored(summary.getBytes(StandardCharsets.UTF_8)), rs.getInt(9),
                rs.getBoolean(10));
    }

    /**
     * The highest journal index applied for {@code robot} (over all its journals), or {@link Journal#NONE}: what a
     * client's {@code minIndex} for that robot is compared with.
     */
    public long appliedIndex(String robot) {
        return read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT max(last_index) FROM " + s + ".robot_positions WHERE robot_id = ?")) {
                ps.setString(1, robot);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long v = rs.getLong(1);
                    return rs.wasNull() ? Journal.NONE : v;
                }
            }
        });
    }

    /** Every robot the projection has heard from, with the highest journal index applied for it. */
    public Map<String, Long> robots() {
        return read(c -> {
            Map<String, Long> robots = new TreeMap<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT robot_id, max(last_index) FROM " + s
                    + ".robot_positions GROUP BY robot_id"); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    robots.put(rs.getString(1), rs.getLong(2));
                }
            }
            return robots;
        });
    }

    /** One robot's runs behind the contract of a robot's own projection. */
    public RunQueries robot(String robot) {
        return new RobotQueries(robot);
    }

    private final class RobotQueries implements RunQueries {
        private final String robot;

        RobotQueries(String robot) {
            this.robot = robot;
        }

        @Override
        public RunPage runs(RunQuery query) {
            FleetRunPage page = FleetQueries.this.runs(robot, query);
            return new RunPage(page.runs().stream().map(FleetRun::run).toList(), page.nextCursor(), page.total());
        }

        @Override
        public Optional<RunView> run(String runId) {
            return read(c -> {
                try (PreparedStatement ps = c.prepareStatement("SELECT " + RUN_COLUMNS + " FROM " + s
                        + ".runs r WHERE r.robot_id = ? AND r.id = ?")) {
                    ps.setString(1, robot);
                    ps.setString(2, runId);
                    try (ResultSet rs = ps.executeQuery()) {
                        return rs.next() ? Optional.of(runView(rs)) : Optional.empty();
                    }
                }
            });
        }

        @Override
        public Optional<CommandView> command(String runId, String commandId) {
            return read(c -> {
                try (PreparedStatement ps = c.prepareStatement("SELECT index_in_run, command_type, status, command FROM " + s
                        + ".run_commands WHERE robot_id = ? AND run_id = ? AND command_id = ?")) {
                    ps.setString(1, robot);
                    ps.setString(2, runId);
                    ps.setString(3, commandId);
                    try (ResultSet rs = ps.executeQuery()) {
                        return rs.next() ? Optional.of(new CommandView(runId, rs.getInt(1), commandId, rs.getString(2),
                                rs.getString(3), RawJson.ofStored(rs.getString(4).getBytes(StandardCharsets.UTF_8))))
                                : Optional.empty();
                    }
                }
            });
        }

        @Override
        public Optional<CommandPage> commands(String runId, Integer cursor, int pageLength) {
            if (pageLength < 1 || pageLength > RunQuery.MAX_PAGE_LENGTH) {
                throw new IllegalArgumentException("pageLength must be 1-" + RunQuery.MAX_PAGE_LENGTH + " but was " + pageLength);
            }
            if (cursor != null && cursor < 0) {
                throw new IllegalArgumentException("cursor must be 0 or more but was " + cursor);
            }
            return read(c -> {
                Integer total = commandCount(c, runId);
                if (total == null) {
                    return Optional.empty();
                }
                int start = cursor != null ? cursor : Math.max(0, total - pageLength);
                List<CommandView> commands = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement("SELECT index_in_run, command_id, command_type, status, command"
                        + " FROM " + s + ".run_commands WHERE robot_id = ? AND run_id = ? AND index_in_run >= ?"
                        + " AND index_in_run < ? ORDER BY index_in_run")) {
                    ps.setString(1, robot);
                    ps.setString(2, runId);
                    ps.setInt(3, start);
                    ps.setLong(4, (long) start + pageLength);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            commands.add(new CommandView(runId, rs.getInt(1), rs.getString(2), rs.getString(3), rs.getString(4),
                                    RawJson.ofStored(rs.getString(5).getBytes(StandardCharsets.UTF_8))));
                        }
                    }
                }
                return Optional.of(new CommandPage(Collections.unmodifiableList(commands), start, total));
            });
        }

        /** Streams the stored text with a server-side cursor, so a run of 100k commands never sits in memory. */
        @Override
        public boolean writeCommandsJson(String runId, OutputStream out) throws IOException {
            try {
                return read(c -> {
                    if (commandCount(c, runId) == null) {
                        return false;
                    }
                    c.setAutoCommit(false); // a fetch size only streams inside a transaction
                    try (PreparedStatement ps = c.prepareStatement("SELECT command FROM " + s + ".run_commands"
                            + " WHERE robot_id = ? AND run_id = ? ORDER BY index_in_run")) {
                        ps.setFetchSize(500);
                        ps.setString(1, robot);
                        ps.setString(2, runId);
                        out.write('[');
                        try (ResultSet rs = ps.executeQuery()) {
                            boolean first = true;
                            while (rs.next()) {
                                if (!first) {
                                    out.write(',');
                                }
                                first = false;
                                out.write(rs.getString(1).getBytes(StandardCharsets.UTF_8));
                            }
                        }
                        out.write(']');
                    } finally {
                        c.rollback();
                        c.setAutoCommit(true);
                    }
                    return true;
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        }

        private Integer commandCount(Connection c, String runId) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("SELECT command_count FROM " + s + ".runs WHERE robot_id = ? AND id = ?")) {
                ps.setString(1, robot);
                ps.setString(2, runId);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? rs.getInt(1) : null;
                }
            }
        }
    }
}
