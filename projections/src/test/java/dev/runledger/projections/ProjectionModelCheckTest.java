package dev.runledger.projections;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.JournalSurgery;
import dev.runledger.ledger.RandomEvents;
import dev.runledger.ledger.RunEvent;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random event sequences - creations, command upserts, label changes, deletions and re-creations,
 * summaries, completions, and events the rules forbid - go to the journal unchecked; the projection
 * (with small random batches) must answer every query exactly as the reference model does, and a
 * rebuild must equal it.
 */
class ProjectionModelCheckTest {
    private static final String[] RUNS = RandomEvents.RUNS;
    private static final String[] KEYS = RandomEvents.KEYS;
    private static final String[] VALUES = RandomEvents.VALUES;
    private static final String[] STATUSES = RandomEvents.STATUSES;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
    void shouldAnswerEveryQueryLikeTheReferenceModel(long seed) throws Exception {
        Random random = new Random(seed);
        List<RunEvent> events = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            events.add(RandomEvents.next(random));
        }
        Path journalDir = dir.resolve("journal");
        ReferenceModel model = new ReferenceModel();
        try (Journal journal = Journal.open(journalDir);
             Projection projection = Projection.open(ProjectionConfig.builder(dir.resolve("p.sqlite"), journal)
                     .maxBatchEvents(1 + random.nextInt(40)).maxCachedRuns(16).pollInterval(Duration.ofMillis(2)).build())) {
            long last = Journal.NONE;
            for (int from = 0; from < events.size(); ) {
                int to = Math.min(events.size(), from + 1 + random.nextInt(60));
                long[] indexes = JournalSurgery.appendUnchecked(journalDir, events.subList(from, to));
                for (int i = from; i < to; i++) {
                    model.apply(indexes[i - from], events.get(i));
                }
                last = indexes[indexes.length - 1];
                from = to;
            }
            assertThat(projection.awaitApplied(last, Duration.ofSeconds(30))).isTrue();

            assertSameAnswers(model, projection.queries(), random);
            assertThat(ProjectionTest.rows(dir.resolve("p.sqlite"),
                    "SELECT journal_index || ' ' || run_id || ' ' || event_type FROM quarantine ORDER BY journal_index"))
                    .containsExactlyElementsOf(model.quarantine.stream()
                            .map(q -> q.index() + " " + q.runId() + " " + q.type()).toList());

            Verification verification = Rebuild.verify(journal, dir.resolve("p.sqlite"), null);
            assertThat(verification.differences()).isEmpty();
            assertThat(verification.equal()).isTrue();
        }
    }

    private static void assertSameAnswers(ReferenceModel model, RunQueries q, Random random) throws Exception {
        for (String id : RUNS) {
            ReferenceModel.Run want = model.runs.get(id);
            RunView got = q.run(id).orElse(null);
            if (want == null) {
                assertThat(got).as("run %s", id).isNull();
                assertThat(q.commands(id, null, 5)).isEmpty();
                continue;
            }
            assertThat(got).as("run %s", id).isNotNull();
            assertThat(got.status()).as("status of %s", id).isEqualTo(want.status);
            assertThat(got.completedAt()).isEqualTo(want.completedAt);
            assertThat(got.labels()).as("labels of %s", id).isEqualTo(want.labels);
            assertThat(got.summary() == null ? null : got.summary().text()).isEqualTo(want.summary);
            assertThat(got.commandCount()).isEqualTo(want.commandIds.size());
            assertThat(got.damaged()).as("damaged flag of %s", id).isEqualTo(want.damaged);
            int pageLength = 1 + random.nextInt(7);
            List<String> paged = new ArrayList<>();
            for (int cursor = 0; cursor < want.commandIds.size(); cursor += pageLength) {
                CommandPage page = q.commands(id, cursor, pageLength).orElseThrow();
                assertThat(page.totalLength()).isEqualTo(want.commandIds.size());
                page.commands().forEach(c -> paged.add(c.id()));
            }
            assertThat(paged).as("commands of %s", id).isEqualTo(want.commandIds);
            CommandPage tail = q.commands(id, null, pageLength).orElseThrow();
            assertThat(tail.commands()).extracting(CommandView::id).isEqualTo(want.commandIds.subList(
                    Math.max(0, want.commandIds.size() - pageLength), want.commandIds.size()));
            for (String commandId : want.commandIds) {
                CommandView c = q.command(id, commandId).orElseThrow();
                assertThat(c.json().text()).isEqualTo(want.commandJson.get(commandId));
                assertThat(c.status()).isEqualTo(want.commandStatus.get(commandId));
                assertThat(c.index()).isEqualTo(want.commandIds.indexOf(commandId));
            }
        }
        for (int i = 0; i < 30; i++) {
            Map<String, Set<String>> labels = randomFilter(random);
            String status = random.nextInt(4) == 0 ? STATUSES[random.nextInt(STATUSES.length)] : null;
            RunQuery.Order order = RunQuery.Order.values()[random.nextInt(2)];
            List<String> want = model.query(labels, status, order);
            RunQuery.Builder query = RunQuery.builder().pageLength(1 + random.nextInt(3)).status(status).includeTotal(true)
                    .order(random.nextBoolean() && order == RunQuery.Order.APPENDED ? null : order);
            labels.forEach((k, vs) -> {
                if (vs.isEmpty()) {
                    query.labelExists(k);
                } else {
                    vs.forEach(v -> query.label(k, v));
                }
            });
            List<String> got = new ArrayList<>();
            String cursor = null;
            do {
                RunPage page = q.runs(query.cursor(cursor).build());
                assertThat(page.total()).isEqualTo(want.size());
                page.runs().forEach(r -> got.add(r.id()));
                cursor = page.nextCursor();
            } while (cursor != null);
            assertThat(got).as("runs matching %s status %s order %s", labels, status, order).isEqualTo(want);
        }
    }

    private static Map<String, Set<String>> randomFilter(Random random) {
        Map<String, Set<String>> filter = new LinkedHashMap<>();
        int keys = random.nextInt(3);
        for (int i = 0; i < keys; i++) {
            Set<String> values = new LinkedHashSet<>();
            int n = random.nextInt(3);
            for (int j = 0; j < n; j++) {
                values.add(VALUES[random.nextInt(VALUES.length)]);
            }
            filter.put(KEYS[random.nextInt(KEYS.length)], values);
        }
        return filter;
    }
}
