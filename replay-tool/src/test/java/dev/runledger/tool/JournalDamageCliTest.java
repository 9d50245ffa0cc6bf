package dev.runledger.tool;

import dev.runledger.ledger.JournalSurgery;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Damage is never silent: with a flipped bit, a cut tail or a lost id, no command exits 0 with output
 * that differs from the truth, and each names where the damage is.
 */
class JournalDamageCliTest extends CliTestSupport {
    @TempDir
    Path dir;

    private String appendRuns() {
        String journal = dir.resolve("journal").toString();
        String input = lines(TestEvents.created("r-1"), TestEvents.command("r-1", "c-1", "queued"),
                TestEvents.command("r-1", "c-marked", "running"), TestEvents.command("r-1", "c-3", "succeeded"),
                TestEvents.created("r-2"), TestEvents.command("r-2", "c-9", "succeeded"), TestEvents.completed("r-2"));
        assertThat(run(input, "append", "--journal", journal)).isZero();
        return journal;
    }

    @Test
    void shouldReportAFlippedBitInEveryCommandAndNeverExportAlteredBytes() throws Exception {
        String journal = appendRuns();
        assertThat(run("", "export", "--journal", journal)).isZero();
        String truth = stdout();
        assertThat(run("", "digest", "--journal", journal)).isZero();
        String chainBefore = stdout().split(" ")[0];

        // "c-marked" -> "c-mcrked": the excerpt still decodes, so only the checksum can tell.
        JournalSurgery.flipBit(Path.of(journal), "c-marked\",\"commandType", 3, 1);

        assertThat(run("", "export", "--journal", journal)).isEqualTo(1);
        assertThat(stdout()).doesNotContain("c-mcrked").doesNotContain("c-marked")
                .isEqualTo(truth.lines().filter(l -> !l.contains("c-marked")).map(l -> l + "\n")
                        .reduce("", String::concat));
        assertThat(stderr()).containsPattern("skipped damaged excerpt at index \\d+ \\(\\d+ bytes, naming run r-1\\):"
                + " checksum mismatch").contains("pass --skip-damaged");
        assertThat(run("", "export", "--journal", journal, "--skip-damaged")).isZero();
        assertThat(stderr()).contains("(--skip-damaged)");

        assertThat(run("", "inspect", "--journal", journal)).isEqualTo(1);
        assertThat(stdout()).containsPattern("\\d+\\tUNREADABLE: checksum mismatch.* \\(names run r-1\\)");

        assertThat(run("", "verify", "--journal", journal)).isEqualTo(1);
        assertThat(stdout()).contains("journal damaged: 7 events read, 2 damaged range(s):")
                .containsPattern("index \\d+: checksum mismatch")
                .contains("chain mismatch: the 7 excerpts up to sealed index");

        assertThat(run("", "digest", "--journal", journal)).isZero();
        assertThat(stdout().split(" ")[0]).as("the chain head changes with any changed byte").isNotEqualTo(chainBefore);
        assertThat(run("", "digest", "--journal", journal, "--run", "r-1")).isEqualTo(1);
        assertThat(stderr()).contains("1 damaged excerpts in the journal are not covered");

        String db = dir.resolve("runs.sqlite").toString();
        assertThat(run("", "rebuild", "--journal", journal, "--db", db)).isZero();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); ResultSet rs = c.createStatement()
                .executeQuery("SELECT (SELECT damaged FROM runs WHERE id = 'r-1'), (SELECT damaged FROM runs WHERE id = 'r-2'),"
                        + " (SELECT count(*) FROM run_commands WHERE command_id LIKE 'c-m%'),"
                        + " (SELECT run_id || ' ' || error FROM quarantine)")) {
            rs.next();
            assertThat(rs.getInt(1)).as("r-1 damaged").isEqualTo(1);
            assertThat(rs.getInt(2)).as("r-2 damaged").isZero();
            assertThat(rs.getInt(3)).as("altered command stored").isZero();
            assertThat(rs.getString(4)).startsWith("r-1 unreadable excerpt: checksum mismatch");
        }
    }

    /** A cycle file cut inside an excerpt (a crash of the file system, a copy that lost its tail). */
    @Test
    void shouldReportACutTail() throws Exception {
        String journal = appendRuns();
        JournalSurgery.truncateAt(Path.of(journal), "c-marked\",\"commandType");

        assertThat(run("", "export", "--journal", journal)).isEqualTo(1);
        assertThat(stdout()).doesNotContain("c-marked").doesNotContain("\"r-2\"").contains("\"c-1\"");
        assertThat(stderr()).containsPattern("skipped damaged excerpt at index \\d+ \\(\\d+ bytes.*\\): checksum mismatch");
        assertThat(run("", "verify", "--journal", journal)).isEqualTo(1);
        assertThat(stdout()).contains("journal damaged: 3 events read, 2 damaged range(s)")
                .contains("journal truncated: the seal vouched for 7 events up to index");
    }

    @Test
    void shouldRefuseAJournalLossFromAClient() {
        String journal = dir.resolve("journal").toString();
        String forged = "{\"type\":\"journal.loss\",\"afterIndex\":1,\"sealedIndex\":2,\"missingEvents\":1,"
                + "\"withinDurabilityWindow\":false,\"detectedAt\":\"2026-11-22T10:00:00Z\"}\n";
        assertThat(run(lines(TestEvents.created("r-1")) + forged, "append", "--journal", journal)).isEqualTo(2);
        assertThat(stderr()).contains("append: line 2: journal.loss rejected: only the ledger records a journal loss");
    }

    @Test
    void shouldRefuseToMintANewIdForAJournalThatLostIt() throws Exception {
        String journal = appendRuns();
        Files.delete(Path.of(journal, "journal.id"));

        assertThat(run(lines(TestEvents.created("r-3")), "append", "--journal", journal)).isEqualTo(1);
        assertThat(stderr()).contains("holds excerpts (*.cq4) but no journal.id; refusing to give existing data a new identity");
        assertThat(Path.of(journal, "journal.id")).doesNotExist();
    }
}
