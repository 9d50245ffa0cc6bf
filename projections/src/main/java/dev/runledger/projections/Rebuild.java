package dev.runledger.projections;

import dev.runledger.ledger.ExclusiveFileLock;
import dev.runledger.ledger.Journal;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;

/**
 * Migration as replay: the journal is replayed into a new file beside the projection, which is synced
 * and renamed over the old one only when complete. A crash at any moment leaves the old file as it was;
 * the next rebuild removes the partial file. The journal is only read.
 */
public final class Rebuild {

    /** Progress callback: {@code done} of {@code total} events replayed. */
    @FunctionalInterface
    public interface ProgressListener {
        void onProgress(long done, long total);
    }

    /** @param threads 1 decodes on the writing thread; 2 or more decode on a second thread (more adds nothing) */
    public record Options(int schemaVersion, int threads, boolean strict, ProgressListener progress) {
        public Options {
            if (!Schema.isKnown(schemaVersion)) {
                throw new IllegalArgumentException("schemaVersion must be 1 or 2 but was " + schemaVersion);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1 but was " + threads);
            }
            if (progress == null) {
                progress = (done, total) -> { };
            }
        }

        public static Options defaults() {
            return new Options(Schema.CURRENT_VERSION, 2, false, null);
        }

        public Options withProgress(ProgressListener listener) {
            return new Options(schemaVersion, threads, strict, listener);
        }
    }

    public record Result(long events, long runs, long commands, long quarantined, long lastIndex, Duration elapsed) {
        public double eventsPerSecond() {
            double seconds = elapsed.toNanos() / 1e9;
            return seconds == 0 ? 0 : events / seconds;
        }
    }

    private Rebuild() {
    }

    /** Rebuilds {@code database} from {@code journal}; fails if a live projector holds the file. */
    public static Result rebuild(Journal journal, Path database, Options options) {
        ProjectionFile file = new ProjectionFile(database);
        long start = System.nanoTime();
        try (ExclusiveFileLock lock = file.lock()) {
            file.removeLeftovers();
            Replay.Outcome o = Replay.build(new Replay.Options(file.name(), journal, file.rebuildPath(),
                    options.schemaVersion(), options.strict(), options.threads(), Replay.TO_HEAD,
                    () -> Thread.currentThread().isInterrupted()), options.progress());
            file.replaceWith(file.rebuildPath());
            return new Result(o.events(), o.runs(), o.commands(), o.quarantined(), o.lastIndex(),
                    Duration.ofNanos(System.nanoTime() - start));
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("rebuild of " + file + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("rebuild of " + file + " interrupted", e);
        }
    }

    /** Replays the journal up to {@code database}'s checkpoint into a temporary file and compares every table. */
    public static Verification verify(Journal journal, Path database, ProgressListener progress) {
        return Verifier.verify(journal, new ProjectionFile(database), progress == null ? (done, total) -> { } : progress);
    }
}
