package dev.runledger.projections;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Optional;

/** Forwards every query; subclasses add lifecycle. */
abstract class DelegatingQueries implements RunQueries {
    private final RunQueries delegate;

    DelegatingQueries(RunQueries delegate) {
        this.delegate = delegate;
    }

    @Override
    public RunPage runs(RunQuery query) {
        return delegate.runs(query);
    }

    @Override
    public Optional<RunView> run(String runId) {
        return delegate.run(runId);
    }

    @Override
    public Optional<CommandView> command(String runId, String commandId) {
        return delegate.command(runId, commandId);
    }

    @Override
    public Optional<CommandPage> commands(String runId, Integer cursor, int pageLength) {
        return delegate.commands(runId, cursor, pageLength);
    }

    @Override
    public boolean writeCommandsJson(String runId, OutputStream out) throws IOException {
        return delegate.writeCommandsJson(runId, out);
    }
}
