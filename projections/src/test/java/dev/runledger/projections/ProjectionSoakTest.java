package dev.runledger.projections;

import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.RunEvent;
import dev.runledger.ledger.TestEvents;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Soak: engines append, delete and relabel runs while readers query, for a minute
 * ({@code -Drunledger.soak.seconds=N}); then the projection must equal a fresh replay. Run with -Pslow.
 */
@Tag("slow")
class ProjectionSoakTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(value = 30, unit = TimeUnit.MINUTES)
    void shouldStayEqualToAReplayUnderSustainedLoad() throws Exception {
        long seconds = Long.getLong("runledger.soak.seconds", 60);
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong last = new AtomicLong(-1);
        try (Ledger ledger = Ledger.open(dir.resolve("journal"));
             Projection p = Projection.open(ProjectionConfig.builder(dir.resolve("p.sqlite"), ledger.journal())
                     .maxCachedRuns(64).build())) {
            List<Thread> threads = new java.util.ArrayList<>();
            for (int e = 0; e < 2; e++) {
                int engine = e;
                threads.add(new Thread(() -> {
                    try {
                        for (int run = 0; !stop.get(); run++) {
                            String id = "e" + engine + "-r" + run;
                            ledger.append(TestEvents.created(id, Map.of("engine", "e" + engine, "batch", "b" + run % 7)));
                            for (int c = 0; c < 200 && !stop.get(); c++) {
                                ledger.append(TestEvents.command(id, "c-" + c, "queued"));
                                last.accumulateAndGet(ledger.append(TestEvents.command(id, "c-" + c, "succeeded")), Math::max);
                            }
                            ledger.changeLabels(id, Map.of("stage", "done"), List.of("batch"));
                            ledger.append(TestEvents.completed(id));
                            if (run % 5 == 4) {
                                ledger.append(new RunEvent.RunDeleted("e" + engine + "-r" + (run - 2)));
                            }
                        }
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }, "soak-engine-" + e));
            }
            for (int r = 0; r < 2; r++) {
                threads.add(new Thread(() -> {
                    try {
                        while (!stop.get()) {
                            RunPage page = p.queries().runs(RunQuery.builder().label("engine", "e0").pageLength(5).build());
                            for (RunView run : page.runs()) {
                                p.queries().commands(run.id(), 0, 1000).ifPresent(c ->
                                        assertThat(c.commands()).hasSize(c.totalLength()));
                            }
                        }
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }, "soak-reader-" + r));
            }
            threads.forEach(Thread::start);
            Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
            stop.set(true);
            for (Thread t : threads) {
                t.join(30_000);
            }
            assertThat(errors).isEmpty();
            assertThat(p.awaitApplied(last.get(), Duration.ofMinutes(2))).isTrue();
            Verification v = Rebuild.verify(ledger.journal(), dir.resolve("p.sqlite"), null);
            assertThat(v.differences()).isEmpty();
            assertThat(v.commands()).isPositive();
        }
    }
}
