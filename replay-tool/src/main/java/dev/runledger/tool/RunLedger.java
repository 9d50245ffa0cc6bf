package dev.runledger.tool;

import dev.runledger.ledger.InvalidEventException;
import dev.runledger.ledger.RejectedEventException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** The {@code runledger} command. Exit codes: 0 success, 1 the work failed or a check did not hold, 2 bad usage or input. */
@Command(name = "runledger", mixinStandardHelpOptions = true, versionProvider = BuildVersion.class,
        description = "An event-sourced run ledger: a Chronicle Queue journal projected into SQLite.",
        subcommands = {DemoCommand.class, AppendCommand.class, ExportCommand.class, InspectCommand.class,
                ProjectCommand.class, RebuildCommand.class, VerifyCommand.class, DigestCommand.class, RepairCommand.class, RetainCommand.class, CompactCommand.class,
                EraseCommand.class, ShipCommand.class, FleetCommands.Project.class, FleetCommands.Rebuild.class,
                FleetCommands.Verify.class, FleetDemoCommand.class, DevCommand.class,
                QueryCommand.class,
                ServeCommand.class,
                CommandLine.HelpCommand.class})
public final class RunLedger {
    public static final int OK = 0;
    private static final String LOG_LEVEL = "org.slf4j.simpleLogger.log.dev.runledger";

    /**
     * Log levels for every command (inherited by the subcommands): the default shows Run Ledger's INFO lines on
     * stderr. slf4j-simple reads its level once, at the first logger, which comes after the command line is parsed.
     */
    @CommandLine.Option(names = {"-q", "--quiet"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Log only warnings and errors on stderr.")
    void quiet(boolean quiet) {
        if (quiet) {
            System.setProperty(LOG_LEVEL, "warn");
        }
    }

    @CommandLine.Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Log debug lines too, on stderr.")
    void verbose(boolean verbose) {
        if (verbose) {
            System.setProperty(LOG_LEVEL, "debug");
        }
    }

    public static final int FAILED = 1;
    public static final int BAD_INPUT = 2;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs a command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /**
     * Descriptions are written as source lines, but picocli starts each element on a line of its own and then
     * wraps it to the terminal, which cut paragraphs mid-sentence ("printing the damaged / index ranges"). An
     * element that does not end a sentence is joined to the next, so each element is a paragraph.
     */
    private static void reflowDescriptions(CommandLine c) {
        picocli.CommandLine.Model.UsageMessageSpec usage = c.getCommandSpec().usageMessage();
        java.util.List<String> paragraphs = new java.util.ArrayList<>();
        boolean open = false;
        for (String line : usage.description()) {
            if (open) {
                int last = paragraphs.size() - 1;
                paragraphs.set(last, paragraphs.get(last) + " " + line.strip());
            } else {
                paragraphs.add(line);
            }
            open = !line.strip().replaceFirst("(%n)+$", "").endsWith("."); // picocli's own help ends lines in %n
        }
        usage.description(paragraphs.toArray(String[]::new));
        c.getSubcommands().values().forEach(RunLedger::reflowDescriptions);
    }

    /** A path this user may not read or write is the caller's setup to fix, like a bad argument (exit 2). */
    private static boolean deniedPermission(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.nio.file.AccessDeniedException) {
                return true;
            }
        }
        return false;
    }

    static CommandLine commandLine() {
        CommandLine cmd = new CommandLine(new RunLedger());
        cmd.registerConverter(java.time.Instant.class, new TimeOption());
        reflowDescriptions(cmd);
        cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            String name = commandLine.getCommandName();
            boolean badInput = e instanceof InvalidEventException || e instanceof RejectedEventException
                    || e instanceof IllegalArgumentException || deniedPermission(e);
            err.println(name + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (Boolean.getBoolean("runledger.debug")) {
                e.printStackTrace(err);
            }
            err.flush();
            return badInput ? BAD_INPUT : FAILED;
        });
        return cmd;
    }
}
