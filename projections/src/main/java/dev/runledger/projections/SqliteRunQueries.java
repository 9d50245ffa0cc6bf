package dev.runledger.projections;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.runledger.ledger.RawJson;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Queries over the projection. Label filters pick their SQL shape by selectivity (at 500k runs a
 * correlated EXISTS per label scanned every run, ~3,000x slower than an IN over the label index, yet
 * won for "newest 50 with a very common label"): a label
 * matched by few runs drives the query from the {@code (key, value)} index and sorts the few
 * candidates; when every label is common, runs are scanned newest first and each is checked with a
 * primary-key probe, stopping at the page length. A bounded count decides which is which.
 */
final class SqliteRunQueries implements RunQueries {
    /** At most this many matching runs: drive from the label index; more: scan newest first. */
    static final int SELECTIVE_LIMIT = 2_000;
    private static final JsonFactory JSON = new JsonFactory();
    /**
     * A run comes back as its cursor and one JSON array: sqlite-jdbc pays a JNI round trip per column, and
     * reading 10 columns of 50 rows cost 370 of a 440 µs label query (measured); one array per row, parsed
     * with Jackson, costs about a third. The summary is spliced in last as its stored text (json() would
     * re-serialize it) and cut out by position, so it stays bytes and is never parsed; labels, which we wrote, travel as
     * an object. The array's last element before the splice is a number, so rtrim strips exactly one ']'.
     */
    private static final String RUN_COLUMNS = "r.created_index, rtrim(json_array(r.id, r.created_at, r.protocol_id,"
            + " r.status, r.completed_at, json(r.labels), r.command_count, r.damaged), ']') || ',' || ifnull(r.summary, 'null')"
            + " || ']'";

    /** A page's cursor: the last run's journal index, or (newest createdAt first) its createdAt millis and index. */
    private static final java.util.regex.Pattern INDEX_CURSOR = java.util.regex.Pattern.compile("-?\\d{1,19}");
    private static final java.util.regex.Pattern CREATED_CURSOR = java.util.regex.Pattern.compile("(-?\\d{1,19})~(-?\\d{1,19})");

    private final ReadPool pool;

    SqliteRunQueries(ReadPool pool) {
        this.pool = pool;
    }

    @Override
    public RunPage runs(RunQuery query) {
        boolean byCreated = query.order() == RunQuery.Order.CREATED;
        java.util.regex.Matcher cursor = query.cursor() == null ? null
                : (byCreated ? CREATED_CURSOR : INDEX_CURSOR).matcher(query.cursor());
        if (cursor != null && !cursor.matches()) {
            throw new IllegalArgumentException("cursor must be a value returned as nextCursor (of a query in the same"
                    + " order) but was \"" + query.cursor() + "\"");
        }
        return pool.read(c -> {
            List<Map.Entry<String, Set<String>>> labels = new ArrayList<>(query.labels().entrySet());
            int driver = -1;
            long fewest = Long.MAX_VALUE;
            for (int i = 0; i < labels.size(); i++) {
                long n = boundedCount(c, labels.get(i).getKey(), labels.get(i).getValue());
                if (n < fewest) {
                    fewest = n;
                    driver = i;
                }
            }
            if (fewest > SELECTIVE_LIMIT) {
                driver = -1;
            }
            List<Object> params = new ArrayList<>();
            StringBuilder from = new StringBuilder();
            if (driver >= 0) {
                Map.Entry<String, Set<String>> d = labels.get(driver);
                from.append(" FROM (SELECT run_id FROM run_labels WHERE key = ?");
                params.add(d.getKey());
                appendIn(from, params, "value", d.getValue());
                from.append(") m CROSS JOIN runs r ON r.id = m.run_id");
            } else {
                from.append(" FROM runs r");
            }
            StringBuilder where = new StringBuilder(" WHERE 1 = 1");
            for (int i = 0; i < labels.size(); i++) {
                if (i == driver) {
                    continue;
                }
                where.append(" AND EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = r.id AND l.key = ?");
                params.add(labels.get(i).getKey());
                appendIn(where, params, "l.value", labels.get(i).getValue());
                where.append(')');
            }
            if (query.status() != null) {
                where.append(" AND r.status = ?");
                params.add(query.status());
            }
            if (query.createdFrom() != null) {
                where.append(" AND r.created_ms >= ?");
                params.add(query.createdFrom().toEpochMilli());
            }
            if (query.createdBefore() != null) {
                where.append(" AND r.created_ms < ?");
                params.add(query.createdBefore().toEpochMilli());
            }
            Long total = null;
            if (query.includeTotal()) {
                try (ResultSet rs = prepare(c, "SELECT count(*)" + from + where, params).executeQuery()) {
                    rs.next();
                    total = rs.getLong(1);
                }
            }
            List<Object> pageParams = new ArrayList<>(params);
            StringBuilder page = new StringBuilder("SELECT ").append(RUN_COLUMNS).append(from).append(where);
            if (cursor != null && byCreated) {
                page.append(" AND (r.created_ms, r.created_index) < (?, ?)");
                pageParams.add(Long.parseLong(cursor.group(1)));
                pageParams.add(Long.parseLong(cursor.group(2)));
            } else if (cursor != null) {
                page.append(" AND r.created_index < ?");
                pageParams.add(Long.parseLong(cursor.group()));
            }
            page.append(byCreated ? " ORDER BY r.created_ms DESC, r.created_index DESC LIMIT ?" : " ORDER BY r.created_index DESC LIMIT ?");
            pageParams.add(query.pageLength() + 1);
            List<RunView> runs = new ArrayList<>();
            long lastIndex = 0;
            boolean more = false;
            try (ResultSet rs = prepare(c, page.toString(), pageParams).executeQuery()) {
                while (rs.next()) {
                    if (runs.size() == query.pageLength()) {
                        more = true;
                        break;
                    }
                    lastIndex = rs.getLong(1);
                    runs.add(runView(rs));
                }
            }
            String next = null;
            if (more) {
                next = byCreated ? java.time.Instant.parse(runs.get(runs.size() - 1).createdAt()).toEpochMilli() + "~" + lastIndex
                        : Long.toString(lastIndex);
            }
            return new RunPage(Collections.unmodifiableList(runs), next, total);
        });
    }

    private static long boundedCount(ReadPool.ReadConnection c, String key, Set<String> values) throws SQLException {
        List<Object> params = new ArrayList<>();
        StringBuilder sql = new StringBuilder("SELECT count(*) FROM (SELECT 1 FROM run_labels WHERE key = ?");
        params.add(key);
        appendIn(sql, params, "value", values);
        sql.append(" LIMIT ?)");
        params.add(SELECTIVE_LIMIT + 1);
        try (ResultSet rs = prepare(c, sql.toString(), params).executeQuery()) {
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

    private static PreparedStatement prepare(ReadPool.ReadConnection c, String sql, List<Object> params) throws SQLException {
        PreparedStatement ps = c.prepare(sql);
        for (int i = 0; i < params.size(); i++) {
            Object p = params.get(i);
            if (p instanceof Long l) {
                ps.setLong(i + 1, l);
            } else if (p instanceof Integer n) {
                ps.setInt(i + 1, n);
            } else {
                ps.setString(i + 1, (String) p);
            }
        }
        return ps;
    }

    private static RunView runView(ResultSet rs) throws SQLException {
        byte[] row = rs.getBytes(2);
        try (JsonParser p = JSON.createParser(row)) {
            p.nextToken(); // [
            String id = nextText(p);
            String createdAt = nextText(p);
            String protocolId = nextText(p);
            String status = nextText(p);
            String completedAt = nextText(p);
            p.nextToken(); // {
            Map<String, String> labels = new LinkedHashMap<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                labels.put(key, p.getText());
            }
            p.nextToken();
            int commandCount = p.getIntValue();
            p.nextToken();
            boolean damaged = p.getIntValue() != 0;
            // Everything between the comma after `damaged` and the closing ']' is the stored summary, verbatim.
            int start = (int) p.currentTokenLocation().getByteOffset() + 2;
            int end = row.length - 1;
            RawJson summary = end - start == 4 && row[start] == 'n' ? null
                    : RawJson.ofStored(Arrays.copyOfRange(row, start, end));
            return new RunView(id, createdAt, protocolId, status, completedAt, Collections.unmodifiableMap(labels),
                    summary, commandCount, damaged);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a run row", e);
        }
    }

    private static String nextText(JsonParser p) throws IOException {
        return p.nextToken() == JsonToken.VALUE_NULL ? null : p.getText();
    }

    @Override
    public Optional<RunView> run(String runId) {
        return pool.read(c -> {
            PreparedStatement ps = c.prepare("SELECT " + RUN_COLUMNS + " FROM runs r WHERE r.id = ?");
            ps.setString(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(runView(rs)) : Optional.empty();
            }
        });
    }

    @Override
    public Optional<CommandView> command(String runId, String commandId) {
        return pool.read(c -> {
            PreparedStatement ps = c.prepare("SELECT index_in_run, command_type, status, command"
                + " FROM run_commands WHERE run_id = ? AND command_id = ?");
            ps.setString(1, runId);
            ps.setString(2, commandId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next()
                        ? Optional.of(new CommandView(runId, rs.getInt(1), commandId, rs.getString(2), rs.getString(3),
                                RawJson.ofStored(rs.getBytes(4))))
                        : Optional.empty();
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
        return pool.read(c -> {
            Integer total = commandCount(c, runId);
            if (total == null) {
                return Optional.empty();
            }
            int start = cursor != null ? cursor : Math.max(0, total - pageLength);
            List<CommandView> commands = new ArrayList<>(Math.min(pageLength, Math.max(0, total - start)));
            PreparedStatement ps = c.prepare("SELECT index_in_run, command_id, command_type, status, command"
                + " FROM run_commands WHERE run_id = ? AND index_in_run >= ? AND index_in_run < ? ORDER BY index_in_run");
            ps.setString(1, runId);
            ps.setInt(2, start);
            ps.setLong(3, (long) start + pageLength);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    commands.add(new CommandView(runId, rs.getInt(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            RawJson.ofStored(rs.getBytes(5))));
                }
            }
            return Optional.of(new CommandPage(Collections.unmodifiableList(commands), start, total));
        });
    }

    @Override
    public boolean writeCommandsJson(String runId, OutputStream out) throws IOException {
        try {
            return pool.read(c -> {
                if (commandCount(c, runId) == null) {
                    return false;
                }
                out.write('[');
                PreparedStatement ps = c.prepare(
                    "SELECT command FROM run_commands WHERE run_id = ? ORDER BY index_in_run");
                ps.setString(1, runId);
                try (ResultSet rs = ps.executeQuery()) {
                    boolean first = true;
                    while (rs.next()) {
                        if (!first) {
                            out.write(',');
                        }
                        first = false;
                        out.write(rs.getBytes(1));
                    }
                }
                out.write(']');
                return true;
            });
        } catch (ProjectionReadException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw e;
        }
    }

    private static Integer commandCount(ReadPool.ReadConnection c, String runId) throws SQLException {
            PreparedStatement ps = c.prepare("SELECT command_count FROM runs WHERE id = ?");
        ps.setString(1, runId);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getInt(1) : null;
        }
    }
}
