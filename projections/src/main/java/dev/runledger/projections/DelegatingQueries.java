package dev.runledger.projections;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Forwards every query to the target the supplier gives at call time (a live projection's target changes
 * when a rebuilt file is swapped in); subclasses add lifecycle.
 */
class DelegatingQueries implements RunQueries {
    private final Supplier<RunQueries> target;

    DelegatingQueries(Supplier<RunQueries> target) {
        this.target = target;
    }

    @Override
    public RunPage runs(RunQuery query) {
        return target.get().runs(query);
    }

    @Override
    public Optional<RunView> run(String runId) {
        return target.get().run(runId);
    }

    @Override
    public Optional<CommandView> command(String runId, String commandId) {
        return target.get().command(runId, commandId);
    }

    @Override
    public Optional<CommandPage> commands(String runId, Integer cursor, int pageLength) {
        return target.get().commands(runId, cursor, pageLength);
    }

    @Override
    public boolean writeCommandsJson(String runId, OutputStream out) throws IOException {
        return target.get().writeCommandsJson(runId, out);
    }
}
