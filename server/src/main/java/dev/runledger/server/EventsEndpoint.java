package dev.runledger.server;

import dev.runledger.ledger.InvalidEventException;
import dev.runledger.ledger.JournalFullException;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonDecoder;
import dev.runledger.ledger.NdjsonReader;
import dev.runledger.ledger.RejectedEventException;
import dev.runledger.ledger.RunEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.eclipse.jetty.io.Content;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeoutException;

/**
 * {@code POST /events}: an NDJSON body, decoded and validated line by line as it arrives (no thread waits
 * for a slow client, and a bad line is known before the body ends), then appended whole or not at all:
 * lifecycle checks and the append happen once the last byte is in.
 */
final class EventsEndpoint {
    /** NDJSON under any of its names; no Content-Type at all is taken as NDJSON too (curl -H-less scripts). */
    private static final Set<String> ACCEPTED_TYPES = Set.of("application/x-ndjson", "application/ndjson",
            "application/jsonl", "application/x-jsonlines", "application/jsonlines", "text/plain");

    private final Ledger ledger;
    private final ServerConfig config;
    private final Counter invalid;
    private final Counter tooSlow;
    /**
     * One append at a time: appends serialize on the ledger's lock anyway, and appending several large
     * batches at once on a 2-core machine starved the readers (query p99 under load 51 ms, see README).
     */
    private final Semaphore ingest = new Semaphore(1, true);
    private final BodyBudget budget;
    private final Eraser eraser;
    private final IdempotentBatches idempotent = new IdempotentBatches();
    private final Counter replayed;

    EventsEndpoint(Ledger ledger, MeterRegistry registry, ServerConfig config, Counter tooSlow, Eraser eraser) {
        this.ledger = ledger;
        this.eraser = eraser;
        this.config = config;
        this.tooSlow = tooSlow;
        this.budget = new BodyBudget(config.bodyBudgetBytes());
        this.invalid = Counter.builder("ledger.append.rejected").description("Events refused at append")
                .tag("reason", "invalid").register(registry);
        this.replayed = Counter.builder("http.server.idempotent.replays").description("POST /events retries answered"
                + " from their Idempotency-Key instead of appended again").register(registry);
    }

    void handle(Exchange e) {
        String contentType = e.header("Content-Type");
        if (contentType != null) {
            String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
            if (!ACCEPTED_TYPES.contains(mediaType)) {
                throw new HttpError(415, "UnsupportedMediaType", "POST /events takes NDJSON (Content-Type"
                        + " application/x-ndjson, one JSON event per line), not " + mediaType);
            }
        }
        String key = e.header("Idempotency-Key");
        if (key != null) {
            IdempotentBatches.requireKey(key);
        }
        long declared = e.declaredLength(config.maxBodyBytes());
        BodyBudget.Reservation reservation = null;
        HttpError busy = null;
        try {
            reservation = budget.reserve(Math.max(0, declared));
        } catch (HttpError refused) {
            busy = refused;
        }
        new BodyReader(e, reservation, busy, key).run();
    }

    /**
     * {@code DELETE /runs/{id}}: appends {@code run.deleted} (reason {@code user}) and answers its journal
     * index, so a client can read its own deletion with {@code minIndex}. With {@code ?erase=true} the
     * deletion has reason {@code erase} and the answer waits until the run's bytes are gone ({@link Eraser});
     * a run deleted before may be erased too.
     */
    void delete(Exchange e, String runId) throws IOException {
        for (String name : e.query.keySet()) {
            if (!name.equals("erase")) {
                throw HttpError.badRequest("unknown parameter " + name + " (DELETE /runs/{id} takes erase)");
            }
        }
        String eraseParam = e.param("erase");
        if (eraseParam != null && !eraseParam.equals("true") && !eraseParam.equals("false")) {
            throw HttpError.badRequest("erase must be true or false but was " + Exchange.abbreviate(eraseParam));
        }
        boolean erase = "true".equals(eraseParam);
        if (erase && eraser.phase(runId) == dev.runledger.ledger.RunLifecycle.Phase.DELETED) {
            // Deleted before, not erased: its deletion is at or below the head, which the projection is brought to.
            eraser.erase(e, runId, ledger.journal().headIndex(), false);
            return;
        }
        long index;
        try {
            index = appendInTurn(List.of(new RunEvent.RunDeleted(runId, erase ? RunEvent.RunDeleted.ERASE
                    : RunEvent.RunDeleted.USER)));
        } catch (RejectedEventException rejected) {
            throw new HttpError(rejected.reason() == RejectedEventException.Reason.UNKNOWN_RUN ? 404 : 409, "EventRejected",
                    rejected.detail(), null, null);
        } catch (InvalidEventException bad) {
            throw HttpError.badRequest(bad.getMessage());
        } catch (JournalFullException full) {
            throw new HttpError(507, "JournalFull", full.getMessage());
        }
        if (erase) {
            eraser.erase(e, runId, index, true);
        } else {
            answerAppended(e, index, 1);
        }
    }

    /** Appends {@code events}, one request's batch at a time (see {@link #ingest}). */
    private long appendInTurn(List<? extends RunEvent> events) {
        ingest.acquireUninterruptibly();
        try {
            return ledger.append(events);
        } finally {
            ingest.release();
        }
    }

    /**
     * Appends {@code events} unless a batch with the same key and body was appended lately, in which case that
     * batch's answer is given again; the lookup and the append share one turn, so copies racing each other
     * append once.
     */
    private IdempotentBatches.Outcome appendOnce(List<? extends RunEvent> events, String key, byte[] bodyDigest) {
        ingest.acquireUninterruptibly();
        try {
            IdempotentBatches.Outcome first = idempotent.find(key, bodyDigest);
            if (first != null) {
                replayed.increment();
                return first;
            }
            IdempotentBatches.Outcome outcome = new IdempotentBatches.Outcome(ledger.append(events), events.size(), false);
            idempotent.remember(key, bodyDigest, outcome);
            return outcome;
        } finally {
            ingest.release();
        }
    }

    private static java.security.MessageDigest sha256() {
        try {
            return java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** The answer to an append: {@code {"lastIndex":...,"appended":...}}. */
    private static void answerAppended(Exchange e, long lastIndex, int appended) throws IOException {
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeNumberField("lastIndex", lastIndex);
            g.writeNumberField("appended", appended);
            g.writeEndObject();
        });
    }

    /**
     * Reads the body chunk by chunk as Jetty delivers it, asking to be called again when more arrives
     * (so it holds a thread only while there are bytes to decode). Once refused (a bad line, too large,
     * no memory budget) it reads on and drops the rest, up to the body limit, so that the client, still
     * sending, hears the answer; a body too slow is answered at once and its connection closed.
     */
    private final class BodyReader implements Runnable {
        private final Exchange e;
        private final long startNanos = System.nanoTime();
        private final NdjsonDecoder decoder = new NdjsonDecoder(config.maxLineBytes());
        private NdjsonReader.Batch.Builder batch = new NdjsonReader.Batch.Builder();
        private BodyBudget.Reservation reservation;
        private HttpError refusal;
        private long received;
        private final String idempotencyKey;
        /** The body's SHA-256, taken as it arrives, when it has an Idempotency-Key. */
        private final java.security.MessageDigest digest;

        BodyReader(Exchange e, BodyBudget.Reservation reservation, HttpError busy, String idempotencyKey) {
            this.e = e;
            this.reservation = reservation;
            this.idempotencyKey = idempotencyKey;
            this.digest = idempotencyKey == null ? null : sha256();
            if (busy != null) {
                refuse(busy);
            }
        }

        @Override
        public void run() {
            try {
                while (true) {
                    Content.Chunk chunk = e.request().read();
                    if (chunk == null) {
                        e.request().demand(this);
                        return;
                    }
                    if (Content.Chunk.isFailure(chunk)) {
                        broken(chunk.getFailure());
                        return;
                    }
                    try {
                        take(chunk);
                    } finally {
                        chunk.release();
                    }
                    if (chunk.isLast()) {
                        complete();
                        return;
                    }
                    if (arrivingTooSlowly() || refusal != null && received > config.maxBodyBytes()) {
                        answer(refusal); // no more draining: the connection closes after the answer
                        return;
                    }
                }
            } catch (Exception | StackOverflowError failure) {
                release();
                e.fail(failure);
            }
        }

        private void take(Content.Chunk chunk) {
            received += chunk.remaining();
            if (refusal != null) {
                return; // draining
            }
            try {
                if (received > config.maxBodyBytes()) {
                    throw Exchange.tooLarge(config.maxBodyBytes());
                }
                reservation.growTo(received);
                if (digest != null) {
                    digest.update(chunk.getByteBuffer().duplicate());
                }
                decoder.feed(chunk.getByteBuffer(), batch);
            } catch (InvalidEventException bad) {
                invalid.increment();
                refuse(new HttpError(400, "InvalidEvent", bad.getMessage() + " (nothing was appended)",
                        bad.line() == 0 ? null : bad.line(), null));
            } catch (HttpError refused) {
                refuse(refused);
            }
        }

        private void refuse(HttpError error) {
            refusal = error;
            if (error.status == 503) {
                e.setHeader("Retry-After", "1");
            }
            release(); // what was decoded so far is dropped now, not when the drain ends
        }

        /** After a grace period, a body must average {@code minBodyBytesPerSecond}; checked as each chunk arrives. */
        private boolean arrivingTooSlowly() {
            long elapsed = System.nanoTime() - startNanos;
            int minRate = config.minBodyBytesPerSecond();
            if (minRate == 0 || elapsed < ServerConfig.BODY_RATE_GRACE.toNanos() || received * 1e9 / elapsed >= minRate) {
                return false;
            }
            tooSlow.increment();
            refuse(new HttpError(408, "RequestTimeout", String.format(Locale.ROOT, "the body arrived at %.0f bytes/s,"
                    + " below the minimum of %d bytes/s; nothing was appended", received * 1e9 / elapsed, minRate)));
            return true;
        }

        /** The body ended in a failure: the idle timeout (answered 408), or the client went away. */
        private void broken(Throwable failure) {
            release();
            if (failure instanceof TimeoutException) {
                tooSlow.increment();
                answer(new HttpError(408, "RequestTimeout", "no body bytes arrived for " + config.idleTimeout().toMillis()
                        + " ms; nothing was appended"));
            } else {
                e.abort(failure);
            }
        }

        private void complete() throws IOException {
            if (refusal != null) {
                answer(refusal);
                return;
            }
            try {
                decoder.end(batch);
            } catch (InvalidEventException bad) {
                invalid.increment();
                release();
                throw new HttpError(400, "InvalidEvent", bad.getMessage() + " (nothing was appended)",
                        bad.line() == 0 ? null : bad.line(), null);
            }
            NdjsonReader.Batch events = batch.build();
            batch = null;
            try {
                append(events);
            } finally {
                release();
            }
        }

        private void answer(HttpError error) {
            release();
            e.fail(error);
        }

        private void release() {
            batch = null;
            if (reservation != null) {
                reservation.close();
                reservation = null;
            }
        }

        private void append(NdjsonReader.Batch batch) throws IOException {
            List<RunEvent> events = batch.events();
            if (events.isEmpty()) {
                throw HttpError.badRequest("the body holds no events (NDJSON: one JSON object per line)");
            }
            long last;
            try {
                if (idempotencyKey != null) {
                    IdempotentBatches.Outcome outcome = appendOnce(events, idempotencyKey, digest.digest());
                    if (outcome.replayed()) {
                        e.setHeader("Idempotent-Replayed", "true");
                    }
                    answerAppended(e, outcome.lastIndex(), outcome.appended());
                    return;
                }
                last = appendInTurn(events);
            } catch (RejectedEventException rejected) {
                long line = batch.lineOf(rejected.batchPosition());
                throw new HttpError(409, "EventRejected", "line " + line + ": " + rejected.detail() + " (nothing was appended)",
                        line, null);
            } catch (JournalFullException full) {
                // 507 Insufficient Storage: the request was fine, the server's disk is not; retry once space returns.
                throw new HttpError(507, "JournalFull", full.getMessage(), full.appended() == 0 ? null
                        : (long) batch.lineOf(full.appended()), null);
            }
            answerAppended(e, last, events.size());
        }
    }
}
