package dev.runledger.tool;

import dev.runledger.ledger.NdjsonCodec;
import dev.runledger.ledger.RunEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs {@code runledger} command lines in-process with the console captured: exit code, stdout, stderr. */
abstract class CliTestSupport {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldOut;
    PrintStream oldErr;
    InputStream oldIn;

    @BeforeEach
    void captureConsole() {
        oldOut = System.out;
        oldErr = System.err;
        oldIn = System.in;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreConsole() {
        System.setOut(oldOut);
        System.setErr(oldErr);
        System.setIn(oldIn);
    }

    int run(String stdin, String... args) {
        out.reset();
        err.reset();
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        return RunLedger.execute(args);
    }

    String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    static String lines(Object... events) {
        StringBuilder sb = new StringBuilder();
        for (Object e : events) {
            sb.append(e instanceof String s ? s : NdjsonCodec.encodeToString((RunEvent) e)).append('\n');
        }
        return sb.toString();
    }

}
