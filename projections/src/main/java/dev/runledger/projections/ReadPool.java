package dev.runledger.projections;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
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
        T run(Connection c) throws Exception;
    }

    private final ReentrantReadWriteLock swapLock = new ReentrantReadWriteLock(true);
    private final Semaphore permits;
    private final ArrayDeque<Connection> idle = new ArrayDeque<>();
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
            Connection c = null;
            try {
                c = borrow();
                T result = work.run(c);
                c.rollback(); // ends the read transaction so the WAL can be checkpointed
                giveBack(c);
                c = null;
                return result;
            } finally {
                if (c != null) {
                    closeQuietly(c);
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

    Path file() {
        return file;
    }

    private Connection borrow() throws SQLException {
        synchronized (idle) {
            Connection c = idle.poll();
            if (c != null) {
                return c;
            }
        }
        return Sqlite.openReader(file);
    }

    private void giveBack(Connection c) {
        synchronized (idle) {
            idle.push(c);
        }
    }

    private void closeIdle() {
        synchronized (idle) {
            for (Connection c : idle) {
                closeQuietly(c);
            }
            idle.clear();
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // a broken connection is being discarded anyway
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
