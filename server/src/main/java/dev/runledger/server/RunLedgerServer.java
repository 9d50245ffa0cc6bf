package dev.runledger.server;

import io.micrometer.core.instrument.Counter;
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
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code runledger serve}: one process holding the ledger (appends), the projector (reads) and an HTTP
 * face on Jetty. Jetty reads request headers and bodies without holding a thread, so slow clients cost a
 * connection (limited in number and in time, see {@link ConnectionDeadlines}) but never a worker; reads
 * waiting for their {@code minIndex} and bodies still arriving hold none either. Closing the server
 * answers new requests 503, lets those in flight finish, commits the projector's final batch with its
 * checkpoint and closes the journal.
 */
public final class RunLedgerServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RunLedgerServer.class);

    private final ServerConfig config;
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics;
    private final Backend backend;
    private final Server jetty;
    private final ServerConnector connector;
    private final ConnectionDeadlines deadlines;
    private final Routes routes;
    private final BearerToken bearer;
    private final MinIndexWaits waits;
    /** Requests being handled; a stop waits for this to reach zero, not for the whole grace period. */
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean stopping;

    private RunLedgerServer(ServerConfig config) {
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
        this.backend = config.fleet() != null ? new FleetBackend(config) : new RobotBackend(config, registry, slowClients("body"));

        // Workers run handlers; Jetty leases an acceptor and a selector from the same pool, hence the +2.
        QueuedThreadPool pool = new QueuedThreadPool(config.threads() + 2, Math.min(4, config.threads() + 2));
        pool.setName("runledger-http");
        pool.setDaemon(true);
        jetty = new Server(pool);
        deadlines = new ConnectionDeadlines(config.headerTimeout(), slowClients("headers"));
        connector = connector(jetty, config);
        connector.addBean(deadlines);
        jetty.addConnector(connector);
        jetty.addBean(new NetworkConnectionLimit(config.maxConnections(), connector));
        jetty.setErrorHandler(new JsonErrorHandler());
        jetty.setHandler(new Dispatch());
        jetty.setStopTimeout(0); // our close() already let requests finish; Jetty's stop just closes

        routes = new Routes();
        backend.addRoutes(routes, new RunsEndpoint(config));
        byte[] openApi = OpenApiDocument.bytesFor(config.fleet() != null ? OpenApiDocument.FLEET : OpenApiDocument.ROBOT);
        routes.add("GET", "/health", (e, p) -> backend.health(e))
                .add("GET", "/metrics", (e, p) -> metrics(e))
                .add("GET", "/openapi.json", (e, p) -> e.send(200, "application/json", openApi));
        bearer = new BearerToken(config.token());
        waits = new MinIndexWaits(backend.progress(), pool, config.maxParkedReads());
    }

    private Counter slowClients(String stage) {
        return Counter.builder("http.server.slow.clients").description("Connections closed or requests refused for"
                + " sending too slowly").tag("stage", stage).register(registry);
    }

    /**
     * One listener, plain or TLS. Jetty's URI checks are relaxed because the route table decodes raw path
     * segments itself (strict RFC 3986 and UTF-8, see {@link Exchange#decode}) and never resolves
     * {@code ..} or encoded slashes into a file path; its refusals would otherwise answer before the API does.
     */
    private static ServerConnector connector(Server jetty, ServerConfig config) {
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setRequestHeaderSize(config.maxHeaderBytes());
        http.setUriCompliance(UriCompliance.from(java.util.EnumSet.allOf(UriCompliance.Violation.class)));
        http.setUseInputDirectByteBuffers(false); // heap buffers: NDJSON is decoded in place, not copied
        http.setIdleTimeout(config.idleTimeout().toMillis());
        HttpConnectionFactory h1 = new HttpConnectionFactory(http);
        ServerConnector c;
        if (config.tls() == null) {
            c = new ServerConnector(jetty, 1, 1, h1);
        } else {
            SslContextFactory.Server tls = new SslContextFactory.Server();
            String password = config.tls().password();
            tls.setKeyStore(TlsKeys.load(config.tls().keystore(), config.tls().key(), password.toCharArray()));
            tls.setKeyStorePassword(password);
            tls.setSniRequired(false);
            c = new ServerConnector(jetty, 1, 1, new SslConnectionFactory(tls, h1.getProtocol()), h1);
        }
        c.setHost(config.bind());
        c.setPort(config.port());
        c.setIdleTimeout(config.idleTimeout().toMillis());
        c.setAcceptQueueSize(256);
        return c;
    }

    public static RunLedgerServer start(ServerConfig config) throws IOException {
        RunLedgerServer server = new RunLedgerServer(config);
        try {
            server.jetty.start();
        } catch (Exception e) {
            server.closeStores();
            throw new IOException("cannot listen on " + config.bind() + ":" + config.port() + ": " + e.getMessage(), e);
        }
        server.deadlines.start(server.jetty.getScheduler());
        LOG.info("serving on {}://{}:{} - {}{}", config.tls() == null ? "http" : "https", config.bind(), server.port(),
                server.backend.describe(), config.token() == null ? "" : "; every request but /health needs the bearer token");
        if (config.tls() == null && !config.loopback()) {
            LOG.warn("serving plain HTTP on {}: the bearer token and run data cross the network unencrypted; give"
                    + " --tls-keystore", config.bind());
        }
        return server;
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** Every endpoint as {@code METHOD /template}, in the order they are matched (to check the OpenAPI document). */
    public java.util.List<String> endpoints() {
        return routes.endpoints();
    }

    /** Reads now parked waiting for their minIndex (for tests and health). */
    int parkedReads() {
        return waits.size();
    }

    /** The journal the server appends to, for readers in the same process (a shipper); null when serving the fleet. */
    public dev.runledger.ledger.Journal journal() {
        return backend.journal();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /**
     * Routes, times (tagged with the matched route template) and answers every request, turning every
     * failure into a JSON error. A handler may answer later on another thread (a body still arriving, a
     * parked read): the exchange's completion, not this method's return, ends the request.
     */
    private final class Dispatch extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            long start = System.nanoTime();
            inFlight.incrementAndGet();
            org.eclipse.jetty.io.Connection connection = request.getConnectionMetaData().getConnection();
            deadlines.requestStarted(connection);
            Exchange exchange = new Exchange(request, response, callback, start, (ex, status) -> {
                deadlines.requestEnded(connection);
                finished(ex, status);
            });
            try {
                route(exchange);
            } catch (Exception | StackOverflowError e) {
                exchange.fail(e);
            }
            return true;
        }
    }

    private void route(Exchange exchange) throws Exception {
        if (stopping) {
            exchange.setHeader("Retry-After", "5");
            throw new HttpError(503, "Stopping", "the server is stopping; retry against its successor");
        }
        if (!isOpen(exchange.rawPath())) {
            bearer.check(exchange.header("Authorization")); // before anything of the request is parsed
        }
        exchange.parse();
        Routes.Match match = routes.match(exchange.method(), exchange.path);
        exchange.route = match.template();
        if (match.handler() == null) {
            if (match.allowedMethods().isEmpty()) {
                throw HttpError.notFound("no such endpoint: " + exchange.method() + " " + Exchange.abbreviate(exchange.rawPath()));
            }
            exchange.setHeader("Allow", String.join(", ", match.allowedMethods()));
            throw new HttpError(405, "MethodNotAllowed", exchange.method() + " is not allowed on " + match.template()
                    + "; use " + String.join(" or ", match.allowedMethods()) + " (runs are read with GET, events appended"
                    + " with POST /events)");
        }
        // Run reads wait for minIndex (read-your-writes); health and metrics answer at once, as always.
        boolean read = match.template().startsWith("/runs") || match.template().startsWith("/robots/");
        Long minIndex = read ? exchange.longParam("minIndex") : null;
        if (minIndex != null) {
            String robot = backend.minIndexRobot(exchange, match);
            if (backend.applied(robot) < minIndex) {
                park(exchange, match, robot, minIndex);
                return;
            }
        }
        match.handler().handle(exchange, match.params());
    }

    /** Parks a read until its minIndex is applied, holding no thread; past the cap, 503 at once. */
    private void park(Exchange exchange, Routes.Match match, String robot, long minIndex) {
        long deadline = System.nanoTime() + config.maxWait().toNanos();
        boolean parked = waits.park(new MinIndexWaits.Parked() {
            @Override
            public long minIndex() {
                return minIndex;
            }

            @Override
            public String robot() {
                return robot;
            }

            @Override
            public long deadlineNanos() {
                return deadline;
            }

            @Override
            public void wake(boolean applied) {
                if (!applied) {
                    retryLater(exchange, new HttpError(503, "NotYetApplied", "journal index " + minIndex
                            + (robot == null ? "" : " of robot " + robot) + " is not applied yet (applied: "
                            + backend.applied(robot) + ") after waiting "
                            + config.maxWait().toMillis() + " ms; retry"));
                    return;
                }
                try {
                    match.handler().handle(exchange, match.params());
                } catch (Exception | StackOverflowError e) {
                    exchange.fail(e);
                }
            }
        });
        if (!parked) {
            retryLater(exchange, new HttpError(503, "TooManyWaits", "already " + config.maxParkedReads()
                    + " reads are waiting for minIndex; retry"));
        }
    }

    /** Answers a read that waited in vain, or could not wait, with 503 and when to retry. */
    private static void retryLater(Exchange exchange, HttpError error) {
        exchange.setHeader("Retry-After", "1");
        exchange.fail(error);
    }

    /** Records the request under its route template. */
    private void finished(Exchange exchange, int status) {
        Timer.builder("http.server.requests").description("HTTP requests served")
                .tag("method", exchange.method()).tag("route", exchange.route).tag("status", Integer.toString(status))
                .publishPercentiles(0.5, 0.99)
                .register(registry).record(System.nanoTime() - exchange.startNanos, TimeUnit.NANOSECONDS);
        inFlight.decrementAndGet();
    }

    /** Paths anyone may call when a token is set: {@code /health}, and {@code /metrics} if made public. */
    private boolean isOpen(String rawPath) {
        return "/health".equals(rawPath) || config.publicMetrics() && "/metrics".equals(rawPath);
    }

    private void metrics(Exchange e) throws IOException {
        e.send(200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Graceful: new requests are answered 503, those in flight finish (up to the configured grace; an idle
     * server stops at once), then the projector's final batch is committed with its checkpoint and the
     * journal is closed.
     */
    @Override
    public void close() {
        LOG.info("stopping: finishing {} request(s) in flight (up to {} s)", inFlight.get(), config.shutdownGrace().toSeconds());
        stopping = true;
        waits.close(); // parked reads are answered 503 now rather than held to the end of their wait
        long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        if (inFlight.get() > 0) {
            LOG.warn("{} request(s) still running after the grace period; closing anyway", inFlight.get());
        }
        deadlines.stop();
        try {
            jetty.stop();
        } catch (Exception e) {
            LOG.warn("stopping the HTTP listener failed; closing the stores anyway", e);
        }
        closeStores();
        LOG.info("stopped");
    }

    private void closeStores() {
        backend.close();
        gcMetrics.close();
        registry.close();
    }
}
