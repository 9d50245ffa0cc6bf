package dev.runledger.tool;

import dev.runledger.projections.Rebuild;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.time.Duration;

/** A progress bar (events, events/s, ETA) on a terminal; nothing when output is piped or JSON. */
final class Progress implements Rebuild.ProgressListener, AutoCloseable {
    private final ProgressBar bar;

    private Progress(ProgressBar bar) {
        this.bar = bar;
    }

    static Progress start(String task, boolean enabled) {
        if (!enabled || System.console() == null) {
            return new Progress(null);
        }
        return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(0).setUnit(" events", 1)
                .setStyle(ProgressBarStyle.ASCII).showSpeed().setUpdateIntervalMillis(200)
                .setSpeedUnit(java.time.temporal.ChronoUnit.SECONDS).setMaxRenderedLength(100)
                .setEtaFunction(state -> java.util.Optional.of(eta(state.getCurrent(), state.getMax(),
                        state.getElapsedAfterStart())))
                .build());
    }

    private static Duration eta(long done, long total, Duration elapsed) {
        if (done <= 0 || total <= done) {
            return Duration.ZERO;
        }
        return Duration.ofMillis(elapsed.toMillis() * (total - done) / done);
    }

    @Override
    public void onProgress(long done, long total) {
        if (bar != null) {
            if (bar.getMax() != total) {
                bar.maxHint(total);
            }
            bar.stepTo(done);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
