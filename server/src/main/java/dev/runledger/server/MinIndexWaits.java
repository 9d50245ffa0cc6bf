package dev.runledger.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Reads that asked for {@code minIndex} before the projection applied it, parked without a thread: the
 * request's exchange stays open while one waiter thread sleeps on the projection's progress and hands
 * each read back to the request pool once its index is applied, or answers 503 when its wait runs out.
 * Waiting therefore never holds a request thread (12 such reads used to occupy 12 of 8 threads), and the
 * number of parked reads is capped: past the cap a read is answered 503 with {@code Retry-After} at once.
 */
final class MinIndexWaits {
    private static final Logger LOG = LoggerFactory.getLogger(MinIndexWaits.class);
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /** A parked read: resumed with {@code true} once applied, or {@code false} when its deadline passed or on stop. */
    interface Parked {
        long minIndex();

        /** Whose journal index {@link #minIndex} is: null on a robot's own server, a robot's id over the fleet. */
        default String robot() {
            return null;
        }

        long deadlineNanos();

        void wake(boolean applied);
    }

    /** Where the applied positions come from: the robot's projection, or the fleet's robot positions. */
    interface Progress {
        /** Returns when the position may have moved toward {@code lowest}, or after {@code timeout}. */
        void await(long lowest, Duration timeout) throws InterruptedException;

        /** The applied index for a parked read's {@link Parked#robot()}, read once per round for every parked read. */
        java.util.function.ToLongFunction<String> applied();
    }

    private final Progress progress;
    private final Executor requests;
    private final int cap;
    private final List<Parked> parked = new ArrayList<>();
    private final Thread waiter;
    private volatile boolean running = true;

    MinIndexWaits(Progress progress, Executor requests, int cap) {
        this.progress = progress;
        this.requests = requests;
        this.cap = cap;
        this.waiter = new Thread(this::run, "runledger-minindex-waits");
        waiter.setDaemon(true);
        waiter.start();
    }

    /** Parks {@code read}; false when the cap is reached (the caller answers 503 at once). */
    boolean park(Parked read) {
        synchronized (parked) {
            if (!running || parked.size() >= cap) {
                return false;
            }
            parked.add(read);
        }
        java.util.concurrent.locks.LockSupport.unpark(waiter);
        return true;
    }

    int size() {
        synchronized (parked) {
            return parked.size();
        }
    }

    private void run() {
        while (running) {
            long lowest = Long.MAX_VALUE;
            long earliest = Long.MAX_VALUE;
            synchronized (parked) {
                for (Parked p : parked) {
                    lowest = Math.min(lowest, p.minIndex());
                    earliest = Math.min(earliest, p.deadlineNanos());
                }
            }
            try {
                if (lowest == Long.MAX_VALUE) {
                    java.util.concurrent.locks.LockSupport.parkNanos(IDLE_PARK_NANOS);
                } else {
                    long left = Math.max(1, Math.min(earliest - System.nanoTime(), IDLE_PARK_NANOS));
                    progress.await(lowest, Duration.ofNanos(left)); // woken by the projector's progress
                }
                release(progress.applied(), System.nanoTime());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.error("minIndex waits - cannot hand parked reads back; retrying", e);
            }
        }
    }

    private void release(java.util.function.ToLongFunction<String> applied, long now) {
        List<Parked> ready = new ArrayList<>();
        List<Parked> expired = new ArrayList<>();
        synchronized (parked) {
            for (Iterator<Parked> it = parked.iterator(); it.hasNext(); ) {
                Parked p = it.next();
                if (p.minIndex() <= applied.applyAsLong(p.robot())) {
                    ready.add(p);
                    it.remove();
                } else if (now >= p.deadlineNanos()) {
                    expired.add(p);
                    it.remove();
                }
            }
        }
        ready.forEach(p -> hand(p, true));
        expired.forEach(p -> hand(p, false));
    }

    private void hand(Parked p, boolean applied) {
        try {
            requests.execute(() -> p.wake(applied));
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            p.wake(false);
        }
    }

    /** Answers every parked read (they end with 503) and stops the waiter. */
    void close() {
        running = false;
        List<Parked> left;
        synchronized (parked) {
            left = new ArrayList<>(parked);
            parked.clear();
        }
        left.forEach(p -> p.wake(false));
        java.util.concurrent.locks.LockSupport.unpark(waiter);
    }
}
