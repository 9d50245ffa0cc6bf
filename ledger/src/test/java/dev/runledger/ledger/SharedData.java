package dev.runledger.ledger;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** The real Opentrons sample in ../shared/data; tests that use it skip cleanly where it is absent. */
public final class SharedData {
    private SharedData() {
    }

    public static Path directory() {
        String configured = System.getProperty("runledger.shared.data");
        Path dir = configured != null ? Path.of(configured) : Path.of("..", "..", "shared", "data");
        return dir.toAbsolutePath().normalize();
    }

    public static InputStream events() throws IOException {
        return open("opentrons-sample.events.ndjson.gz");
    }

    public static InputStream expected() throws IOException {
        return open("opentrons-sample.expected.json.gz");
    }

    private static InputStream open(String name) throws IOException {
        Path file = directory().resolve(name);
        Assumptions.assumeTrue(Files.isRegularFile(file), "shared data not present at " + file);
        return new GZIPInputStream(Files.newInputStream(file), 1 << 16);
    }
}
