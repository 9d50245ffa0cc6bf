package dev.runledger.tool;

import dev.runledger.server.RunLedgerServer;
import dev.runledger.server.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs the ledger, the projector and the HTTP API in one process until SIGTERM or Ctrl-C.",
                "With --postgres instead of --journal and --db it serves the fleet's PostgreSQL projection, read-only.",
                "Binds 127.0.0.1 by default; any other address needs a token (--token-file or RUNLEDGER_TOKEN), which every"
                        + " request but /health must then carry as Authorization: Bearer <token>; serve such an address over"
                        + " TLS (--tls-keystore)."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--journal", paramLabel = "DIR", description = "Journal directory (Chronicle Queue).")
    Path journal;

    @Option(names = "--db", paramLabel = "FILE", description = "The SQLite projection file.")
    Path db;

    @Option(names = "--create", description = "Start a new journal even in a directory that holds other files.")
    boolean create;

    @Option(names = "--postgres", paramLabel = "JDBC_URL", description = "Serve the fleet's PostgreSQL projection instead"
            + " of a journal (read-only): GET /runs across robots, /robots/{robot}/runs/... for one robot.")
    String postgres;

    @Option(names = "--schema", defaultValue = dev.runledger.fleet.FleetProjectorConfig.DEFAULT_SCHEMA, paramLabel = "NAME",
            description = "With --postgres: the fleet projection's schema (default: ${DEFAULT-VALUE}).")
    String schema;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "P", description = "Port (default 8080; 0 picks one).")
    int port;

    @Option(names = "--bind", defaultValue = "127.0.0.1", paramLabel = "ADDR", description = "Address (default 127.0.0.1).")
    String bind;

    @Option(names = "--token-file", paramLabel = "FILE", description = "File holding the bearer token every request but"
            + " /health must then carry (16+ characters). Also from the environment: RUNLEDGER_TOKEN.")
    Path tokenFile;

    @Option(names = "--token", paramLabel = "T", description = "The token on the command line: visible to every local"
            + " user in ps; prefer --token-file or RUNLEDGER_TOKEN.")
    String token;

    @Option(names = "--public-metrics", description = "With a token: let /metrics be scraped without it.")
    boolean publicMetrics;

    @Option(names = "--tls-keystore", paramLabel = "FILE", description = "Serve HTTPS with this PKCS#12 keystore, or a"
            + " PEM file with the certificate chain (and the key, unless --tls-key names it). Needed on any network you do"
            + " not trust: without it the token crosses in clear.")
    Path tlsKeystore;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The PEM private key (unencrypted PKCS#8) for a PEM"
            + " --tls-keystore.")
    Path tlsKey;

    @Option(names = "--tls-password-file", paramLabel = "FILE", description = "File holding the PKCS#12 password. Also"
            + " from the environment: RUNLEDGER_TLS_PASSWORD.")
    Path tlsPasswordFile;

    @Mixin
    RetentionOptions retention;

    @Option(names = "--compact-when-dead", paramLabel = "P%", description = "Compact the journal while serving once at"
            + " least P%% of its events belong to deleted runs (e.g. 50%%): checked at start and after deletions, at most one"
            + " compaction a minute. Appends wait only for the compaction's tail and swap.")
    String compactWhenDead;

    @Option(names = "--compact-when-size", paramLabel = "SIZE", converter = SizeOption.class, description = "Compact the"
            + " journal while serving once its files hold more than SIZE (e.g. 512MiB, 2GiB) and any of it belongs to deleted"
            + " runs: a limit for a small disk, checked when --compact-when-dead is. The log says so when the runs kept alone"
            + " take more than SIZE.")
    Long compactWhenSize;

    @Option(names = "--project-from", paramLabel = "HOST:PORT", description = "With --postgres: also run the fleet"
            + " projector in this process, consuming this Kafka cluster (its metrics then appear on /metrics).")
    String projectFrom;

    @Option(names = "--project-topic", defaultValue = dev.runledger.fleet.ShipperConfig.DEFAULT_TOPIC, paramLabel = "T",
            description = "Topic for --project-from (default: ${DEFAULT-VALUE}).")
    String projectTopic;

    @Option(names = "--ship-to", paramLabel = "HOST:PORT", description = "Also ship the journal to this Kafka cluster,"
            + " as runledger ship --follow does (needs --robot).")
    String shipTo;

    @Option(names = "--robot", paramLabel = "ID", description = "The robot's id for --ship-to: the key of its records.")
    String robot;

    @Option(names = "--ship-topic", defaultValue = dev.runledger.fleet.ShipperConfig.DEFAULT_TOPIC, paramLabel = "T",
            description = "Topic for --ship-to (default: ${DEFAULT-VALUE}).")
    String shipTopic;

    @Option(names = "--max-body-bytes", defaultValue = "33554432", paramLabel = "N", description = "Largest POST body in bytes (default: ${DEFAULT-VALUE}, 32 MiB).")
    int maxBodyBytes;

    @Option(names = "--max-wait-ms", defaultValue = "10000", paramLabel = "MS", description = "Longest wait for minIndex, in milliseconds (default: ${DEFAULT-VALUE}).")
    long maxWaitMs;

    /** One source at a time: a file, the environment, or (with a warning) the command line. */
    private String token() throws java.io.IOException {
        String fromEnv = System.getenv("RUNLEDGER_TOKEN");
        int given = (tokenFile != null ? 1 : 0) + (token != null ? 1 : 0) + (fromEnv != null && !fromEnv.isBlank() ? 1 : 0);
        if (given > 1) {
            throw new IllegalArgumentException("give the token one way: --token-file, RUNLEDGER_TOKEN or --token");
        }
        if (tokenFile != null) {
            return secret("--token-file", tokenFile);
        }
        if (token != null) {
            System.err.println("serve: warning: --token is visible to every local user (ps); prefer --token-file or"
                    + " RUNLEDGER_TOKEN");
            return token;
        }
        return fromEnv == null || fromEnv.isBlank() ? null : fromEnv.trim();
    }

    private ServerConfig.Tls tls() throws java.io.IOException {
        if (tlsKeystore == null) {
            if (tlsKey != null || tlsPasswordFile != null) {
                throw new IllegalArgumentException("--tls-key and --tls-password-file go with --tls-keystore");
            }
            return null;
        }
        String password = System.getenv("RUNLEDGER_TLS_PASSWORD");
        if (tlsPasswordFile != null) {
            password = secret("--tls-password-file", tlsPasswordFile);
        }
        return new ServerConfig.Tls(tlsKeystore, tlsKey, password);
    }

    /** A secret kept in a file (so that it is not on the command line), without its surrounding whitespace. */
    private static String secret(String option, Path file) throws java.io.IOException {
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new IllegalArgumentException(option + " " + file + ": no such file");
        }
        return java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.UTF_8).strip();
    }

    /** The threshold of --compact-when-dead as a fraction, or -1 when not given. */
    private double compactionThreshold() {
        if (compactWhenDead == null) {
            return -1;
        }
        String v = compactWhenDead.endsWith("%") ? compactWhenDead.substring(0, compactWhenDead.length() - 1) : compactWhenDead;
        try {
            int percent = Integer.parseInt(v.trim());
            if (percent >= 1 && percent <= 99) {
                return percent / 100.0;
            }
        } catch (NumberFormatException ignored) {
            // falls through to the message
        }
        throw new IllegalArgumentException("--compact-when-dead must be a percentage 1-99% but was " + compactWhenDead);
    }

    @Override
    public Integer call() throws Exception {
        double threshold = compactionThreshold();
        if (postgres != null) {
            if (journal != null || db != null || shipTo != null || threshold >= 0 || compactWhenSize != null
                    || retention.policy() != null) {
                throw new IllegalArgumentException("--postgres serves the fleet read-only: --journal, --db, --ship-to,"
                        + " --compact-when-dead, --compact-when-size and retention go with a robot's own server");
            }
        } else if (projectFrom != null) {
            throw new IllegalArgumentException("--project-from goes with --postgres: it runs the fleet projector");
        } else if (journal == null || db == null) {
            throw new IllegalArgumentException("give --journal and --db (a robot's own server), or --postgres (the fleet)");
        }
        if (postgres == null) {
            NewJournal.check("serve", journal, create);
        }
        ServerConfig.Builder builder = postgres != null ? ServerConfig.fleet(postgres, schema)
                : ServerConfig.builder(journal, db).retention(retention.policy()).compactWhenDead(Math.max(0, threshold))
                        .compactWhenBytes(compactWhenSize == null ? 0 : compactWhenSize);
        ServerConfig config = builder.bind(bind).port(port).token(token()).tls(tls())
                .publicMetrics(publicMetrics).maxBodyBytes(maxBodyBytes).maxWait(java.time.Duration.ofMillis(maxWaitMs))
                .build();
        if ((shipTo == null) != (robot == null)) {
            throw new IllegalArgumentException("--ship-to and --robot go together: where to ship, and as which robot");
        }
        RunLedgerServer server = RunLedgerServer.start(config);
        Thread shipping = shipTo == null ? null : startShipper(server);
        Thread projecting = projectFrom == null ? null : startFleetProjector(server);
        CountDownLatch stop = StopSignals.latch();
        System.out.println("listening on " + (config.tls() == null ? "http" : "https") + "://" + bind + ":" + server.port());
        stop.await();
        if (shipping != null) {
            shipper.close(); // commits what it sent and writes its checkpoint
            shipping.join(java.util.concurrent.TimeUnit.SECONDS.toMillis(30));
        }
        if (projecting != null) {
            fleetProjector.close(); // the batch in hand is committed or rolled back whole
            projecting.join(java.util.concurrent.TimeUnit.SECONDS.toMillis(30));
        }
        server.close();
        return RunLedger.OK;
    }

    private dev.runledger.fleet.Shipper shipper;
    private dev.runledger.fleet.FleetProjector fleetProjector;

    /** The fleet projector of --project-from, on its own thread, measured on the server's registry. */
    private Thread startFleetProjector(RunLedgerServer server) {
        fleetProjector = new dev.runledger.fleet.FleetProjector(dev.runledger.fleet.FleetProjectorConfig.builder(projectFrom,
                postgres).topic(projectTopic).schema(schema).follow(true).meterRegistry(server.registry()).build());
        Thread t = new Thread(() -> {
            try {
                fleetProjector.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(ServeCommand.class).error("the fleet projector from {} stopped; serving goes on",
                        projectFrom, e);
            }
        }, "runledger-fleet-projector");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The shipper of --ship-to, on its own thread, on the server's journal (it follows online compactions). */
    private Thread startShipper(RunLedgerServer server) {
        shipper = new dev.runledger.fleet.Shipper(dev.runledger.fleet.ShipperConfig.builder(server.journal(), robot, shipTo)
                .topic(shipTopic).follow(true).meterRegistry(server.registry()).build());
        Thread t = new Thread(() -> {
            try {
                shipper.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(ServeCommand.class).error("the shipper to {} stopped; serving goes on", shipTo, e);
            }
        }, "runledger-shipper");
        t.setDaemon(true);
        t.setUncaughtExceptionHandler((thread, e) -> org.slf4j.LoggerFactory.getLogger(ServeCommand.class)
                .error("{} died", thread.getName(), e));
        t.start();
        return t;
    }
}
