package dev.runledger.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.CompletionStatus;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalAudit;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RunEvent;
import dev.runledger.projections.Rebuild;
import dev.runledger.projections.Verification;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The seed problem: 20 runs x 10,000 commands, each recorded queued -> running -> final (600,000
 * events). Rebuild by replay against (a) a raw bulk insert of the final rows, the limit, and (b) the
 * robot-server way, a row-by-row migration of an old-schema SQLite file that parses every stored JSON.
 */
final class RebuildHarness {
    static final int RUNS = 20;
    static final int COMMANDS = 10_000;

    private RebuildHarness() {
    }

    static Path seedJournal(String name, int runs, int commands) throws Exception {
        Path dir = Datasets.base().resolve(name);
        Path journalDir = dir.resolve("journal");
        if (Files.exists(dir.resolve("complete"))) {
            return journalDir;
        }
        Bench.delete(dir);
        List<String> real = Bench.realCommands();
        try (Ledger ledger = Ledger.open(journalDir)) {
            for (int r = 0; r < runs; r++) {
                String runId = "run-" + r;
                List<RunEvent> events = new ArrayList<>(3 * 1000 + 3);
                events.add(new RunEvent.RunCreated(runId, "2026-01-01T00:00:00Z", "proto-" + r,
                        Map.of("robot", r % 2 == 0 ? "ot-2" : "flex", "tenant", "t" + r % 3)));
                for (int c = 0; c < commands; c++) {
                    String base = Bench.withId(real.get((r * 7919 + c) % real.size()), runId + "-" + c);
                    for (String status : new String[] {"queued", "running", "succeeded"}) {
                        events.add(new RunEvent.CommandRecorded(runId, CommandJson.parse(Bench.withStatus(base, status))));
                    }
                    if (events.size() >= 3000) {
                        ledger.append(events);
                        events.clear();
                    }
                }
                events.add(new RunEvent.SummaryRecorded(runId, "{\"errors\":[],\"run\":" + r + "}"));
                events.add(new RunEvent.RunCompleted(runId, CompletionStatus.SUCCEEDED, "2026-01-01T02:00:00Z"));
                ledger.append(events);
            }
        }
        Files.writeString(dir.resolve("complete"), "ok");
        return journalDir;
    }

    static List<Row> rebuild() throws Exception {
        System.out.println("\n== rebuild: 20 runs x 10,000 commands x 3 records (600k events) ==");
        Path journalDir = seedJournal("seed-20x10k", RUNS, COMMANDS);
        Path dir = Bench.tempDir("rebuild");
        try (Journal journal = Journal.openExisting(journalDir)) {
            long events = journal.countBetween(Journal.NONE, journal.headIndex());
            Path db = dir.resolve("runs.sqlite");
            Rebuild.rebuild(journal, db, Rebuild.Options.defaults()); // warm-up: JIT and page cache
            double best2 = Double.MAX_VALUE;
            double best1 = Double.MAX_VALUE;
            for (int i = 0; i < 3; i++) {
                best2 = Math.min(best2, Rebuild.rebuild(journal, db, Rebuild.Options.defaults()).elapsed().toNanos() / 1e9);
                best1 = Math.min(best1, Rebuild.rebuild(journal, db, new Rebuild.Options(2, 1, false, null)).elapsed().toNanos() / 1e9);
            }
            System.out.printf(Locale.ROOT, "   rebuild %,d events: %.3f s with a decode thread, %.3f s on one thread%n", events, best2, best1);

            List<String[]> finalRows = finalRows(db);
            double raw = rawBulkLoad(dir, finalRows);
            Path old = oldSchemaFile(dir, finalRows);
            double migration = migrate(old, dir.resolve("migrated.sqlite"));
            long v0 = System.nanoTime();
            Verification v = Rebuild.verify(journal, db, null);
            double verify = (System.nanoTime() - v0) / 1e9;
            System.out.printf(Locale.ROOT, "   raw bulk load of the %,d final rows: %.3f s; row-by-row migration: %.3f s; verify: %.3f s (%s)%n",
                    finalRows.size(), raw, migration, verify, v.equal() ? "equal" : "DIFFERS");
            double rebuild = Math.min(best1, best2);
            return List.of(
                    new Row("rebuild 600k events (20 x 10k x 3)", Row.fmt("%.3f s (%,.0f events/s)", rebuild, events / rebuild),
                            Row.fmt("raw final rows %.3f s", raw), Row.fmt("%.2fx raw", raw / rebuild),
                            "<= 1.5 s, >= 0.6x raw", rebuild <= 1.5 && raw / rebuild >= 0.6),
                    new Row("rebuild vs robot-server row-by-row migration", Row.fmt("%.3f s", rebuild),
                            Row.fmt("migration %.3f s", migration), Row.fmt("%.1fx faster", migration / rebuild),
                            ">= 5x faster", migration / rebuild >= 5),
                    new Row("verify (replay + compare every table), same data", Row.fmt("%.3f s", verify), "-", "-", "(measured)",
                            v.equal() ? null : false));
        } finally {
            Bench.delete(dir);
        }
    }

    /** run_id, index, command_id, command_type, status, command JSON: what the projection holds. */
    private static List<String[]> finalRows(Path db) throws Exception {
        List<String[]> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT run_id, index_in_run, command_id, command_type, status, command"
                     + " FROM run_commands ORDER BY run_id, index_in_run")) {
            while (rs.next()) {
                rows.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                        rs.getString(6)});
            }
        }
        return rows;
    }

    private static final String NEW_SCHEMA = "CREATE TABLE runs(id TEXT PRIMARY KEY, created_at TEXT NOT NULL, protocol_id TEXT,"
            + " status TEXT NOT NULL, completed_at TEXT, labels TEXT NOT NULL, summary TEXT, command_count INTEGER NOT NULL);"
            + "CREATE TABLE run_commands(run_id TEXT NOT NULL, index_in_run INTEGER NOT NULL, command_id TEXT NOT NULL,"
            + " command_type TEXT NOT NULL, status TEXT, command TEXT NOT NULL)";
    private static final String NEW_INDEXES = "CREATE UNIQUE INDEX run_commands_position ON run_commands(run_id, index_in_run);"
            + "CREATE UNIQUE INDEX run_commands_id ON run_commands(run_id, command_id);"
            + "CREATE INDEX run_commands_type ON run_commands(command_type, run_id)";

    /** The limit: the final rows bulk-inserted with the rebuild's own settings (no journal, no sync, indexes after). */
    private static double rawBulkLoad(Path dir, List<String[]> rows) throws Exception {
        double best = Double.MAX_VALUE;
        for (int trial = 0; trial < 3; trial++) {
            Path db = dir.resolve("raw-" + trial + ".sqlite");
            long start = System.nanoTime();
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
                try (Statement s = c.createStatement()) {
                    s.execute("PRAGMA journal_mode=OFF");
                    s.execute("PRAGMA synchronous=OFF");
                    s.execute("PRAGMA page_size=16384");
                    s.execute("PRAGMA cache_size=-131072");
                    for (String ddl : NEW_SCHEMA.split(";")) {
                        s.execute(ddl);
                    }
                }
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO run_commands VALUES(?, ?, ?, ?, ?, ?)")) {
                    int n = 0;
                    for (String[] r : rows) {
                        ps.setString(1, r[0]);
                        ps.setInt(2, Integer.parseInt(r[1]));
                        ps.setString(3, r[2]);
                        ps.setString(4, r[3]);
                        ps.setString(5, r[4]);
                        ps.setString(6, r[5]);
                        ps.addBatch();
                        if (++n % 2_000 == 0) {
                            ps.executeBatch();
                        }
                        if (n % 50_000 == 0) {
                            c.commit();
                        }
                    }
                    ps.executeBatch();
                }
                try (Statement s = c.createStatement()) {
                    for (String ddl : NEW_INDEXES.split(";")) {
                        s.execute(ddl);
                    }
                }
                c.commit();
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        return best;
    }

    /** A robot-server style file: one table of runs, one of commands stored as JSON text. */
    private static Path oldSchemaFile(Path dir, List<String[]> rows) throws Exception {
        Path db = dir.resolve("old.sqlite");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("CREATE TABLE run(id TEXT PRIMARY KEY, created_at TEXT, state_summary TEXT)");
                s.execute("CREATE TABLE run_command(run_id TEXT, index_in_run INTEGER, command TEXT, PRIMARY KEY(run_id, index_in_run))");
            }
            c.setAutoCommit(false);
            try (PreparedStatement run = c.prepareStatement("INSERT OR IGNORE INTO run VALUES(?, '2026-01-01T00:00:00Z', '{}')");
                 PreparedStatement cmd = c.prepareStatement("INSERT INTO run_command VALUES(?, ?, ?)")) {
                for (String[] r : rows) {
                    run.setString(1, r[0]);
                    run.executeUpdate();
                    cmd.setString(1, r[0]);
                    cmd.setInt(2, Integer.parseInt(r[1]));
                    cmd.setString(3, r[5]);
                    cmd.executeUpdate();
                }
            }
            c.commit();
        }
        return db;
    }

    /**
     * The in-place migration robot servers do: read each stored row, parse its JSON, write it into the
     * new schema row by row (new tables with their indexes, WAL, one transaction per run).
     */
    private static double migrate(Path old, Path target) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        long start = System.nanoTime();
        try (Connection from = DriverManager.getConnection("jdbc:sqlite:" + old);
             Connection to = DriverManager.getConnection("jdbc:sqlite:" + target)) {
            try (Statement s = to.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=NORMAL");
                for (String ddl : (NEW_SCHEMA + ";" + NEW_INDEXES).split(";")) {
                    s.execute(ddl);
                }
            }
            to.setAutoCommit(false);
            List<String> runs = new ArrayList<>();
            try (Statement s = from.createStatement(); ResultSet rs = s.executeQuery("SELECT id FROM run ORDER BY id")) {
                while (rs.next()) {
                    runs.add(rs.getString(1));
                }
            }
            try (PreparedStatement select = from.prepareStatement("SELECT index_in_run, command FROM run_command WHERE run_id = ? ORDER BY index_in_run");
                 PreparedStatement insertRun = to.prepareStatement("INSERT INTO runs VALUES(?, ?, NULL, 'succeeded', NULL, '{}', '{}', ?)");
                 PreparedStatement insert = to.prepareStatement("INSERT INTO run_commands VALUES(?, ?, ?, ?, ?, ?)")) {
                for (String runId : runs) {
                    select.setString(1, runId);
                    int count = 0;
                    try (ResultSet rs = select.executeQuery()) {
                        while (rs.next()) {
                            JsonNode command = mapper.readTree(rs.getString(2));
                            insert.setString(1, runId);
                            insert.setInt(2, rs.getInt(1));
                            insert.setString(3, command.get("id").asText());
                            insert.setString(4, command.get("commandType").asText());
                            insert.setString(5, command.path("status").asText(null));
                            insert.setString(6, mapper.writeValueAsString(command));
                            insert.executeUpdate();
                            count++;
                        }
                    }
                    insertRun.setString(1, runId);
                    insertRun.setString(2, "2026-01-01T00:00:00Z");
                    insertRun.setInt(3, count);
                    insertRun.executeUpdate();
                    to.commit();
                }
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /**
     * {@code runledger verify --journal} over the 600k-event journal (every checksum, the SHA-256 chain),
     * against reading the same cycle files with {@code cat > /dev/null}; both from the page cache.
     */
    static List<Row> verifyJournal() throws Exception {
        System.out.println("\n== verify --journal: checksums and the hash chain over 600k events ==");
        Path journalDir = seedJournal("seed-20x10k", 20, 10_000);
        List<String> cat = new ArrayList<>(List.of("cat"));
        long fileBytes = 0;
        try (var files = Files.list(journalDir)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".cq4")).sorted()::iterator) {
                cat.add(f.toString());
                fileBytes += Files.size(f);
            }
        }
        double catSeconds = Double.MAX_VALUE;
        double verifySeconds = Double.MAX_VALUE;
        JournalAudit.Check check = null;
        try (Journal journal = Journal.openExisting(journalDir)) {
            for (int i = 0; i < 3; i++) { // the first round warms the page cache and the JIT
                long t0 = System.nanoTime();
                Process p = new ProcessBuilder(cat).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                p.waitFor();
                catSeconds = Math.min(catSeconds, (System.nanoTime() - t0) / 1e9);
                t0 = System.nanoTime();
                check = JournalAudit.verify(journal);
                verifySeconds = Math.min(verifySeconds, (System.nanoTime() - t0) / 1e9);
            }
        }
        double verifyMbs = check.bytes() / 1e6 / verifySeconds;
        double catMbs = fileBytes / 1e6 / catSeconds;
        System.out.printf(Locale.ROOT, "   verify: %,d events, %,d bytes of excerpts in %.3f s (%.0f MB/s), %s%n", check.excerpts(),
                check.bytes(), verifySeconds, verifyMbs, check.ok() ? "ok" : "DAMAGED");
        System.out.printf(Locale.ROOT, "   cat:    %,d bytes of cycle files (sparse, pre-sized) in %.3f s (%.0f MB/s)%n",
                fileBytes, catSeconds, catMbs);
        return List.of(new Row("verify --journal (checksums + SHA-256 chain), 600k events",
                Row.fmt("%.3f s, %.0f MB/s of excerpts", verifySeconds, verifyMbs),
                Row.fmt("cat of the files %.3f s (%.0f MB/s)", catSeconds, catMbs),
                Row.fmt("%.1fx cat's time", verifySeconds / catSeconds), "(measured; fast enough for every boot)", null));
    }

    /** The same rebuild of 1,000,000 commands (3,000,000 events) in a child JVM limited to -Xmx256m. */
    static List<Row> boundedMemory() throws Exception {
        System.out.println("\n== rebuild of 1,000,000 commands (3M events) under -Xmx256m ==");
        Path journalDir = seedJournal("seed-50x20k", 50, 20_000);
        Path dir = Bench.tempDir("rebuild-1m");
        try {
            List<String> jvmArgs = new ArrayList<>(List.of(Bench.jvmFlags()));
            jvmArgs.add("-Xmx256m");
            ChildProcess.Outcome child = ChildProcess.run("child", jvmArgs, MemoryChild.class, journalDir.toString(),
                    dir.resolve("runs.sqlite").toString());
            String result = child.result();
            int exit = child.exit();
            System.out.println("   " + (result == null ? "child exited " + exit + " without a result" : result));
            return List.of(new Row("rebuild 1M commands under -Xmx256m", result == null ? "FAILED (exit " + exit + ")" : result,
                    "-", "-", "completes", exit == 0 && result != null));
        } finally {
            Bench.delete(dir);
        }
    }

    /** Runs in the -Xmx256m child. */
    public static final class MemoryChild {
        public static void main(String[] args) {
            try (Journal journal = Journal.openExisting(Path.of(args[0]))) {
                Rebuild.Result r = Rebuild.rebuild(journal, Path.of(args[1]), Rebuild.Options.defaults());
                long peak = 0;
                for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
                    if (pool.getType() == java.lang.management.MemoryType.HEAP) {
                        peak += pool.getPeakUsage().getUsed();
                    }
                }
                System.out.printf(Locale.ROOT, "RESULT %,d events, %,d commands in %.2f s, peak heap %d MiB%n", r.events(),
                        r.commands(), r.elapsed().toNanos() / 1e9, peak >> 20);
            }
        }
    }
}
