package dev.runledger.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A harness's work in a separate JVM (a load generator that must not share this heap, a run under a
 * small heap): started with this JVM's class path, its output echoed with a label, and the one line it
 * prints as {@code RESULT ...} handed back.
 */
final class ChildProcess {
    private static final String RESULT = "RESULT ";

    /** How the child ended: its exit code and the text after {@code RESULT }, or null if it printed none. */
    record Outcome(int exit, String result) {
    }

    private ChildProcess() {
    }

    /** Runs {@code main} with {@code jvmArgs} (heap size, flags) and {@code args}; waits for it to exit. */
    static Outcome run(String label, List<String> jvmArgs, Class<?> main, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmArgs);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(Arrays.asList(args));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String result = null;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith(RESULT)) {
                    result = line.substring(RESULT.length());
                } else if (!line.isBlank()) {
                    System.out.println("   " + label + ": " + line);
                }
            }
        }
        return new Outcome(child.waitFor(), result);
    }
}
