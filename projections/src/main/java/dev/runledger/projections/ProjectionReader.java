package dev.runledger.projections;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * Queries over a projection file without a journal or projector: what {@code runledger query} uses.
 * Safe while a projector writes the same file (WAL readers never block it).
 */
public interface ProjectionReader extends RunQueries, AutoCloseable {

    static ProjectionReader open(Path database) {
        Path file = database.toAbsolutePath().normalize();
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no projection at " + file);
        }
        try (Connection c = Sqlite.openReader(file)) {
            if (!Sqlite.hasTable(c, "projection_meta")) {
                throw new IllegalArgumentException(file + " is not a Run Ledger projection (no projection_meta table)");
            }
            String version = Sqlite.meta(c, "schema_version");
            String journalId = Sqlite.meta(c, "journal_id");
            String checkpoint = Sqlite.meta(c, "checkpoint_index");
            Meta meta = new Meta(version == null ? -1 : Integer.parseInt(version), journalId,
                    checkpoint == null ? -1 : Long.parseLong(checkpoint));
            return new FileProjectionReader(new ReadPool(file.getFileName().toString(), file, 2), meta);
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
