package dev.runledger.bench;

import dev.runledger.server.RunLedgerServer;
import dev.runledger.server.ServerConfig;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * HTTP appends of NDJSON batches over loopback from a separate load process, with queries measured
 * under that load. The server runs in this JVM; the load generator in a child JVM.
 */
final class HttpHarness {
    private HttpHarness() {
    }

    /** The JDK-server figures this harness measured before the move to Jetty (README, 2 cores). */
    private static final double OLD_EVENTS_PER_SECOND = 168_000;
    private static final String OLD_READ_P99 = "26.6 / 27.3 ms";

    static List<Row> run() throws Exception {
        System.out.println("\n== HTTP: NDJSON batches over loopback from a separate load process ==");
        List<Row> rows = new ArrayList<>();
        Result small = load(100, 12, 0);
        rows.add(new Row("HTTP append, 100-event batches", Row.fmt("%,.0f events/s, p99 %.1f ms", small.eventsPerSecond,
                small.postP99), "-", "-", "(measured)", null));
        Result full = load(1000, 12, 0);
        rows.add(new Row("HTTP append, 1000-event batches", Row.fmt("%,.0f events/s, p99 %.1f ms", full.eventsPerSecond,
                full.postP99), Row.fmt("%,.0f (JDK server)", OLD_EVENTS_PER_SECOND), Row.fmt("%.2fx",
                full.eventsPerSecond / OLD_EVENTS_PER_SECOND), ">= 168k events/s", full.eventsPerSecond >= OLD_EVENTS_PER_SECOND));
        rows.add(new Row("  under full ingest: label filter / commands page p99", Row.fmt("%.2f / %.2f ms", full.runsP99,
                full.commandsP99), OLD_READ_P99, "-", "(reported)", null));
        rows.addAll(readsUnderIngest());
        return rows;
    }

    /** Reads while whole runs are appended over HTTP at a steady 20,000 events/s. */
    static List<Row> readsUnderIngest() throws Exception {
        List<Row> rows = new ArrayList<>();
        Result paced = load(1000, 30, 20_000);
        rows.add(new Row("  under 20k events/s: label filter / commands page p99", Row.fmt("%.2f / %.2f ms (at %,.0f/s; %.0f%% stolen)",
                paced.runsP99, paced.commandsP99, paced.eventsPerSecond, paced.stealPercent), "-", "-", "<= 5 ms each",
                paced.runsP99 <= 5 && paced.commandsP99 <= 5));
        return rows;
    }

    private static String serverP99(RunLedgerServer server, String route) {
        io.micrometer.core.instrument.Timer timer = server.registry().find("http.server.requests").tag("route", route)
                .tag("status", "200").timer();
        if (timer == null) {
            return "-";
        }
        for (io.micrometer.core.instrument.distribution.ValueAtPercentile p : timer.takeSnapshot().percentileValues()) {
            if (p.percentile() == 0.99) {
                return String.format(Locale.ROOT, "%.2f", p.value(java.util.concurrent.TimeUnit.MILLISECONDS));
            }
        }
        return "-";
    }

    /**
     * jHiccup's idea: a thread that sleeps 1 ms in a loop records how late it wakes. Whatever delays it
     * (GC and other safepoints, the scheduler on a busy machine, a hypervisor's steal) delays a read
     * the same way, so this is the floor under the reads' p99, independent of the server's code.
     */
    private static final class Hiccups {
        private final java.util.concurrent.ConcurrentLinkedQueue<Long> late = new java.util.concurrent.ConcurrentLinkedQueue<>();
        private volatile boolean running = true;
        private final Thread thread;

        Hiccups(int warmupSeconds) {
            long from = System.nanoTime() + warmupSeconds * 1_000_000_000L;
            thread = new Thread(() -> {
                while (running) {
                    long t0 = System.nanoTime();
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                    long t1 = System.nanoTime();
                    if (t0 > from) {
                        late.add(Math.max(0, t1 - t0 - 1_000_000));
                    }
                }
            }, "bench-hiccups");
            thread.setDaemon(true);
            thread.start();
        }

        void stop() throws InterruptedException {
            running = false;
            thread.join();
        }

        String p99() {
            long[] sorted = late.stream().mapToLong(Long::longValue).sorted().toArray();
            return String.format(Locale.ROOT, "%.2f", Bench.percentile(sorted, 99) / 1e6);
        }

        String max() {
            return String.format(Locale.ROOT, "%.2f", late.stream().mapToLong(Long::longValue).max().orElse(0) / 1e6);
        }
    }

    private record Result(double eventsPerSecond, double postP99, double runsP99, double commandsP99, double stealPercent) {
    }

    /** One server in this JVM, one load process; {@code rate} 0 sends as fast as the server takes it. */
    private static Result load(int batch, int seconds, int rate) throws Exception {
        Path dir = Bench.tempDir("http");
        try (RunLedgerServer server = RunLedgerServer.start(ServerConfig.builder(dir.resolve("journal"),
                dir.resolve("runs.sqlite")).port(0).maxBodyBytes(64 << 20).shutdownGrace(Duration.ofSeconds(1)).build())) {
            Hiccups hiccups = new Hiccups(seconds / 3);
            long[] ticks = Bench.cpuTicks();
            String result = ChildProcess.run("load", List.of("-Xmx1g"), Load.class, Integer.toString(server.port()),
                    Integer.toString(batch), Integer.toString(seconds), Integer.toString(rate)).result();
            hiccups.stop();
            double steal = Bench.stealPercent(ticks);
            System.out.println("   batches of " + batch + (rate == 0 ? ", full speed: " : ", paced at " + rate + " events/s: ")
                    + result + " (events/s, p99 ms of POST, label filter, commands page)");
            System.out.println("   server JVM hiccups (a thread sleeping 1 ms, how much later it woke): p99 "
                    + hiccups.p99() + " ms, max " + hiccups.max() + " ms; CPU stolen by the hypervisor: "
                    + String.format(Locale.ROOT, "%.1f%%", steal));
            System.out.println("   server side (http.server.requests, p99): label filter " + serverP99(server, "/runs")
                    + " ms, commands page " + serverP99(server, "/runs/{id}/commands") + " ms, POST " + serverP99(server, "/events")
                    + " ms");
            String[] f = result.split(" ");
            return new Result(Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]),
                    Double.parseDouble(f[3]), steal);
        } finally {
            Bench.delete(dir);
        }
    }

    /**
     * The load process: 2 senders post batches for N seconds, each batch a whole run (created, commands,
     * completed), as an engine would, as fast as they are answered or paced to a total rate; one reader
     * queries 50 times a second.
     */
    public static final class Load {
        public static void main(String[] args) throws Exception {
            int port = Integer.parseInt(args[0]);
            int batch = Integer.parseInt(args[1]);
            int seconds = Integer.parseInt(args[2]);
            int rate = Integer.parseInt(args[3]);
            // each of the 2 senders starts a batch every this many nanoseconds (0: no pause)
            long interval = rate == 0 ? 0 : (long) (2L * batch * 1e9 / rate);
            String base = "http://127.0.0.1:" + port;
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            String command = new dev.runledger.tool.EngineSimulator(1).finalCommand("ID", 5);
            AtomicLong events = new AtomicLong();
            ConcurrentLinkedQueue<Long> postNanos = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Long> runsNanos = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Long> pageNanos = new ConcurrentLinkedQueue<>();
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            // The first seconds are the server's JIT warm-up (C2 took 6 of the first 12 CPU-seconds): not measured.
            int warmupSeconds = seconds / 3;
            long warmup = System.nanoTime() + warmupSeconds * 1_000_000_000L;
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int sender = t;
                threads.add(new Thread(() -> {
                    int n = 0;
                    // Bodies are assembled from pre-encoded pieces: the generator should cost the shared CPU as
                    // little as possible (a real engine runs on another machine).
                    byte[] lineStart = "{\"type\":\"command.recorded\",\"runId\":\"".getBytes(StandardCharsets.UTF_8);
                    byte[] commandStart = "\",\"command\":".getBytes(StandardCharsets.UTF_8);
                    int cut = command.indexOf("\"ID\"");
                    byte[] beforeId = (command.substring(0, cut) + "\"c-").getBytes(StandardCharsets.UTF_8);
                    byte[] afterId = ("\"" + command.substring(cut + 4) + "}\n").getBytes(StandardCharsets.UTF_8);
                    java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream(batch * 600);
                    long next = System.nanoTime() + sender * interval / 2;
                    while (System.nanoTime() < deadline) {
                        if (interval > 0) {
                            java.util.concurrent.locks.LockSupport.parkNanos(next - System.nanoTime());
                            next += interval;
                        }
                        String run = "load-" + sender + "-" + n++;
                        byte[] runBytes = run.getBytes(StandardCharsets.UTF_8);
                        body.reset();
                        body.writeBytes(("{\"type\":\"run.created\",\"runId\":\"" + run
                                + "\",\"createdAt\":\"2026-11-22T10:00:00Z\",\"labels\":{\"tenant\":\"t" + (n % 100)
                                + "\",\"robot\":\"flex\"}}\n").getBytes(StandardCharsets.UTF_8));
                        for (int i = 1; i < batch - 1; i++) {
                            body.writeBytes(lineStart);
                            body.writeBytes(runBytes);
                            body.writeBytes(commandStart);
                            body.writeBytes(beforeId);
                            body.writeBytes(Integer.toString(i).getBytes(StandardCharsets.US_ASCII));
                            body.writeBytes(afterId);
                        }
                        body.writeBytes(("{\"type\":\"run.completed\",\"runId\":\"" + run
                                + "\",\"status\":\"succeeded\",\"completedAt\":\"2026-11-22T10:05:00Z\"}\n")
                                .getBytes(StandardCharsets.UTF_8));
                        byte[] bytes = body.toByteArray();
                        long t0 = System.nanoTime();
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/events"))
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() != 200) {
                                System.out.println("POST failed: " + r.statusCode() + " " + r.body());
                                return;
                            }
                        } catch (Exception e) {
                            System.out.println("POST failed: " + e);
                            return;
                        }
                        if (t0 > warmup) {
                            postNanos.add(System.nanoTime() - t0);
                            events.addAndGet(batch);
                        }
                    }
                }, "load-sender-" + t));
            }
            threads.add(new Thread(() -> {
                int n = 0;
                while (System.nanoTime() < deadline) {
                    try {
                        long t0 = System.nanoTime();
                        blockingGet(base + "/runs?label.tenant=t" + (n % 100) + "&pageLength=20");
                        long t1 = System.nanoTime();
                        blockingGet(base + "/runs/load-0-" + (n % 5) + "/commands?pageLength=20");
                        long t2 = System.nanoTime();
                        if (t0 > warmup) {
                            runsNanos.add(t1 - t0);
                            pageNanos.add(t2 - t1);
                        }
                        n++;
                        Thread.sleep(20);
                    } catch (Exception e) {
                        System.out.println("GET failed: " + e);
                        return;
                    }
                }
            }, "load-reader"));
            Hiccups hiccups = new Hiccups(warmupSeconds); // the reader's own floor, beside the server's
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            hiccups.stop();
            System.out.println("load JVM hiccups: p99 " + hiccups.p99() + " ms, max " + hiccups.max() + " ms");
            double measured = seconds - warmupSeconds;
            System.out.printf(Locale.ROOT, "RESULT %.0f %.3f %.3f %.3f%n", events.get() / measured, p99(postNanos), p99(runsNanos),
                    p99(pageNanos));
        }

        /**
         * A GET on the calling thread over a kept-alive connection (HttpURLConnection): the JDK's HttpClient
         * hands each response between its selector and executor threads, which on a loaded 2-core machine
         * added ~8 ms to a read's p99 that the server never saw (its own timer said 2-4 ms).
         */
        private static void blockingGet(String url) throws java.io.IOException {
            java.net.HttpURLConnection c = (java.net.HttpURLConnection) URI.create(url).toURL().openConnection();
            int status = c.getResponseCode();
            try (java.io.InputStream in = status == 200 ? c.getInputStream() : c.getErrorStream()) {
                in.readAllBytes();
            }
            if (status != 200 && status != 404) {
                throw new java.io.IOException("GET " + url + " answered " + status);
            }
        }

        private static double p99(ConcurrentLinkedQueue<Long> nanos) {
            long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
            return Bench.percentile(sorted, 99) / 1e6;
        }
    }
}
