package dev.runledger.bench;

import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs every benchmark the issues name and prints a table: each target, its baseline measured in the
 * same run, the ratio and the goal. Arguments pick sections: append open projection lag queries rebuild
 * verify memory http compaction erasure ship fleet (default: all); http-reads runs only the paced part of http.
 */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        Set<String> sections = new LinkedHashSet<>(args.length == 0
                ? List.of("append", "open", "projection", "lag", "queries", "rebuild", "verify", "memory", "http", "compaction", "erasure", "ship", "fleet")
                : List.of(args));
        List<Row> rows = new ArrayList<>();
        System.out.printf("Run Ledger benchmarks on %d cores, %s %s, JDK %s%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.name"), System.getProperty("os.arch"), Runtime.version());
        for (String section : sections) {
            switch (section) {
                case "append" -> rows.addAll(append());
                case "open" -> rows.addAll(ProjectionHarness.openTime());
                case "projection" -> rows.addAll(ProjectionHarness.throughput());
                case "lag" -> rows.addAll(ProjectionHarness.lag(20_000, 10));
                case "queries" -> rows.addAll(queries());
                case "rebuild" -> rows.addAll(RebuildHarness.rebuild());
                case "memory" -> rows.addAll(RebuildHarness.boundedMemory());
                case "verify" -> rows.addAll(RebuildHarness.verifyJournal());
                case "http" -> rows.addAll(HttpHarness.run());
                case "http-reads" -> rows.addAll(HttpHarness.readsUnderIngest());
                case "compaction" -> rows.addAll(CompactionHarness.robotYear());
                case "erasure" -> rows.addAll(ErasureHarness.run());
                case "ship" -> rows.addAll(ShipHarness.run());
                case "fleet" -> rows.addAll(FleetHarness.run());
                default -> throw new IllegalArgumentException("unknown section " + section
                        + " (expected append, open, projection, lag, queries, rebuild, verify, memory, http, http-reads, compaction, erasure, ship, fleet)");
            }
        }
        System.out.println("\n== summary (2-core machine; each baseline measured in the same run) ==");
        String format = "%-52s | %-30s | %-28s | %-14s | %-24s | %s%n";
        System.out.printf(format, "target", "measured", "baseline", "ratio", "goal", "met");
        for (Row r : rows) {
            System.out.printf(format, r.target(), r.measured(), r.baseline(), r.ratio(), r.goal(),
                    r.met() == null ? "-" : r.met() ? "yes" : "NO");
        }
    }

    private static ChainedOptionsBuilder jmh(Class<?> benchmarks, int threads) {
        return new OptionsBuilder().include(benchmarks.getName() + ".*").forks(1).threads(threads)
                .warmupIterations(3).warmupTime(TimeValue.seconds(1))
                .measurementIterations(3).measurementTime(TimeValue.seconds(2))
                .jvmArgsAppend(Bench.jvmFlags()).jvmArgsAppend("-Xmx2g").shouldFailOnError(true);
    }

    private record Stats(double opsPerSecond, double p50, double p99, double p999) {
    }

    private static List<Row> append() throws Exception {
        System.out.println("\n== append of a ~500-byte command event (JMH) ==");
        List<Row> rows = new ArrayList<>();
        for (int threads : new int[] {1, 4}) {
            Map<String, Stats> stats = new HashMap<>();
            Collection<RunResult> throughput = new Runner(jmh(AppendBenchmarks.class, threads).mode(Mode.Throughput)
                    .timeUnit(TimeUnit.SECONDS).build()).run();
            Collection<RunResult> sample = new Runner(jmh(AppendBenchmarks.class, threads).mode(Mode.SampleTime)
                    .timeUnit(TimeUnit.NANOSECONDS).build()).run();
            for (RunResult r : throughput) {
                String name = shortName(r);
                RunResult s = sample.stream().filter(x -> shortName(x).equals(name)).findFirst().orElseThrow();
                var st = s.getPrimaryResult().getStatistics();
                stats.put(name, new Stats(r.getPrimaryResult().getScore(), st.getPercentile(50), st.getPercentile(99),
                        st.getPercentile(99.9)));
            }
            stats.forEach((name, st) -> System.out.printf(Locale.ROOT, "   %d thread(s) %-30s %,12.0f ops/s  p50 %,9.0f ns  p99 %,9.0f ns  p99.9 %,10.0f ns%n",
                    threads, name, st.opsPerSecond(), st.p50(), st.p99(), st.p999()));
            Stats ledger = stats.get("ledgerAppend");
            Stats raw = stats.get("rawChronicleWriteBytes");
            Stats sqlite = stats.get("sqliteInsertCommitPerCommand");
            Stats json = stats.get("ledgerRecordCommandFromJson");
            String t = threads + " thread" + (threads > 1 ? "s" : "");
            rows.add(new Row("append, " + t + ": throughput vs raw Chronicle", Row.fmt("%,.0f/s", ledger.opsPerSecond()),
                    Row.fmt("raw %,.0f/s", raw.opsPerSecond()), Row.fmt("%.2fx raw", ledger.opsPerSecond() / raw.opsPerSecond()),
                    ">= 0.7x raw", ledger.opsPerSecond() / raw.opsPerSecond() >= 0.7));
            rows.add(new Row("append, " + t + ": vs SQLite commit per command", Row.fmt("%,.0f/s", ledger.opsPerSecond()),
                    Row.fmt("sqlite %,.0f/s", sqlite.opsPerSecond()), Row.fmt("%.0fx", ledger.opsPerSecond() / sqlite.opsPerSecond()),
                    ">= 100x", ledger.opsPerSecond() / sqlite.opsPerSecond() >= 100));
            rows.add(new Row("append, " + t + ": latency p50/p99/p99.9",
                    Row.fmt("%.2f/%.2f/%.1f µs", ledger.p50() / 1e3, ledger.p99() / 1e3, ledger.p999() / 1e3),
                    Row.fmt("raw %.2f/%.2f/%.1f µs", raw.p50() / 1e3, raw.p99() / 1e3, raw.p999() / 1e3), "-",
                    threads == 1 ? "p99 <= 2 µs" : "(measured)", threads == 1 ? ledger.p99() <= 2_000 : null));
            rows.add(new Row("append from JSON text (parse + append), " + t,
                    Row.fmt("%,.0f/s, p99 %.2f µs", json.opsPerSecond(), json.p99() / 1e3), "-", "-", "(measured)", null));
            if (threads == 1) {
                Stats crc = stats.get("crc32cOfAnExcerpt");
                double perAppendNs = 1e9 / ledger.opsPerSecond();
                double crcNs = 1e9 / crc.opsPerSecond();
                double unchecked = 1e9 / (perAppendNs - crcNs);
                rows.add(new Row("append checksum: CRC-32C of one excerpt", Row.fmt("%.0f ns of %.0f ns per append", crcNs,
                        perAppendNs), Row.fmt("unchecked %,.0f/s (derived)", unchecked),
                        Row.fmt("%.2fx unchecked", ledger.opsPerSecond() / unchecked), ">= 0.8x unchecked",
                        ledger.opsPerSecond() / unchecked >= 0.8));
            }
        }
        return rows;
    }

    private static List<Row> queries() throws Exception {
        System.out.println("\n== queries at 500,000 runs x 3 labels (JMH, sample time) ==");
        Datasets.labelProjection();
        Collection<RunResult> results = new Runner(jmh(QueryBenchmarks.class, 1).mode(Mode.SampleTime)
                .timeUnit(TimeUnit.NANOSECONDS).build()).run();
        Map<String, double[]> ms = new HashMap<>();
        for (RunResult r : results) {
            var st = r.getPrimaryResult().getStatistics();
            ms.put(shortName(r), new double[] {st.getPercentile(50) / 1e6, st.getPercentile(99) / 1e6, st.getMean() / 1e6});
            System.out.printf(Locale.ROOT, "   %-36s p50 %9.3f ms  p99 %9.3f ms  mean %9.3f ms%n", shortName(r),
                    st.getPercentile(50) / 1e6, st.getPercentile(99) / 1e6, st.getMean() / 1e6);
        }
        double sel = ms.get("selectiveLabel")[0];
        double common = ms.get("commonLabelNewest50")[0];
        double json = ms.get("baselineJsonExtractScanSelective")[0];
        double exists = ms.get("baselineCorrelatedExistsSelective")[0];
        double in = ms.get("baselineInCommonNewest50")[0];
        double tail = ms.get("commandsTailPage20")[0];
        double whole = ms.get("commandsWholeListJson")[0];
        return List.of(
                new Row("selective label filter, p50", Row.fmt("%.3f ms", sel), Row.fmt("json_extract scan %.1f ms", json),
                        Row.fmt("%,.0fx faster", json / sel), "<= 0.5 ms, >= 1000x", sel <= 0.5 && json / sel >= 1000),
                new Row("selective label vs correlated EXISTS", Row.fmt("%.3f ms", sel), Row.fmt("EXISTS %.1f ms", exists),
                        Row.fmt("%,.0fx faster", exists / sel), "faster", sel < exists),
                new Row("newest 50 with a common label, p50", Row.fmt("%.3f ms", common), Row.fmt("IN form %.1f ms", in),
                        Row.fmt("%,.0fx faster", in / common), "<= 0.5 ms", common <= 0.5),
                new Row("20-command page at the tail of 10k, p50", Row.fmt("%.3f ms", tail), "-", "-", "<= 1 ms", tail <= 1),
                new Row("whole 10k-command list as JSON, p50", Row.fmt("%.2f ms", whole), "-", "-", "<= 50 ms", whole <= 50));
    }

    private static String shortName(RunResult r) {
        String full = r.getParams().getBenchmark();
        return full.substring(full.lastIndexOf('.') + 1);
    }
}
