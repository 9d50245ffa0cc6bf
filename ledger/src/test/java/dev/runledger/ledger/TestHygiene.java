package dev.runledger.ledger;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Every module's tests run under this extension (registered through {@code META-INF/services} and
 * {@code junit.jupiter.extensions.autodetection.enabled}). A test fails if it
 * <ul>
 *   <li>logs a line at ERROR, unless it is marked {@link ExpectErrorLogs}: a worker failure nobody
 *       asserted on is a bug the test did not see;</li>
 *   <li>leaves a non-daemon thread running that it started (after a grace period for threads that are
 *       shutting down): such a thread keeps a JVM from exiting, in tests as in {@code runledger}.</li>
 * </ul>
 * When a test fails, the logs of the child JVMs it started ({@link ChildJvm}) are named and their tails
 * printed, so a crash test's failure says where to look.
 */
public final class TestHygiene implements BeforeEachCallback, AfterEachCallback, TestWatcher {
    private static final Pattern ERROR_LINE = Pattern.compile("^(?:\\S+ )?\\[[^\\]]*\\] ERROR ");
    private static final long THREAD_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final ErrorLines ERRORS = ErrorLines.install();
    private static final List<Path> CHILD_LOGS = new ArrayList<>();
    private static final String BEFORE = "non-daemon threads before";

    /** Called by {@link ChildJvm}: the log of a child started by the running test. */
    static void childLog(Path log) {
        synchronized (CHILD_LOGS) {
            CHILD_LOGS.add(log);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        ERRORS.reset();
        synchronized (CHILD_LOGS) {
            CHILD_LOGS.clear();
        }
        context.getStore(ExtensionContext.Namespace.create(TestHygiene.class)).put(BEFORE, nonDaemonThreads());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        List<String> problems = new ArrayList<>();
        List<String> errors = ERRORS.reset();
        if (!errors.isEmpty() && !errorsExpected(context)) {
            problems.add(errors.size() + " unexpected ERROR log line(s), e.g. " + errors.get(0)
                    + " (mark the test @ExpectErrorLogs if it provokes them on purpose)");
        }
        @SuppressWarnings("unchecked")
        Set<Thread> before = (Set<Thread>) context.getStore(ExtensionContext.Namespace.create(TestHygiene.class))
                .get(BEFORE, Set.class);
        Set<Thread> leaked = leakedThreads(before);
        if (!leaked.isEmpty()) {
            problems.add("non-daemon thread(s) still running " + TimeUnit.NANOSECONDS.toSeconds(THREAD_GRACE_NANOS)
                    + " s after the test: " + leaked.stream().map(Thread::getName).sorted().collect(Collectors.joining(", ")));
        }
        if (!problems.isEmpty()) {
            throw new AssertionError(context.getDisplayName() + ": " + String.join("; ", problems));
        }
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        List<Path> logs;
        synchronized (CHILD_LOGS) {
            logs = List.copyOf(CHILD_LOGS);
        }
        for (Path log : logs) {
            System.out.println("child JVM log of " + context.getDisplayName() + ": " + log.toAbsolutePath());
            try {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(l -> System.out.println("  | " + l));
            } catch (IOException | RuntimeException e) {
                System.out.println("  (cannot read it: " + e + ")");
            }
        }
    }

    private static boolean errorsExpected(ExtensionContext context) {
        return context.getTestMethod().map(m -> m.isAnnotationPresent(ExpectErrorLogs.class)).orElse(false)
                || context.getTestClass().map(c -> c.isAnnotationPresent(ExpectErrorLogs.class)).orElse(false);
    }

    private static Set<Thread> nonDaemonThreads() {
        Set<Thread> threads = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            // JUnit's own timeout watcher is started lazily by the first test with a timeout, and stays.
            if (!t.isDaemon() && t.isAlive() && !t.getName().startsWith("junit-")) {
                threads.add(t);
            }
        }
        return threads;
    }

    private static Set<Thread> leakedThreads(Set<Thread> before) {
        long deadline = System.nanoTime() + THREAD_GRACE_NANOS;
        while (true) {
            Set<Thread> now = nonDaemonThreads();
            now.removeAll(before);
            now.remove(Thread.currentThread());
            if (now.isEmpty() || System.nanoTime() > deadline) {
                return now;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    /**
     * Watches standard error, where the tests' SLF4J binding writes (it looks {@code System.err} up on
     * every line), and keeps the ERROR lines seen since the last reset. Everything is passed through.
     */
    private static final class ErrorLines extends OutputStream {
        private final PrintStream original;
        private final StringBuilder line = new StringBuilder();
        private final List<String> errors = new ArrayList<>();

        private ErrorLines(PrintStream original) {
            this.original = original;
        }

        static ErrorLines install() {
            ErrorLines lines = new ErrorLines(System.err);
            System.setErr(new PrintStream(lines, true, StandardCharsets.UTF_8));
            return lines;
        }

        synchronized List<String> reset() {
            List<String> seen = List.copyOf(errors);
            errors.clear();
            return seen;
        }

        @Override
        public synchronized void write(int b) {
            original.write(b);
            if (b == '\n') {
                String text = line.toString();
                if (ERROR_LINE.matcher(text).find()) {
                    errors.add(text.length() > 300 ? text.substring(0, 300) + "..." : text);
                }
                line.setLength(0);
            } else if (line.length() < 4096) {
                line.append((char) b);
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            for (int i = off; i < off + len; i++) {
                write(b[i]);
            }
        }

        @Override
        public void flush() {
            original.flush();
        }
    }
}
