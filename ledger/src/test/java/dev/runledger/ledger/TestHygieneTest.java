package dev.runledger.ledger;

import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/** What the shared extension fails, shown by running small test classes through the JUnit engine. */
class TestHygieneTest {
    private static final CountDownLatch RELEASE = new CountDownLatch(1);

    private static Events run(Class<?> testClass) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(testClass))
                .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
                .execute().testEvents();
    }

    @Test
    void shouldFailATestThatLogsAtErrorUnexpectedly() {
        Events events = run(LogsAnError.class);
        events.assertStatistics(s -> s.started(1).failed(1));
        assertThat(events.failed().list().get(0).getPayload(org.junit.platform.engine.TestExecutionResult.class)
                .flatMap(org.junit.platform.engine.TestExecutionResult::getThrowable).orElseThrow())
                .hasMessageContaining("1 unexpected ERROR log line(s)").hasMessageContaining("disk on fire");
    }

    @Test
    void shouldPassATestThatExpectsItsErrorLogs() {
        run(ExpectsAnError.class).assertStatistics(s -> s.started(1).succeeded(1));
    }

    @Test
    void shouldIgnoreWarnings() {
        run(LogsAWarning.class).assertStatistics(s -> s.started(1).succeeded(1));
    }

    @Test
    void shouldFailATestThatLeavesANonDaemonThreadRunning() {
        Events events = run(LeaksAThread.class);
        RELEASE.countDown();
        events.assertStatistics(s -> s.started(1).failed(1));
        assertThat(events.failed().list().get(0).getPayload(org.junit.platform.engine.TestExecutionResult.class)
                .flatMap(org.junit.platform.engine.TestExecutionResult::getThrowable).orElseThrow())
                .hasMessageContaining("non-daemon thread(s) still running").hasMessageContaining("leaky-worker");
    }

    static class LogsAnError {
        @Test
        void logs() {
            LoggerFactory.getLogger("hygiene").error("disk on fire");
        }
    }

    static class ExpectsAnError {
        @Test
        @ExpectErrorLogs("the point of this test")
        void logs() {
            LoggerFactory.getLogger("hygiene").error("disk on fire, as planned");
        }
    }

    static class LogsAWarning {
        @Test
        void logs() {
            LoggerFactory.getLogger("hygiene").warn("disk getting warm");
        }
    }

    static class LeaksAThread {
        @Test
        void leaks() {
            Thread t = new Thread(() -> {
                try {
                    RELEASE.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "leaky-worker");
            t.start();
        }
    }
}
