package dev.runledger.server;

import dev.runledger.ledger.Journal;
import dev.runledger.ledger.Ledger;
import dev.runledger.ledger.LedgerConfig;
import dev.runledger.projections.Projection;
import dev.runledger.projections.ProjectionConfig;
import dev.runledger.projections.ProjectionStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.time.Duration;
import java.util.Locale;

/** A robot's own server: the ledger (appends, deletions, erasure) and its SQLite projection (reads). */
final class RobotBackend implements Backend {
    private final ServerConfig config;
    private final MeterRegistry registry;
    private final Counter slowBodies;
    private final Ledger ledger;
    private final Projection projection;
    private final Eraser eraser;

    RobotBackend(ServerConfig config, MeterRegistry registry, Counter slowBodies) {
        this.config = config;
        this.registry = registry;
        this.slowBodies = slowBodies;
        Ledger openedLedger = Ledger.open(LedgerConfig.builder(config.journal()).meterRegistry(registry)
                .retention(config.retention()).compactWhenDead(config.compactWhenDead())
                .compactWhenBytes(config.compactWhenBytes()).build());
        try {
            this.projection = Projection.open(ProjectionConfig.builder(config.database(), openedLedger.journal())
                    .meterRegistry(registry).pollInterval(Duration.ofMillis(20)).build());
        } catch (RuntimeException e) {
            openedLedger.close();
            throw e;
        }
        this.ledger = openedLedger;
        this.eraser = new Eraser(ledger, projection);
    }

    @Override
    public void addRoutes(Routes routes, RunsEndpoint runs) {
        EventsEndpoint events = new EventsEndpoint(ledger, registry, config, slowBodies, eraser);
        routes.add("POST", "/events", (e, p) -> events.handle(e))
                .add("GET", "/runs", (e, p) -> runs.listRuns(e, projection.queries()))
                .add("GET", "/runs/{id}", (e, p) -> runs.run(e, projection.queries(), p.get(0)))
                .add("DELETE", "/runs/{id}", (e, p) -> events.delete(e, p.get(0)))
                .add("GET", "/runs/{id}/commands", (e, p) -> runs.commands(e, projection.queries(), p.get(0)))
                .add("GET", "/runs/{id}/commands.json", (e, p) -> runs.commandsJson(e, projection.queries(), p.get(0)))
                .add("GET", "/runs/{id}/commands/{commandId}", (e, p) -> runs.command(e, projection.queries(), p.get(0), p.get(1)));
    }

    @Override
    public MinIndexWaits.Progress progress() {
        return new MinIndexWaits.Progress() {
            @Override
            public void await(long lowest, Duration timeout) throws InterruptedException {
                projection.awaitApplied(lowest, timeout);
            }

            @Override
            public java.util.function.ToLongFunction<String> applied() {
                long applied = projection.appliedIndex();
                return robot -> applied;
            }
        };
    }

    @Override
    public String minIndexRobot(Exchange exchange, Routes.Match match) {
        return null;
    }

    @Override
    public long applied(String robot) {
        return projection.appliedIndex();
    }

    @Override
    public Journal journal() {
        return ledger.journal();
    }

    @Override
    public String describe() {
        ProjectionStatus s = projection.status();
        Journal j = ledger.journal();
        return String.format(Locale.ROOT, "journal %s (id %s, head %d), projection %s (schema version %d, checkpoint %d,"
                        + " lag %d events, %s)", j.directory(), j.id(), j.headIndex(), config.database(), s.schemaVersion(),
                s.checkpoint(), s.lagEvents(), s.state());
    }

    /**
     * 200 while the projection serves (also when {@code degraded}: reads answer from the last checkpoint
     * while failing batches are retried), 503 when it failed for good. The lag is the real distance from the
     * journal head, growing while batches fail.
     */
    @Override
    public void health(Exchange e) throws IOException {
        ProjectionStatus s = projection.status();
        int status = s.state() == ProjectionStatus.State.FAILED ? 503 : 200;
        String state = s.state().name().toLowerCase(Locale.ROOT);
        e.sendJson(status, g -> {
            g.writeStartObject();
            g.writeStringField("status", s.state() == ProjectionStatus.State.RUNNING ? "ok" : state);
            g.writeObjectFieldStart("journal");
            g.writeStringField("id", s.journalId());
            g.writeNumberField("head", s.journalHead());
            dev.runledger.ledger.JournalIntegrity integrity = ledger.integrity();
            g.writeStringField("integrity", integrity.intact() ? "intact" : "events missing");
            if (!integrity.intact()) {
                g.writeNumberField("missingEvents", integrity.missingEvents());
                g.writeStringField("detail", integrity.detail());
            }
            String compacted = dev.runledger.ledger.JournalCompaction.lastCompaction(ledger.journal().directory());
            if (compacted != null) {
                g.writeFieldName("lastCompaction");
                g.writeRawValue(compacted); // a line the compaction wrote: one JSON object
            }
            g.writeEndObject();
            Ledger.RetentionStatus retention = ledger.retentionStatus();
            g.writeObjectFieldStart("retention");
            g.writeStringField("policy", retention.policy() == null ? "keep every run" : retention.policy().toString());
            if (retention.lastRun() != null) {
                g.writeStringField("lastRun", retention.lastRun().toString());
                g.writeNumberField("lastDeleted", retention.lastDeleted());
            }
            g.writeNumberField("deleted", retention.totalDeleted());
            if (config.compactWhenDead() > 0) {
                g.writeStringField("compactWhenDead", Math.round(config.compactWhenDead() * 100) + "%");
            }
            if (config.compactWhenBytes() > 0) {
                g.writeNumberField("compactWhenBytes", config.compactWhenBytes());
            }
            g.writeEndObject();
            g.writeObjectFieldStart("projection");
            g.writeStringField("file", config.database().toString());
            g.writeNumberField("checkpoint", s.checkpoint());
            g.writeNumberField("lagEvents", s.lagEvents());
            g.writeNumberField("schemaVersion", s.schemaVersion());
            g.writeStringField("state", state);
            g.writeNumberField("quarantined", s.quarantined());
            if (s.rebuildProgress() >= 0) {
                g.writeNumberField("rebuildProgress", s.rebuildProgress());
            }
            if (s.lastError() != null) {
                g.writeStringField("lastError", s.lastError());
            }
            if (s.degradedSince() != null) {
                g.writeStringField("degradedSince", s.degradedSince().toString());
            }
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    /** The projector's final batch is committed with its checkpoint, then the journal is closed. */
    @Override
    public void close() {
        eraser.close();
        projection.close();
        ledger.close();
    }
}
