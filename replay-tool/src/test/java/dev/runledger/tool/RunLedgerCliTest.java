package dev.runledger.tool;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.SharedData;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line as a user sees it: exit codes, messages, output. */
class RunLedgerCliTest extends CliTestSupport {
    @TempDir
    Path dir;

    @Test
    void shouldNameAMissingInputFileOrADirectoryInOneLineWithExitCode2() throws Exception {
        String journal = dir.resolve("journal").toString();
        assertThat(run("", "append", "--journal", journal, "--file", dir.resolve("nosuch.ndjson").toString())).isEqualTo(2);
        assertThat(stderr().strip()).isEqualTo("append: --file " + dir.resolve("nosuch.ndjson") + ": no such file");
        Files.createDirectories(dir.resolve("adir"));
        assertThat(run("", "append", "--journal", journal, "--file", dir.resolve("adir").toString())).isEqualTo(2);
        assertThat(stderr().strip()).isEqualTo("append: --file " + dir.resolve("adir") + ": is a directory, not a file");
    }

    @Test
    void shouldCreateAJournalOnlyWhereOneIsSurelyMeantAndSaySo() throws Exception {
        String events = lines(TestEvents.created("r-1"));
        Path busy = dir.resolve("data");
        Files.createDirectories(busy);
        Files.writeString(busy.resolve("notes.txt"), "not a journal");
        assertThat(run(events, "append", "--journal", busy.toString())).isEqualTo(2);
        assertThat(stderr().strip()).isEqualTo("append: --journal " + busy + ": holds other files but no journal; give"
                + " --create to start a new journal there");
        assertThat(busy.resolve("journal.id")).doesNotExist();
        assertThat(run(events, "append", "--journal", busy.toString(), "--create")).isZero();
        assertThat(stderr()).contains("append: creating a new journal in " + busy);
        assertThat(run(events.replace("r-1", "r-2"), "append", "--journal", busy.toString())).as("it is a journal now").isZero();
        assertThat(stderr()).doesNotContain("creating");
        assertThat(run(events, "append", "--journal", dir.resolve("fresh").toString())).isZero();
        assertThat(stderr()).contains("append: creating a new journal in " + dir.resolve("fresh"));
    }

    @Test
    void shouldListRunsInJournalOrderOrByCreatedAtWhenAsked() {
        String journal = dir.resolve("journal").toString();
        String db = dir.resolve("runs.sqlite").toString();
        // An engine whose clock was off: the last run appended claims the earliest createdAt.
        String events = lines(new RunEvent.RunCreated("early", "2026-11-22T09:00:00Z", null, java.util.Map.of()),
                new RunEvent.RunCreated("late", "2026-11-22T11:00:00Z", null, java.util.Map.of()),
                new RunEvent.RunCreated("skewed", "2026-11-22T08:00:00Z", null, java.util.Map.of()));
        assertThat(run(events, "append", "--journal", journal)).isZero();
        assertThat(run("", "project", "--journal", journal, "--db", db)).isZero();
        assertThat(run("", "query", "runs", "--db", db)).isZero();
        assertThat(ids(stdout())).containsExactly("skewed", "late", "early");
        assertThat(run("", "query", "runs", "--db", db, "--order", "created", "--page-length", "2")).isZero();
        assertThat(ids(stdout())).containsExactly("late", "early");
        String cursor = stdout().substring(stdout().indexOf("--cursor ") + 9).strip();
        assertThat(run("", "query", "runs", "--db", db, "--order", "created", "--cursor", cursor)).isZero();
        assertThat(ids(stdout())).containsExactly("skewed");
        assertThat(run("", "query", "runs", "--db", db, "--cursor", cursor)).as("a cursor of the other order").isEqualTo(2);
        assertThat(stderr()).contains("cursor must be a value returned as nextCursor (of a query in the same order)");
        assertThat(run("", "query", "runs", "--db", db, "--order", "newest")).isEqualTo(2);
        assertThat(stderr()).contains("order must be appended (journal order) or created (createdAt) but was \"newest\"");
    }

    private static List<String> ids(String listing) {
        return listing.lines().filter(l -> !l.startsWith("next page") && !l.startsWith("total"))
                .map(l -> l.split("\\s+")[0]).toList();
    }

    @Test
    void shouldTakeADateForATimeOptionAndRefuseAWordPlainly() {
        String journal = dir.resolve("journal").toString();
        String db = dir.resolve("runs.sqlite").toString();
        assertThat(run(lines(TestEvents.created("r-1")), "append", "--journal", journal)).isZero();
        assertThat(run("", "project", "--journal", journal, "--db", db)).isZero();
        assertThat(run("", "query", "runs", "--db", db, "--created-from", "2026-11-22", "--total")).as(stderr()).isZero();
        assertThat(stdout()).contains("r-1", "total: 1");
        assertThat(run("", "query", "runs", "--db", db, "--created-from", "2026-11-23")).isZero();
        assertThat(stdout()).doesNotContain("r-1"); // TestEvents creates runs at 2026-11-22T10:00:00Z
        assertThat(run("", "query", "runs", "--db", db, "--created-from", "yesterday")).isEqualTo(2);
        assertThat(stderr()).contains("'yesterday' is not a time: give a date (2026-11-22").doesNotContain("java.time");
        assertThat(run("", "query", "runs", "--db", db, "--label", "my key=x")).isEqualTo(2);
        assertThat(stderr()).contains("query: label key \"my key\" has a character outside [A-Za-z0-9._/-] at position 2");
    }

    @Test
    void shouldSummarizeEveryCommandInAWholeSentenceAndDescribeEveryOption() {
        java.util.List<String> problems = new java.util.ArrayList<>();
        java.util.Deque<picocli.CommandLine> todo = new java.util.ArrayDeque<>(java.util.List.of(RunLedger.commandLine()));
        while (!todo.isEmpty()) {
            picocli.CommandLine c = todo.pop();
            todo.addAll(c.getSubcommands().values());
            String[] description = c.getCommandSpec().usageMessage().description();
            if (description.length == 0 || !description[0].strip().endsWith(".")) {
                problems.add(c.getCommandSpec().qualifiedName() + ": summary line \""
                        + (description.length == 0 ? "" : description[0]) + "\" is not a whole sentence");
            }
            // picocli starts each element on a line of its own: one cut mid-sentence prints a ragged paragraph.
            for (String line : description) {
                if (!line.strip().replaceFirst("(%n)+$", "").endsWith(".")) {
                    problems.add(c.getCommandSpec().qualifiedName() + ": description line \"" + line + "\" stops mid-sentence");
                }
            }
            // A stray % in a description is a format error picocli only warns about, printing the text raw.
            java.io.PrintStream err = System.err;
            java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
            System.setErr(new java.io.PrintStream(warnings, true, java.nio.charset.StandardCharsets.UTF_8));
            try {
                c.getUsageMessage();
            } finally {
                System.setErr(err);
            }
            if (warnings.size() > 0) {
                problems.add(c.getCommandSpec().qualifiedName() + ": rendering --help warns: " + warnings);
            }
            for (picocli.CommandLine.Model.OptionSpec o : c.getCommandSpec().options()) {
                if (o.description().length == 0 || o.description()[0].isBlank()) {
                    problems.add(c.getCommandSpec().qualifiedName() + " " + o.longestName() + ": no description");
                }
                boolean flag = o.type() == boolean.class || o.type() == Boolean.class;
                if (o.defaultValue() != null && !flag && !String.join(" ", o.description()).toLowerCase(java.util.Locale.ROOT)
                        .contains("default")) {
                    problems.add(c.getCommandSpec().qualifiedName() + " " + o.longestName() + ": its default ("
                            + o.defaultValue() + ") is not shown");
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void shouldPrintTheVersionTheBuildMade() {
        String built = System.getProperty("runledger.build.version");
        assertThat(built).as("surefire passes the POM's version").isNotBlank();
        assertThat(run("", "--version")).isZero();
        assertThat(stdout().strip()).isEqualTo("runledger " + built);
    }

    @Test
    void shouldRetainTheNewestRunsListingThemFirstInADryRun() {
        String journal = dir.resolve("journal").toString();
        StringBuilder in = new StringBuilder();
        in.append(lines(TestEvents.created("cal", java.util.Map.of("kind", "calibration")), TestEvents.completed("cal")));
        for (int i = 0; i < 4; i++) {
            in.append(lines(TestEvents.created("r-" + i), TestEvents.completed("r-" + i)));
        }
        in.append(lines(TestEvents.created("active")));
        assertThat(run(in.toString(), "append", "--journal", journal)).isZero();

        assertThat(run("", "retain", "--journal", journal, "--keep-runs", "1", "--pin", "kind=calibration", "--dry-run",
                "--json")).isZero();
        assertThat(stdout().trim()).isEqualTo("{\"policy\":\"keep the newest 1 completed runs, and forever those labelled"
                + " [kind=calibration]\",\"dryRun\":true,\"deleted\":[\"r-0\",\"r-1\",\"r-2\"]}");
        assertThat(run("", "export", "--journal", journal)).isZero();
        assertThat(stdout()).as("a dry run appends nothing").doesNotContain("run.deleted");

        assertThat(run("", "retain", "--journal", journal, "--keep-runs", "1", "--pin", "kind=calibration")).isZero();
        assertThat(stdout()).isEqualTo("r-0\nr-1\nr-2\n");
        assertThat(stderr()).contains("retain: deleted 3 run(s)");
        assertThat(run("", "export", "--journal", journal)).isZero();
        assertThat(stdout()).contains("{\"type\":\"run.deleted\",\"runId\":\"r-0\",\"reason\":\"retention\"}")
                .doesNotContain("\"runId\":\"r-3\",\"reason\"").doesNotContain("\"runId\":\"cal\",\"reason\"");

        assertThat(run("", "retain", "--journal", journal, "--pin", "kind=calibration")).isEqualTo(2);
        assertThat(stderr()).contains("--pin goes with --keep-runs or --keep-days");
    }

    @Test
    void shouldNameTheOptionAndTheValueOfASizeItCannotRead() {
        String journal = dir.resolve("journal").toString();
        String db = dir.resolve("runs.sqlite").toString();
        for (String size : new String[] {"12XB", "-5MiB", "lots", "99999999999TiB"}) {
            assertThat(run("", "serve", "--journal", journal, "--db", db, "--port", "0", "--compact-when-size", size))
                    .as(size).isEqualTo(2);
            assertThat(stderr()).contains("--compact-when-size").contains("'" + size + "'").doesNotContain("Exception");
        }
        assertThat(dir.resolve("journal")).as("nothing was started, nothing created").doesNotExist();
    }

    @Test
    void shouldEraseARunFromTheJournalAndItsProjectionLeavingNoByteOfIt() throws Exception {
        Path data = dir.resolve("data");
        String journal = data.resolve("journal").toString();
        String db = data.resolve("runs.sqlite").toString();
        String marker = "MARKER-" + java.util.UUID.randomUUID();
        StringBuilder in = new StringBuilder(lines(TestEvents.created("keep"), TestEvents.created("secret",
                java.util.Map.of("owner", marker))));
        for (int i = 0; i < 50; i++) {
            in.append(lines(new dev.runledger.ledger.RunEvent.CommandRecorded("secret", TestEvents.commandJson("c-" + i,
                    "aspirate", "succeeded").replace("\"notes\":[]", "\"notes\":[\"" + marker + "\"]"))));
        }
        assertThat(run(in.toString(), "append", "--journal", journal)).isZero();
        assertThat(run("", "project", "--journal", journal, "--db", db)).isZero();
        assertThat(bytesOf(data, marker)).isPositive();

        assertThat(run("", "erase", "--journal", journal, "--run", "secret", "--db", db)).as(stderr()).isZero();

        assertThat(stdout()).contains("erase: no event of run secret is left");
        assertThat(bytesOf(data, marker)).as("the marker anywhere under the data directory").isZero();
        assertThat(run("", "query", "runs", "--db", db)).isZero();
        assertThat(stdout()).contains("keep").doesNotContain("secret");
        assertThat(run("", "verify", "--journal", journal, "--db", db)).as(stdout() + stderr()).isZero();
        assertThat(run("", "compact", "--journal", journal, "--json")).isZero();
        assertThat(stdout()).contains("\"droppedRuns\":0").contains("{\"step\":\"finding deleted runs\",\"millis\":")
                .contains("{\"step\":\"old files deleted\",\"millis\":");
        String lineage = dev.runledger.ledger.JournalCompaction.lastCompaction(Path.of(journal));
        assertThat(lineage).startsWith("{\"compactedAt\":\"").contains("\"droppedRuns\":0").contains("\"journalId\":\"");
    }

    private static int bytesOf(Path root, String marker) throws java.io.IOException {
        int n = 0;
        try (var files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                for (int at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) {
                    n++;
                }
            }
        }
        return n;
    }

    @Test
    void shouldAppendThenExportTheSameBytes() {
        String input = lines(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"),
                "{\"type\":\"run.summary\",\"runId\":\"r-1\",\"summary\":{\"a\":1.0e-7,\"b\":null}}",
                TestEvents.completed("r-1"));
        String journal = dir.resolve("journal").toString();

        assertThat(run(input, "append", "--journal", journal)).isZero();
        assertThat(stdout().trim()).matches("\\d+");
        assertThat(run("", "export", "--journal", journal)).isZero();
        assertThat(stdout()).isEqualTo(input);
    }

    @Test
    void shouldRejectABadLineNamingItAndAppendNothing() {
        String journal = dir.resolve("journal").toString();
        run(lines(TestEvents.created("r-0")), "append", "--journal", journal);
        String input = lines(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"))
                + "{\"type\":\"labels.changed\",\"runId\":\"r-1\",\"set\":{\"my key\":\"v\"}}\n";

        assertThat(run(input, "append", "--journal", journal)).isEqualTo(2);
        assertThat(stderr()).contains("append: line 3: labels.changed: label key \"my key\" has a character outside [A-Za-z0-9._/-]");
        assertThat(exportedLines(journal)).isEqualTo(1);
    }

    @Test
    void shouldRejectAStateViolationNamingTheLineAndAppendNothing() {
        String journal = dir.resolve("journal").toString();
        String input = lines(TestEvents.created("r-1"), TestEvents.completed("r-1"), TestEvents.command("r-1", "c-1", "queued"));

        assertThat(run(input, "append", "--journal", journal)).isEqualTo(2);
        assertThat(stderr()).contains("append: line 3: command.recorded rejected: run \"r-1\" is already completed")
                .contains("(nothing was appended)");
        assertThat(run("", "inspect", "--journal", journal)).isZero();
        assertThat(stdout()).contains(" events 0");
    }

    @Test
    void shouldInspectEventsWithTheirIndexFilteredByRun() {
        String journal = dir.resolve("journal").toString();
        run(lines(TestEvents.created("r-1"), TestEvents.created("r-2"), TestEvents.command("r-2", "c-1", "queued")),
                "append", "--journal", journal);

        assertThat(run("", "inspect", "--journal", journal, "--run", "r-2", "--limit", "1")).isZero();
        assertThat(stdout().lines().skip(1).toList()).singleElement().asString()
                .matches("\\d+\\t\\{\"type\":\"run.created\",\"runId\":\"r-2\".*");
    }

    @Test
    void shouldProjectQueryRebuildAndVerify() throws Exception {
        String journal = dir.resolve("journal").toString();
        String db = dir.resolve("runs.sqlite").toString();
        run(lines(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"), TestEvents.created("r-2")),
                "append", "--journal", journal);

        assertThat(run("", "project", "--journal", journal, "--db", db)).as(stderr()).isZero();
        assertThat(run("", "query", "runs", "--db", db, "--label", "tenant=acme", "--json")).isZero();
        assertThat(stdout()).startsWith("{\"data\":[{\"id\":\"r-2\"").contains("{\"id\":\"r-1\"");
        assertThat(run("", "query", "runs", "--db", db, "--created-before", "2026-11-22T09:00:00Z", "--json")).isZero();
        assertThat(stdout()).startsWith("{\"data\":[]");
        assertThat(run("", "query", "runs", "--db", db, "--created-from", "yesterday")).isEqualTo(2);
        assertThat(run("", "query", "commands", "--db", db, "--run", "r-1", "--json")).isZero();
        assertThat(stdout()).startsWith("{\"data\":[" + TestEvents.commandJson("c-1", "aspirate", "queued") + "]")
                .contains("\"meta\":{\"cursor\":0,\"totalLength\":1}");
        assertThat(run("", "rebuild", "--journal", journal, "--db", db, "--json")).isZero();
        assertThat(stdout()).contains("\"events\":3,\"runs\":2,\"commands\":1,\"quarantined\":0");
        assertThat(run("", "verify", "--journal", journal, "--db", db)).isZero();
        assertThat(stdout()).startsWith("verified");

        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            c.createStatement().executeUpdate("UPDATE runs SET status = 'succeeded' WHERE id = 'r-1'");
        }
        assertThat(run("", "verify", "--journal", journal, "--db", db)).isEqualTo(1);
        assertThat(stdout()).contains("runs: run r-1 differs in status (projection succeeded, replay running)");
    }

    @Test
    void shouldAnswerBadUsageWithExitCodeTwo() {
        assertThat(run("", "append")).isEqualTo(2);
        assertThat(stderr()).contains("Missing required option: '--journal=DIR'");
        assertThat(run("", "export", "--journal", dir.resolve("nothing").toString())).isEqualTo(2);
        assertThat(stderr()).contains("no journal at");
        assertThat(run("", "query", "runs", "--db", dir.resolve("none.sqlite").toString())).isEqualTo(2);
        assertThat(stderr()).contains("no projection at");
    }

    @Test
    void shouldImportAndExportTheRealOpentronsEventsByteForByte() throws Exception {
        byte[] original;
        try (InputStream in = SharedData.events()) {
            original = in.readAllBytes();
        }
        Path file = dir.resolve("events.ndjson");
        Files.write(file, original);
        String journal = dir.resolve("journal").toString();

        assertThat(run("", "append", "--journal", journal, "--file", file.toString())).as(stderr()).isZero();
        assertThat(run("", "export", "--journal", journal)).isZero();
        assertThat(out.toByteArray()).isEqualTo(original);
    }

    @Test
    void shouldRunTheDemo() throws Exception {
        assertThat(run("", "demo", "--data", dir.resolve("data").toString(), "--runs", "6", "--commands", "40")).as(stderr()).isZero();
        assertThat(stdout()).contains("runs with label tenant=acme").contains("verify: equal to a fresh replay");
        try (Journal journal = Journal.openExisting(dir.resolve("data/journal"))) {
            assertThat(journal.countBetween(Journal.NONE, journal.headIndex())).isGreaterThan(6 * 40);
        }
    }

    private int exportedLines(String journal) {
        run("", "export", "--journal", journal);
        return (int) stdout().lines().count();
    }

    @Test
    void shouldRefuseAMissingTokenFileAndTwoTokenSources() throws Exception {
        String journal = dir.resolve("journal").toString();
        String db = dir.resolve("runs.sqlite").toString();
        assertThat(run("", "serve", "--journal", journal, "--db", db, "--token-file", dir.resolve("nope").toString())).isEqualTo(2);
        assertThat(stderr()).contains("--token-file " + dir.resolve("nope") + ": no such file");
        java.nio.file.Files.writeString(dir.resolve("token"), "a-token-from-somewhere-safe");
        assertThat(run("", "serve", "--journal", journal, "--db", db, "--token-file", dir.resolve("token").toString(),
                "--token", "another-token-0123456789")).isEqualTo(2);
        assertThat(stderr()).contains("give the token one way");
    }
}
