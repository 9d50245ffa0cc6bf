package dev.runledger.ledger;

import dev.runledger.ledger.RunEvent.CommandRecorded;
import dev.runledger.ledger.RunEvent.LabelsChanged;
import dev.runledger.ledger.RunEvent.RunCompleted;
import dev.runledger.ledger.RunEvent.RunCreated;
import dev.runledger.ledger.RunEvent.RunDeleted;
import dev.runledger.ledger.RunEvent.SummaryRecorded;

import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The append API a protocol engine uses: every call validates, checks the run's lifecycle and appends
 * to the journal without touching a database, returning the journal index it wrote. Safe for many
 * threads; one process at a time may append to a journal.
 *
 * <pre>{@code
 * try (Ledger ledger = Ledger.open(Path.of("data/journal"))) {
 *     ledger.createRun("r-1", "2026-11-22T10:00:00Z", "p-9", Map.of("tenant", "acme"));
 *     long index = ledger.recordCommand("r-1", "{\"id\":\"c-1\",\"commandType\":\"home\",\"status\":\"queued\"}");
 * }
 * }</pre>
 */
public interface Ledger extends AutoCloseable {

    static Ledger open(Path journalDirectory) {
        return open(LedgerConfig.builder(journalDirectory).build());
    }

    static Ledger open(LedgerConfig config) {
        return ChronicleLedger.open(config);
    }

    /**
     * Appends one event.
     *
     * @throws RejectedEventException if the run's state does not allow it (nothing is written)
     */
    long append(RunEvent event);

    /**
     * Appends a batch: every event is validated against the state the earlier ones leave before any is
     * written, so a rejected batch writes nothing. Returns the index of the last event.
     */
    long append(List<? extends RunEvent> events);

    default long createRun(String runId, String createdAt, String protocolId, Map<String, String> labels) {
        return append(new RunCreated(runId, createdAt, protocolId, labels));
    }

    default long recordCommand(String runId, String commandJson) {
        return append(new CommandRecorded(runId, CommandJson.parse(commandJson)));
    }

    default long changeLabels(String runId, Map<String, String> set, Collection<String> remove) {
        return append(new LabelsChanged(runId, set, remove == null ? null : List.copyOf(remove)));
    }

    default long recordSummary(String runId, String summaryJson) {
        return append(new SummaryRecorded(runId, summaryJson));
    }

    default long completeRun(String runId, CompletionStatus status, String completedAt) {
        return append(new RunCompleted(runId, status, completedAt));
    }

    default long deleteRun(String runId) {
        return append(new RunDeleted(runId));
    }

    /** Where the run stands, as the append rules see it. */
    RunLifecycle.Phase phaseOf(String runId);

    /**
     * What opening the ledger found when it compared the journal with its seal: intact, or how many
     * events are missing after which index. The ledger appends on either way unless configured
     * {@link LedgerConfig.Builder#refuseAppendsAfterLoss strictly}.
     */
    JournalIntegrity integrity();

    /** The journal this ledger appends to; readers may be opened on it. */
    Journal journal();

    /**
     * Applies {@code policy} now: every completed run it lets go is deleted ({@code run.deleted}, reason
     * {@code retention}) in one batch. Returns their ids, oldest first. With {@code dryRun} nothing is
     * appended and the ids are those that would go.
     */
    List<String> retain(RetentionPolicy policy, boolean dryRun);

    /** The policy applied after every completion ({@link LedgerConfig.Builder#retention}), and its last run. */
    RetentionStatus retentionStatus();

    /**
     * Compacts the journal while appends go on (see {@link JournalCompaction}): the bulk is copied
     * beside it, then appends wait while the tail is copied and the copy is swapped in. Readers of this
     * journal follow by themselves; readers in other processes must reopen it. With {@code force},
     * registered readers that have not passed a deletion do not hold its run back.
     */
    JournalCompaction.Result compact(boolean force);

    /** The configured retention policy (null if none) and what it did last. */
    record RetentionStatus(RetentionPolicy policy, java.time.Instant lastRun, int lastDeleted, long totalDeleted) {
    }

    /** Closes the journal, after a final sync if the durability mode syncs. */
    @Override
    void close();
}
