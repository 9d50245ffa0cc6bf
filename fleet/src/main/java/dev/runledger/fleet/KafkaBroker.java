package dev.runledger.fleet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node Kafka broker (KRaft: broker and controller in one process), run as a child JVM from
 * this JVM's class path, which must hold {@code org.apache.kafka:kafka_2.13} (Maven resolves it from Maven
 * Central: no Docker, no other download). Tests, benchmarks and {@code runledger dev kafka} all start it
 * this way. Listens on 127.0.0.1 only. Its data stays in {@code dir}, so a stopped broker restarts with
 * its topics ({@link #restart()}, or {@link #start(Path, int)} again on the same directory), on the same ports.
 *
 * <pre>{@code
 * try (KafkaBroker kafka = KafkaBroker.start(dir)) {
 *     String bootstrap = kafka.bootstrap(); // "127.0.0.1:PORT"
 * }
 * }</pre>
 */
public final class KafkaBroker implements AutoCloseable {
    private static final Duration STARTUP = Duration.ofSeconds(90);

    private final Path dir;
    private final int port;
    private final int controllerPort;
    private Process process;

    private KafkaBroker(Path dir, int port, int controllerPort) {
        this.dir = dir;
        this.port = port;
        this.controllerPort = controllerPort;
    }

    /** Formats a new broker's storage in {@code dir} on a free port and starts it; returns once it answers. */
    public static KafkaBroker start(Path dir) throws IOException, InterruptedException {
        return start(dir, 0);
    }

    /**
     * Starts the broker whose data is in {@code dir} (on the ports it had), or formats a new one there
     * listening on {@code port} (0: a free one). Returns once it answers.
     */
    public static KafkaBroker start(Path dir, int port) throws IOException, InterruptedException {
        if (!isBrokerClassPresent()) {
            throw new IllegalStateException("the Kafka broker (org.apache.kafka:kafka_2.13) is not on the class path");
        }
        Path home = dir.toAbsolutePath();
        Files.createDirectories(home);
        Path config = home.resolve("server.properties");
        KafkaBroker broker;
        if (Files.exists(config) && Files.exists(home.resolve("data").resolve("meta.properties"))) {
            Properties p = new Properties();
            try (var in = Files.newBufferedReader(config, StandardCharsets.UTF_8)) {
                p.load(in);
            }
            String listeners = p.getProperty("listeners", "");
            broker = new KafkaBroker(home, portOf(listeners, "PLAINTEXT"), portOf(listeners, "CONTROLLER"));
        } else {
            broker = new KafkaBroker(home, port == 0 ? freePort() : port, freePort());
            broker.writeConfig();
            broker.format();
        }
        broker.restart();
        return broker;
    }

    private static int portOf(String listeners, String name) {
        for (String l : listeners.split(",")) {
            if (l.startsWith(name + "://")) {
                return Integer.parseInt(l.substring(l.lastIndexOf(':') + 1));
            }
        }
        throw new IllegalStateException("server.properties names no " + name + " listener: " + listeners);
    }

    private static boolean isBrokerClassPresent() {
        try {
            Class.forName("kafka.Kafka", false, KafkaBroker.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    /** Waits until the broker process ends (for a foreground {@code runledger dev kafka}). */
    public int waitFor() throws InterruptedException {
        return process.waitFor();
    }

    /** {@code 127.0.0.1:PORT}, for {@code bootstrap.servers}. */
    public String bootstrap() {
        return "127.0.0.1:" + port;
    }

    public Path directory() {
        return dir;
    }

    /** Starts the broker process (again, after {@link #stop} or {@link #kill}) and waits until it answers. */
    public void restart() throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("the broker in " + dir + " is running");
        }
        process = java("kafka.Kafka", dir.resolve("server.properties").toString()).start();
        awaitReady();
    }

    /** A clean stop (SIGTERM): the broker shuts down and flushes its logs. */
    public void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    /** SIGKILL: what a crash or a pulled cable looks like to clients. */
    public void kill() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor();
        }
    }

    /** Creates {@code topic} with one partition and infinite retention (as the fleet contract asks). */
    public void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap()))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(Map.of("retention.ms", "-1"))))
                    .all().get(30, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private void writeConfig() throws IOException {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT");
        p.setProperty("inter.broker.listener.name", "PLAINTEXT");
        p.setProperty("log.dirs", dir.resolve("data").toString());
        p.setProperty("num.partitions", "1");
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("share.coordinator.state.topic.replication.factor", "1");
        p.setProperty("share.coordinator.state.topic.min.isr", "1");
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        p.setProperty("log.retention.ms", "-1"); // the fleet's topic keeps everything: rebuilds replay it
        p.setProperty("auto.create.topics.enable", "true");
        try (var out = Files.newBufferedWriter(dir.resolve("server.properties"), StandardCharsets.UTF_8)) {
            p.store(out, "single-node KRaft broker for Run Ledger's tests and demo");
        }
    }

    private void format() throws IOException, InterruptedException {
        Process format = java("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c",
                dir.resolve("server.properties").toString()).start();
        if (!format.waitFor(60, TimeUnit.SECONDS) || format.exitValue() != 0) {
            format.destroyForcibly();
            throw new IllegalStateException("kafka-storage format failed in " + dir + "; see " + dir.resolve("broker.log"));
        }
    }

    private ProcessBuilder java(String main, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx512m");
        command.add("-XX:+UseG1GC");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main);
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("broker.log").toFile()));
    }

    private void awaitReady() throws InterruptedException {
        long deadline = System.nanoTime() + STARTUP.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the Kafka broker exited with " + process.exitValue() + "; see "
                        + dir.resolve("broker.log"));
            }
            if (!accepts()) { // a plain connect first: the admin client logs a WARN for every refused attempt
                Thread.sleep(100);
                continue;
            }
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap(),
                    AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000", AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000"))) {
                if (!admin.describeCluster().nodes().get(3, TimeUnit.SECONDS).isEmpty()) {
                    return;
                }
            } catch (Exception notYet) {
                last = notYet;
            }
            Thread.sleep(250);
        }
        process.destroyForcibly();
        throw new IllegalStateException("the Kafka broker did not answer within " + STARTUP.toSeconds() + " s; see "
                + dir.resolve("broker.log"), last);
    }

    private boolean accepts() {
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
