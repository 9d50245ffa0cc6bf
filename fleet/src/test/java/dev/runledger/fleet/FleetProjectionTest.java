package dev.runledger.fleet;

import com.zaxxer.hikari.HikariDataSource;
import dev.runledger.ledger.ExpectErrorLogs;
import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalSurgery;
import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RandomEvents;
import dev.runledger.ledger.ReaderPositions;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.SharedData;
import dev.runledger.ledger.TestEvents;
import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQueries;
import dev.runledger.projections.RunQuery;
import dev.runledger.projections.RunView;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fleet projection against a real Kafka broker and a real PostgreSQL: robots' journals are shipped by the
 * real shipper, projected by the fleet projector, and every answer is compared with each robot's own SQLite
 * projection of the same journal, which the projections module checks against its reference model.
 */
class FleetProjectionTest {
    private static final String[] RUNS = RandomEvents.RUNS;
    private static final String[] KEYS = RandomEvents.KEYS;
    private static final String[] VALUES = RandomEvents.VALUES;
    private static final String[] STATUSES = RandomEvents.STATUSES;

    @TempDir
    static Path servers;
    static KafkaBroker kafka;
    static FleetDatabase postgres;
    static HikariDataSource pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServers() throws Exception {
        kafka = KafkaBroker.start(servers.resolve("kafka"));
        postgres = FleetDatabase.embedded(servers.resolve("postgres"), 0);
        pool = postgres.pool("fleet-test", 4);
    }

    @AfterAll
    static void stopServers() {
        if (pool != null) {
            pool.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    static FleetProjectorConfig.Builder projector(String topic, String schema) {
        return FleetProjectorConfig.builder(kafka.bootstrap(), postgres.jdbcUrl()).topic(topic).schema(schema)
                .meterRegistry(new SimpleMeterRegistry());
    }

    static Shipper.Summary ship(Journal journal, String robot, String topic) throws InterruptedException {
        try (Shipper shipper = new Shipper(ShipperConfig.builder(journal, robot, kafka.bootstrap()).topic(topic)
                .meterRegistry(new SimpleMeterRegistry()).build())) {
            return shipper.run();
        }
    }

    /** One robot: its journal (written without the ledger's checks, so forbidden events reach it) and its own projection. */
    record Robot(String id, Path journalDir, Journal journal, Projection projection) implements AutoCloseable {
        static Robot open(Path dir, String id) {
            Path journalDir = dir.resolve(id);
            Journal journal = Journal.open(journalDir);
            Projection projection = Projection.open(ProjectionConfig.builder(dir.resolve(id + ".sqlite"), journal)
                    .pollInterval(Duration.ofMillis(2)).meterRegistry(new SimpleMeterRegistry()).build());
            return new Robot(id, journalDir, journal, projection);
        }

        void await() throws InterruptedException {
            assertThat(projection.awaitApplied(journal.headIndex(), Duration.ofSeconds(60))).isTrue();
        }

        @Override
        public void close() {
            projection.close();
            journal.close();
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4})
    void shouldAnswerEveryQueryOfEveryRobotAsItsOwnSqliteProjectionDoesWithDuplicatesSkipped(long seed) throws Exception {
        Random random = new Random(seed);
        String topic = "model-" + seed;
        String schema = "model_" + seed;
        List<Robot> robots = new ArrayList<>();
        try {
            for (int r = 0; r < 3; r++) {
                robots.add(Robot.open(dir, "robot-" + r));
            }
            long shippedTwice = 0;
            for (int round = 0; round < 3; round++) {
                for (Robot robot : robots) {
                    List<RunEvent> events = new ArrayList<>();
                    for (int i = 0, n = 40 + random.nextInt(120); i < n; i++) {
                        events.add(RandomEvents.next(random));
                    }
                    JournalSurgery.appendUnchecked(robot.journalDir(), events);
                    ship(robot.journal(), robot.id(), topic);
                    if (random.nextInt(3) == 0) {
                        // A shipper killed before its checkpoint: it ships again from an earlier position.
                        long acked = ReaderPositions.read(robot.journalDir()).get("shipper-" + robot.id() + "-" + topic);
                        ReaderPositions.record(robot.journalDir(), "shipper-" + robot.id() + "-" + topic,
                                acked - 1 - random.nextInt(30));
                        shippedTwice += ship(robot.journal(), robot.id(), topic).events();
                    }
                }
                // Small random batches, and more than one projector run: batches cut events of one run apart.
                try (FleetProjector p = new FleetProjector(projector(topic, schema).maxBatchRecords(1 + random.nextInt(50))
                        .maxCachedRuns(1 + random.nextInt(10)).build())) {
                    FleetProjector.Summary summary = p.run();
                    assertThat(summary.records()).isPositive();
                    assertThat(summary.reseeks()).as("batches redone because the stored offsets were not where the consumer"
                            + " stood (a shipper's commit markers take offsets)").isZero();
                }
            }
            assertThat(shippedTwice).as("this seed replays some shipping").isPositive();
            FleetQueries fleet = new FleetQueries(pool, schema);
            for (Robot robot : robots) {
                robot.await();
                assertSameAnswers(robot.id(), robot.projection().queries(), fleet.robot(robot.id()), random);
                assertThat(quarantinePg(schema, robot.id())).as("quarantine of %s", robot.id())
                        .isEqualTo(quarantineSqlite(dir.resolve(robot.id() + ".sqlite")));
                assertThat(fleet.appliedIndex(robot.id())).isEqualTo(robot.journal().headIndex());
            }
            assertSameFleetAnswers(robots, fleet, random);
            // Every label "common": single values still drive from the label index, the rest walk runs newest first.
            assertSameFleetAnswers(robots, new FleetQueries(pool, schema, 0), random);
            assertThat(rows("SELECT count(*) FROM " + schema + ".run_commands")).containsExactly(String.valueOf(
                    robots.stream().mapToLong(r -> count(r.projection().queries())).sum()));

            FleetReplay.Verification verification = FleetReplay.verify(projector(topic, schema).build());
            assertThat(verification.differences()).isEmpty();
            assertThat(verification.equal()).isTrue();
        } finally {
            robots.forEach(Robot::close);
        }
    }

    private static long count(RunQueries q) {
        long n = 0;
        for (String id : RUNS) {
            n += q.run(id).map(RunView::commandCount).orElse(0);
        }
        return n;
    }

    @Test
    void shouldKeepTheRealOpentronsCommandsByteForByteFromSeveralRobots() throws Exception {
        List<RunEvent> events = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(SharedData.events(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isBlank()) {
                    events.add(NdjsonCodec.decode(line));
                }
            }
        }
        List<Robot> robots = new ArrayList<>();
        try {
            for (int r = 0; r < 3; r++) {
                Robot robot = Robot.open(dir, "ot-" + r);
                robots.add(robot);
                // Each robot runs the sample; the third only its first half (robots are never in step).
                JournalSurgery.appendUnchecked(robot.journalDir(), r == 2 ? events.subList(0, events.size() / 2) : events);
                ship(robot.journal(), robot.id(), "opentrons");
            }
            try (FleetProjector p = new FleetProjector(projector("opentrons", "opentrons").build())) {
                p.run();
            }
            FleetQueries fleet = new FleetQueries(pool, "opentrons");
            int runsCompared = 0;
            for (Robot robot : robots) {
                robot.await();
                RunQueries mine = robot.projection().queries();
                RunQueries theirs = fleet.robot(robot.id());
                List<String> ids = allRuns(mine);
                assertThat(allRuns(theirs)).isEqualTo(ids);
                for (String id : ids) {
                    ByteArrayOutputStream a = new ByteArrayOutputStream();
                    ByteArrayOutputStream b = new ByteArrayOutputStream();
                    assertThat(mine.writeCommandsJson(id, a)).isTrue();
                    assertThat(theirs.writeCommandsJson(id, b)).isTrue();
                    assertThat(b.toByteArray()).as("commands of %s on %s", id, robot.id()).isEqualTo(a.toByteArray());
                    assertThat(theirs.run(id)).isEqualTo(mine.run(id));
                    runsCompared++;
                }
            }
            assertThat(runsCompared).isGreaterThan(2);
        } finally {
            robots.forEach(Robot::close);
        }
    }

    private static List<String> allRuns(RunQueries q) {
        List<String> ids = new ArrayList<>();
        String cursor = null;
        do {
            RunPage page = q.runs(RunQuery.builder().pageLength(7).cursor(cursor).build());
            page.runs().forEach(r -> ids.add(r.id()));
            cursor = page.nextCursor();
        } while (cursor != null);
        return ids;
    }

    @Test
    void shouldQuarantinePoisonRecordsNamingWhatWasWrongAndFlagTheirRun() throws Exception {
        String topic = "poison";
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrap()),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            send(producer, topic, "robot-p", 10, NdjsonCodec.encodeToString(TestEvents.created("r-1")));
            send(producer, topic, "robot-p", 11, "{\"type\":\"command.recorded\",\"runId\":\"r-1\",\"command\":{\"id\":");
            send(producer, topic, "robot-p", 12, "{\"type\":\"run.exploded\",\"runId\":\"r-1\"}");
            send(producer, topic, "robot-p", 13, NdjsonCodec.encodeToString(TestEvents.completed("r-1")));
            send(producer, topic, "robot-p", 14, NdjsonCodec.encodeToString(TestEvents.command("r-1", "c-late", "running")));
            RecordHeaders damaged = headers("robot-p", 15);
            damaged.add(FleetRecord.DAMAGED, "checksum mismatch".getBytes(StandardCharsets.UTF_8));
            producer.send(new ProducerRecord<>(topic, null, "robot-p".getBytes(), new byte[0], damaged)).get();
            producer.send(new ProducerRecord<>(topic, null, "robot-p".getBytes(), "{}".getBytes())).get(); // no headers
            send(producer, topic, "robot-p", 16, NdjsonCodec.encodeToString(TestEvents.created("r-2")));
        }
        FleetProjector.Summary summary;
        try (FleetProjector p = new FleetProjector(projector(topic, "poison").build())) {
            summary = p.run();
        }
        assertThat(summary.quarantined()).isEqualTo(5);
        assertThat(summary.applied()).isEqualTo(3);
        assertThat(rows("SELECT coalesce(journal_index::text, '-') || ' ' || coalesce(run_id, '-') || ' ' || error"
                + " FROM poison.quarantine ORDER BY source_offset")).satisfiesExactly(
                q -> assertThat(q).startsWith("11 - cannot decode the event: "),
                q -> assertThat(q).startsWith("12 - cannot decode the event: ").contains("run.exploded"),
                q -> assertThat(q).isEqualTo("14 r-1 run \"r-1\" is already completed at index 13; no command may be recorded"
                        + " after run.completed"),
                q -> assertThat(q).isEqualTo("15 - damaged excerpt on the robot: checksum mismatch"),
                q -> assertThat(q).isEqualTo("- - the record has no runledger-journal header"));
        RunView r1 = new FleetQueries(pool, "poison").robot("robot-p").run("r-1").orElseThrow();
        assertThat(r1.damaged()).isTrue();
        assertThat(r1.status()).isEqualTo("succeeded");
        assertThat(new FleetQueries(pool, "poison").robot("robot-p").run("r-2")).isPresent();
        assertThat(FleetReplay.verify(projector(topic, "poison").build()).differences()).isEmpty();
    }

    /**
     * Identifiers may hold any character but controls: outside the Basic Multilingual Plane (a surrogate pair in Java)
     * and backslashes included. New command rows go to PostgreSQL by COPY, which has its own escaping.
     */
    @Test
    void shouldKeepIdentifiersWithAnyCharacterIntactThroughCopy() throws Exception {
        String topic = "unicode";
        String runId = "r-\uD83E\uDDEA-\\-é";
        String commandId = "c-\uD83E\uDDEA\\1";
        String command = "{\"id\":\"" + commandId.replace("\\", "\\\\") + "\",\"commandType\":\"comment\",\"status\":"
                + "\"succeeded\",\"params\":{\"message\":\"\uD83E\uDDEA\\tbackslash \\\\ \\u00e9\"}}";
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrap()),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            send(producer, topic, "robot-u", 1, NdjsonCodec.encodeToString(TestEvents.created(runId)));
            send(producer, topic, "robot-u", 2, "{\"type\":\"command.recorded\",\"runId\":\"" + runId.replace("\\", "\\\\")
                    + "\",\"command\":" + command + "}");
        }
        try (FleetProjector p = new FleetProjector(projector(topic, "unicode").build())) {
            assertThat(p.run().applied()).isEqualTo(2);
        }
        RunQueries robot = new FleetQueries(pool, "unicode").robot("robot-u");
        assertThat(robot.run(runId).orElseThrow().commandCount()).isEqualTo(1);
        assertThat(robot.command(runId, commandId).orElseThrow().json().text()).isEqualTo(command);
        assertThat(robot.commands(runId, null, 10).orElseThrow().commands()).extracting(CommandView::id).containsExactly(commandId);
    }

    private static RecordHeaders headers(String robot, long index) {
        RecordHeaders h = new RecordHeaders();
        h.add(FleetRecord.ROBOT, robot.getBytes(StandardCharsets.UTF_8));
        h.add(FleetRecord.JOURNAL, "journal-p".getBytes(StandardCharsets.UTF_8));
        h.add(FleetRecord.INDEX, Long.toString(index).getBytes(StandardCharsets.UTF_8));
        return h;
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, String topic, String robot, long index, String value)
            throws Exception {
        producer.send(new ProducerRecord<>(topic, null, robot.getBytes(StandardCharsets.UTF_8),
                value.getBytes(StandardCharsets.UTF_8), headers(robot, index))).get();
    }

    @Test
    void shouldSwapARebuiltSchemaInWhileReadersReadAndTheLiveProjectorFollows() throws Exception {
        String topic = "rebuild";
        List<Robot> robots = new ArrayList<>();
        AtomicReference<Throwable> readerFailure = new AtomicReference<>();
        AtomicLong reads = new AtomicLong();
        try (FleetProjector live = new FleetProjector(projector(topic, "rebuild").follow(true).build())) {
            for (int r = 0; r < 2; r++) {
                robots.add(Robot.open(dir, "rb-" + r));
            }
            Thread liveThread = following(live);
            FleetQueries fleet = new FleetQueries(pool, "rebuild");
            Thread reader = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        fleet.runs(null, RunQuery.builder().label("stage", "a").pageLength(5).build());
                        reads.incrementAndGet();
                    } catch (FleetQueries.FleetReadException e) {
                        if (!String.valueOf(e.getMessage()).contains("does not exist") || reads.get() > 0) {
                            readerFailure.compareAndSet(null, e);
                        }
                    }
                }
            }, "fleet-reader");
            Random random = new Random(7);
            for (Robot robot : robots) {
                List<RunEvent> events = new ArrayList<>();
                for (int i = 0; i < 400; i++) {
                    events.add(RandomEvents.next(random));
                }
                JournalSurgery.appendUnchecked(robot.journalDir(), events);
                ship(robot.journal(), robot.id(), topic);
            }
            awaitApplied(fleet, robots);
            reader.start();
            FleetReplay.Rebuilt rebuilt = FleetReplay.rebuild(projector(topic, "rebuild").build());
            assertThat(rebuilt.replay().records()).isPositive();
            // The live projector goes on into the swapped-in schema.
            for (Robot robot : robots) {
                JournalSurgery.appendUnchecked(robot.journalDir(), List.of(TestEvents.created("after-" + robot.id())));
                ship(robot.journal(), robot.id(), topic);
            }
            awaitApplied(fleet, robots);
            reader.interrupt();
            reader.join(10_000);
            live.close();
            liveThread.join(30_000);
            assertThat(readerFailure.get()).as("a reader's error during the swap").isNull();
            assertThat(reads.get()).isPositive();
            for (Robot robot : robots) {
                robot.await();
                assertSameAnswers(robot.id(), robot.projection().queries(), fleet.robot(robot.id()), random);
            }
            assertThat(rows("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild%' ORDER BY 1")).containsExactly("rebuild");
            assertThat(FleetReplay.verify(projector(topic, "rebuild").build()).differences()).isEmpty();
        } finally {
            robots.forEach(Robot::close);
        }
    }

    /** Runs {@code projector} (following) on its own thread until it is closed. */
    private static Thread following(FleetProjector projector) {
        Thread t = new Thread(() -> {
            try {
                projector.run();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "live-fleet-projector");
        t.start();
        return t;
    }

    static void awaitApplied(FleetQueries fleet, List<Robot> robots) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (Robot robot : robots) {
            while (true) {
                try {
                    if (fleet.appliedIndex(robot.id()) >= robot.journal().headIndex()) {
                        break;
                    }
                } catch (FleetQueries.FleetReadException notYet) {
                    // the schema is created by the projector's first connection
                }
                assertThat(System.nanoTime()).as("fleet projection of %s applied in time", robot.id()).isLessThan(deadline);
                Thread.sleep(20);
            }
        }
    }

    @Test
    @ExpectErrorLogs("the projector's connections fail while PostgreSQL is down (HikariCP logs them)")
    void shouldResumeFromItsStoredOffsetsWhenPostgresRestartsMidBatchWithNothingLostOrDoubled() throws Exception {
        String topic = "restart";
        List<Robot> robots = new ArrayList<>();
        try (FleetProjector live = new FleetProjector(projector(topic, "restart").follow(true).maxBatchRecords(200).build())) {
            for (int r = 0; r < 2; r++) {
                robots.add(Robot.open(dir, "pr-" + r));
            }
            Thread liveThread = following(live);
            Random random = new Random(11);
            for (int round = 0; round < 6; round++) {
                for (Robot robot : robots) {
                    List<RunEvent> events = new ArrayList<>();
                    for (int i = 0; i < 300; i++) {
                        events.add(RandomEvents.next(random));
                    }
                    JournalSurgery.appendUnchecked(robot.journalDir(), events);
                    ship(robot.journal(), robot.id(), topic);
                }
                if (round == 2) {
                    postgres.stop(); // a fast shutdown: the batch in flight is rolled back
                    Thread.sleep(2_000);
                    postgres.start();
                }
            }
            FleetQueries fleet = new FleetQueries(pool, "restart");
            awaitApplied(fleet, robots);
            live.close();
            liveThread.join(30_000);
            for (Robot robot : robots) {
                robot.await();
                assertSameAnswers(robot.id(), robot.projection().queries(), fleet.robot(robot.id()), random);
            }
            assertThat(FleetReplay.verify(projector(topic, "restart").build()).differences()).isEmpty();
        } finally {
            robots.forEach(Robot::close);
        }
    }

    @Test
    void shouldEndEqualToAReplayAfterTwentyKillsOfTheProjectorAtRandomPoints() throws Exception {
        String topic = "crash";
        List<Robot> robots = new ArrayList<>();
        Random random = new Random(23);
        try {
            for (int r = 0; r < 3; r++) {
                robots.add(Robot.open(dir, "kr-" + r));
            }
            int progressed = 0;
            for (int trial = 0; trial < 20; trial++) {
                for (Robot robot : robots) {
                    List<RunEvent> events = new ArrayList<>();
                    for (int i = 0, n = 50 + random.nextInt(150); i < n; i++) {
                        events.add(RandomEvents.next(random));
                    }
                    JournalSurgery.appendUnchecked(robot.journalDir(), events);
                    ship(robot.journal(), robot.id(), topic);
                }
                long before = committedOffsets("crash");
                Process child = dev.runledger.ledger.ChildJvm.start(FleetProjectorChild.class, dir.resolve("child-" + trial + ".log"),
                        Map.of("CHILD_JVM_QUICK_START", "yes"), kafka.bootstrap(), postgres.jdbcUrl(), topic, "crash", String.valueOf(1 + random.nextInt(100)));
                if (random.nextInt(4) == 0) {
                    Thread.sleep(300 + random.nextInt(1_500)); // while it starts, maybe before its first commit
                } else {
                    // A JVM, a consumer and a pool take 1-4 s to start: wait for its first commit, then kill mid-work.
                    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    while (committedOffsets("crash") <= before && System.nanoTime() < deadline && child.isAlive()) {
                        Thread.sleep(20);
                    }
                    Thread.sleep(random.nextInt(300));
                }
                if (committedOffsets("crash") > before) {
                    progressed++;
                }
                assertThat(child.isAlive()).as("the child is still projecting (see child-%d.log)", trial).isTrue();
                dev.runledger.ledger.ChildJvm.kill9(child);
            }
            // The children were killed while working, not only before they began: most committed batches first.
            assertThat(progressed).isGreaterThanOrEqualTo(10);
            try (FleetProjector p = new FleetProjector(projector(topic, "crash").build())) {
                p.run();
            }
            FleetQueries fleet = new FleetQueries(pool, "crash");
            assertThat(rows("SELECT count(*) FROM crash.robot_positions")).containsExactly("3");
            for (Robot robot : robots) {
                robot.await();
                assertThat(fleet.appliedIndex(robot.id())).isEqualTo(robot.journal().headIndex());
                assertSameAnswers(robot.id(), robot.projection().queries(), fleet.robot(robot.id()), random);
            }
            FleetReplay.Verification verification = FleetReplay.verify(projector(topic, "crash").build());
            assertThat(verification.differences()).isEmpty();
        } finally {
            robots.forEach(Robot::close);
        }
    }

    /** The sum of a schema's stored offsets: it grows with every committed batch (0 before the schema exists). */
    private static long committedOffsets(String schema) throws Exception {
        try {
            return Long.parseLong(rows("SELECT coalesce(sum(next_offset), 0) FROM " + schema + ".source_offsets").get(0));
        } catch (java.sql.SQLException noSchemaYet) {
            return 0;
        }
    }

    static List<String> rows(String sql) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private static List<String> quarantinePg(String schema, String robot) throws Exception {
        return rows("SELECT journal_index || ' ' || coalesce(run_id, '-') || ' ' || coalesce(event_type, '-') || ' ' || error"
                + " FROM " + schema + ".quarantine WHERE robot_id = '" + robot + "' ORDER BY journal_index");
    }

    private static List<String> quarantineSqlite(Path db) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT journal_index || ' ' || ifnull(run_id, '-') || ' ' || ifnull(event_type, '-')"
                     + " || ' ' || error FROM quarantine ORDER BY journal_index")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** Every run, command page, command and filtered listing of one robot, compared answer by answer. */
    static void assertSameAnswers(String robot, RunQueries want, RunQueries got, Random random) throws Exception {
        for (String id : RUNS) {
            assertThat(got.run(id)).as("run %s of %s", id, robot).isEqualTo(want.run(id));
            Integer count = want.run(id).map(RunView::commandCount).orElse(null);
            if (count == null) {
                assertThat(got.commands(id, null, 5)).isEmpty();
                assertThat(got.writeCommandsJson(id, new ByteArrayOutputStream())).isFalse();
                continue;
            }
            int pageLength = 1 + random.nextInt(7);
            for (int cursor = 0; cursor <= count; cursor += pageLength) {
                assertThat(got.commands(id, cursor, pageLength)).as("commands of %s from %d", id, cursor)
                        .isEqualTo(want.commands(id, cursor, pageLength));
            }
            assertThat(got.commands(id, null, pageLength)).isEqualTo(want.commands(id, null, pageLength));
            CommandPage all = want.commands(id, 0, 1000).orElseThrow();
            for (CommandView c : all.commands()) {
                assertThat(got.command(id, c.id())).isEqualTo(want.command(id, c.id()));
            }
            ByteArrayOutputStream a = new ByteArrayOutputStream();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            want.writeCommandsJson(id, a);
            got.writeCommandsJson(id, b);
            assertThat(b.toString(StandardCharsets.UTF_8)).isEqualTo(a.toString(StandardCharsets.UTF_8));
        }
        for (int i = 0; i < 25; i++) {
            RunQuery.Builder query = randomQuery(random);
            if (random.nextInt(3) == 0) {
                query.order(RunQuery.Order.APPENDED);
            }
            assertThat(pages(got, query)).as("runs of %s", robot).isEqualTo(pages(want, query));
        }
    }

    private static List<RunPage> pages(RunQueries q, RunQuery.Builder query) {
        List<RunPage> pages = new ArrayList<>();
        String cursor = null;
        do {
            RunPage page = q.runs(query.cursor(cursor).build());
            pages.add(page);
            cursor = page.nextCursor();
        } while (cursor != null);
        return pages;
    }

    /** Across robots: the union of each robot's answer, newest createdAt first, then robot, then journal index. */
    private static void assertSameFleetAnswers(List<Robot> robots, FleetQueries fleet, Random random) {
        for (int i = 0; i < 25; i++) {
            RunQuery.Builder query = randomQuery(random);
            List<String> want = new ArrayList<>();
            List<Object[]> all = new ArrayList<>();
            for (Robot robot : robots) {
                RunQueries q = robot.projection().queries();
                for (RunPage page : pages(q, query.pageLength(1000))) {
                    for (RunView r : page.runs()) {
                        // the robot's own order is journal order; its position in it ranks ties of createdAt
                        all.add(new Object[] {java.time.Instant.parse(r.createdAt()).toEpochMilli(), robot.id(), all.size(), r.id()});
                    }
                }
            }
            all.sort(Comparator.<Object[], Long>comparing(o -> (Long) o[0]).reversed()
                    .thenComparing(o -> (String) o[1], Comparator.reverseOrder())
                    .thenComparing(o -> (Integer) o[2]));
            all.forEach(o -> want.add(o[1] + "/" + o[3]));
            List<String> got = new ArrayList<>();
            String cursor = null;
            int pageLength = 1 + random.nextInt(4);
            do {
                FleetQueries.FleetRunPage page = fleet.runs(null, query.pageLength(pageLength).includeTotal(true).cursor(cursor).build());
                assertThat(page.total()).isEqualTo(want.size());
                page.runs().forEach(r -> got.add(r.robot() + "/" + r.run().id()));
                cursor = page.nextCursor();
            } while (cursor != null);
            assertThat(got).as("fleet runs for %s", query.build()).isEqualTo(want);
        }
    }

    private static RunQuery.Builder randomQuery(Random random) {
        RunQuery.Builder query = RunQuery.builder().pageLength(1 + random.nextInt(3)).includeTotal(random.nextBoolean())
                .order(random.nextBoolean() ? RunQuery.Order.CREATED : null); // appended is one robot's order only
        if (random.nextInt(4) == 0) {
            query.status(STATUSES[random.nextInt(STATUSES.length)]);
        }
        for (int k = random.nextInt(3); k > 0; k--) {
            String key = KEYS[random.nextInt(KEYS.length)];
            int n = random.nextInt(3);
            if (n == 0) {
                query.labelExists(key);
            }
            for (int j = 0; j < n; j++) {
                query.label(key, VALUES[random.nextInt(VALUES.length)]);
            }
        }
        return query;
    }
}
