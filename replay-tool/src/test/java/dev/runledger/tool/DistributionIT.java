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
        return runAs(List.of(), home, args);
    }

    /** Runs the launcher behind {@code prefix} (e.g. setpriv, to run it as another user). */
    private Result runAs(List<String> prefix, Path home, String... args) throws Exception {
        List<String> command = new ArrayList<>(prefix);
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

    /**
     * An auditor's account reads the owner's journal and projection but may not write them: reading works, quietly,
     * and what needs writing fails in one line naming the path and the permission, exit 2. As root (CI) the commands
     * run as {@code nobody} through setpriv, since root may write anything; as anyone else the data is made read-only.
     */
    @Test
    void shouldLetAUserWhoMayNotWriteReadAndSayPlainlyWhatItCannotDo() throws Exception {
        Path home = unpack();
        Path data = dir.resolve("owned");
        Path events = dir.resolve("events.ndjson");
        Files.writeString(events, "{\"type\":\"run.created\",\"runId\":\"r-1\",\"createdAt\":\"2026-11-22T10:00:00Z\"}\n");
        String journal = data.resolve("journal").toString();
        String db = data.resolve("runs.sqlite").toString();
        assertThat(run(home, "append", "--journal", journal, "--file", events.toString()).exit()).isZero();
        assertThat(run(home, "project", "--journal", journal, "--db", db).exit()).isZero();
        Path elsewhere = Files.createDirectories(data.resolve("reports"));

        List<String> reader;
        boolean root = "root".equals(System.getProperty("user.name"));
        if (root) {
            org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")),
                    "running as root without setpriv: cannot act as a user who may not write");
            reader = List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");
            openToOthers(dir); // nobody must reach the launcher and read the data, and nothing more
        } else {
            reader = List.of();
            readOnly(data);
        }

        Result export = runAs(reader, home, "export", "--journal", journal);
        assertThat(export.exit()).as(export.out()).isZero();
        assertThat(export.out()).contains("\"runId\":\"r-1\"").doesNotContain("Exception", "\tat ");
        Result query = runAs(reader, home, "query", "runs", "--db", db);
        assertThat(query.exit()).as(query.out()).isZero();
        assertThat(query.out()).contains("r-1").doesNotContain("SQLITE_");
        Result verify = runAs(reader, home, "verify", "--journal", journal, "--db", db);
        assertThat(verify.exit()).as(verify.out()).isZero();

        Result project = runAs(reader, home, "project", "--journal", journal, "--db", elsewhere.resolve("new.sqlite").toString());
        assertThat(project.exit()).as(project.out()).isEqualTo(2);
        assertThat(project.out()).contains("permission denied", elsewhere.toString()).doesNotContain("\tat ");
        Result append = runAs(reader, home, "append", "--journal", journal, "--file", events.toString());
        assertThat(append.exit()).as(append.out()).isEqualTo(2);
        assertThat(append.out()).contains("permission denied", journal).doesNotContain("\tat ");
    }

    private Path unpack() throws Exception {
        Path tarball = TARGET.resolve("runledger-" + VERSION + ".tar.gz");
        Files.createDirectories(dir.resolve("user-home"));
        Process tar = new ProcessBuilder("tar", "xzf", tarball.toString(), "-C", dir.toString()).inheritIO().start();
        assertThat(tar.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(tar.exitValue()).isZero();
        return dir.resolve("runledger-" + VERSION);
    }

    /** Others may read and traverse everything under {@code root} (and reach it), but write nothing. */
    private static void openToOthers(Path root) throws IOException {
        for (Path p = root; p != null; p = p.getParent()) {
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = new java.util.HashSet<>(Files.getPosixFilePermissions(p));
            perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
            Files.setPosixFilePermissions(p, perms);
        }
        try (var all = Files.walk(root)) {
            for (Path p : all.toList()) {
                boolean executable = Files.isDirectory(p) || Files.isExecutable(p);
                Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString(executable ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
    }

    private static void readOnly(Path root) throws IOException {
        try (var all = Files.walk(root)) {
            for (Path p : all.toList()) {
                Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString(Files.isDirectory(p) ? "r-xr-xr-x" : "r--r--r--"));
            }
        }
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
