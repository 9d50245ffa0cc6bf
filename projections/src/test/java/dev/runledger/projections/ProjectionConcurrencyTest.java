package dev.runledger.projections;

import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class ProjectionConcurrencyTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void shouldServeReadersWithoutErrorsOrTornReadsWhileTheProjectorWrites() throws Exception {
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        AtomicLong reads = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        try (Ledger ledger = Ledger.open(dir.resolve("journal"));
             Projection p = Projection.open(ProjectionConfig.builder(dir.resolve("p.sqlite"), ledger.journal())
                     .maxBatchEvents(500).pollInterval(Duration.ofMillis(2)).build())) {
            CountDownLatch readersDone = new CountDownLatch(3);
            for (int t = 0; t < 3; t++) {
                Thread reader = new Thread(() -> {
                    try {
                        while (!stop.get()) {
                            for (int r = 0; r < 10; r++) {
                                String runId = "run-" + r;
                                p.queries().commands(runId, 0, 1000).ifPresent(page -> {
                                    // command_count and the rows are read in one snapshot: they must agree
                                    assertThat(page.commands()).hasSize(Math.min(1000, page.totalLength()));
                                });
                                p.queries().runs(RunQuery.builder().label("tenant", "acme").pageLength(5).build());
                                reads.incrementAndGet();
                            }
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    } finally {
                        readersDone.countDown();
                    }
                }, "test-reader-" + t);
                reader.start();
            }
            long last = 0;
            for (int r = 0; r < 10; r++) {
                ledger.append(TestEvents.created("run-" + r, Map.of("tenant", "acme")));
            }
            for (int i = 0; i < 3_000; i++) {
                for (int r = 0; r < 10; r++) {
                    last = ledger.append(TestEvents.command("run-" + r, "c-" + i, "queued"));
                }
            }
            assertThat(p.awaitApplied(last, Duration.ofSeconds(60))).isTrue();
            stop.set(true);
            assertThat(readersDone.await(30, TimeUnit.SECONDS)).isTrue();

            assertThat(errors).isEmpty();
            assertThat(reads.get()).isPositive();
            assertThat(p.queries().run("run-9").orElseThrow().commandCount()).isEqualTo(3_000);
        }
    }
}
