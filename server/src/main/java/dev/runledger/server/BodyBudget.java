package dev.runledger.server;

import java.util.concurrent.Semaphore;

/**
 * Memory that request bodies in flight may hold, across all requests. A body costs about twice its
 * size while it is handled (its bytes, then the events parsed from them), so that much is reserved
 * before a byte is read; what does not fit is answered 503 with {@code Retry-After} at once, never
 * queued and never an {@code OutOfMemoryError}. Counted in KiB to fit a semaphore.
 */
final class BodyBudget {
    private final Semaphore kib;
    private final long totalBytes;

    BodyBudget(long totalBytes) {
        this.totalBytes = totalBytes;
        this.kib = new Semaphore((int) Math.min(Integer.MAX_VALUE, Math.max(1, totalBytes >> 10)), true);
    }

    /** A reservation for a body of {@code bodyBytes}; released when closed. Throws 503 if it does not fit now. */
    Reservation reserve(long bodyBytes) {
        int permits = (int) Math.min(Integer.MAX_VALUE, Math.max(1, (2 * bodyBytes + 1023) >> 10));
        if (!kib.tryAcquire(permits)) {
            throw busy(bodyBytes);
        }
        return new Reservation(permits);
    }

    private HttpError busy(long bodyBytes) {
        return new HttpError(503, "Busy", "the server is handling as much request data as its memory allows ("
                + (totalBytes >> 20) + " MiB in flight); a body of " + bodyBytes + " bytes does not fit now, retry", null, null);
    }

    final class Reservation implements AutoCloseable {
        private int permits;

        private Reservation(int permits) {
            this.permits = permits;
        }

        /** Grows the reservation for a body whose size was not known up front (chunked); throws 503 if it cannot. */
        void growTo(long bodyBytes) {
            int needed = (int) Math.min(Integer.MAX_VALUE, (2 * bodyBytes + 1023) >> 10);
            if (needed > permits) {
                if (!kib.tryAcquire(needed - permits)) {
                    throw busy(bodyBytes);
                }
                permits = needed;
            }
        }

        @Override
        public void close() {
            kib.release(permits);
            permits = 0;
        }
    }
}
