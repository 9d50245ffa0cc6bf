package dev.runledger.tool;

import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.ledger.RunEvent;
import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.Rebuild;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQuery;
import dev.runledger.projections.RunView;
import dev.runledger.projections.Verification;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** engine -> journal -> projector -> queries -> upgrade by replay, printing what happens at each step. */
final class DemoJob {
    private final Path data;
    private final int runs;
    private final int commands;
    private final int engines;
    private final PrintStream out;

    DemoJob(Path data, int runs, int commands, int engines, PrintStream out) {
        this.data = data;
        this.runs = runs;
        this.commands = commands;
        this.engines = engines;
        this.out = out;
    }

    boolean run() throws Exception {
        Files.createDirectories(data);
        Path journalDir = data.resolve("journal");
        Path db = data.resolve("runs.sqlite");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        String batch = Long.toString(System.currentTimeMillis() / 1000, 36);
        out.printf("Run Ledger demo: journal %s, projection %s%n", journalDir, db);

        try (Ledger ledger = Ledger.open(LedgerConfig.builder(journalDir).meterRegistry(registry).build());
             Projection projection = Projection.open(ProjectionConfig.builder(db, ledger.journal())
                     .meterRegistry(registry).pollInterval(Duration.ofMillis(20)).build())) {
            if (!projection.awaitApplied(ledger.journal().headIndex(), Duration.ofMinutes(10))) {
                out.println("projection did not catch up with the existing journal: " + projection.status());
                return false;
            }
            // 1. engines append runs while the projector tails the journal
            out.printf(Locale.ROOT, "%n1. %d engine threads append %,d runs x %,d commands (queued -> running -> final)%n",
                    engines, runs, commands);
            AtomicLong lastIndex = new AtomicLong(-1);
            AtomicInteger nextRun = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(engines, r -> new Thread(r, "demo-engine"));
            long start = System.nanoTime();
            List<Future<?>> work = new ArrayList<>();
            for (int e = 0; e < engines; e++) {
                long seed = e;
                work.add(pool.submit(() -> {
                    EngineSimulator engine = new EngineSimulator(seed);
                    int n;
                    while ((n = nextRun.getAndIncrement()) < runs) {
                        String runId = "demo-" + batch + "-" + n;
                        engine.run(runId, commands, event -> lastIndex.accumulateAndGet(ledger.append(event), Math::max));
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get(30, TimeUnit.MINUTES);
            }
            pool.shutdown();
            double seconds = (System.nanoTime() - start) / 1e9;
            long appendedAt = System.nanoTime();
            Timer latency = registry.get("ledger.append.latency").timer();
            long events = latency.count();
            out.printf(Locale.ROOT, "   appended %,d events in %.2f s (%,.0f events/s across %d threads)%n", events, seconds,
                    events / seconds, engines);
            out.printf(Locale.ROOT, "   append latency: mean %.2f µs, %s%n", latency.mean(TimeUnit.MICROSECONDS),
                    percentiles(latency));
            out.printf("   (%d engine threads and the projector share this machine's %d cores; the benchmarks measure"
                    + " one engine thread alone)%n", engines, Runtime.getRuntime().availableProcessors());

            // 2. read-your-writes
            boolean caughtUp = projection.awaitApplied(lastIndex.get(), Duration.ofMinutes(5));
            out.printf(Locale.ROOT, "%n2. projector: last event queryable %.1f ms after the engines finished (%s)%n",
                    (System.nanoTime() - appendedAt) / 1e6, caughtUp ? "caught up" : "NOT caught up");
            if (!caughtUp) {
                return false;
            }

            // 3. what a robot server's clients ask
            String sample = "demo-" + batch + "-0";
            out.printf("%n3. queries%n");
            RunPage acme = projection.queries().runs(RunQuery.builder().label("tenant", "acme").pageLength(3).includeTotal(true).build());
            out.printf(Locale.ROOT, "   runs with label tenant=acme: %,d in all, newest 3:%n", acme.total());
            for (RunView r : acme.runs()) {
                out.printf(Locale.ROOT, "     %-24s %-10s %,6d commands  %s%n", r.id(), r.status(), r.commandCount(), r.labels());
            }
            RunPage failed = projection.queries().runs(RunQuery.builder().status("failed").includeTotal(true).pageLength(1).build());
            out.printf(Locale.ROOT, "   failed runs: %,d (a failed run stops at its failing command, so failed runs hold"
                    + " fewer than %,d commands)%n", failed.total(), commands);
            CommandPage tail = projection.queries().commands(sample, null, 3).orElseThrow();
            out.printf(Locale.ROOT, "   tail of %s (%,d commands in all):%n", sample, tail.totalLength());
            for (CommandView c : tail.commands()) {
                out.printf("     #%-5d %-12s %-10s %s%n", c.index(), c.commandType(), c.status(), abbreviate(c.json().text(), 70));
            }
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            long t0 = System.nanoTime();
            projection.queries().writeCommandsJson(sample, all);
            out.printf(Locale.ROOT, "   whole command list of %s as JSON: %,d bytes in %.1f ms%n", sample, all.size(),
                    (System.nanoTime() - t0) / 1e6);
            long relabelled = ledger.changeLabels(sample, Map.of("stage", "reviewed"), List.of("protocol"));
            projection.awaitApplied(relabelled, Duration.ofSeconds(10));
            out.printf("   after labels.changed: %s now has labels %s%n", sample,
                    projection.queries().run(sample).orElseThrow().labels());
            try {
                ledger.append(new RunEvent.CommandRecorded(sample, "{\"id\":\"late\",\"commandType\":\"home\"}"));
            } catch (IllegalStateException rejected) {
                out.printf("   a command after completion is refused at append: %s%n", rejected.getMessage());
            }
        }

        // 4. the upgrade: replay into a fresh file, swap it in, and check it
        out.printf("%n4. upgrade by replay: rebuild %s from the journal, then verify it%n", db);
        try (dev.runledger.ledger.Journal journal = dev.runledger.ledger.Journal.openExisting(journalDir);
             Progress progress = Progress.start("rebuild", true)) {
            Rebuild.Result r = Rebuild.rebuild(journal, db, Rebuild.Options.defaults().withProgress(progress));
            out.printf(Locale.ROOT, "   rebuilt: %,d events, %,d runs, %,d commands, %,d quarantined in %.2f s (%,.0f events/s)%n",
                    r.events(), r.runs(), r.commands(), r.quarantined(), r.elapsed().toNanos() / 1e9, r.eventsPerSecond());
            long t0 = System.nanoTime();
            Verification v = Rebuild.verify(journal, db, null);
            out.printf(Locale.ROOT, "   verify: %s (%,d runs, %,d commands) in %.2f s%n",
                    v.equal() ? "equal to a fresh replay" : "DIFFERS " + v.differences(), v.runs(), v.commands(),
                    (System.nanoTime() - t0) / 1e9);
            out.printf("%nTry: bin/runledger query runs --db %s --label tenant=acme --page-length 5%n", db);
            return v.equal();
        }
    }

    private static String percentiles(Timer timer) {
        StringBuilder sb = new StringBuilder();
        for (ValueAtPercentile p : timer.takeSnapshot().percentileValues()) {
            sb.append(sb.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "p%s %.2f µs",
                    trim(p.percentile() * 100), p.value(TimeUnit.MICROSECONDS)));
        }
        return sb.toString();
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static String abbreviate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 3) + "...";
    }
}
