package dev.runledger.tool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The distribution as a user gets it (run by failsafe after {@code package}): unpacked with {@code tar}, run with
 * only a Java runtime, a home directory of its own and no Maven on the path, it appends and answers queries, and
 * writes nothing to {@code ~/.m2}. The zip holds the same files, the Windows launcher included.
 */
class DistributionIT {
    @TempDir
    Path dir;

    private static final String VERSION = System.getProperty("runledger.build.version");
    private static final Path TARGET = Path.of("target").toAbsolutePath();

    private record Result(int exit, String out) {
    }

    private Result run(Path home, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(home.resolve("bin/runledger").toString());
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("HOME", dir.resolve("user-home").toString()); // a user with no ~/.m2
        env.put("PATH", Path.of(System.getProperty("java.home"), "bin") + ":/usr/bin:/bin"); // java, but no mvn
        env.remove("JAVA_HOME");
        env.remove("MAVEN_HOME");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }

    @Test
    void shouldRunFromTheUnpackedTarballWithOnlyAJavaRuntime() throws Exception {
        Path tarball = TARGET.resolve("runledger-" + VERSION + ".tar.gz");
        assertThat(tarball).exists();
        Files.createDirectories(dir.resolve("user-home"));
        Process tar = new ProcessBuilder("tar", "xzf", tarball.toString(), "-C", dir.toString()).inheritIO().start();
        assertThat(tar.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(tar.exitValue()).isZero();
        Path home = dir.resolve("runledger-" + VERSION);
        assertThat(home.resolve("bin/runledger")).isExecutable();
        assertThat(home.resolve("bin/runledger.cmd")).exists();
        assertThat(home.resolve("README.md")).exists();
        assertThat(home.resolve("LICENSE")).exists();
        assertThat(home.resolve("ops/runledger.service")).exists();
        assertThat(home.resolve("lib/replay-tool-" + VERSION + ".jar")).exists();

        Result version = run(home, "--version");
        assertThat(version.exit()).as(version.out()).isZero();
        assertThat(version.out().strip()).isEqualTo("runledger " + VERSION);

        Path events = dir.resolve("events.ndjson");
        Files.writeString(events, "{\"type\":\"run.created\",\"runId\":\"r-1\",\"createdAt\":\"2026-11-22T10:00:00Z\","
                + "\"labels\":{\"assay\":\"pcr\"}}\n", StandardCharsets.UTF_8);
        String journal = dir.resolve("data/journal").toString();
        String db = dir.resolve("data/runs.sqlite").toString();
        Result appended = run(home, "append", "--journal", journal, "--file", events.toString());
        assertThat(appended.exit()).as(appended.out()).isZero();
        assertThat(appended.out()).as("INFO lines by default").contains(" INFO dev.runledger.");
        Result quiet = run(home, "append", "--quiet", "--journal", dir.resolve("data/quiet").toString(), "--file",
                events.toString());
        assertThat(quiet.exit()).isZero();
        assertThat(quiet.out()).as("--quiet: only warnings and errors").doesNotContain(" INFO ");
        assertThat(run(home, "project", "--journal", journal, "--db", db).exit()).isZero();
        Result query = run(home, "query", "runs", "--db", db, "--label", "assay=pcr");
        assertThat(query.exit()).as(query.out()).isZero();
        assertThat(query.out()).contains("r-1");
        assertThat(dir.resolve("user-home/.m2")).as("nothing written to ~/.m2").doesNotExist();
    }

    @Test
    void shouldShipTheSameFilesInTheZip() throws IOException {
        try (ZipFile zip = new ZipFile(TARGET.resolve("runledger-" + VERSION + ".zip").toFile())) {
            String root = "runledger-" + VERSION + "/";
            for (String name : List.of("bin/runledger", "bin/runledger.cmd", "README.md", "LICENSE", "ops/runledger.service",
                    "lib/replay-tool-" + VERSION + ".jar")) {
                assertThat(zip.getEntry(root + name)).as(name).isNotNull();
            }
        }
    }
}
