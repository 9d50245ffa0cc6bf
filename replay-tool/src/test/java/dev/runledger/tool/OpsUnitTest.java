package dev.runledger.tool;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ops/runledger.service} as systemd reads it: {@code systemd-analyze verify} finds nothing to say. */
class OpsUnitTest {
    @TempDir
    Path dir;

    @Test
    void shouldPassSystemdAnalyzeVerifyWithNoWarning() throws Exception {
        Path checkout = Path.of("..").toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/systemd-analyze")), "systemd-analyze is not installed here");
        String unit = Files.readString(checkout.resolve("ops/runledger.service"), StandardCharsets.UTF_8);
        assertThat(unit).contains("ExecStart=/opt/runledger/bin/runledger serve", "--token-file /etc/runledger/token",
                "KillSignal=SIGTERM", "Restart=on-failure", "User=runledger");
        // verify checks that ExecStart can run: point it at this checkout's launcher instead of the installed one.
        Path copy = dir.resolve("runledger.service");
        Files.writeString(copy, unit.replace("/opt/runledger", checkout.toString()), StandardCharsets.UTF_8);
        Process verify = new ProcessBuilder("systemd-analyze", "verify", copy.toString()).redirectErrorStream(true).start();
        String said = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(verify.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(verify.exitValue()).as(said).isZero();
        assertThat(said.lines().filter(l -> l.contains("runledger.service"))).as("warnings about the unit").isEmpty();
    }
}
