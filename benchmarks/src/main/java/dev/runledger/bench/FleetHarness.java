package dev.runledger.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.runledger.fleet.FleetDatabase;
import dev.runledger.fleet.FleetProjector;
import dev.runledger.fleet.FleetProjectorConfig;
import dev.runledger.fleet.FleetQueries;
import dev.runledger.fleet.FleetRecord;
import dev.runledger.fleet.FleetReplay;
import dev.runledger.fleet.KafkaBroker;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import dev.runledger.projections.RunQuery;
import dev.runledger.tool.EngineSimulator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

import java.io.Reader;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The fleet projection in a real PostgreSQL (embedded, from Maven Central) fed by a real Kafka broker:
 * projection throughput of 600k command events from 4 robots beside a raw {@code COPY} of the same final rows;
 * a replay rebuild of the same topic; a selective label filter over 1M runs of 50 robots beside a {@code jsonb}
 * containment scan and a GIN-indexed {@code jsonb @>} query.
 */
final class FleetHarness {
    private static final int ROBOTS = 4;
    private static final int RUNS_PER_ROBOT = 50;
    private static final int COMMANDS_PER_RUN = 1_000;

    private FleetHarness() {
    }

    static List<Row> run() throws Exception {
        System.out.println("\n== fleet: Kafka -> PostgreSQL 14 (embedded), fleet projector ==");
        Path dir = Bench.tempDir("fleet");
        List<Row> rows = new ArrayList<>();
        try (KafkaBroker kafka = KafkaBroker.start(dir.resolve("kafka"));
             FleetDatabase postgres = FleetDatabase.embedded(dir.resolve("postgres"), 0);
             HikariDataSource pool = postgres.pool("bench", 4)) {
            kafka.createTopic("bench-fleet", 4);
            long commandEvents = produce(kafka.bootstrap(), "bench-fleet");
            FleetProjectorConfig config = FleetProjectorConfig.builder(kafka.bootstrap(), postgres.jdbcUrl()).topic("bench-fleet")
                    .schema("bench").meterRegistry(new SimpleMeterRegistry()).build();
            FleetProjector.Summary s;
            try (FleetProjector projector = new FleetProjector(config)) {
                s = projector.run();
            }
            double projectSeconds = s.took().toNanos() / 1e9;
            double copySeconds = rawCopy(pool);
            double rate = commandEvents / projectSeconds;
            System.out.printf(Locale.ROOT, "   projector: %,d records (%,d command events) in %.2f s (%,.0f command events/s, %d batches);"
                    + " raw COPY of the same final rows into the same tables and indexes: %.2f s%n", s.records(), commandEvents,
                    projectSeconds, rate, s.batches(), copySeconds);
            rows.add(new Row("fleet projection into PostgreSQL", Row.fmt("%,.0f command events/s", rate),
                    Row.fmt("raw COPY of the final rows %.2f s vs %.2f s", copySeconds, projectSeconds),
                    Row.fmt("%.2fx raw COPY", copySeconds / projectSeconds), ">= 100k/s and >= 0.7x COPY",
                    rate >= 100_000 && copySeconds / projectSeconds >= 0.7));
            if (Boolean.getBoolean("bench.fleet.projectionOnly")) { // for profiling the projector alone
                return rows;
            }
            FleetReplay.Rebuilt rebuilt = FleetReplay.rebuild(config);
            double rebuildSeconds = rebuilt.took().toNanos() / 1e9;
            System.out.printf(Locale.ROOT, "   fleet-rebuild of the same %,d records, schema swap included: %.2f s (%,.0f records/s)%n",
                    rebuilt.replay().records(), rebuildSeconds, rebuilt.replay().records() / rebuildSeconds);
            rows.add(new Row("fleet rebuild (replay + swap)", Row.fmt("%,d records in %.2f s", rebuilt.replay().records(),
                    rebuildSeconds), Row.fmt("projector %.2f s", projectSeconds), Row.fmt("%.2fx projector time", rebuildSeconds
                    / projectSeconds), "(3M events not measured)", null));
            rows.addAll(labelFilter(pool));
        } finally {
            Bench.delete(dir);
        }
        return rows;
    }

    /** 4 robots' runs as the shipper lays them out (key, headers, NDJSON value), interleaved robot by robot. */
    private static long produce(String bootstrap, String topic) throws Exception {
        long t0 = System.nanoTime();
        long commands = 0;
        long records = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap,
                "linger.ms", 20, "batch.size", 512 * 1024, "compression.type", "lz4", "acks", "all"),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            EngineSimulator[] engines = new EngineSimulator[ROBOTS];
            long[] index = new long[ROBOTS];
            for (int r = 0; r < ROBOTS; r++) {
                engines[r] = new EngineSimulator(r + 1);
            }
            for (int run = 0; run < RUNS_PER_ROBOT; run++) {
                for (int r = 0; r < ROBOTS; r++) {
                    String robot = "robot-" + r;
                    byte[] key = robot.getBytes(StandardCharsets.UTF_8);
                    for (RunEvent e : engines[r].runEvents(robot + "-run-" + run, COMMANDS_PER_RUN)) {
                        RecordHeaders h = new RecordHeaders();
                        h.add(FleetRecord.ROBOT, key);
                        h.add(FleetRecord.JOURNAL, "bench-journal".getBytes(StandardCharsets.UTF_8));
                        h.add(FleetRecord.INDEX, Long.toString(++index[r]).getBytes(StandardCharsets.UTF_8));
                        producer.send(new ProducerRecord<>(topic, null, key, NdjsonCodec.encode(e), h));
                        records++;
                        if (e instanceof RunEvent.CommandRecorded) {
                            commands++;
                        }
                    }
                }
            }
            producer.flush();
        }
        System.out.printf(Locale.ROOT, "   produced %,d records (%,d command events, %d robots x %d runs x %d commands x 3 records)"
                + " in %.1f s%n", records, commands, ROBOTS, RUNS_PER_ROBOT, COMMANDS_PER_RUN, (System.nanoTime() - t0) / 1e9);
        return commands;
    }

    /**
     * The baseline: the projection's final rows (runs, labels, commands) exported once, then loaded with COPY
     * into empty tables of the same definition and indexes, timed from the first COPY to the commit.
     */
    private static double rawCopy(HikariDataSource pool) throws Exception {
        String[] tables = {"runs", "run_labels", "run_commands"};
        String[] dumps = new String[tables.length];
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            for (int i = 0; i < tables.length; i++) {
                StringWriter out = new StringWriter();
                copy.copyOut("COPY bench." + tables[i] + " TO STDOUT", out);
                dumps[i] = out.toString();
            }
            st.execute("DROP SCHEMA IF EXISTS copy_baseline CASCADE");
            st.execute("CREATE SCHEMA copy_baseline");
            for (String t : tables) {
                st.execute("CREATE TABLE copy_baseline." + t + " (LIKE bench." + t + " INCLUDING ALL)");
            }
            c.setAutoCommit(false);
            long t0 = System.nanoTime();
            for (int i = 0; i < tables.length; i++) {
                try (Reader in = new StringReader(dumps[i])) {
                    copy.copyIn("COPY copy_baseline." + tables[i] + " FROM STDIN", in);
                }
            }
            c.commit();
            double seconds = (System.nanoTime() - t0) / 1e9;
            c.setAutoCommit(true);
            st.execute("DROP SCHEMA copy_baseline CASCADE");
            return seconds;
        }
    }

    /**
     * 1M runs of 50 robots, three labels each (tenant: 4 values, protocol: 5, assay: "pcr" on 0.1% of runs), written
     * straight into a fleet schema with COPY; then "failed runs labelled assay=pcr in the last week, on any robot",
     * newest 50, three ways.
     */
    private static List<Row> labelFilter(HikariDataSource pool) throws Exception {
        int robots = 50;
        int runsPerRobot = 20_000;
        long now = Instant.parse("2026-11-22T12:00:00Z").toEpochMilli();
        long t0 = System.nanoTime();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP SCHEMA IF EXISTS labels CASCADE");
        }
        FleetProjector.ensureSchema(pool, "labels"); // the projector's own tables and indexes, empty
        Random random = new Random(42);
        String[] tenants = {"acme", "globex", "initech", "umbrella"};
        String[] protocols = {"pcr-setup", "elisa", "serial-dilution", "normalization", "dna-extraction"};
        String[] statuses = {"succeeded", "succeeded", "succeeded", "failed", "stopped"};
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            StringBuilder runs = new StringBuilder(1 << 20);
            StringBuilder labels = new StringBuilder(1 << 20);
            for (int r = 0; r < robots; r++) {
                for (int i = 0; i < runsPerRobot; i++) {
                    String robot = "robot-" + r;
                    String id = "run-" + i;
                    long created = now - (long) (random.nextDouble() * 90 * 86_400_000L);
                    String tenant = tenants[random.nextInt(tenants.length)];
                    String protocol = protocols[random.nextInt(protocols.length)];
                    String assay = random.nextInt(1000) == 0 ? "pcr" : "qc-" + random.nextInt(50);
                    String status = statuses[random.nextInt(statuses.length)];
                    String json = "{\"assay\": \"" + assay + "\", \"tenant\": \"" + tenant + "\", \"protocol\": \"" + protocol + "\"}";
                    runs.append(robot).append('\t').append(id).append('\t').append(Instant.ofEpochMilli(created)).append('\t')
                            .append(created).append('\t').append(i).append("\t\\N\t").append(status).append('\t')
                            .append(Instant.ofEpochMilli(created + 3_600_000)).append('\t').append(i + 1).append('\t').append(json)
                            .append("\t\\N\t3000\tf\n");
                    String copied = "\t" + created + "\t" + i + "\t" + status + "\n"; // the run's columns each label row carries
                    labels.append(robot).append('\t').append(id).append("\tassay\t").append(assay).append(copied)
                            .append(robot).append('\t').append(id).append("\ttenant\t").append(tenant).append(copied)
                            .append(robot).append('\t').append(id).append("\tprotocol\t").append(protocol).append(copied);
                }
                if (runs.length() > (8 << 20) || r == robots - 1) {
                    copy.copyIn("COPY labels.runs FROM STDIN", new StringReader(runs.toString()));
                    copy.copyIn("COPY labels.run_labels FROM STDIN", new StringReader(labels.toString()));
                    runs.setLength(0);
                    labels.setLength(0);
                }
            }
            c.commit();
            c.setAutoCommit(true);
            st.execute("ANALYZE labels.runs");
            st.execute("ANALYZE labels.run_labels");
        }
        System.out.printf(Locale.ROOT, "   label data: %,d runs of %d robots, 3 labels each, loaded and analyzed in %.1f s%n",
                (long) robots * runsPerRobot, robots, (System.nanoTime() - t0) / 1e9);
        FleetQueries fleet = new FleetQueries(pool, "labels");
        Instant weekAgo = Instant.ofEpochMilli(now - 7 * 86_400_000L);
        RunQuery query = RunQuery.builder().label("assay", "pcr").status("failed").createdFrom(weekAgo).pageLength(50).build();
        int found = fleet.runs(null, query).runs().size();
        double ours = p50(() -> fleet.runs(null, query));
        String jsonbSql = "SELECT robot_id, id, created_at, status, labels::text, summary, command_count FROM labels.runs"
                + " WHERE labels @> '{\"assay\":\"pcr\"}'::jsonb AND status = 'failed' AND created_ms >= " + weekAgo.toEpochMilli()
                + " ORDER BY created_ms DESC, robot_id DESC, created_index DESC LIMIT 51";
        int jsonbFound = count(pool, jsonbSql);
        double scan = p50(() -> count(pool, jsonbSql));
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE INDEX runs_labels_gin ON labels.runs USING gin (labels jsonb_path_ops)");
            st.execute("ANALYZE labels.runs");
        }
        double gin = p50(() -> count(pool, jsonbSql));
        System.out.printf(Locale.ROOT, "   failed runs with assay=pcr in the last week, newest 50 (%d found; jsonb finds %d): label index"
                + " p50 %.3f ms; jsonb containment scan p50 %.3f ms; GIN jsonb @> p50 %.3f ms%n", found, jsonbFound, ours, scan, gin);
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("fleet label filter, 1M runs / 50 robots", Row.fmt("p50 %.3f ms", ours),
                Row.fmt("jsonb scan %.2f ms, GIN @> %.3f ms", scan, gin), Row.fmt("%.0fx scan, %.2fx GIN", scan / ours, gin / ours),
                "p50 <= 1 ms", ours <= 1.0));
        return rows;
    }

    private static int count(HikariDataSource pool, String sql) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = 0;
            while (rs.next()) {
                n++;
            }
            return n;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Median of 200 timed calls after 50 warm-up calls, in milliseconds. */
    private static double p50(Runnable query) {
        for (int i = 0; i < 50; i++) {
            query.run();
        }
        long[] nanos = new long[200];
        for (int i = 0; i < nanos.length; i++) {
            long t0 = System.nanoTime();
            query.run();
            nanos[i] = System.nanoTime() - t0;
        }
        Arrays.sort(nanos);
        return nanos[nanos.length / 2] / 1e6;
    }
}
