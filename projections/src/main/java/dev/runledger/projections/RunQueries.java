package dev.runledger.projections;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Optional;

/** What a robot server's clients ask of the projection. Safe for concurrent use; never blocked by the projector. */
public interface RunQueries {

    /** The commands page a client gets when it names no length (Opentrons' default). */
    int DEFAULT_COMMAND_PAGE_LENGTH = 20;

    RunPage runs(RunQuery query);

    Optional<RunView> run(String runId);

    Optional<CommandView> command(String runId, String commandId);

    /**
     * A page of a run's commands: {@code pageLength} commands from {@code cursor}, or the tail when
     * {@code cursor} is null. Empty if the run does not exist.
     */
    Optional<CommandPage> commands(String runId, Integer cursor, int pageLength);

    /**
     * Writes the run's whole command list as one JSON array, assembled from the stored text without
     * parsing it. Returns false (writing nothing) if the run does not exist.
     */
    boolean writeCommandsJson(String runId, OutputStream out) throws IOException;
}
