package dev.runledger.bench;

import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RunEvent;
import dev.runledger.projections.Rebuild;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Benchmark data sets, built once and cached under target/bench-data (a marker file says "complete"). */
final class Datasets {
    static final int LABEL_RUNS = 500_000;
    static final int TENANTS = 10_000;        // 50 runs per tenant: a selective label
    static final String BIG_RUN = "big-run";
    static final int BIG_RUN_COMMANDS = 10_000;

    private Datasets() {
    }

    static Path base() {
        return Path.of(System.getProperty("runledger.bench.data", "target/bench-data")).toAbsolutePath();
    }

    /** 500,000 runs x 3 labels (tenant: selective, robot: 2 values, stage: 5 values) and one 10,000-command run. */
    static Path labelProjection() {
        Path dir = base().resolve("labels-500k");
        Path db = dir.resolve("runs.sqlite");
        if (Files.exists(dir.resolve("complete"))) {
            return db;
        }
        Bench.delete(dir);
        long start = System.nanoTime();
        Path journalDir = dir.resolve("journal");
        List<String> commands = Bench.realCommands();
        try (Ledger ledger = Ledger.open(journalDir)) {
            List<RunEvent> batch = new ArrayList<>(10_000);
            for (int i = 0; i < LABEL_RUNS; i++) {
                Map<String, String> labels = new LinkedHashMap<>();
                labels.put("tenant", String.format("t-%05d", i % TENANTS));
                labels.put("robot", i % 2 == 0 ? "ot-2" : "flex");
                labels.put("stage", "s" + (i % 5));
                batch.add(new RunEvent.RunCreated("run-" + i, "2026-01-01T00:00:00Z", null, labels));
                if (batch.size() == 10_000) {
                    ledger.append(batch);
                    batch.clear();
                }
            }
            batch.add(new RunEvent.RunCreated(BIG_RUN, "2026-01-01T00:00:00Z", null, Map.of("robot", "flex")));
            for (int c = 0; c < BIG_RUN_COMMANDS; c++) {
                String json = Bench.withId(commands.get(c % commands.size()), "big-" + c);
                batch.add(new RunEvent.CommandRecorded(BIG_RUN, CommandJson.parse(json)));
            }
            ledger.append(batch);
        }
        try (Journal journal = Journal.openExisting(journalDir)) {
            Rebuild.rebuild(journal, db, Rebuild.Options.defaults());
            Files.writeString(dir.resolve("complete"), "ok");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.printf("   (built the 500k-run label data set in %.1f s)%n", (System.nanoTime() - start) / 1e9);
        return db;
    }
}
