package dev.runledger.bench;

import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.JvmFlags;
import dev.runledger.ledger.NdjsonReader;
import dev.runledger.ledger.RunEvent;
import dev.runledger.tool.EngineSimulator;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/** Shared pieces: data, temp directories, the JVM flags, percentiles. */
final class Bench {
    private Bench() {
    }

    /** The Chronicle flags for child JVMs and JMH forks (same JDK as this one). */
    static String[] jvmFlags() {
        return JvmFlags.forThisJvm().toArray(String[]::new);
    }

    static Path tempDir(String name) {
        try {
            Path base = Path.of(System.getProperty("runledger.bench.dir", "target/bench-tmp"));
            Files.createDirectories(base);
            return Files.createTempDirectory(base.toAbsolutePath(), name + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void delete(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A ~500-byte command, the median size of a real Opentrons command. */
    static CommandJson sampleCommand() {
        String json = new EngineSimulator(7).finalCommand("a5461170-1f38-810f-62c3-970eac8aa628", 6);
        return CommandJson.parse(json);
    }

    /**
     * Real Opentrons command JSON texts (final states) from ../shared/data when present, otherwise
     * simulated ones of the same shapes. Used to give benchmarks real sizes and shapes.
     */
    static List<String> realCommands() {
        Path file = Path.of(System.getProperty("runledger.shared.data", "../shared/data"), "opentrons-sample.events.ndjson.gz");
        List<String> commands = new ArrayList<>();
        if (Files.isRegularFile(file)) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
                NdjsonReader reader = new NdjsonReader(in);
                RunEvent e;
                while ((e = reader.next()) != null) {
                    if (e instanceof RunEvent.CommandRecorded c) {
                        commands.add(c.command().json().text());
                    }
                }
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
            System.out.println("   (commands: " + commands.size() + " real Opentrons command records from " + file + ")");
            return commands;
        }
        EngineSimulator sim = new EngineSimulator(3);
        for (int i = 0; i < 6000; i++) {
            commands.add(sim.finalCommand("c-" + i, i));
        }
        System.out.println("   (commands: simulated; ../shared/data not found)");
        return commands;
    }

    /** Replaces the command's (top-level) id so one real shape can stand for many commands. */
    static String withId(String commandJson, String id) {
        String current = "\"id\":\"" + CommandJson.parse(commandJson).id() + "\"";
        int at = commandJson.indexOf(current);
        return commandJson.substring(0, at) + "\"id\":\"" + id + "\"" + commandJson.substring(at + current.length());
    }

    /** Replaces the command's top-level status (keys are sorted in real commands: it is the last "status"). */
    static String withStatus(String commandJson, String status) {
        String current = CommandJson.parse(commandJson).status();
        if (current == null) {
            return commandJson;
        }
        String field = "\"status\":\"" + current + "\"";
        int at = commandJson.lastIndexOf(field);
        return commandJson.substring(0, at) + "\"status\":\"" + status + "\"" + commandJson.substring(at + field.length());
    }

    static double percentile(long[] sortedNanos, double p) {
        if (sortedNanos.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.min(sortedNanos.length - 1, Math.ceil(p / 100.0 * sortedNanos.length) - 1);
        return sortedNanos[Math.max(0, i)];
    }

    /**
     * Starts a latency measurement clean: the garbage of earlier sections collected, and their files written out.
     * After the shipping rounds 400-1,000 MB of the broker's and the journals' pages were still waiting to be
     * written back during the lag run that followed, beside the lag run's own writes.
     */
    static void settle() throws Exception {
        System.gc();
        Process sync = new ProcessBuilder("sync").inheritIO().start();
        if (!sync.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
            sync.destroy();
            System.out.println("   (sync did not finish within 120 s; measuring anyway)");
        }
    }

    /**
     * The share of the machine's CPU time the hypervisor gave to other guests ("steal" in /proc/stat) since
     * {@link #cpuTicks()} returned {@code before}, in percent; NaN where /proc/stat is missing. On this VM it
     * ran at 10-28% during the HTTP reads (vmstat), and while a vCPU is taken away every thread on it waits,
     * whatever its priority: a latency figure means little without it.
     */
    static double stealPercent(long[] before) {
        long[] now = cpuTicks();
        if (before == null || now == null) {
            return Double.NaN;
        }
        long total = now[0] - before[0];
        return total <= 0 ? Double.NaN : 100.0 * (now[1] - before[1]) / total;
    }

    /** All CPU ticks and steal ticks so far, from the first line of /proc/stat; null where there is none. */
    static long[] cpuTicks() {
        try {
            String cpu = java.nio.file.Files.readAllLines(Path.of("/proc/stat")).get(0);
            String[] f = cpu.trim().split("\\s+"); // cpu user nice system idle iowait irq softirq steal guest...
            long total = 0;
            for (int i = 1; i <= Math.min(8, f.length - 1); i++) {
                total += Long.parseLong(f[i]);
            }
            return new long[] {total, f.length > 8 ? Long.parseLong(f[8]) : 0};
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Takes every append batch at or below {@code index} (now visible: acknowledged, applied) out of
     * {@code appendedAt} (last index of a batch -> its append time) into {@code latencies} as {appended at, lag}.
     */
    static void visibleUpTo(java.util.concurrent.ConcurrentSkipListMap<Long, Long> appendedAt, long index,
                            java.util.List<long[]> latencies) {
        long seen = System.nanoTime();
        var visible = appendedAt.headMap(index, true);
        for (long appended : visible.values()) {
            latencies.add(new long[] {appended, seen - appended});
        }
        visible.clear();
    }

    /**
     * p50, p99, max (milliseconds) and count of the lags in {@code samples} ({appended at, lag} in nanoseconds)
     * that {@code counted} selects, such as those appended after a warm-up; NaN when none was.
     */
    static double[] latencyMillis(java.util.Collection<long[]> samples, java.util.function.Predicate<long[]> counted) {
        long[] sorted;
        synchronized (samples) {
            sorted = samples.stream().filter(counted).mapToLong(l -> l[1]).sorted().toArray();
        }
        return new double[] {percentile(sorted, 50) / 1e6, percentile(sorted, 99) / 1e6,
                sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1] / 1e6, sorted.length};
    }

    /** The middle value of rounds (the upper middle for an even count); the rounds themselves stay in their order. */
    static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
