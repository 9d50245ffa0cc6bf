package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.NdjsonReader;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.SharedData;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Damages copies of a journal built from real Opentrons events (cut at random offsets; 1, 10 and 100
 * random bit flips, 20 seeds each) and runs every reading command on each. For each one: no exit 0 with
 * output that differs from the truth; what is output is the truth or a part of it, never altered bytes;
 * the journal check finds what export misses; every command ends within a bound. The figures go to
 * {@code target/corruption-suite.md} (and the README). {@code -Drunledger.corruption.seeds=N} runs more.
 */
class CorruptionSuiteTest extends CliTestSupport {
    private static final int EVENTS = 3_000;
    private static final int SEEDS = Integer.getInteger("runledger.corruption.seeds", 20);
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    static Path base;
    private static Path pristine;
    private static List<String> truth;
    private static Set<String> truthCommands;
    private static long dataExtent;
    private static final Map<String, int[]> FIGURES = new LinkedHashMap<>();
    private static long slowestMillis;

    @BeforeAll
    static void buildPristineJournal() throws IOException {
        pristine = base.resolve("pristine");
        List<String> lines = events();
        Path input = base.resolve("events.ndjson");
        Files.write(input, lines, StandardCharsets.UTF_8);
        assertThat(RunLedger.execute("append", "--journal", pristine.toString(), "--file", input.toString())).isZero();
        truth = List.copyOf(lines);
        truthCommands = new HashSet<>();
        for (String line : lines) {
            RunEvent e = dev.runledger.ledger.NdjsonCodec.decode(line);
            if (e instanceof RunEvent.CommandRecorded c) {
                truthCommands.add(c.command().json().text());
            }
        }
        dataExtent = dataExtent(cycleFile(pristine));
    }

    /** The first events of the real sample (re-encoded as export writes them), or generated ones without it. */
    private static List<String> events() throws IOException {
        List<String> lines = new ArrayList<>();
        if (Files.isRegularFile(SharedData.directory().resolve("opentrons-sample.events.ndjson.gz"))) {
            try (InputStream in = SharedData.events()) {
                NdjsonReader reader = new NdjsonReader(in);
                RunEvent e;
                while (lines.size() < EVENTS && (e = reader.next()) != null) {
                    lines.add(dev.runledger.ledger.NdjsonCodec.encodeToString(e));
                }
            }
            return lines;
        }
        for (int r = 0; lines.size() < EVENTS; r++) {
            lines.add(dev.runledger.ledger.NdjsonCodec.encodeToString(TestEvents.created("run-" + r)));
            for (int c = 0; c < 99; c++) {
                lines.add(dev.runledger.ledger.NdjsonCodec.encodeToString(TestEvents.command("run-" + r, "c-" + c, "queued")));
            }
        }
        return lines.subList(0, EVENTS);
    }

    @AfterAll
    static void writeFigures() throws IOException {
        StringBuilder table = new StringBuilder("| damage | trials | export exit 0 (output = truth) | export exit 1 (output a"
                + " part of the truth) | verify --journal found damage | inspect exit 1 | runs flagged damaged by rebuild |\n"
                + "|---|---|---|---|---|---|---|\n");
        FIGURES.forEach((kind, f) -> table.append("| ").append(kind).append(" | ").append(f[0]).append(" | ").append(f[1])
                .append(" | ").append(f[2]).append(" | ").append(f[3]).append(" | ").append(f[4]).append(" | ").append(f[5])
                .append(" |\n"));
        table.append("\nslowest trial (export, inspect, verify, rebuild, digest): ").append(slowestMillis).append(" ms; ")
                .append(EVENTS).append(" events, ").append(dataExtent).append(" bytes of cycle file\n");
        Path out = Path.of("target", "corruption-suite.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, table);
        System.out.println(table);
    }

    /** The control: an undamaged copy (made the way every trial's is) reads whole, and every command says so. */
    @Test
    void shouldReadAnUndamagedCopyWhole() throws Exception {
        Path journal = copy("control");
        assertThat(run("", "export", "--journal", journal.toString())).as(stderr()).isZero();
        assertThat(stdout().lines().toList()).isEqualTo(truth);
        assertThat(run("", "verify", "--journal", journal.toString())).isZero();
        assertThat(stdout()).startsWith("journal ok: " + String.format("%,d", EVENTS) + " events");
        assertThat(run("", "inspect", "--journal", journal.toString())).isZero();
        deleteTree(journal);
    }

    @Test
    void shouldNeverExportAlteredBytesFromACutJournal() throws Exception {
        Random random = new Random(20261122);
        for (int trial = 0; trial < SEEDS; trial++) {
            Path journal = copy("cut-" + trial);
            long cut = 64 * 1024 + (long) (random.nextDouble() * (dataExtent - 64 * 1024));
            try (RandomAccessFile f = new RandomAccessFile(cycleFile(journal).toFile(), "rw")) {
                f.setLength(cut);
            }
            check("cut at a random offset", journal, "cut at byte " + cut);
        }
    }

    @Test
    void shouldNeverExportAlteredBytesAfterOneBitFlip() throws Exception {
        flips(1);
    }

    @Test
    void shouldNeverExportAlteredBytesAfterTenBitFlips() throws Exception {
        flips(10);
    }

    @Test
    void shouldNeverExportAlteredBytesAfterAHundredBitFlips() throws Exception {
        flips(100);
    }

    private void flips(int count) throws Exception {
        for (int seed = 0; seed < SEEDS; seed++) {
            Random random = new Random(seed * 1_000L + count);
            Path journal = copy("flip-" + count + "-" + seed);
            try (RandomAccessFile f = new RandomAccessFile(cycleFile(journal).toFile(), "rw")) {
                for (int i = 0; i < count; i++) {
                    long at = (long) (random.nextDouble() * dataExtent);
                    f.seek(at);
                    int b = f.read();
                    f.seek(at);
                    f.write(b ^ (1 << random.nextInt(8)));
                }
            }
            check(count == 1 ? "1 bit flipped" : count + " bits flipped", journal, "seed " + seed);
        }
    }

    private void check(String kind, Path journal, String trial) throws Exception {
        int[] f = FIGURES.computeIfAbsent(kind, k -> new int[6]);
        f[0]++;
        long start = System.nanoTime();
        String where = kind + ", " + trial + ": ";

        int export = bounded(() -> run("", "export", "--journal", journal.toString()));
        List<String> exported = stdout().lines().toList();
        if (export == 0) {
            f[1]++;
            assertThat(exported).as(where + "export exit 0 must mean the whole truth").isEqualTo(truth);
        } else {
            f[2]++;
            assertThat(truth).as(where + "export must write only true lines, in order").containsSubsequence(exported);
            assertThat(stderr()).as(where + "export says why it failed").isNotBlank();
        }
        boolean intact = export == 0;

        int verify = bounded(() -> run("", "verify", "--journal", journal.toString()));
        if (verify != 0) {
            f[3]++;
        }
        assertThat(verify == 0 || !stdout().contains("journal ok")).isTrue();
        if (!intact) {
            assertThat(verify).as(where + "verify --journal must not pass what export could not read").isEqualTo(1);
        }

        int inspect = bounded(() -> run("", "inspect", "--journal", journal.toString()));
        if (inspect != 0) {
            f[4]++;
        }
        if (inspect == 0) {
            assertThat(stdout()).as(where + "inspect exit 0 lists nothing unreadable").doesNotContain("UNREADABLE");
        }

        Path db = journal.resolveSibling(journal.getFileName() + ".sqlite");
        int rebuild = bounded(() -> run("", "rebuild", "--journal", journal.toString(), "--db", db.toString()));
        if (rebuild == 0) {
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                 ResultSet rs = c.createStatement().executeQuery("SELECT command FROM run_commands")) {
                while (rs.next()) {
                    assertThat(truthCommands).as(where + "a stored command is one that was appended").contains(rs.getString(1));
                }
            }
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                 ResultSet rs = c.createStatement().executeQuery("SELECT (SELECT count(*) FROM runs WHERE damaged = 1),"
                         + " (SELECT count(*) FROM quarantine)")) {
                rs.next();
                if (rs.getInt(1) > 0) {
                    f[5]++;
                }
                if (intact) {
                    assertThat(rs.getInt(2)).as(where + "nothing quarantined from an intact read").isZero();
                }
            }
        }
        int digest = bounded(() -> run("", "digest", "--journal", journal.toString()));
        assertThat(digest).isBetween(0, 1);
        slowestMillis = Math.max(slowestMillis, (System.nanoTime() - start) / 1_000_000);
        deleteTree(journal);
        Files.deleteIfExists(db);
    }

    private static int bounded(java.util.concurrent.Callable<Integer> command) {
        return assertTimeoutPreemptively(BOUND, command::call, "a command ran past " + BOUND);
    }

    /** A copy of the pristine journal: the cycle file only up to its data (Chronicle extends it on open). */
    private static Path copy(String name) throws IOException {
        Path target = base.resolve(name);
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(pristine)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (f.getFileName().toString().endsWith(".cq4")) {
                    try (RandomAccessFile in = new RandomAccessFile(f.toFile(), "r");
                         RandomAccessFile out = new RandomAccessFile(target.resolve(f.getFileName()).toFile(), "rw")) {
                        byte[] buf = new byte[(int) dataExtent];
                        in.readFully(buf);
                        out.write(buf);
                    }
                } else if (!f.getFileName().toString().equals("ledger.lock")) {
                    Files.copy(f, target.resolve(f.getFileName()));
                }
            }
        }
        return target;
    }

    private static Path cycleFile(Path journal) throws IOException {
        try (Stream<Path> files = Files.list(journal)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".cq4")).findFirst().orElseThrow();
        }
    }

    /** One past the last non-zero byte: where excerpts end in the sparse, pre-sized cycle file. */
    private static long dataExtent(Path cycle) throws IOException {
        byte[] all = Files.readAllBytes(cycle);
        int end = all.length;
        while (end > 0 && all[end - 1] == 0) {
            end--;
        }
        return end + 8;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
