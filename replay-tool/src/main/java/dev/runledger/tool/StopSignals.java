package dev.runledger.tool;

import java.util.concurrent.CountDownLatch;

/**
 * SIGTERM and Ctrl-C as a normal stop for the long-running commands: handled on the command's own thread rather
 * than by a shutdown hook, so the command finishes its stop and exits 0 (a hook runs while the JVM already exits
 * with 143).
 */
final class StopSignals {
    private StopSignals() {
    }

    /** Runs {@code stop} when SIGTERM or SIGINT arrives. */
    static void onStop(Runnable stop) {
        for (String name : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> stop.run());
        }
    }

    /** A latch released by SIGTERM or SIGINT. */
    static CountDownLatch latch() {
        CountDownLatch stop = new CountDownLatch(1);
        onStop(stop::countDown);
        return stop;
    }
}
