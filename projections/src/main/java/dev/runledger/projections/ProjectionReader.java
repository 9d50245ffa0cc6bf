package dev.runledger.projections;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;

/**
 * Queries over a projection file without a journal or projector: what {@code runledger query} uses.
 * Safe while a projector writes the same file (WAL readers never block it).
 */
public interface ProjectionReader extends RunQueries, AutoCloseable {

    static ProjectionReader open(Path database) {
        ProjectionFile file = new ProjectionFile(database);
        if (!Files.isRegularFile(file.path())) {
            throw new IllegalArgumentException("no projection at " + file);
        }
        try {
            ProjectionFile.Meta meta = file.readMeta();
            return new FileProjectionReader(new ReadPool(file.name(), file.path(), 2),
                    new Meta(meta.schemaVersion(), meta.journalId(), meta.checkpoint()));
        } catch (SQLException e) {
            throw new IllegalArgumentException("cannot read projection " + file + ": " + e.getMessage(), e);
        }
    }

    /** What the file says about itself when opened. */
    record Meta(int schemaVersion, String journalId, long checkpoint) {
    }

    Meta meta();

    @Override
    void close();
}
