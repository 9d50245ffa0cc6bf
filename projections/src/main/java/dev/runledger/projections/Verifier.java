package dev.runledger.projections;

import dev.runledger.ledger.Journal;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** Compares tables by content (never file bytes) with SQL {@code EXCEPT}, both ways, over an attached replay. */
final class Verifier {
    static final int MAX_DIFFERENCES = 20;

    private record Table(String name, List<String> key, String describe) {
    }

    private static final List<Table> TABLES = List.of(
            new Table("runs", List.of("id"), "run %s"),
            new Table("run_commands", List.of("run_id", "command_id"), "run %s command %s"),
            new Table("run_labels", List.of("run_id", "key"), "run %s label %s"),
            new Table("run_tombstones", List.of("run_id"), "deleted run %s"),
            new Table("quarantine", List.of("journal_index"), "quarantined event at index %s"),
            new Table("projection_meta", List.of("key"), "meta %s"));

    private Verifier() {
    }

    static Verification verify(Journal journal, ProjectionFile file, Rebuild.ProgressListener progress) {
        try {
            if (!file.exists()) {
                throw new IllegalArgumentException("no projection at " + file);
            }
            ProjectionFile.Meta meta = file.readMeta();
            if (!journal.id().equals(meta.journalId())) {
                return new Verification(false, Journal.NONE, 0, 0, List.of("projection_meta: journal_id is "
                        + meta.journalId() + " but the journal's id is " + journal.id()));
            }
            if (!meta.knownSchema()) {
                return new Verification(false, meta.checkpoint(), 0, 0, List.of("projection_meta: unknown schema_version "
                        + meta.schemaVersion()));
            }
            try (ProjectionFile.Scratch scratch = file.createScratch()) {
                return compare(journal, file, meta, scratch.resolve("replay.sqlite"), progress);
            }
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("verify of " + file + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("verify of " + file + " interrupted", e);
        }
    }

    /** Replays up to the file's checkpoint into {@code fresh} and compares every table with the file's. */
    private static Verification compare(Journal journal, ProjectionFile file, ProjectionFile.Meta meta, Path fresh,
                                        Rebuild.ProgressListener progress) throws SQLException, InterruptedException {
        Replay.Outcome o = Replay.build(new Replay.Options(file.name(), journal, fresh, meta.schemaVersion(), false, 2,
                meta.checkpoint(), () -> Thread.currentThread().isInterrupted()), progress);
        List<String> differences = new ArrayList<>();
        try (Connection c = Sqlite.openReader(file.path())) {
            c.setAutoCommit(true);
            try (PreparedStatement attach = c.prepareStatement("ATTACH DATABASE ? AS fresh")) {
                attach.setString(1, fresh.toString());
                attach.execute();
            }
            c.setAutoCommit(false);
            for (Table t : TABLES) {
                compare(c, t, differences);
                if (differences.size() >= MAX_DIFFERENCES) {
                    break;
                }
            }
            c.rollback();
        }
        return new Verification(differences.isEmpty(), meta.checkpoint(), o.runs(), o.commands(), List.copyOf(differences));
    }

    private static void compare(Connection c, Table t, List<String> out) throws SQLException {
        String keys = String.join(", ", t.key());
        // Rows of the projection that a fresh replay does not have (changed or extra) ...
        List<List<String>> ours = keysOf(c, "SELECT " + keys + " FROM (SELECT * FROM main." + t.name()
                + " EXCEPT SELECT * FROM fresh." + t.name() + ")");
        for (List<String> key : ours) {
            List<String> columns = differingColumns(c, t, key);
            out.add(t.name() + ": " + String.format(t.describe(), key.toArray()) + (columns == null
                    ? " is in the projection but not in a fresh replay"
                    : " differs in " + String.join(", ", columns)));
            if (out.size() >= MAX_DIFFERENCES) {
                return;
            }
        }
        // ... and rows of the replay the projection lacks (changed rows were reported above).
        List<List<String>> theirs = keysOf(c, "SELECT " + keys + " FROM (SELECT * FROM fresh." + t.name()
                + " EXCEPT SELECT * FROM main." + t.name() + ")");
        for (List<String> key : theirs) {
            if (!ours.contains(key)) {
                out.add(t.name() + ": " + String.format(t.describe(), key.toArray())
                        + " is missing from the projection");
                if (out.size() >= MAX_DIFFERENCES) {
                    return;
                }
            }
        }
    }

    private static List<List<String>> keysOf(Connection c, String sql) throws SQLException {
        List<List<String>> keys = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql + " LIMIT " + MAX_DIFFERENCES)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> key = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) {
                    key.add(rs.getString(i));
                }
                keys.add(key);
            }
        }
        return keys;
    }

    /** Columns that differ between the two copies of a row, or null if the replay has no such row. */
    private static List<String> differingColumns(Connection c, Table t, List<String> key) throws SQLException {
        StringBuilder where = new StringBuilder();
        for (String k : t.key()) {
            where.append(where.length() == 0 ? " WHERE " : " AND ").append(k).append(" = ?");
        }
        List<Object> mine = row(c, "SELECT * FROM main." + t.name() + where, key);
        List<Object> fresh = row(c, "SELECT * FROM fresh." + t.name() + where, key);
        if (fresh == null) {
            return null;
        }
        List<String> columns = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM main." + t.name() + " LIMIT 0")) {
            ResultSetMetaData md = rs.getMetaData();
            for (int i = 0; i < mine.size(); i++) {
                if (!Objects.equals(mine.get(i), fresh.get(i))) {
                    columns.add(md.getColumnName(i + 1) + " (projection " + abbreviate(mine.get(i)) + ", replay "
                            + abbreviate(fresh.get(i)) + ")");
                }
            }
        }
        return columns;
    }

    private static List<Object> row(Connection c, String sql, List<String> key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < key.size(); i++) {
                ps.setString(i + 1, key.get(i));
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                List<Object> values = new ArrayList<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    values.add(rs.getString(i));
                }
                return values;
            }
        }
    }

    private static String abbreviate(Object value) {
        String s = String.valueOf(value);
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }
}
