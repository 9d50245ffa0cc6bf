package dev.runledger.tool;

import com.zaxxer.hikari.HikariDataSource;
import dev.runledger.fleet.FleetDatabase;
import dev.runledger.fleet.FleetProjector;
import dev.runledger.fleet.FleetProjectorConfig;
import dev.runledger.fleet.FleetQueries;
import dev.runledger.fleet.KafkaBroker;
import dev.runledger.fleet.Shipper;
import dev.runledger.fleet.ShipperConfig;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.RunQuery;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

@Command(name = "fleet-demo", mixinStandardHelpOptions = true,
        description = {"Runs a small fleet on this machine: Kafka, PostgreSQL, N simulated robots and the fleet projector.",
                "Each robot has its own journal, SQLite projection and shipper under --dir; the fleet projector",
                "materializes every robot's runs in PostgreSQL, and the demo prints fleet queries and the lag as it goes.",
                "Ctrl-C (or --seconds) stops everything; the data stays in --dir for the next run."})
final class FleetDemoCommand implements Callable<Integer> {
    @Option(names = "--robots", defaultValue = "4", paramLabel = "N", description = "Simulated robots (default: ${DEFAULT-VALUE}).")
    int robots;

    @Option(names = "--dir", defaultValue = "data/fleet-demo", paramLabel = "DIR",
            description = "Where the robots, the broker and PostgreSQL keep their data (default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--seconds", defaultValue = "0", paramLabel = "S",
            description = "Stop after this many seconds (default: ${DEFAULT-VALUE}: run until Ctrl-C).")
    int seconds;

    @Option(names = "--commands", defaultValue = "40", paramLabel = "C",
            description = "Commands per simulated run (default: ${DEFAULT-VALUE}).")
    int commands;

    private final PrintStream out = System.out;

    /** One simulated robot: an engine appending runs to its ledger, its own projection, and its shipper. */
    private static final class Robot implements AutoCloseable {
        final String id;
        final Ledger ledger;
        final Projection projection;
        final Shipper shipper;
        final List<Thread> threads = new ArrayList<>();
        volatile boolean running = true;

        Robot(String id, Path dir, String bootstrap) {
            this.id = id;
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            this.ledger = Ledger.open(LedgerConfig.builder(dir.resolve("journal")).meterRegistry(registry).build());
            this.projection = Projection.open(ProjectionConfig.builder(dir.resolve("runs.sqlite"), ledger.journal())
                    .meterRegistry(registry).build());
            this.shipper = new Shipper(ShipperConfig.builder(ledger.journal(), id, bootstrap).follow(true)
                    .meterRegistry(registry).build());
        }

        void start(int commands, long seed) {
            Thread engine = new Thread(() -> {
                EngineSimulator engineSim = new EngineSimulator(seed);
                String batch = Long.toString(System.currentTimeMillis() / 1000, 36);
                for (int run = 0; running; run++) {
                    ledger.append(engineSim.runEvents(id + "-" + batch + "-" + run, commands));
                    try {
                        Thread.sleep(150);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "fleet-demo-engine-" + id);
            Thread shipping = new Thread(() -> {
                try {
                    shipper.run();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }, "fleet-demo-shipper-" + id);
            threads.add(engine);
            threads.add(shipping);
            threads.forEach(Thread::start);
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            threads.get(0).interrupt();
            threads.get(0).join(10_000);
            shipper.close();
            threads.get(1).join(30_000);
            projection.close();
            ledger.close();
        }
    }

    @Override
    public Integer call() throws Exception {
        if (robots < 1 || robots > 50) {
            throw new IllegalArgumentException("--robots must be 1-50 but was " + robots);
        }
        Files.createDirectories(dir);
        out.printf("Run Ledger fleet demo: %d robots, Kafka and PostgreSQL under %s%n", robots, dir);
        try (KafkaBroker kafka = KafkaBroker.start(dir.resolve("kafka"));
             FleetDatabase postgres = FleetDatabase.embedded(dir.resolve("postgres"), 0);
             HikariDataSource pool = postgres.pool("fleet-demo-queries", 2)) {
            out.printf("  kafka      %s%n  postgres   %s%n", kafka.bootstrap(), postgres.jdbcUrl());
            kafka.createTopic(ShipperConfig.DEFAULT_TOPIC, 4);
            List<Robot> fleet = new ArrayList<>();
            FleetProjector projector = new FleetProjector(FleetProjectorConfig.builder(kafka.bootstrap(), postgres.jdbcUrl())
                    .follow(true).meterRegistry(new SimpleMeterRegistry()).build());
            Thread projecting = new Thread(() -> {
                try {
                    projector.run();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }, "fleet-demo-projector");
            CountDownLatch stop = StopSignals.latch();
            try {
                for (int i = 1; i <= robots; i++) {
                    Robot robot = new Robot("robot-" + i, dir.resolve("robot-" + i), kafka.bootstrap());
                    fleet.add(robot);
                    robot.start(commands, i * 7919L + System.nanoTime() % 1000);
                    out.printf("  robot-%d    journal and projection in %s, shipping to topic %s%n", i,
                            dir.resolve("robot-" + i), ShipperConfig.DEFAULT_TOPIC);
                }
                projecting.start();
                out.printf("Everything runs; %s.%n", seconds > 0 ? "stopping after " + seconds + " s" : "Ctrl-C stops it");
                FleetQueries queries = new FleetQueries(pool, FleetProjectorConfig.DEFAULT_SCHEMA);
                long deadline = seconds > 0 ? System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds) : Long.MAX_VALUE;
                while (!stop.await(3, TimeUnit.SECONDS) && System.nanoTime() < deadline) {
                    report(fleet, queries);
                }
                report(fleet, queries);
            } finally {
                out.println("stopping: robots, shippers, the fleet projector, PostgreSQL and Kafka (data kept in " + dir + ")");
                for (Robot robot : fleet) {
                    robot.close();
                }
                projector.close();
                projecting.join(30_000);
            }
        }
        return RunLedger.OK;
    }

    private void report(List<Robot> fleet, FleetQueries queries) {
        try {
            var applied = queries.robots();
            StringBuilder lag = new StringBuilder();
            for (Robot robot : fleet) {
                long head = robot.ledger.journal().headIndex();
                long have = applied.getOrDefault(robot.id, Journal.NONE); // none applied: count from the start
                lag.append(String.format(Locale.ROOT, " %s %,d behind;", robot.id, robot.ledger.journal().countBetween(have, head)));
            }
            long t0 = System.nanoTime();
            var all = queries.runs(null, RunQuery.builder().pageLength(1).includeTotal(true).build());
            var failed = queries.runs(null, RunQuery.builder().label("tenant", "acme").status("failed").pageLength(3)
                    .includeTotal(true).build());
            double ms = (System.nanoTime() - t0) / 1e6;
            out.printf(Locale.ROOT, "fleet: %,d runs from %d robots; lag (events):%s%n", all.total(), applied.size(), lag);
            out.printf(Locale.ROOT, "  failed runs of tenant acme on any robot: %,d; newest: %s (both queries %.1f ms)%n",
                    failed.total(), failed.runs().stream().map(r -> r.robot() + "/" + r.run().id()).toList(), ms);
        } catch (FleetQueries.FleetReadException e) {
            out.println("fleet: the projection is not there yet (" + e.getMessage() + ")");
        }
    }
}
