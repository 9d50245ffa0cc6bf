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

    private ServerConfig(Builder b) {
        this.journal = b.journal;
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
        return new Builder(journal, database);
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

        private Builder(Path journal, Path database) {
            this.journal = Objects.requireNonNull(journal, "journal");
            this.database = Objects.requireNonNull(database, "database");
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
            return new ServerConfig(this);
        }
    }
}
