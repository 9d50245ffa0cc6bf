package dev.runledger.server;

import dev.runledger.ledger.JournalCompaction;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.ReaderPositions;
import dev.runledger.ledger.RunLifecycle;
import dev.runledger.projections.Projection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * {@code DELETE /runs/{id}?erase=true}: the run's deletion is appended by the caller; this brings the
 * projection past it, compacts the journal online (appends wait only for its tail and swap) and waits
 * for the projection to drop the run's tombstone and empty its WAL. Erasures run one at a time on their
 * own thread, so no HTTP worker waits for a compaction; a few more may queue, past that 503.
 */
final class Eraser implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Eraser.class);
    private static final Duration PROJECTION_PATIENCE = Duration.ofSeconds(60);
    private static final Duration READERS_PATIENCE = Duration.ofSeconds(10);

    private final Ledger ledger;
    private final Projection projection;
    private final ThreadPoolExecutor worker;

    Eraser(Ledger ledger, Projection projection) {
        this.ledger = ledger;
        this.projection = projection;
        this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(8), r -> {
            Thread t = new Thread(r, "runledger-erase");
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((thread, e) -> LOG.error("{} died", thread.getName(), e));
            return t;
        });
    }

    /**
     * Erases {@code runId}, deleted at journal index {@code deletedAt} ({@code appended}: by this request),
     * answering {@code e} when done: 200 once no event of the run is left in the journal or the projection;
     * 409 if a registered reader (a shipper) has not passed the deletion, naming it.
     */
    void erase(Exchange e, String runId, long deletedAt, boolean appended) {
        try {
            worker.execute(() -> {
                try {
                    answer(e, runId, deletedAt, appended, eraseNow(runId, deletedAt));
                } catch (HttpError refused) {
                    e.fail(refused);
                } catch (Exception | StackOverflowError failed) {
                    LOG.error("erasing run {} failed; it is deleted (index {}) but may not be erased", runId, deletedAt, failed);
                    e.fail(failed);
                }
            });
        } catch (RejectedExecutionException busy) {
            e.setHeader("Retry-After", "5");
            e.fail(new HttpError(503, "EraseBusy", "run " + runId + " is deleted (index " + deletedAt + ") but not erased:"
                    + " too many erasures are queued; repeat DELETE /runs/" + runId + "?erase=true"));
        }
    }

    private JournalCompaction.Result eraseNow(String runId, long deletedAt) throws InterruptedException {
        if (!projection.awaitApplied(deletedAt, PROJECTION_PATIENCE)) {
            throw retry(runId, deletedAt, "the projection has not applied the deletion within "
                    + PROJECTION_PATIENCE.toSeconds() + " s");
        }
        ReaderPositions.awaitPassed(ledger.journal().directory(), deletedAt, READERS_PATIENCE, () -> false);
        JournalCompaction.Result result = ledger.compact(false);
        if (!result.droppedRunIds().contains(runId)) {
            var behind = ReaderPositions.behind(ledger.journal().directory(), deletedAt).keySet();
            throw new HttpError(409, "EraseHeldBack", "run " + runId + " is deleted (index " + deletedAt + ") but its events"
                    + " stay in the journal: registered reader(s) " + behind + " have not passed the deletion. Run them (a"
                    + " shipper) or remove their file under " + ledger.journal().directory().resolve("readers")
                    + ", then repeat DELETE /runs/" + runId + "?erase=true");
        }
        if (!projection.awaitTidied(ledger.journal().compactions(), PROJECTION_PATIENCE)) {
            throw retry(runId, deletedAt, "the projection has not dropped the run's tombstone within "
                    + PROJECTION_PATIENCE.toSeconds() + " s");
        }
        LOG.info("erased run {}: compaction dropped {} events of {} run(s), appends held {} ms", runId,
                result.droppedEvents(), result.droppedRuns(), result.appendsHeld().toMillis());
        return result;
    }

    private static HttpError retry(String runId, long deletedAt, String why) {
        return new HttpError(503, "EraseIncomplete", "run " + runId + " is deleted (index " + deletedAt + ") but not yet"
                + " erased: " + why + "; repeat DELETE /runs/" + runId + "?erase=true");
    }

    private static void answer(Exchange e, String runId, long deletedAt, boolean appended, JournalCompaction.Result r) {
        try {
            e.sendJson(200, g -> {
                g.writeStartObject();
                g.writeNumberField("lastIndex", deletedAt);
                g.writeNumberField("appended", appended ? 1 : 0);
                g.writeBooleanField("erased", true);
                g.writeObjectFieldStart("compaction");
                g.writeNumberField("droppedEvents", r.droppedEvents());
                g.writeNumberField("droppedRuns", r.droppedRuns());
                g.writeNumberField("bytesBefore", r.bytesBefore());
                g.writeNumberField("bytesAfter", r.bytesAfter());
                g.writeNumberField("millis", r.took().toMillis());
                g.writeNumberField("appendsHeldMillis", r.appendsHeld().toMillis());
                g.writeEndObject();
                g.writeEndObject();
            });
        } catch (java.io.IOException | RuntimeException failed) {
            e.fail(failed);
        }
    }

    /** Whether {@code runId} may be erased: it exists, deleted or not. */
    RunLifecycle.Phase phase(String runId) {
        return ledger.phaseOf(runId);
    }

    /** Lets a running erasure finish (its compaction cannot be cut short safely), then stops. */
    @Override
    public void close() {
        worker.shutdown();
        try {
            if (!worker.awaitTermination(2, TimeUnit.MINUTES)) {
                LOG.warn("an erasure is still running after 2 minutes; closing the journal under it");
            }
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
