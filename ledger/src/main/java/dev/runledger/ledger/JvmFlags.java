package dev.runledger.ledger;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The JVM flags a process that opens a journal needs: Chronicle Queue reaches into JDK internals, and
 * JDK 17+ refuses that unless told (without them opening a journal fails with a long stack trace, or
 * silently runs 2-9x slower). The list comes from the build (the parent POM's {@code chronicle.jvm.flags});
 * the rule for JDK 24+ lives only here. {@code bin/runledger}, {@code benchmarks/run}, JMH forks and the
 * tests' child JVMs all ask this class, so the rule cannot drift between them.
 *
 * <p>{@code java -cp ledger.jar dev.runledger.ledger.JvmFlags} prints them, one per line, for the
 * {@code java} that runs it.
 */
public final class JvmFlags {
    private static final String RESOURCE = "jvm.flags";
    /** JDK 24 warns on (and later refuses) sun.misc.Unsafe memory access unless allowed; JDK 17 refuses the flag. */
    private static final String UNSAFE_MEMORY_ACCESS = "--sun-misc-unsafe-memory-access=allow";

    private JvmFlags() {
    }

    /** The flags for a JVM of the same version as this one. */
    public static List<String> forThisJvm() {
        return forFeatureVersion(Runtime.version().feature());
    }

    static List<String> forFeatureVersion(int feature) {
        List<String> flags = new ArrayList<>(fromBuild());
        if (feature >= 24) {
            flags.add(UNSAFE_MEMORY_ACCESS);
        }
        return List.copyOf(flags);
    }

    private static List<String> fromBuild() {
        try (InputStream in = JvmFlags.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing beside " + JvmFlags.class.getName()
                        + "; the ledger jar was not built by Maven");
            }
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            return text.isEmpty() ? List.of() : Arrays.asList(text.split("\\s+"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    public static void main(String[] args) {
        forThisJvm().forEach(System.out::println);
    }
}
