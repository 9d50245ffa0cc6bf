package dev.runledger.ledger;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Starts a main class in a child JVM with this JVM's class path and Chronicle flags, for crash tests. */
public final class ChildJvm {
    private ChildJvm() {
    }

    public static Process start(Class<?> main, Path log, String... args) throws IOException {
        return start(main, log, java.util.Map.of(), args);
    }

    /** As {@link #start(Class, Path, String...)}, with {@code environment} added to the child's environment. */
    public static Process start(Class<?> main, Path log, java.util.Map<String, String> environment, String... args)
            throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JvmFlags.forThisJvm());
        command.add(environment.getOrDefault("CHILD_JVM_HEAP", "-Xmx256m")); // a test may ask for a smaller heap
        if (environment.containsKey("CHILD_JVM_QUICK_START")) {
            // For children killed within seconds of starting: C1 only and the serial collector start faster.
            command.add("-XX:TieredStopAtLevel=1");
            command.add("-XX:+UseSerialGC");
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(Arrays.asList(args));
        TestHygiene.childLog(log); // named, with its tail, if the test fails
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(log.toFile());
        builder.environment().putAll(environment);
        return builder.start();
    }

    /** SIGKILL: no shutdown hooks, no flushing, exactly what a crash looks like. */
    public static void kill9(Process process) throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }
}
