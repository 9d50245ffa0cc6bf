package dev.runledger.tool;

import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.ProjectionReader;
import dev.runledger.projections.QueryJson;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQuery;
import dev.runledger.projections.RunView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "query", mixinStandardHelpOptions = true, description = "Queries a projection file.",
        subcommands = {QueryCommand.Runs.class, QueryCommand.Commands.class})
final class QueryCommand {

    @Command(name = "runs", mixinStandardHelpOptions = true,
            description = {"Lists runs, newest first: by default the last appended run.created first.",
                    "--label k=v filters (repeat a key for OR, different keys AND); --label k requires the key to exist.",
                    "Newest means journal order of run.created, not the createdAt field an engine supplies; --order created"
                            + " sorts by createdAt instead."})
    static final class Runs implements Callable<Integer> {
        @Mixin
        DbOption db;

        @Option(names = "--label", paramLabel = "K[=V]", description = "Label filter; repeatable.")
        List<String> labels = List.of();

        @Option(names = "--status", paramLabel = "S", description = "created, running, succeeded, failed or stopped.")
        String status;

        @Option(names = "--created-from", paramLabel = "TIME", description = "Only runs created at or after: 2026-11-22 or 2026-11-22T10:00:00Z (UTC).")
        java.time.Instant createdFrom;

        @Option(names = "--created-before", paramLabel = "TIME", description = "Only runs created before: 2026-11-22 or 2026-11-22T10:00:00Z (UTC).")
        java.time.Instant createdBefore;

        @Option(names = "--page-length", defaultValue = "20", paramLabel = "N",
                description = "Runs per page, 1-1000 (default: ${DEFAULT-VALUE}); HTTP calls it pageLength.")
        int pageLength;

        @Option(names = "--cursor", paramLabel = "C", description = "nextCursor of the previous page.")
        String cursor;

        @Option(names = "--total", description = "Also count every matching run.")
        boolean total;

        @Option(names = "--order", paramLabel = "appended|created", defaultValue = "appended",
                converter = OrderConverter.class, description = "Which newest first: appended (journal order of"
                + " run.created, default) or created (createdAt, ties in journal order). A cursor belongs to its order.")
        RunQuery.Order order;

        @Option(names = "--json", description = "Print the page as the HTTP API's JSON.")
        boolean json;

        @Override
        public Integer call() {
            RunQuery.Builder q = RunQuery.builder().status(status).pageLength(pageLength).cursor(cursor).includeTotal(total)
                    .createdFrom(createdFrom).createdBefore(createdBefore).order(order);
            for (String label : labels) {
                int eq = label.indexOf('=');
                if (eq < 0) {
                    q.labelExists(label);
                } else {
                    q.label(label.substring(0, eq), label.substring(eq + 1));
                }
            }
            RunQuery query = q.build();
            try (ProjectionReader reader = ProjectionReader.open(db.db)) {
                RunPage page = reader.runs(query);
                if (json) {
                    System.out.println(Json.write(g -> QueryJson.writeRunPage(g, page)));
                } else {
                    for (RunView r : page.runs()) {
                        System.out.printf("%-28s %-10s %-25s %6d commands  %s%s%n", r.id(), r.status(), r.createdAt(),
                                r.commandCount(), r.labels(), r.damaged() ? "  DAMAGED" : "");
                    }
                    if (page.total() != null) {
                        System.out.println("total: " + page.total());
                    }
                    if (page.nextCursor() != null) {
                        System.out.println("next page: --cursor " + page.nextCursor());
                    }
                }
            }
            return RunLedger.OK;
        }
    }

    /** {@code appended} or {@code created}, spelled as HTTP's {@code order} parameter is. */
    static final class OrderConverter implements picocli.CommandLine.ITypeConverter<RunQuery.Order> {
        @Override
        public RunQuery.Order convert(String value) {
            try {
                return RunQuery.Order.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Command(name = "commands", mixinStandardHelpOptions = true,
            description = "Prints a page of a run's commands (default: the tail), Opentrons-style.")
    static final class Commands implements Callable<Integer> {
        @Mixin
        DbOption db;

        @Option(names = "--run", required = true, paramLabel = "ID", description = "The run whose commands to print.")
        String run;

        @Option(names = "--cursor", paramLabel = "N", description = "Index of the first command (default: the tail).")
        Integer cursor;

        @Option(names = "--page-length", defaultValue = "20", paramLabel = "N",
                description = "Commands per page, 1-1000 (default: ${DEFAULT-VALUE}); HTTP calls it pageLength.")
        int pageLength;

        @Option(names = "--json", description = "Print the page as the HTTP API's JSON.")
        boolean json;

        @Override
        public Integer call() {
            try (ProjectionReader reader = ProjectionReader.open(db.db)) {
                CommandPage page = reader.commands(run, cursor, pageLength)
                        .orElseThrow(() -> new IllegalArgumentException("no run " + run + " in " + db.db));
                if (json) {
                    System.out.println(Json.write(g -> QueryJson.writeCommandPage(g, page)));
                } else {
                    for (CommandView c : page.commands()) {
                        System.out.printf("%6d %-40s %-14s %-10s%n", c.index(), c.id(), c.commandType(), c.status());
                    }
                    System.out.println("commands " + page.cursor() + ".." + (page.cursor() + page.commands().size())
                            + " of " + page.totalLength());
                }
            }
            return RunLedger.OK;
        }
    }
}
