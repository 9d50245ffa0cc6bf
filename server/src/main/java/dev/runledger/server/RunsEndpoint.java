package dev.runledger.server;

import dev.runledger.fleet.FleetQueries;
import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.QueryJson;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQueries;
import dev.runledger.projections.RunQuery;
import dev.runledger.projections.RunView;

import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;

/**
 * The reads: {@code /runs}, {@code /runs/{id}}, {@code /runs/{id}/commands}, {@code /runs/{id}/commands/{commandId}}
 * and {@code /runs/{id}/commands.json}, as the server's route table dispatches them, over a robot's projection or
 * (with {@code /robots/{robot}} in front) one robot of the fleet. Every read takes
 * {@code minIndex} (read-your-writes): the server runs a read only once its index is applied (MinIndexWaits).
 * Stored JSON (commands, summaries) is written out raw, never re-encoded.
 */
final class RunsEndpoint {
    private static final List<String> RUN_PARAMS = List.of("status", "pageLength", "cursor", "minIndex", "createdFrom",
            "createdBefore", "total", "order");
    private final ServerConfig config;

    RunsEndpoint(ServerConfig config) {
        this.config = config;
    }

    void listRuns(Exchange e, RunQueries q) throws IOException {
        RunQuery query = query(e, List.of());
        RunPage page;
        try {
            page = q.runs(query);
        } catch (IllegalArgumentException bad) {
            throw HttpError.badRequest(bad.getMessage());
        }
        e.sendJson(200, g -> QueryJson.writeRunPage(g, page));
    }

    /** {@code GET /runs} over the fleet: every robot's runs (or one robot's with {@code robot}); each run names its robot. */
    void listFleetRuns(Exchange e, FleetQueries fleet) throws IOException {
        RunQuery query = query(e, List.of("robot"));
        FleetQueries.FleetRunPage page;
        try {
            page = fleet.runs(e.param("robot"), query);
        } catch (IllegalArgumentException bad) {
            throw HttpError.badRequest(bad.getMessage());
        }
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("data");
            for (FleetQueries.FleetRun r : page.runs()) {
                QueryJson.writeRun(g, r.robot(), r.run());
            }
            g.writeEndArray();
            QueryJson.writeRunPageMeta(g, page.nextCursor(), page.total());
            g.writeEndObject();
        });
    }

    private RunQuery query(Exchange e, List<String> extra) {
        RunQuery.Builder q = RunQuery.builder();
        for (Map.Entry<String, List<String>> param : e.query.entrySet()) {
            String name = param.getKey();
            if (name.startsWith("label.")) {
                String key = name.substring(6);
                for (String value : param.getValue()) {
                    if (value == null) {
                        q.labelExists(key);
                    } else {
                        q.label(key, value);
                    }
                }
            } else if (!RUN_PARAMS.contains(name) && !extra.contains(name)) {
                throw HttpError.badRequest("unknown parameter " + name + " (label.KEY=VALUE, status, pageLength, cursor,"
                        + " createdFrom, createdBefore, total, order, minIndex" + (extra.isEmpty() ? "" : ", " + String.join(", ", extra))
                        + ")");
            }
        }
        Integer pageLength = e.intParam("pageLength", 1, config.maxPageLength());
        try {
            return q.status(e.param("status"))
                    .pageLength(pageLength == null ? RunQuery.DEFAULT_PAGE_LENGTH : pageLength)
                    .cursor(e.param("cursor")).createdFrom(instant(e, "createdFrom"))
                    .createdBefore(instant(e, "createdBefore")).includeTotal("true".equals(e.param("total")))
                    .order(RunQuery.Order.parse(e.param("order"))).build();
        } catch (IllegalArgumentException bad) {
            throw HttpError.badRequest(bad.getMessage());
        }
    }

    private static Instant instant(Exchange e, String name) {
        String value = e.param(name);
        try {
            return value == null ? null : Instant.parse(value);
        } catch (DateTimeParseException bad) {
            throw HttpError.badRequest("parameter " + name + " must be an ISO-8601 UTC time but was \"" + value + "\"");
        }
    }

    void run(Exchange e, RunQueries q, String runId) throws IOException {
        RunView run = q.run(runId).orElseThrow(() -> HttpError.notFound("no run " + runId));
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeFieldName("data");
            QueryJson.writeRun(g, run);
            g.writeEndObject();
        });
    }

    void commands(Exchange e, RunQueries q, String runId) throws IOException {
        Integer cursor = e.intParam("cursor", 0, Integer.MAX_VALUE);
        Integer pageLength = e.intParam("pageLength", 1, config.maxPageLength());
        CommandPage page = q.commands(runId, cursor,
                        pageLength == null ? RunQueries.DEFAULT_COMMAND_PAGE_LENGTH : pageLength)
                .orElseThrow(() -> HttpError.notFound("no run " + runId));
        e.sendJson(200, g -> QueryJson.writeCommandPage(g, page));
    }

    void command(Exchange e, RunQueries q, String runId, String commandId) throws IOException {
        CommandView c = q.command(runId, commandId).orElseThrow(() -> HttpError.notFound(
                q.run(runId).isPresent() ? "no command " + commandId + " in run " + runId : "no run " + runId));
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeFieldName("data");
            QueryJson.writeRaw(g, c.json());
            g.writeEndObject();
        });
    }

    void commandsJson(Exchange e, RunQueries q, String runId) throws IOException {
        if (q.run(runId).isEmpty()) {
            throw HttpError.notFound("no run " + runId);
        }
        e.stream(200, "application/json", out -> {
            if (!q.writeCommandsJson(runId, out)) {
                out.write("[]".getBytes(java.nio.charset.StandardCharsets.US_ASCII)); // deleted in between
            }
        });
    }
}
