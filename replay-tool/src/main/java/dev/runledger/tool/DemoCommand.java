package dev.runledger.tool;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The main job: a simulated engine appends runs while a projector makes them queryable.",
                "Then it runs sample queries and an upgrade by replay (rebuild + verify)."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--data", defaultValue = "data", paramLabel = "DIR",
            description = "Where the journal and the projection live (default ./data).")
    Path data;

    @Option(names = "--runs", defaultValue = "40", paramLabel = "N", description = "Runs to simulate (default 40).")
    int runs;

    @Option(names = "--commands", defaultValue = "500", paramLabel = "N",
            description = "Commands per run, each recorded queued, running and final (default 500).")
    int commands;

    @Option(names = "--engines", defaultValue = "4", paramLabel = "N", description = "Engine threads appending at once (default: ${DEFAULT-VALUE}).")
    int engines;

    @Override
    public Integer call() throws Exception {
        if (runs < 1 || commands < 1 || engines < 1) {
            throw new IllegalArgumentException("--runs, --commands and --engines must be at least 1");
        }
        return new DemoJob(data, runs, commands, engines, System.out).run() ? RunLedger.OK : RunLedger.FAILED;
    }
}
