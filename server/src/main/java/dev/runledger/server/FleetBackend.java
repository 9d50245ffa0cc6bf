package dev.runledger.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.runledger.fleet.FleetDatabase;
import dev.runledger.fleet.FleetProjector;
import dev.runledger.fleet.FleetQueries;
import dev.runledger.ledger.Journal;
import dev.runledger.projections.RunQueries;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP read API over the fleet's PostgreSQL projection: {@code GET /runs} across robots (each run names its
 * robot), and one robot's runs under {@code /robots/{robot}/runs/...} with the answers of that robot's own server.
 * Nothing is appended here: robots append to their own ledgers and ship. {@code minIndex} is per robot: it goes with
 * the robot in the path, or with {@code robot=} on {@code /runs}.
 */
final class FleetBackend implements Backend {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FleetBackend.class);
    /** Parked reads look at the robots' positions this often: PostgreSQL has no wake-up for a new commit here. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(25);
    private final ServerConfig config;
    private final HikariDataSource pool;
    private final FleetQueries fleet;

    FleetBackend(ServerConfig config) {
        this.config = config;
        this.pool = FleetDatabase.pool(config.fleet().jdbcUrl(), "runledger-serve", config.threads() + 1);
        this.fleet = new FleetQueries(pool, config.fleet().schema());
        try {
            // An empty fleet answers with empty pages (and reads wait for their minIndex) instead of failing
            // until the projector's first connection creates the tables.
            FleetProjector.ensureSchema(pool, config.fleet().schema());
        } catch (java.sql.SQLException e) {
            LOG.warn("cannot create the fleet schema {} ({}); reads fail until a fleet projector has created it",
                    config.fleet().schema(), e.getMessage());
        }
    }

    @Override
    public void addRoutes(Routes routes, RunsEndpoint runs) {
        routes.add("GET", "/runs", (e, p) -> runs.listFleetRuns(e, fleet))
                .add("GET", "/robots/{robot}/runs", (e, p) -> runs.listRuns(e, robot(p.get(0))))
                .add("GET", "/robots/{robot}/runs/{id}", (e, p) -> runs.run(e, robot(p.get(0)), p.get(1)))
                .add("GET", "/robots/{robot}/runs/{id}/commands", (e, p) -> runs.commands(e, robot(p.get(0)), p.get(1)))
                .add("GET", "/robots/{robot}/runs/{id}/commands.json", (e, p) -> runs.commandsJson(e, robot(p.get(0)), p.get(1)))
                .add("GET", "/robots/{robot}/runs/{id}/commands/{commandId}",
                        (e, p) -> runs.command(e, robot(p.get(0)), p.get(1), p.get(2)));
    }

    private RunQueries robot(String robot) {
        return fleet.robot(robot);
    }

    @Override
    public MinIndexWaits.Progress progress() {
        return new MinIndexWaits.Progress() {
            @Override
            public void await(long lowest, Duration timeout) throws InterruptedException {
                TimeUnit.NANOSECONDS.sleep(Math.min(timeout.toNanos(), POLL_NANOS));
            }

            @Override
            public java.util.function.ToLongFunction<String> applied() {
                Map<String, Long> robots = positions();
                return robot -> robots.getOrDefault(robot, Journal.NONE);
            }
        };
    }

    @Override
    public String minIndexRobot(Exchange exchange, Routes.Match match) {
        if (match.template().startsWith("/robots/")) {
            return match.params().get(0);
        }
        String robot = exchange.param("robot");
        if (robot == null) {
            throw HttpError.badRequest("minIndex over the fleet is a journal index of one robot: give robot=ID with it");
        }
        return robot;
    }

    /** While PostgreSQL cannot answer, nothing counts as applied: a parked read waits (up to its bound) for it. */
    @Override
    public long applied(String robot) {
        try {
            return fleet.appliedIndex(robot);
        } catch (FleetQueries.FleetReadException unavailable) {
            return Journal.NONE;
        }
    }

    private Map<String, Long> positions() {
        try {
            return fleet.robots();
        } catch (FleetQueries.FleetReadException unavailable) {
            return Map.of();
        }
    }

    @Override
    public Journal journal() {
        return null;
    }

    @Override
    public String describe() {
        return "the fleet projection in schema " + config.fleet().schema() + " of " + config.fleet().jdbcUrl();
    }

    /** 200 with every robot's applied position while PostgreSQL answers; 503 when it does not. */
    @Override
    public void health(Exchange e) throws IOException {
        Map<String, Long> robots;
        try {
            robots = fleet.robots();
        } catch (FleetQueries.FleetReadException down) {
            e.sendJson(503, g -> {
                g.writeStartObject();
                g.writeStringField("status", "unavailable");
                g.writeStringField("error", down.getMessage());
                g.writeEndObject();
            });
            return;
        }
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeStringField("status", "ok");
            g.writeObjectFieldStart("fleet");
            g.writeStringField("schema", config.fleet().schema());
            g.writeObjectFieldStart("robots");
            for (Map.Entry<String, Long> r : robots.entrySet()) {
                g.writeObjectFieldStart(r.getKey());
                g.writeNumberField("appliedIndex", r.getValue());
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    @Override
    public void close() {
        pool.close();
    }
}
