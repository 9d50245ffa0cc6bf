package dev.runledger.projections;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Read-only connections to the projection file, each query in its own read transaction (a consistent
 * snapshot; WAL readers never wait for the writer). A swap (after a rebuild) takes the write side of a
 * lock: it waits for queries in flight, points the pool at the new file, and lets queries go on.
 */
final class ReadPool implements AutoCloseable {
    @FunctionalInterface
    interface SqlWork<T> {
        T run(ReadConnection c) throws Exception;
    }

    /**
     * A pooled reader connection with its prepared statements kept: preparing the label queries cost
     * tens of microseconds each time, a large share of a sub-millisecond query.
     */
    static final class ReadConnection {
        private static final int MAX_STATEMENTS = 64;
        final Connection connection;
        private final Map<String, PreparedStatement> statements = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
                if (size() > MAX_STATEMENTS) {
                    closeQuietly(eldest.getValue());
                    return true;
                }
                return false;
            }
        };

        ReadConnection(Connection connection) {
            this.connection = connection;
        }

        /** A cached statement: callers close their result sets, never the statement. */
        PreparedStatement prepare(String sql) throws SQLException {
            PreparedStatement ps = statements.get(sql);
            if (ps == null) {
                ps = connection.prepareStatement(sql);
                statements.put(sql, ps);
            }
            return ps;
        }

        void close() {
            statements.values().forEach(ReadConnection::closeQuietly);
            statements.clear();
            try {
                connection.close();
            } catch (SQLException ignored) {
                // a broken connection is being discarded anyway
            }
        }

        private static void closeQuietly(PreparedStatement ps) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // closing a statement of a discarded connection
            }
        }
    }

    private final ReentrantReadWriteLock swapLock = new ReentrantReadWriteLock(true);
    private final Semaphore permits;
    private final ArrayDeque<ReadConnection> idle = new ArrayDeque<>();
    private final String name;
    private volatile Path file;
    private volatile boolean closed;

    ReadPool(String name, Path file, int size) {
        this.name = name;
        this.file = file;
        this.permits = new Semaphore(size, true);
    }

    <T> T read(SqlWork<T> work) {
        swapLock.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("projection " + name + " is closed");
            }
            if (!permits.tryAcquire(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("projection " + name + " - no reader connection available after 30 s");
            }
            ReadConnection c = null;
            try {
                c = borrow();
                T result = work.run(c);
                c.connection.rollback(); // ends the read transaction so the WAL can be checkpointed
                giveBack(c);
                c = null;
                return result;
            } finally {
                if (c != null) {
                    c.close();
                }
                permits.release();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("projection " + name + " - interrupted waiting for a reader", e);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ProjectionReadException("projection " + name + " - query failed: " + e.getMessage(), e);
        } finally {
            swapLock.readLock().unlock();
        }
    }

    /** Closes every connection, runs {@code action} (the rename) with no reader open, then serves {@code newFile}. */
    void swap(Path newFile, SqlWork<Void> action) throws Exception {
        swapLock.writeLock().lock();
        try {
            closeIdle();
            action.run(null);
            file = newFile;
        } finally {
            swapLock.writeLock().unlock();
        }
    }

    private ReadConnection borrow() throws SQLException {
        synchronized (idle) {
            ReadConnection c = idle.poll();
            if (c != null) {
                return c;
            }
        }
        return new ReadConnection(Sqlite.openReader(file));
    }

    private void giveBack(ReadConnection c) {
        synchronized (idle) {
            idle.push(c);
        }
    }

    private void closeIdle() {
        synchronized (idle) {
            idle.forEach(ReadConnection::close);
            idle.clear();
        }
    }

    @Override
    public void close() {
        swapLock.writeLock().lock();
        try {
            closed = true;
            closeIdle();
        } finally {
            swapLock.writeLock().unlock();
        }
    }
}
