package dev.runledger.ledger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class LedgerConcurrencyTest {
    private static final int THREADS = 8;
    private static final int APPENDS_PER_THREAD = 100_000;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void shouldKeepEveryEventExactlyOnceAndEachThreadsOrder() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS, r -> new Thread(r, "test-engine"));
        try (Ledger ledger = Ledger.open(dir)) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                String runId = "run-" + t;
                results.add(pool.submit(() -> {
                    long[] indexes = new long[APPENDS_PER_THREAD + 1];
                    start.await(10, TimeUnit.SECONDS);
                    indexes[0] = ledger.append(TestEvents.created(runId));
                    for (int i = 1; i <= APPENDS_PER_THREAD; i++) {
                        indexes[i] = ledger.recordCommand(runId,
                                "{\"id\":\"c-" + i + "\",\"commandType\":\"aspirate\",\"status\":\"queued\"}");
                    }
                    return indexes;
                }));
            }
            start.countDown();
            List<long[]> given = new ArrayList<>();
            for (Future<long[]> f : results) {
                given.add(f.get(100, TimeUnit.SECONDS));
            }

            int[] nextPerThread = new int[THREADS];
            int total = 0;
            try (JournalReader reader = ledger.journal().readFrom(Journal.NONE)) {
                JournalEntry entry;
                while ((entry = reader.next()) != null) {
                    RunEvent event = ((JournalEntry.Event) entry).event();
                    int t = Integer.parseInt(event.runId().substring(4));
                    int seq = nextPerThread[t]++;
                    assertThat(entry.index()).isEqualTo(given.get(t)[seq]);
                    if (seq == 0) {
                        assertThat(event).isInstanceOf(RunEvent.RunCreated.class);
                    } else {
                        assertThat(((RunEvent.CommandRecorded) event).command().id()).isEqualTo("c-" + seq);
                    }
                    total++;
                }
            }
            assertThat(total).isEqualTo(THREADS * (APPENDS_PER_THREAD + 1));
            assertThat(nextPerThread).containsOnly(APPENDS_PER_THREAD + 1);
        } finally {
            pool.shutdownNow();
            assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }
}
