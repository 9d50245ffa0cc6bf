package dev.runledger.bench;

import dev.runledger.ledger.Journal;
import dev.runledger.projections.Rebuild;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * How a projection forgets an erased run. SQLite leaves a deleted row's bytes in free pages and in the
 * unused parts of pages that stay, unless told otherwise; the issue asks to measure the ways to make it
 * forget and choose. The same projection (a robot's 20 kept runs of 2,000 commands x 3 records, built by
 * a rebuild) loses one run four ways, each on its own copy: a plain delete (the baseline: what stays),
 * with {@code secure_delete} (the projection's choice: deleted cells are zeroed where they lie), a plain
 * delete then {@code VACUUM} (the whole file rewritten), and with {@code auto_vacuum=INCREMENTAL} and
 * {@code incremental_vacuum} (free pages returned from the end of the file). Each deletes the run's rows
 * from the three tables in one transaction and then folds the WAL into the file, as the projector does;
 * afterwards every byte of the files is searched for the run's command ids.
 */
final class ErasureHarness {
    private static final int RUNS = 20;
    private static final int COMMANDS = 2_000;
    private static final String ERASED = "run-7";
    /** In every command id of the erased run and of no other ("run-17-..." does not contain it). */
    private static final String MARKER = ERASED + "-";
    private static final int ROUNDS = 3;

    private ErasureHarness() {
    }

    private record Way(String name, String setUp, String afterDelete) {
    }

    private static final List<Way> WAYS = List.of(
            new Way("plain delete", null, null),
            new Way("secure_delete", "PRAGMA secure_delete = ON", null),
            new Way("plain delete + VACUUM", null, "VACUUM"),
            new Way("auto_vacuum=INCREMENTAL + incremental_vacuum", "PRAGMA auto_vacuum = INCREMENTAL; VACUUM",
                    "PRAGMA incremental_vacuum"));

    static List<Row> run() throws Exception {
        System.out.println("\n== erasure: forgetting one run of " + RUNS + " (" + COMMANDS + " commands x 3 records) in the"
                + " SQLite projection ==");
        Path journalDir = RebuildHarness.seedJournal("erasure-" + RUNS + "x" + COMMANDS, RUNS, COMMANDS);
        Path dir = Bench.tempDir("erasure");
        try {
            Path base = dir.resolve("base.sqlite");
            try (Journal journal = Journal.openExisting(journalDir)) {
                Rebuild.rebuild(journal, base, Rebuild.Options.defaults());
            }
            System.out.printf("   the projection: %,d KiB, %,d places holding %s's command ids%n", Files.size(base) / 1024,
                    markers(base), ERASED);
            double[][] seconds = new double[WAYS.size()][ROUNDS];
            long[] left = new long[WAYS.size()];
            long[] sizes = new long[WAYS.size()];
            for (int round = 0; round < ROUNDS; round++) {
                for (int w = 0; w < WAYS.size(); w++) {
                    Way way = WAYS.get(w);
                    Path db = dir.resolve("way-" + w + ".sqlite");
                    Files.deleteIfExists(db);
                    Files.copy(base, db);
                    Bench.settle();
                    seconds[w][round] = erase(db, way);
                    left[w] = markers(db) + markers(db.resolveSibling(db.getFileName() + "-wal"));
                    sizes[w] = Files.size(db);
                    System.out.printf("   round %d, %s: %.1f ms, %,d places left holding its command ids, file %,d KiB%n",
                            round, way.name(), seconds[w][round] * 1e3, left[w], sizes[w] / 1024);
                }
            }
            double plain = Bench.median(seconds[0]);
            List<Row> rows = new ArrayList<>();
            for (int w = 1; w < WAYS.size(); w++) {
                double took = Bench.median(seconds[w]);
                rows.add(new Row("erase a run from the projection: " + WAYS.get(w).name(),
                        Row.fmt("%.1f ms, %,d left", took * 1e3, left[w]),
                        Row.fmt("plain delete %.1f ms, %,d left", plain * 1e3, left[0]), Row.fmt("%.2fx", took / plain),
                        "nothing left", left[w] == 0));
            }
            return rows;
        } finally {
            Bench.delete(dir);
        }
    }

    /** Deletes the run's rows as the projector does, folds the WAL in, and runs the way's step after; seconds. */
    private static double erase(Path db, Way way) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            try (Statement s = c.createStatement()) {
                if (way.setUp() != null) {
                    for (String sql : way.setUp().split("; ")) {
                        s.execute(sql); // untimed: a projection would be created this way
                    }
                }
                s.execute("PRAGMA journal_mode = WAL");
            }
            long t0 = System.nanoTime();
            c.setAutoCommit(false);
            for (String sql : new String[] {"DELETE FROM run_commands WHERE run_id = ?", "DELETE FROM run_labels WHERE run_id = ?",
                    "DELETE FROM runs WHERE id = ?"}) {
                try (PreparedStatement p = c.prepareStatement(sql)) {
                    p.setString(1, ERASED);
                    p.executeUpdate();
                }
            }
            c.commit();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                if (way.afterDelete() != null) {
                    s.execute(way.afterDelete());
                    // incremental_vacuum frees one page per step of its statement, and the driver steps it once
                    // (freelist_count went from 78 to 77): it runs again until no free page is left.
                    while (way.afterDelete().contains("incremental_vacuum") && freePages(s) > 0) {
                        s.execute(way.afterDelete());
                    }
                }
                s.execute("PRAGMA wal_checkpoint(TRUNCATE)");
            }
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static long freePages(Statement s) throws Exception {
        try (java.sql.ResultSet r = s.executeQuery("PRAGMA freelist_count")) {
            return r.next() ? r.getLong(1) : 0;
        }
    }

    /** How many times the marker occurs in {@code file} (0 for a missing file). */
    private static long markers(Path file) throws Exception {
        if (!Files.exists(file)) {
            return 0;
        }
        String bytes = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1); // one char per byte
        long n = 0;
        for (int at = bytes.indexOf(MARKER); at >= 0; at = bytes.indexOf(MARKER, at + 1)) {
            n++;
        }
        return n;
    }
}
