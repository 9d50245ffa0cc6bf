package dev.runledger.server;

import dev.runledger.ledger.InvalidEventException;
import dev.runledger.ledger.JournalFullException;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.NdjsonReader;
import dev.runledger.ledger.RejectedEventException;
import dev.runledger.ledger.RunEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** {@code POST /events}: an NDJSON body, validated whole (format and lifecycle) before any of it is appended. */
final class EventsEndpoint {
    private final Ledger ledger;
    private final ServerConfig config;
    private final Counter invalid;
    /**
     * One ingest at a time: appends serialize on the ledger's lock anyway, and parsing several large
     * bodies at once on a 2-core machine starved the readers (query p99 under load 51 ms -> see README).
     */
    private final java.util.concurrent.Semaphore ingest = new java.util.concurrent.Semaphore(1, true);
    private final BodyBudget budget;

    EventsEndpoint(Ledger ledger, MeterRegistry registry, ServerConfig config) {
        this.ledger = ledger;
        this.config = config;
        this.budget = new BodyBudget(config.bodyBudgetBytes());
        this.invalid = Counter.builder("ledger.append.rejected").description("Events refused at append")
                .tag("reason", "invalid").register(registry);
    }

    /** NDJSON under any of its names; no Content-Type at all is taken as NDJSON too (curl -H-less scripts). */
    private static final java.util.Set<String> ACCEPTED_TYPES = java.util.Set.of("application/x-ndjson",
            "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines", "text/plain");

    void handle(Exchange e) throws IOException {
        String contentType = e.http.getRequestHeaders().getFirst("Content-Type");
        if (contentType != null) {
            String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
            if (!ACCEPTED_TYPES.contains(mediaType)) {
                throw new HttpError(415, "UnsupportedMediaType", "POST /events takes NDJSON (Content-Type"
                        + " application/x-ndjson, one JSON event per line), not " + mediaType);
            }
        }
        long declared = e.declaredLength(config.maxBodyBytes());
        BodyBudget.Reservation reservation;
        try {
            reservation = budget.reserve(Math.max(0, declared));
        } catch (HttpError busy) {
            throw retryLater(e, busy);
        }
        try (reservation) {
            byte[] body;
            try {
                body = e.body(config.maxBodyBytes(), reservation);
            } catch (HttpError refused) {
                throw refused.status == 503 ? retryLater(e, refused) : refused;
            }
            ingest.acquireUninterruptibly();
            try {
                append(e, body);
            } finally {
                ingest.release();
            }
        }
    }

    /** A body the budget cannot take now: drained, so the client hears the 503 and when to retry. */
    private HttpError retryLater(Exchange e, HttpError busy) {
        e.http.getResponseHeaders().set("Retry-After", "1");
        e.discardBody(config.maxBodyBytes());
        return busy;
    }

    private void append(Exchange e, byte[] body) throws IOException {
        NdjsonReader.Batch batch;
        try {
            batch = new NdjsonReader(new ByteArrayInputStream(body), config.maxLineBytes()).readBatch();
        } catch (InvalidEventException bad) {
            invalid.increment();
            throw new HttpError(400, "InvalidEvent", bad.getMessage() + " (nothing was appended)",
                    bad.line() == 0 ? null : bad.line(), null);
        }
        List<RunEvent> events = batch.events();
        if (events.isEmpty()) {
            throw HttpError.badRequest("the body holds no events (NDJSON: one JSON object per line)");
        }
        long last;
        try {
            last = ledger.append(events);
        } catch (RejectedEventException rejected) {
            long line = batch.lineOf(rejected.batchPosition());
            throw new HttpError(409, "EventRejected", "line " + line + ": " + rejected.detail() + " (nothing was appended)",
                    line, null);
        } catch (JournalFullException full) {
            // 507 Insufficient Storage: the request was fine, the server's disk is not; retry once space returns.
            throw new HttpError(507, "JournalFull", full.getMessage(), full.appended() == 0 ? null
                    : (long) batch.lineOf(full.appended()), null);
        }
        int count = events.size();
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeNumberField("lastIndex", last);
            g.writeNumberField("appended", count);
            g.writeEndObject();
        });
    }
}
