package dev.runledger.tool;

import dev.runledger.fleet.FleetProjector;
import dev.runledger.fleet.FleetReplay;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

/** The fleet's central side: project the topic into PostgreSQL, rebuild that projection, verify it. */
final class FleetCommands {
    private FleetCommands() {
    }

    @Command(name = "fleet-project", mixinStandardHelpOptions = true,
            description = {"Applies the fleet topic to the PostgreSQL projection of every robot's runs.",
                    "It resumes from the offsets stored in the projection itself and skips events a shipper sent twice.",
                    "Without --follow it applies what the topic holds and stops; with it, it keeps going until Ctrl-C."})
    static final class Project implements Callable<Integer> {
        @Mixin
        FleetOptions fleet;

        @Option(names = "--follow", description = "Keep applying what arrives, until Ctrl-C or SIGTERM.")
        boolean follow;

        @Option(names = "--json", description = "Print the summary as JSON.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (FleetProjector projector = new FleetProjector(fleet.config().follow(follow).build())) {
                if (follow) {
                    StopSignals.onStop(projector::close);
                }
                FleetProjector.Summary s = projector.run();
                if (json) {
                    System.out.println(Json.write(g -> {
                        g.writeStartObject();
                        g.writeStringField("schema", fleet.schema);
                        g.writeStringField("topic", fleet.topic);
                        g.writeNumberField("records", s.records());
                        g.writeNumberField("applied", s.applied());
                        g.writeNumberField("duplicates", s.duplicates());
                        g.writeNumberField("quarantined", s.quarantined());
                        g.writeNumberField("batches", s.batches());
                        g.writeNumberField("retries", s.retries());
                        g.writeNumberField("reseeks", s.reseeks());
                        g.writeNumberField("millis", s.took().toMillis());
                        g.writeEndObject();
                    }));
                } else {
                    double seconds = Math.max(s.took().toNanos() / 1e9, 1e-9);
                    System.out.printf(Locale.ROOT, "fleet-project: %,d records from %s into schema %s in %.1f s (%,.0f records/s):"
                                    + " %,d applied, %,d duplicates skipped, %,d quarantined; %,d batches, %d retries%s%n",
                            s.records(), fleet.topic, fleet.schema, seconds, s.records() / seconds, s.applied(), s.duplicates(),
                            s.quarantined(), s.batches(), s.retries(), s.reseeks() == 0 ? ""
                                    : String.format(Locale.ROOT, "; %d batches dropped unwritten because the stored offsets"
                                    + " moved under it (another projector on this schema, or a rebuild swapped in)", s.reseeks()));
                }
            }
            return RunLedger.OK;
        }
    }

    @Command(name = "fleet-rebuild", mixinStandardHelpOptions = true,
            description = {"Replays the whole fleet topic into a fresh schema and swaps it in for the live one.",
                    "The live schema keeps serving meanwhile; the swap renames both schemas in one transaction."})
    static final class Rebuild implements Callable<Integer> {
        @Mixin
        FleetOptions fleet;

        @Override
        public Integer call() throws Exception {
            FleetReplay.Rebuilt r = FleetReplay.rebuild(fleet.config().build());
            double seconds = Math.max(r.took().toNanos() / 1e9, 1e-9);
            System.out.printf(Locale.ROOT, "fleet-rebuild: replayed %,d records (%,d applied, %,d quarantined) into a fresh"
                    + " schema and swapped it in as %s in %.1f s (%,.0f records/s)%n", r.replay().records(), r.replay().applied(),
                    r.replay().quarantined(), fleet.schema, seconds, r.replay().records() / seconds);
            return RunLedger.OK;
        }
    }

    @Command(name = "fleet-verify", mixinStandardHelpOptions = true,
            description = {"Replays the fleet topic into a scratch schema and compares every table with the live one.",
                    "It replays exactly up to the offsets the live schema has applied and names each difference by robot,",
                    "run, command and column. Exit 0 when equal, 1 when not."})
    static final class Verify implements Callable<Integer> {
        @Mixin
        FleetOptions fleet;

        @Override
        public Integer call() throws Exception {
            FleetReplay.Verification v = FleetReplay.verify(fleet.config().build());
            System.out.printf(Locale.ROOT, "fleet-verify: %s: %,d rows of schema %s compared with a replay of %s up to offsets"
                    + " %s in %.1f s%n", v.equal() ? "EQUAL" : v.differences().size() + " DIFFERENCE(S)", v.rowsCompared(),
                    fleet.schema, fleet.topic, v.offsets(), v.took().toNanos() / 1e9);
            v.differences().forEach(d -> System.out.println("  " + d));
            return v.equal() ? RunLedger.OK : RunLedger.FAILED;
        }
    }
}
