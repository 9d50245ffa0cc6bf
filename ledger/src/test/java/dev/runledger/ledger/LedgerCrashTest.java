package dev.runledger.ledger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A child JVM appends in a loop and is killed with SIGKILL mid-stream; every acknowledged index must survive. */
class LedgerCrashTest {
    @TempDir
    Path dir;

    /** The child: appends commands forever, printing each acknowledged index before the next append. */
    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try (Ledger ledger = Ledger.open(Path.of(args[0]))) {
            ledger.append(TestEvents.created("crash-run"));
            for (int i = 0; ; i++) {
                String id = "c-" + i;
                long index = ledger.append(TestEvents.command("crash-run", id, "queued"));
                out.println(index + " " + id);
                if (i % 64 == 0) {
                    out.flush();
                }
            }
        }
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldKeepEveryAcknowledgedAppendAfterKill9() throws Exception {
        Path journal = dir.resolve("journal");
        Process child = ChildJvm.start(LedgerCrashTest.class, dir.resolve("child.log"), journal.toString());
        Map<Long, String> acknowledged = new LinkedHashMap<>();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (acknowledged.size() < 20_000 && (line = lines.readLine()) != null) {
                String[] parts = line.split(" ");
                acknowledged.put(Long.parseLong(parts[0]), parts[1]);
            }
            ChildJvm.kill9(child);
        }
        assertThat(acknowledged).as("child output; see %s", Files.exists(dir.resolve("child.log"))).hasSize(20_000);

        try (Ledger ledger = Ledger.open(journal)) {
            try (JournalReader reader = ledger.journal().readFrom(Journal.NONE)) {
                Map<Long, String> found = new LinkedHashMap<>();
                JournalEntry entry;
                while ((entry = reader.next()) != null) {
                    assertThat(entry).isInstanceOf(JournalEntry.Event.class);
                    RunEvent event = ((JournalEntry.Event) entry).event();
                    if (event instanceof RunEvent.CommandRecorded c) {
                        assertThat(c.command().json()).isEqualTo(
                                TestEvents.command("crash-run", c.command().id(), "queued").command().json());
                        found.put(entry.index(), c.command().id());
                    }
                }
                assertThat(found).containsAllEntriesOf(acknowledged);
            }
            long next = ledger.append(TestEvents.command("crash-run", "after-crash", "queued"));
            assertThat(next).isEqualTo(ledger.journal().headIndex());
            assertThat(ledger.phaseOf("crash-run")).isEqualTo(RunLifecycle.Phase.LIVE);
        }
    }
}
