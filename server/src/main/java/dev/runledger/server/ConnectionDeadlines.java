package dev.runledger.server;

import io.micrometer.core.instrument.Counter;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * How long a connection may go without a request being handled on it: the time a client has to send
 * its request headers (and a POST its first body bytes), and to send the next request on a kept-alive
 * connection. Jetty reads headers without holding a thread, so a slow client costs no worker; but a
 * client dripping a header byte a second never trips the idle timeout either, and would hold its
 * connection (one of the limited number) for hours. A sweep each second closes those connections.
 * While a request is being handled its own limits apply (body rate, idle timeout), not this one.
 */
final class ConnectionDeadlines implements Connection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionDeadlines.class);

    private static final class State {
        volatile long idleSinceNanos = System.nanoTime();
        int active; // guarded by this
    }

    private final Map<Connection, State> connections = new ConcurrentHashMap<>();
    private final long limitNanos;
    private final Counter closed;
    private volatile Scheduler.Task next;
    private volatile boolean running = true;

    ConnectionDeadlines(Duration limit, Counter closed) {
        this.limitNanos = limit.toNanos();
        this.closed = closed;
    }

    @Override
    public void onOpened(Connection connection) {
        if (connection instanceof org.eclipse.jetty.io.ssl.SslConnection) {
            return; // the HTTP connection it decrypts for is tracked, and closing that closes this one
        }
        connections.put(connection, new State());
    }

    @Override
    public void onClosed(Connection connection) {
        connections.remove(connection);
    }

    void requestStarted(Connection connection) {
        State s = connections.get(connection);
        if (s != null) {
            synchronized (s) {
                s.active++;
            }
        }
    }

    void requestEnded(Connection connection) {
        State s = connections.get(connection);
        if (s != null) {
            synchronized (s) {
                s.active--;
                s.idleSinceNanos = System.nanoTime();
            }
        }
    }

    /** Sweeps every second until {@link #stop()}. */
    void start(Scheduler scheduler) {
        next = scheduler.schedule(() -> {
            try {
                sweep();
            } catch (RuntimeException e) {
                LOG.error("connection deadlines - sweep failed; next in 1 s", e);
            }
            if (running) {
                start(scheduler);
            }
        }, 1, TimeUnit.SECONDS);
    }

    void stop() {
        running = false;
        Scheduler.Task task = next;
        if (task != null) {
            task.cancel();
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        connections.forEach((connection, s) -> {
            boolean expired;
            synchronized (s) {
                expired = s.active == 0 && now - s.idleSinceNanos > limitNanos;
            }
            if (expired && connection.getEndPoint().isOpen()) {
                LOG.debug("closing {}: no request within {} ms", connection.getEndPoint().getRemoteSocketAddress(),
                        TimeUnit.NANOSECONDS.toMillis(limitNanos));
                closed.increment();
                connection.getEndPoint().close();
            }
        });
    }
}
