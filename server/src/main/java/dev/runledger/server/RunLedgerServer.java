package dev.runledger.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.ProjectionStatus;
import dev.runledger.projections.ProjectionUnavailableException;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code runledger serve}: one process holding the ledger (appends), the projector (reads) and an HTTP
 * face on the JDK's server. Closing it stops accepting, lets requests in flight finish, commits the
 * projector's final batch with its checkpoint and closes the journal.
 */
public final class RunLedgerServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RunLedgerServer.class);

    static {
        // The JDK server leaves Nagle on unless told otherwise; with delayed ACKs every small response then
        // waited ~40 ms (measured: 45 requests/s, p99 50 ms). Read once when its classes load, so set it first.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
    }

    private final ServerConfig config;
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics;
    private final Ledger ledger;
    private final Projection projection;
    private final HttpServer http;
    private final ExecutorService executor;
    private final Routes routes;
    private final BearerToken bearer;
    private final MinIndexWaits waits;
    /** Requests being handled; a stop waits for this to reach zero, not for the whole grace period. */
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean stopping;

    private RunLedgerServer(ServerConfig config) throws IOException {
        this.config = config;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // Two binder meters fail `promtool check metrics`: a counter in nanoseconds (unit abbreviated in the
        // name; process_cpu_usage stays) and a gauge ending in _count. Drop one, rename the other.
        registry.config().meterFilter(MeterFilter.denyNameStartsWith("process.cpu.time"));
        registry.config().meterFilter(new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                return "system.cpu.count".equals(id.getName()) ? id.withName("system.cpu.processors") : id;
            }
        });
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
        Ledger openedLedger = Ledger.open(LedgerConfig.builder(config.journal()).meterRegistry(registry).build());
        Projection openedProjection;
        try {
            openedProjection = Projection.open(ProjectionConfig.builder(config.database(), openedLedger.journal())
                    .meterRegistry(registry).pollInterval(java.time.Duration.ofMillis(20)).build());
        } catch (RuntimeException e) {
            openedLedger.close();
            throw e;
        }
        this.ledger = openedLedger;
        this.projection = openedProjection;
        AtomicInteger n = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(config.threads(), r -> {
            Thread t = new Thread(r, "runledger-http-" + n.incrementAndGet());
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((th, e) -> LOG.error("{} - uncaught failure", th.getName(), e));
            return t;
        });
        try {
            this.http = HttpServer.create(new InetSocketAddress(config.bind(), config.port()), 256);
        } catch (IOException e) {
            projection.close();
            ledger.close();
            throw new IOException("cannot listen on " + config.bind() + ":" + config.port() + ": " + e.getMessage(), e);
        }
        http.setExecutor(executor);
        EventsEndpoint events = new EventsEndpoint(ledger, registry, config);
        RunsEndpoint runs = new RunsEndpoint(projection, config);
        routes = new Routes()
                .add("POST", "/events", (e, p) -> events.handle(e))
                .add("GET", "/runs", (e, p) -> runs.listRuns(e))
                .add("GET", "/runs/{id}", (e, p) -> runs.run(e, p.get(0)))
                .add("GET", "/runs/{id}/commands", (e, p) -> runs.commands(e, p.get(0)))
                .add("GET", "/runs/{id}/commands.json", (e, p) -> runs.commandsJson(e, p.get(0)))
                .add("GET", "/runs/{id}/commands/{commandId}", (e, p) -> runs.command(e, p.get(0), p.get(1)))
                .add("GET", "/health", (e, p) -> health(e))
                .add("GET", "/metrics", (e, p) -> metrics(e));
        http.createContext("/", this::dispatch);
        bearer = new BearerToken(config.token());
        waits = new MinIndexWaits(projection, executor, config.maxParkedReads());
    }

    public static RunLedgerServer start(ServerConfig config) throws IOException {
        RunLedgerServer server = new RunLedgerServer(config);
        server.http.start();
        ProjectionStatus s = server.projection.status();
        Journal j = server.ledger.journal();
        LOG.info("serving on http://{}:{} - journal {} (id {}, head {}), projection {} (schema version {}, checkpoint {},"
                        + " lag {} events, {}){}", config.bind(), server.port(), j.directory(), j.id(), j.headIndex(),
                config.database(), s.schemaVersion(), s.checkpoint(), s.lagEvents(), s.state(),
                config.token() == null ? "" : "; appends need a bearer token");
        return server;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** Reads now parked waiting for their minIndex (for tests and health). */
    int parkedReads() {
        return waits.size();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /**
     * Routes, times (tagged with the matched route template) and answers every request, turning every
     * failure into a JSON error; nothing escapes to the HTTP server.
     */
    private void dispatch(HttpExchange ex) {
        long start = System.nanoTime();
        inFlight.incrementAndGet();
        Exchange exchange = null;
        Routes.Match match = null;
        try {
            if (stopping) {
                ex.getResponseHeaders().set("Retry-After", "5");
                throw new HttpError(503, "Stopping", "the server is stopping; retry against its successor");
            }
            if (!isOpen(ex.getRequestURI().getRawPath())) {
                bearer.check(ex.getRequestHeaders().getFirst("Authorization")); // before anything of the request is parsed
            }
            exchange = new Exchange(ex);
            match = routes.match(exchange.method(), exchange.path);
            if (match.handler() == null) {
                if (match.allowedMethods().isEmpty()) {
                    throw HttpError.notFound("no such endpoint: " + exchange.method() + " " + ex.getRequestURI().getPath());
                }
                ex.getResponseHeaders().set("Allow", String.join(", ", match.allowedMethods()));
                throw new HttpError(405, "MethodNotAllowed", exchange.method() + " is not allowed on " + match.template()
                        + "; use " + String.join(" or ", match.allowedMethods()) + " (runs are read with GET, events appended"
                        + " with POST /events)");
            }
            // Run reads wait for minIndex (read-your-writes); health and metrics answer at once, as always.
            Long minIndex = match.template().startsWith("/runs") ? exchange.longParam("minIndex") : null;
            if (minIndex != null && projection.appliedIndex() < minIndex) {
                park(ex, exchange, match, start, minIndex);
                return;
            }
        } catch (Exception e) {
            respond(ex, exchange, e);
            finish(ex, exchange, match == null ? Routes.UNKNOWN : match.template(), start);
            return;
        }
        run(ex, exchange, match, start);
    }

    /** Handles a routed request (at once, or when its minIndex is applied) and finishes it. */
    private void run(HttpExchange ex, Exchange exchange, Routes.Match match, long start) {
        try {
            match.handler().handle(exchange, match.params());
        } catch (Exception e) {
            respond(ex, exchange, e);
        } finally {
            finish(ex, exchange, match.template(), start);
        }
    }

    /** Parks a read until its minIndex is applied, holding no thread; past the cap, 503 at once. */
    private void park(HttpExchange ex, Exchange exchange, Routes.Match match, long start, long minIndex) {
        long deadline = System.nanoTime() + config.maxWait().toNanos();
        boolean parked = waits.park(new MinIndexWaits.Parked() {
            @Override
            public long minIndex() {
                return minIndex;
            }

            @Override
            public long deadlineNanos() {
                return deadline;
            }

            @Override
            public void wake(boolean applied) {
                if (applied) {
                    run(ex, exchange, match, start);
                } else {
                    retryLater(ex, exchange, match, start, new HttpError(503, "NotYetApplied", "journal index " + minIndex
                            + " is not applied yet (applied: " + projection.appliedIndex() + ") after waiting "
                            + config.maxWait().toMillis() + " ms; retry"));
                }
            }
        });
        if (!parked) {
            retryLater(ex, exchange, match, start, new HttpError(503, "TooManyWaits", "already " + config.maxParkedReads()
                    + " reads are waiting for minIndex; retry"));
        }
    }

    /** Answers a read that waited in vain, or could not wait, with 503 and when to retry, and finishes it. */
    private void retryLater(HttpExchange ex, Exchange exchange, Routes.Match match, long start, HttpError error) {
        ex.getResponseHeaders().set("Retry-After", "1");
        respond(ex, exchange, error);
        finish(ex, exchange, match.template(), start);
    }

    /** Turns every failure into a JSON error; nothing escapes to the HTTP server. */
    private static void respond(HttpExchange ex, Exchange exchange, Exception failure) {
        if (failure instanceof HttpError e) {
            respondError(ex, exchange, e);
        } else if (failure instanceof ProjectionUnavailableException e) {
            respondError(ex, exchange, new HttpError(503, "ProjectionUnavailable", e.getMessage(), null, e.progress()));
        } else {
            // The response says that it failed and where to look, never how: no stack, no SQLite text.
            String incident = Long.toHexString(System.nanoTime());
            LOG.error("{} {} failed (incident {})", ex.getRequestMethod(), ex.getRequestURI().getRawPath(), incident, failure);
            respondError(ex, exchange, new HttpError(500, "InternalError", "the request failed on the server; its log"
                    + " names incident " + incident));
        }
    }

    /** Records the request under its route template and closes it. */
    private void finish(HttpExchange ex, Exchange exchange, String route, long start) {
        int status = exchange == null ? 400 : exchange.status;
        Timer.builder("http.server.requests").description("HTTP requests served")
                .tag("method", ex.getRequestMethod()).tag("route", route).tag("status", Integer.toString(status))
                .publishPercentiles(0.5, 0.99)
                .register(registry).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        ex.close();
        inFlight.decrementAndGet();
    }

    /** Paths anyone may call when a token is set: {@code /health}, and {@code /metrics} if made public. */
    private boolean isOpen(String rawPath) {
        return "/health".equals(rawPath) || config.publicMetrics() && "/metrics".equals(rawPath);
    }

    private static void respondError(HttpExchange ex, Exchange exchange, HttpError e) {
        try {
            Exchange target = exchange != null ? exchange : new Exchange(ex, false);
            if (target.status != 0) {
                return; // headers went out already (a streamed response): nothing more can be said
            }
            target.sendError(e);
        } catch (IOException | RuntimeException io) {
            LOG.debug("cannot send error response", io);
        }
    }

    /**
     * 200 while the projection serves (also when {@code degraded}: reads answer from the last checkpoint
     * while failing batches are retried), 503 when it failed for good. The lag is the real distance from the
     * journal head, growing while batches fail.
     */
    private void health(Exchange e) throws IOException {
        ProjectionStatus s = projection.status();
        int status = s.state() == ProjectionStatus.State.FAILED ? 503 : 200;
        String state = s.state().name().toLowerCase(java.util.Locale.ROOT);
        e.sendJson(status, g -> {
            g.writeStartObject();
            g.writeStringField("status", s.state() == ProjectionStatus.State.RUNNING ? "ok" : state);
            g.writeObjectFieldStart("journal");
            g.writeStringField("id", s.journalId());
            g.writeNumberField("head", s.journalHead());
            dev.runledger.ledger.JournalIntegrity integrity = ledger.integrity();
            g.writeStringField("integrity", integrity.intact() ? "intact" : "events missing");
            if (!integrity.intact()) {
                g.writeNumberField("missingEvents", integrity.missingEvents());
                g.writeStringField("detail", integrity.detail());
            }
            g.writeEndObject();
            g.writeObjectFieldStart("projection");
            g.writeStringField("file", config.database().toString());
            g.writeNumberField("checkpoint", s.checkpoint());
            g.writeNumberField("lagEvents", s.lagEvents());
            g.writeNumberField("schemaVersion", s.schemaVersion());
            g.writeStringField("state", state);
            g.writeNumberField("quarantined", s.quarantined());
            if (s.rebuildProgress() >= 0) {
                g.writeNumberField("rebuildProgress", s.rebuildProgress());
            }
            if (s.lastError() != null) {
                g.writeStringField("lastError", s.lastError());
            }
            if (s.degradedSince() != null) {
                g.writeStringField("degradedSince", s.degradedSince().toString());
            }
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    private void metrics(Exchange e) throws IOException {
        e.send(200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * Graceful: new requests are answered 503, those in flight finish (up to the configured grace; an idle
     * server stops at once), then the projector's final batch is committed with its checkpoint and the
     * journal is closed.
     */
    @Override
    public void close() {
        long grace = config.shutdownGrace().toNanos();
        LOG.info("stopping: finishing {} request(s) in flight (up to {} s)", inFlight.get(), config.shutdownGrace().toSeconds());
        stopping = true;
        waits.close(); // parked reads are answered 503 now rather than held to the end of their wait
        long deadline = System.nanoTime() + grace;
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        if (inFlight.get() > 0) {
            LOG.warn("{} request(s) still running after the grace period; closing anyway", inFlight.get());
        }
        http.stop(0);
        executor.shutdown();
        try {
            executor.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        projection.close();
        ledger.close();
        gcMetrics.close();
        registry.close();
        LOG.info("stopped");
    }
}
