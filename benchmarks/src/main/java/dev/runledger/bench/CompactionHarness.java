package dev.runledger.bench;

import dev.runledger.ledger.CommandJson;
import dev.runledger.ledger.JournalCompaction;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RetentionPolicy;
import dev.runledger.ledger.RunEvent;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A robot's year: 3 runs a day for 365 days, each of {@link #COMMANDS} commands recorded queued, running
 * and final (about 1M events), keeping the newest 20 completed runs (retention after every completion).
 * Measures the disk the journal takes before compaction (what the year costs with no retention:
 * deletions alone free nothing) and after it; an online compaction's time against a raw copy of the bytes
 * it keeps; and the longest append stall while it runs, beside the longest with no compaction, from an
 * engine appending one event at a time at {@link #PACED_EVENTS_PER_SECOND}.
 */
final class CompactionHarness {
    static final int RUNS = 3 * 365;
    /** A real run has ~2,000; 305 makes the year 1M events (the journal) and keeps the section at minutes. */
    static final int COMMANDS = 305;
    static final int KEEP = 20;
    /** Far above a robot's rate (hundreds a second), so a stall shows up in many appends, not one. */
    static final int PACED_EVENTS_PER_SECOND = 5_000;
    static final int ROUNDS = 3;

    private CompactionHarness() {
    }

    static List<Row> robotYear() throws Exception {
        String layouts = System.getProperty("bench.compaction.layouts", "file,days"); // either alone, to iterate
        List<Row> rows = new ArrayList<>();
        for (String layout : layouts.split(",")) {
            rows.addAll(robotYear(layout.trim().equals("days")));
        }
        return rows;
    }

    /**
     * {@code inDays}: the year as a robot writes it, one journal file per day (the ledger's clock moves a day
     * every 3 runs, ending yesterday); otherwise all of it in one file, the layout that leaves compaction the
     * most to copy (every dropped event of the year becomes a stand-in).
     */
    private static List<Row> robotYear(boolean inDays) throws Exception {
        String layout = inDays ? "in 365 daily files" : "in one file";
        System.out.println("\n== compaction: a robot's year " + layout + " (" + RUNS + " runs x " + COMMANDS
                + " commands x 3 records, keep newest " + KEEP + ") ==");
        Path dir = Bench.tempDir("compaction");
        try {
            Path journal = dir.resolve("journal");
            List<String> real = Bench.realCommands();
            RetentionPolicy keep = RetentionPolicy.builder().keepRuns(KEEP).build();
            long events = 0;
            int deleted = 0;
            DayClock clock = new DayClock(java.time.Instant.now().minus(java.time.Duration.ofDays(RUNS / 3 + 1)));
            try (Ledger ledger = Ledger.open(dev.runledger.ledger.LedgerConfig.builder(journal)
                    .clock(inDays ? clock : java.time.Clock.systemUTC()).build())) {
                for (int r = 0; r < RUNS; r++) {
                    if (r % 3 == 0 && r > 0) {
                        clock.now = clock.now.plus(java.time.Duration.ofDays(1));
                    }
                    String runId = "day-" + r / 3 + "-run-" + r % 3;
                    List<RunEvent> batch = new ArrayList<>(3 * COMMANDS + 2);
                    batch.add(new RunEvent.RunCreated(runId, "2026-01-01T00:00:00Z", "proto", Map.of("robot", "flex")));
                    for (int c = 0; c < COMMANDS; c++) {
                        String base = Bench.withId(real.get((r * 7919 + c) % real.size()), runId + "-" + c);
                        for (String status : new String[] {"queued", "running", "succeeded"}) {
                            batch.add(new RunEvent.CommandRecorded(runId, CommandJson.parse(Bench.withStatus(base, status))));
                        }
                    }
                    batch.add(new RunEvent.RunCompleted(runId, dev.runledger.ledger.CompletionStatus.SUCCEEDED,
                            "2026-01-01T01:00:00Z"));
                    ledger.append(batch);
                    events += batch.size();
                    deleted += ledger.retain(keep, false).size();
                }
            }
            long duBefore = du(journal);
            // One compaction per journal, and this VM's timings swing by a third between runs: three rounds, each
            // on its own copy of the same year (copied while no ledger has it open), give medians, not one draw.
            // Round 0 comes first and is left out of the medians: the JVM's first compaction ran with the copy's
            // code still being compiled (its copy took 1.4-2.6x as long as the next rounds'), while the raw copy
            // after it ran warm on the same Chronicle code.
            List<Path> rounds = new ArrayList<>(List.of(journal));
            for (int k = 1; k <= ROUNDS; k++) {
                Path copy = dir.resolve("journal-" + k);
                copySparse(journal, copy);
                rounds.add(copy);
            }
            // What returning the year's disk space costs by itself: compaction deletes the old files after the swap,
            // a raw copy of the kept excerpts does not. Each round deletes its own copy of the year (on disk, synced
            // first), so that the raw copy plus this deletion does what the compaction does, in the same round.
            List<Path> doomed = new ArrayList<>();
            for (int k = 0; k <= ROUNDS; k++) {
                Path copy = dir.resolve("journal-deleted-" + k);
                copySparse(journal, copy);
                doomed.add(copy);
            }
            double[] deleteSeconds = new double[ROUNDS + 1];
            double[] compactSeconds = new double[ROUNDS + 1];
            double[] rawSeconds = new double[ROUNDS + 1];
            double[] rawAndDeleteSeconds = new double[ROUNDS + 1];
            double[] copyStepSeconds = new double[ROUNDS + 1];
            double duringMaxMs = 0;
            double idleMaxMs = 0;
            long duAfter = 0;
            long appendsHeldMax = 0;
            List<String> commands = new ArrayList<>();
            for (int c = 0; c < 1000; c++) {
                commands.add(Bench.withId(real.get(c % real.size()), "engine-" + c));
            }
            for (int k = 0; k <= ROUNDS; k++) {
                Path round = rounds.get(k);
                // The year was written seconds ago: its pages are still being written back, and deleting files
                // under writeback made the first round's deletion take 250-350 ms (40-50 ms after a sync) and
                // stalled the engine's appends beside it up to 89 ms. A robot's old days are long on disk.
                Bench.settle();
                long[] ticks = Bench.cpuTicks();
                Map<String, java.time.Duration> steps;
                // Its own registry: the global one already has the first round's gauges. The robot's policy, as
                // it ran all year: its retention view is read at open (in the 2 s below), as a running robot's is current.
                try (Ledger ledger = Ledger.open(dev.runledger.ledger.LedgerConfig.builder(round).retention(keep)
                        .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).build())) {
                    ledger.append(new RunEvent.RunCreated("engine", "2026-01-01T00:00:00Z", "proto", Map.of()));
                    // The same engine with no compaction, for as long as a compaction takes here (about 2 s): its noise floor.
                    PacedAppender idle = new PacedAppender(ledger, commands);
                    idle.start();
                    Thread.sleep(2_000);
                    double quiet = idle.stop();
                    idleMaxMs = Math.max(idleMaxMs, quiet);

                    PacedAppender engine = new PacedAppender(ledger, commands);
                    engine.start();
                    Thread.sleep(200);
                    long t0 = System.nanoTime();
                    JournalCompaction.Result result = ledger.compact(false);
                    compactSeconds[k] = (System.nanoTime() - t0) / 1e9;
                    steps = result.steps();
                    copyStepSeconds[k] = steps.get("copy").toNanos() / 1e9;
                    Thread.sleep(200);
                    double during = engine.stop();
                    duringMaxMs = Math.max(duringMaxMs, during);
                    appendsHeldMax = Math.max(appendsHeldMax, result.appendsHeld().toMillis());
                    duAfter = du(round);
                    System.out.printf("   round %d%s: online compaction %.2f s (dropped %,d events, %d whole days; appends held %d ms);"
                                    + " engine appending one event at a time at %,d/s: longest append %.1f ms during it (%,d appends),"
                                    + " %.1f ms with none%n",
                            k, k == 0 ? " (warm-up, not in the medians)" : "", compactSeconds[k], result.droppedEvents(),
                            result.droppedDays(), result.appendsHeld().toMillis(), PACED_EVENTS_PER_SECOND, during,
                            engine.appends, quiet);
                }
                rawSeconds[k] = rawCopy(round, dir.resolve("raw-copy-" + k));
                Bench.delete(dir.resolve("raw-copy-" + k));
                Bench.settle();
                long d0 = System.nanoTime();
                Bench.delete(doomed.get(k));
                deleteSeconds[k] = (System.nanoTime() - d0) / 1e9;
                rawAndDeleteSeconds[k] = rawSeconds[k] + deleteSeconds[k];
                System.out.printf("   round %d: a raw copy of the kept excerpts %.3f s; deleting a copy of the year's files %.3f s"
                        + " (CPU stolen by the hypervisor in the round: %.1f%%)%n", k, rawSeconds[k], deleteSeconds[k],
                        Bench.stealPercent(ticks));
                System.out.printf("   round %d: the compaction's steps: %s%n", k, steps(steps));
                if (k > 0) {
                    Bench.delete(round);
                }
            }
            double[] compactMeasured = measured(compactSeconds);
            double[] rawMeasured = measured(rawSeconds);
            double compact = Bench.median(compactMeasured);
            double raw = Bench.median(rawMeasured);
            double rawAndDelete = Bench.median(measured(rawAndDeleteSeconds));
            System.out.printf("   %,d events, %d runs deleted by retention; journal %,d KiB on disk before, %,d KiB after;"
                            + " median of %d rounds: online compaction %.3f s (%.3f-%.3f), raw copy %.3f s (%.3f-%.3f)%n", events,
                    deleted, duBefore, duAfter, ROUNDS, compact, min(compactMeasured), max(compactMeasured), raw, min(rawMeasured),
                    max(rawMeasured));
            List<Row> rows = new ArrayList<>();
            rows.add(new Row("robot year " + layout + ": journal on disk, keep newest 20", Row.fmt("%,d KiB", duAfter),
                    Row.fmt("no retention: %,d KiB", duBefore), Row.fmt("%.3fx", (double) duAfter / duBefore),
                    "follows runs kept", null));
            // Two readings of the goal. Strictly, compaction (old files deleted included) against a raw copy alone;
            // like for like, against a raw copy plus deleting the same year's files, the work any compaction that
            // returns the space must do. The filesystem's deletion cost is the same for both sides of the second.
            rows.add(new Row("robot year " + layout + " (1M events): online compaction time, median of " + ROUNDS,
                    Row.fmt("%.3f s", compact), Row.fmt("raw copy + rm of the old files %.3f s", rawAndDelete),
                    Row.fmt("%.2fx", rawAndDelete / compact), ">= 0.5x", rawAndDelete / compact >= 0.5));
            rows.add(new Row("  the same, strictly: against the raw copy alone", Row.fmt("%.3f s", compact),
                    Row.fmt("raw copy %.3f s (rm %.3f s)", raw, Bench.median(measured(deleteSeconds))),
                    Row.fmt("%.2fx raw", raw / compact), ">= 0.5x raw", raw / compact >= 0.5));
            // The one step that does what the raw copy does (the same excerpts read and written, stand-ins included),
            // with the chain computed besides; the others (syncs, the held tail and swap, the deletion) the raw copy skips.
            double copyStep = Bench.median(measured(copyStepSeconds));
            rows.add(new Row("  its copy step alone, against the raw copy", Row.fmt("%.3f s", copyStep),
                    Row.fmt("raw copy %.3f s", raw), Row.fmt("%.2fx raw", raw / copyStep), ">= 0.5x raw", raw / copyStep >= 0.5));
            rows.add(new Row("robot year " + layout + " (1M events): longest append during compaction, worst of " + (ROUNDS + 1)
                    + " (round 0 too)",
                    Row.fmt("%.1f ms", duringMaxMs), Row.fmt("no compaction %.1f ms", idleMaxMs),
                    Row.fmt("held %d ms", appendsHeldMax), "<= 50 ms", duringMaxMs <= 50));
            return rows;
        } finally {
            Bench.delete(dir);
        }
    }

    /** The robot's clock for the year: moved on a day every 3 runs. */
    private static final class DayClock extends java.time.Clock {
        java.time.Instant now;

        DayClock(java.time.Instant start) {
            this.now = start;
        }

        @Override
        public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
        }

        @Override
        public java.time.Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public java.time.Instant instant() {
            return now;
        }
    }

    /** An engine recording one command at a time at a steady rate, timing every append. */
    private static final class PacedAppender {
        private final Ledger ledger;
        private final List<String> commands;
        private final Thread thread;
        private volatile boolean stop;
        private long maxNanos;
        long appends;

        PacedAppender(Ledger ledger, List<String> commands) {
            this.ledger = ledger;
            this.commands = commands;
            this.thread = new Thread(this::run, "bench-engine");
        }

        void start() {
            thread.start();
        }

        private void run() {
            long interval = 1_000_000_000L / PACED_EVENTS_PER_SECOND;
            long next = System.nanoTime();
            for (int i = 0; !stop; i++) {
                RunEvent event = new RunEvent.CommandRecorded("engine", CommandJson.parse(commands.get(i % commands.size())));
                long t0 = System.nanoTime();
                ledger.append(event);
                maxNanos = Math.max(maxNanos, System.nanoTime() - t0);
                appends++;
                next += interval;
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait);
                }
            }
        }

        /** Stops and returns the longest append in milliseconds. */
        double stop() throws InterruptedException {
            stop = true;
            thread.join();
            return maxNanos / 1e6;
        }
    }

    /**
     * The floor under any compaction: reading the compacted journal's excerpts and writing them to a new
     * queue, with no decisions, no hashing, no syncs. Each excerpt goes from the source's mapped file to the
     * copy's in one memory copy. Until 2026-11-23 it went through {@code copyTo(buffer)}, which writes at
     * the buffer's position without moving it: every excerpt was copied empty, and the baseline was cheaper
     * than any real copy. The copy's bytes are now counted and checked against the source's.
     */
    private static double rawCopy(Path journal, Path target) {
        long t0 = System.nanoTime();
        long bytesRead = 0;
        long excerpts = 0;
        try (SingleChronicleQueue source = SingleChronicleQueueBuilder.binary(journal).build();
             SingleChronicleQueue copy = SingleChronicleQueueBuilder.binary(target).rollCycle(source.rollCycle()).build();
             ExcerptTailer tailer = source.createTailer(); ExcerptAppender appender = copy.createAppender()) {
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    Bytes<?> bytes = dc.wire().bytes();
                    bytesRead += bytes.readRemaining();
                    excerpts++;
                    appender.writeBytes(bytes);
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long bytesWritten = 0;
        long excerptsWritten = 0;
        try (SingleChronicleQueue copy = SingleChronicleQueueBuilder.binary(target).readOnly(true).build();
             ExcerptTailer tailer = copy.createTailer()) {
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    bytesWritten += dc.wire().bytes().readRemaining();
                    excerptsWritten++;
                }
            }
        }
        if (bytesWritten != bytesRead || excerptsWritten != excerpts) {
            throw new IllegalStateException("the raw copy of " + journal + " holds " + excerptsWritten + " excerpts of "
                    + bytesWritten + " bytes, the source " + excerpts + " of " + bytesRead);
        }
        return seconds;
    }

    /** A copy as {@code cp --sparse=always} makes it: Chronicle's cycle files are mostly holes. */
    private static void copySparse(Path from, Path to) throws Exception {
        Process p = new ProcessBuilder("cp", "-r", "--sparse=always", from.toString(), to.toString()).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("cp " + from + " " + to + " failed");
        }
    }

    private static String steps(Map<String, java.time.Duration> steps) {
        return steps.entrySet().stream().map(step -> String.format("%s %.3f s", step.getKey(), step.getValue().toNanos() / 1e9))
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /** The rounds the medians count: all but round 0, the warm-up. */
    private static double[] measured(double[] perRound) {
        return java.util.Arrays.copyOfRange(perRound, 1, perRound.length);
    }

    private static double min(double[] values) {
        return java.util.Arrays.stream(values).min().orElse(0);
    }

    private static double max(double[] values) {
        return java.util.Arrays.stream(values).max().orElse(0);
    }

    /** Space allocated on disk, in KiB (du): Chronicle's cycle files are sparse, so their length says little. */
    private static long du(Path dir) throws Exception {
        Process p = new ProcessBuilder("du", "-sk", dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        p.waitFor();
        return Long.parseLong(out.split("\\s+")[0]);
    }
}
