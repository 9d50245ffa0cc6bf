package dev.runledger.server;

import dev.runledger.projections.RunQuery;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/** Immutable, validated settings of a {@link RunLedgerServer}. Build with {@link #builder(Path, Path)}. */
public final class ServerConfig {
    private final Path journal;
    private final Fleet fleet;
    private final Path database;
    private final String bind;
    private final int port;
    private final String token;
    private final int maxBodyBytes;
    private final int maxLineBytes;
    private final int maxPageLength;
    private final Duration maxWait;
    private final int threads;
    private final Duration shutdownGrace;
    private final boolean publicMetrics;
    private final long bodyBudgetBytes;
    private final int maxParkedReads;
    private final Duration idleTimeout;
    private final Duration headerTimeout;
    private final int maxHeaderBytes;
    private final int maxConnections;
    private final int minBodyBytesPerSecond;
    private final Tls tls;
    private final dev.runledger.ledger.RetentionPolicy retention;
    private final double compactWhenDead;
    private final long compactWhenBytes;
    private final boolean loopback;

    /**
     * TLS for the listener: a PKCS#12 keystore, or a PEM certificate chain with its PKCS#8 key (in the
     * same file, or in {@code key}). The password opens a PKCS#12 file; PEM keys are unencrypted.
     */
    public record Tls(Path keystore, Path key, String password) {
        public Tls {
            Objects.requireNonNull(keystore, "keystore");
            password = password == null ? "" : password;
        }

        @Override
        public String toString() {
            return "Tls[keystore=" + keystore + ", key=" + key + "]"; // never the password
        }
    }

    private ServerConfig(Builder b, boolean loopback) {
        this.loopback = loopback;
        this.journal = b.journal;
        this.fleet = b.fleet;
        this.database = b.database;
        this.bind = b.bind;
        this.port = b.port;
        this.token = b.token;
        this.maxBodyBytes = b.maxBodyBytes;
        this.maxLineBytes = b.maxLineBytes;
        this.maxPageLength = b.maxPageLength;
        this.maxWait = b.maxWait;
        this.threads = b.threads;
        this.shutdownGrace = b.shutdownGrace;
        this.publicMetrics = b.publicMetrics;
        this.bodyBudgetBytes = b.bodyBudgetBytes;
        this.maxParkedReads = b.maxParkedReads;
        this.idleTimeout = b.idleTimeout;
        this.headerTimeout = b.headerTimeout;
        this.maxHeaderBytes = b.maxHeaderBytes;
        this.maxConnections = b.maxConnections;
        this.minBodyBytesPerSecond = b.minBodyBytesPerSecond;
        this.tls = b.tls;
        this.retention = b.retention;
        this.compactWhenDead = b.compactWhenDead;
        this.compactWhenBytes = b.compactWhenBytes;
    }

    /** Whether {@link #bind()} is a loopback address (resolved once, when the configuration was built). */
    public boolean loopback() {
        return loopback;
    }

    /** The share of dead events (of deleted runs) past which the ledger compacts the journal while serving; 0: never. */
    public double compactWhenDead() {
        return compactWhenDead;
    }

    /** The journal size in bytes past which the ledger compacts it while serving, if any of it is dead; 0: never. */
    public long compactWhenBytes() {
        return compactWhenBytes;
    }

    /** The retention policy the ledger applies after every completion, or null to keep every run. */
    public dev.runledger.ledger.RetentionPolicy retention() {
        return retention;
    }

    /** A connection with no byte in either direction for this long is closed (a stalled body ends in 408). */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /**
     * How long a connection may go without a request being handled: the time to send request headers
     * (and a POST's first body bytes), or the next request on a kept-alive connection.
     */
    public Duration headerTimeout() {
        return headerTimeout;
    }

    /** The largest request line plus headers; past it, 431. */
    public int maxHeaderBytes() {
        return maxHeaderBytes;
    }

    /** Open connections at most; past it, new ones wait in the accept queue. */
    public int maxConnections() {
        return maxConnections;
    }

    /** A body arriving slower than this on average (after a first {@link #BODY_RATE_GRACE}) is answered 408. */
    public int minBodyBytesPerSecond() {
        return minBodyBytesPerSecond;
    }

    /** Before the body rate is judged: a client's first seconds may be slow (TCP slow start, a busy robot). */
    public static final Duration BODY_RATE_GRACE = Duration.ofSeconds(5);

    /** TLS settings, or null for plain HTTP. */
    public Tls tls() {
        return tls;
    }

    /** How many reads may wait for their {@code minIndex} at once (they hold no thread); past it, 503. */
    public int maxParkedReads() {
        return maxParkedReads;
    }

    /** Memory all request bodies in flight may hold together (each costs about twice its size); default half the heap. */
    public long bodyBudgetBytes() {
        return bodyBudgetBytes;
    }

    /** With a token set: whether {@code /metrics} may be scraped without it ({@code /health} always may). */
    public boolean publicMetrics() {
        return publicMetrics;
    }

    public static Builder builder(Path journal, Path database) {
        return new Builder(journal, database, null);
    }

    /** The fleet's PostgreSQL projection, served read-only (see {@code runledger serve --postgres}). */
    public record Fleet(String jdbcUrl, String schema) {
    }

    /** A server of the fleet projection in {@code schema} of the PostgreSQL at {@code jdbcUrl}: reads only, no journal. */
    public static Builder fleet(String jdbcUrl, String schema) {
        return new Builder(null, null, new Fleet(dev.runledger.fleet.FleetDatabase.requireJdbcUrl(jdbcUrl),
                dev.runledger.fleet.FleetDatabase.requireSchemaName(schema)));
    }

    /** Set when serving the fleet; then {@link #journal()} and {@link #database()} are null. */
    public Fleet fleet() {
        return fleet;
    }

    public Path journal() {
        return journal;
    }

    public Path database() {
        return database;
    }

    public String bind() {
        return bind;
    }

    public int port() {
        return port;
    }

    /** The bearer token every request but {@code /health} must carry, or null when only loopback clients can reach the server. */
    public String token() {
        return token;
    }

    public int maxBodyBytes() {
        return maxBodyBytes;
    }

    public int maxLineBytes() {
        return maxLineBytes;
    }

    public int maxPageLength() {
        return maxPageLength;
    }

    /** The longest a read waits for {@code minIndex}. */
    public Duration maxWait() {
        return maxWait;
    }

    public int threads() {
        return threads;
    }

    /** How long a stop waits for requests in flight. */
    public Duration shutdownGrace() {
        return shutdownGrace;
    }

    public static final class Builder {
        private final Path journal;
        private final Path database;
        private String bind = "127.0.0.1";
        private int port = 8080;
        private String token;
        private int maxBodyBytes = 32 << 20;
        private int maxLineBytes = 8 << 20;
        private int maxPageLength = RunQuery.MAX_PAGE_LENGTH;
        private Duration maxWait = Duration.ofSeconds(10);
        private int threads = 8;
        private Duration shutdownGrace = Duration.ofSeconds(5);
        private boolean publicMetrics;
        private long bodyBudgetBytes = Runtime.getRuntime().maxMemory() / 2;
        private int maxParkedReads = 1000;
        private Duration idleTimeout = Duration.ofSeconds(30);
        private Duration headerTimeout = Duration.ofSeconds(15);
        private int maxHeaderBytes = 8 * 1024;
        private int maxConnections = 1024;
        private int minBodyBytesPerSecond = 4 * 1024;
        private Tls tls;
        private dev.runledger.ledger.RetentionPolicy retention;
        private double compactWhenDead;
        private long compactWhenBytes;

        private final Fleet fleet;

        private Builder(Path journal, Path database, Fleet fleet) {
            this.fleet = fleet;
            this.journal = fleet != null ? null : Objects.requireNonNull(journal, "journal");
            this.database = fleet != null ? null : Objects.requireNonNull(database, "database");
        }

        public Builder bind(String bind) {
            this.bind = Objects.requireNonNull(bind, "bind");
            return this;
        }

        /** 0 picks a free port. */
        public Builder port(int port) {
            if (port < 0 || port > 65_535) {
                throw new IllegalArgumentException("port must be 0-65535 but was " + port);
            }
            this.port = port;
            return this;
        }

        public Builder token(String token) {
            if (token != null && token.length() < 16) {
                throw new IllegalArgumentException("token must be at least 16 characters but was " + token.length());
            }
            this.token = token;
            return this;
        }

        public Builder maxBodyBytes(int n) {
            if (n < 1024) {
                throw new IllegalArgumentException("maxBodyBytes must be at least 1024 but was " + n);
            }
            this.maxBodyBytes = n;
            return this;
        }

        public Builder maxLineBytes(int n) {
            if (n < 256) {
                throw new IllegalArgumentException("maxLineBytes must be at least 256 but was " + n);
            }
            this.maxLineBytes = n;
            return this;
        }

        /** The longest page a client may ask for; at most what the queries serve ({@link RunQuery#MAX_PAGE_LENGTH}). */
        public Builder maxPageLength(int n) {
            if (n < 1 || n > RunQuery.MAX_PAGE_LENGTH) {
                throw new IllegalArgumentException("maxPageLength must be 1-" + RunQuery.MAX_PAGE_LENGTH + " but was " + n);
            }
            this.maxPageLength = n;
            return this;
        }

        public Builder maxWait(Duration wait) {
            if (wait == null || wait.isNegative() || wait.compareTo(Duration.ofMinutes(5)) > 0) {
                throw new IllegalArgumentException("maxWait must be 0-5 minutes but was " + wait);
            }
            this.maxWait = wait;
            return this;
        }

        public Builder threads(int n) {
            if (n < 1 || n > 256) {
                throw new IllegalArgumentException("threads must be 1-256 but was " + n);
            }
            this.threads = n;
            return this;
        }

        public Builder shutdownGrace(Duration grace) {
            if (grace == null || grace.isNegative() || grace.compareTo(Duration.ofMinutes(1)) > 0) {
                throw new IllegalArgumentException("shutdownGrace must be 0-60 s but was " + grace);
            }
            this.shutdownGrace = grace;
            return this;
        }

        public Builder maxParkedReads(int n) {
            if (n < 1 || n > 100_000) {
                throw new IllegalArgumentException("maxParkedReads must be 1-100000 but was " + n);
            }
            this.maxParkedReads = n;
            return this;
        }

        public Builder bodyBudgetBytes(long bytes) {
            if (bytes < 1 << 20) {
                throw new IllegalArgumentException("bodyBudgetBytes must be at least 1 MiB but was " + bytes);
            }
            this.bodyBudgetBytes = bytes;
            return this;
        }

        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = between("idleTimeout", timeout, Duration.ofMillis(100), Duration.ofHours(1));
            return this;
        }

        public Builder headerTimeout(Duration timeout) {
            this.headerTimeout = between("headerTimeout", timeout, Duration.ofMillis(100), Duration.ofHours(1));
            return this;
        }

        public Builder maxHeaderBytes(int n) {
            if (n < 1024 || n > 1 << 20) {
                throw new IllegalArgumentException("maxHeaderBytes must be 1024-1048576 but was " + n);
            }
            this.maxHeaderBytes = n;
            return this;
        }

        public Builder maxConnections(int n) {
            if (n < 1 || n > 100_000) {
                throw new IllegalArgumentException("maxConnections must be 1-100000 but was " + n);
            }
            this.maxConnections = n;
            return this;
        }

        /** 0 turns the check off (the idle timeout still ends a body that stops). */
        public Builder minBodyBytesPerSecond(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("minBodyBytesPerSecond must be at least 0 but was " + n);
            }
            this.minBodyBytesPerSecond = n;
            return this;
        }

        /** See {@link dev.runledger.ledger.LedgerConfig.Builder#compactWhenDead}. */
        public Builder compactWhenDead(double share) {
            this.compactWhenDead = dev.runledger.ledger.LedgerConfig.checkDeadShare(share);
            return this;
        }

        /** See {@link dev.runledger.ledger.LedgerConfig.Builder#compactWhenBytes}. */
        public Builder compactWhenBytes(long bytes) {
            this.compactWhenBytes = dev.runledger.ledger.LedgerConfig.checkSizeLimit(bytes);
            return this;
        }

        public Builder retention(dev.runledger.ledger.RetentionPolicy policy) {
            this.retention = policy;
            return this;
        }

        /** Serves HTTPS with this keystore (see {@link Tls}); null for plain HTTP. */
        public Builder tls(Tls tls) {
            if (tls != null && !java.nio.file.Files.isRegularFile(tls.keystore())) {
                throw new IllegalArgumentException("TLS keystore " + tls.keystore() + ": no such file");
            }
            if (tls != null && tls.key() != null && !java.nio.file.Files.isRegularFile(tls.key())) {
                throw new IllegalArgumentException("TLS key " + tls.key() + ": no such file");
            }
            this.tls = tls;
            return this;
        }

        private static Duration between(String name, Duration d, Duration min, Duration max) {
            if (d == null || d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                throw new IllegalArgumentException(name + " must be " + min.toMillis() + " ms to " + max.toMinutes()
                        + " minutes but was " + d);
            }
            return d;
        }

        /** Lets Prometheus scrape {@code /metrics} without the token (they show no run data, only counts). */
        public Builder publicMetrics(boolean open) {
            this.publicMetrics = open;
            return this;
        }

        /** Refuses a non-loopback bind without a token: the append endpoint would be open to the network. */
        public ServerConfig build() {
            boolean loopback;
            try {
                loopback = InetAddress.getByName(bind).isLoopbackAddress();
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("bind address " + bind + " does not resolve", e);
            }
            if (!loopback && token == null) {
                throw new IllegalArgumentException("binding " + bind + " (not loopback) requires a token: runs and appends"
                        + " would be open to the network; pass --token-file (or RUNLEDGER_TOKEN) or bind 127.0.0.1");
            }
            return new ServerConfig(this, loopback);
        }
    }
}
