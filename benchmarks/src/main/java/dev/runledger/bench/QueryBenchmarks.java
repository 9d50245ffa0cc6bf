package dev.runledger.bench;

import dev.runledger.projections.ProjectionReader;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQuery;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Label filters at 500,000 runs x 3 labels and command pages of a 10,000-command run, through the
 * public query API, against the alternatives on the same file: a json_extract scan of the JSON
 * labels column, the correlated EXISTS form, and the IN form.
 */
public class QueryBenchmarks {

    @State(Scope.Benchmark)
    public static class Data {
        Path db;
        ProjectionReader reader;
        Connection raw;
        PreparedStatement jsonExtract;
        PreparedStatement exists;
        PreparedStatement in;
        int next;

        @Setup(Level.Trial)
        public void open() throws SQLException {
            db = Datasets.labelProjection();
            reader = ProjectionReader.open(db);
            raw = DriverManager.getConnection("jdbc:sqlite:" + db);
            try (java.sql.Statement s = raw.createStatement()) {
                s.execute("PRAGMA mmap_size = " + (1L << 30)); // the same read path the projection's readers use
            }
            jsonExtract = raw.prepareStatement("SELECT id FROM runs WHERE json_extract(labels, '$.tenant') = ?"
                    + " ORDER BY created_index DESC LIMIT 50");
            exists = raw.prepareStatement("SELECT id FROM runs r WHERE EXISTS (SELECT 1 FROM run_labels l"
                    + " WHERE l.run_id = r.id AND l.key = ? AND l.value = ?) ORDER BY r.created_index DESC LIMIT 50");
            in = raw.prepareStatement("SELECT id FROM runs WHERE id IN (SELECT run_id FROM run_labels WHERE key = ?"
                    + " AND value = ?) ORDER BY created_index DESC LIMIT 50");
        }

        String tenant() {
            next = (next + 7919) % Datasets.TENANTS;
            return String.format("t-%05d", next);
        }

        @TearDown(Level.Trial)
        public void close() throws SQLException {
            reader.close();
            raw.close();
        }
    }

    @Benchmark
    public RunPage selectiveLabel(Data d) {
        return d.reader.runs(RunQuery.builder().label("tenant", d.tenant()).pageLength(50).build());
    }

    @Benchmark
    public RunPage commonLabelNewest50(Data d) {
        return d.reader.runs(RunQuery.builder().label("robot", "flex").pageLength(50).build());
    }

    @Benchmark
    public int baselineJsonExtractScanSelective(Data d) throws SQLException {
        d.jsonExtract.setString(1, d.tenant());
        return count(d.jsonExtract);
    }

    @Benchmark
    public int baselineCorrelatedExistsSelective(Data d) throws SQLException {
        d.exists.setString(1, "tenant");
        d.exists.setString(2, d.tenant());
        return count(d.exists);
    }

    @Benchmark
    public int baselineInCommonNewest50(Data d) throws SQLException {
        d.in.setString(1, "robot");
        d.in.setString(2, "flex");
        return count(d.in);
    }

    @Benchmark
    public Object commandsTailPage20(Data d) {
        return d.reader.commands(Datasets.BIG_RUN, null, 20).orElseThrow();
    }

    @Benchmark
    public long commandsWholeListJson(Data d) throws IOException {
        CountingStream out = new CountingStream();
        d.reader.writeCommandsJson(Datasets.BIG_RUN, out);
        return out.count;
    }

    private static int count(PreparedStatement ps) throws SQLException {
        int n = 0;
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                n++;
            }
        }
        return n;
    }

    static final class CountingStream extends OutputStream {
        long count;

        @Override
        public void write(int b) {
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            count += len;
        }
    }
}
