package dev.runledger.bench;

import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.ledger.RunEvent;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

/**
 * Appending a ~500-byte command event: the Ledger API, against (a) raw Chronicle {@code writeBytes} of
 * the same bytes, the limit, and (b) the robot-server way, one SQLite INSERT and commit per command.
 */
public class AppendBenchmarks {

    /** The Ledger's append: validation of state, encoding, one locked appender, metrics. */
    @State(Scope.Benchmark)
    public static class LedgerState {
        Path dir;
        Ledger ledger;
        RunEvent.CommandRecorded event;

        @Setup(Level.Trial)
        public void open() {
            dir = Bench.tempDir("append-ledger");
            ledger = Ledger.open(LedgerConfig.builder(dir).meterRegistry(new SimpleMeterRegistry()).build());
            ledger.append(new RunEvent.RunCreated("bench-run", "2026-11-22T10:00:00Z", "p", Map.of("tenant", "acme")));
            event = new RunEvent.CommandRecorded("bench-run", Bench.sampleCommand());
        }

        @TearDown(Level.Trial)
        public void close() {
            ledger.close();
            Bench.delete(dir);
        }
    }

    @Benchmark
    public long ledgerAppend(LedgerState s) {
        return s.ledger.append(s.event);
    }

    /**
     * What the excerpt checksum adds to every append: a CRC-32C over an excerpt's worth of bytes (the
     * event's NDJSON form, within a few bytes of the excerpt's size). The rest of the integrity work, the
     * hash chain, is computed by readers, never on the append path.
     */
    @Benchmark
    public long crc32cOfAnExcerpt(ExcerptBytes b) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(b.bytes, 0, b.bytes.length);
        return crc.getValue();
    }

    @State(Scope.Thread)
    public static class ExcerptBytes {
        byte[] bytes;

        @Setup(Level.Trial)
        public void encode() {
            bytes = dev.runledger.ledger.NdjsonCodec.encode(new RunEvent.CommandRecorded("bench-run", Bench.sampleCommand()));
        }
    }

    /** The same API from JSON text: parse and validate the command, then append. */
    @Benchmark
    public long ledgerRecordCommandFromJson(LedgerState s) {
        return s.ledger.recordCommand("bench-run", s.event.command().json().text());
    }

    @State(Scope.Benchmark)
    public static class QueueState {
        Path dir;
        ChronicleQueue queue;
        byte[] bytes;

        @Setup(Level.Trial)
        public void open() {
            dir = Bench.tempDir("append-raw");
            queue = ChronicleQueue.singleBuilder(dir).build();
            // the same number of bytes the ledger writes: header, ids and the command JSON
            String json = Bench.sampleCommand().json().text();
            bytes = ("0123456789bench-runa5461170-1f38-810f-62c3-970eac8aa628aspiratesucceeded" + json)
                    .getBytes(StandardCharsets.UTF_8);
        }

        @TearDown(Level.Trial)
        public void close() {
            queue.close();
            Bench.delete(dir);
        }
    }

    /** One raw appender per thread, as Chronicle prescribes. */
    @State(Scope.Thread)
    public static class RawAppender {
        ExcerptAppender appender;
        Bytes<byte[]> bytes;

        @Setup(Level.Trial)
        public void open(QueueState q) {
            appender = q.queue.createAppender();
            bytes = Bytes.wrapForRead(q.bytes);
        }

        @TearDown(Level.Trial)
        public void close() {
            appender.close();
        }
    }

    @Benchmark
    public long rawChronicleWriteBytes(RawAppender a) {
        a.bytes.readPosition(0);
        a.appender.writeBytes(a.bytes);
        return a.appender.lastIndexAppended();
    }

    @State(Scope.Benchmark)
    public static class SqliteState {
        Path dir;
        String url;
        String json;

        @Setup(Level.Trial)
        public void open() throws SQLException {
            dir = Bench.tempDir("append-sqlite");
            url = "jdbc:sqlite:" + dir.resolve("robot-server.sqlite");
            json = Bench.sampleCommand().json().text();
            try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("CREATE TABLE run_command(run_id TEXT, index_in_run INTEGER, command_id TEXT, command TEXT,"
                        + " PRIMARY KEY(run_id, index_in_run))");
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            Bench.delete(dir);
        }
    }

    /** Each engine thread with its own connection, committing every command (autocommit). */
    @State(Scope.Thread)
    public static class SqliteConnection {
        Connection connection;
        PreparedStatement insert;
        String runId;
        int next;

        @Setup(Level.Trial)
        public void open(SqliteState s) throws SQLException {
            connection = DriverManager.getConnection(s.url);
            try (Statement st = connection.createStatement()) {
                st.execute("PRAGMA synchronous=NORMAL");
                st.execute("PRAGMA busy_timeout=10000");
            }
            insert = connection.prepareStatement("INSERT INTO run_command VALUES(?, ?, ?, ?)");
            runId = "run-" + Thread.currentThread().getId();
        }

        @TearDown(Level.Trial)
        public void close() throws SQLException {
            connection.close();
        }
    }

    @Benchmark
    public int sqliteInsertCommitPerCommand(SqliteState s, SqliteConnection c) throws SQLException {
        int i = c.next++;
        c.insert.setString(1, c.runId);
        c.insert.setInt(2, i);
        c.insert.setString(3, "c-" + i);
        c.insert.setString(4, s.json);
        return c.insert.executeUpdate();
    }
}
