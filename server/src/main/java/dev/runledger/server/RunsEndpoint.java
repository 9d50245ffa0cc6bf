package dev.runledger.server;

import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.Projection;
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
 * and {@code /runs/{id}/commands.json}, as the server's route table dispatches them. Every read takes
 * {@code minIndex} (read-your-writes): the server runs a read only once its index is applied (MinIndexWaits).
 * Stored JSON (commands, summaries) is written out raw, never re-encoded.
 */
final class RunsEndpoint {
    private final Projection projection;
    private final ServerConfig config;

    RunsEndpoint(Projection projection, ServerConfig config) {
        this.projection = projection;
        this.config = config;
    }

    void listRuns(Exchange e) throws IOException {
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
            } else if (!List.of("status", "pageLength", "cursor", "minIndex", "createdFrom", "createdBefore", "total")
                    .contains(name)) {
                throw HttpError.badRequest("unknown parameter " + name + " (label.KEY=VALUE, status, pageLength, cursor,"
                        + " createdFrom, createdBefore, total, minIndex)");
            }
        }
        Integer pageLength = e.intParam("pageLength", 1, config.maxPageLength());
        RunPage page;
        try {
            page = projection.queries().runs(q.status(e.param("status"))
                    .pageLength(pageLength == null ? RunQuery.DEFAULT_PAGE_LENGTH : pageLength)
                    .cursor(e.param("cursor")).createdFrom(instant(e, "createdFrom"))
                    .createdBefore(instant(e, "createdBefore")).includeTotal("true".equals(e.param("total"))).build());
        } catch (IllegalArgumentException bad) {
            throw HttpError.badRequest(bad.getMessage());
        }
        e.sendJson(200, g -> QueryJson.writeRunPage(g, page));
    }

    private static Instant instant(Exchange e, String name) {
        String value = e.param(name);
        try {
            return value == null ? null : Instant.parse(value);
        } catch (DateTimeParseException bad) {
            throw HttpError.badRequest("parameter " + name + " must be an ISO-8601 UTC time but was \"" + value + "\"");
        }
    }

    void run(Exchange e, String runId) throws IOException {
        RunView run = projection.queries().run(runId).orElseThrow(() -> HttpError.notFound("no run " + runId));
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeFieldName("data");
            QueryJson.writeRun(g, run);
            g.writeEndObject();
        });
    }

    void commands(Exchange e, String runId) throws IOException {
        Integer cursor = e.intParam("cursor", 0, Integer.MAX_VALUE);
        Integer pageLength = e.intParam("pageLength", 1, config.maxPageLength());
        CommandPage page = projection.queries().commands(runId, cursor,
                        pageLength == null ? RunQueries.DEFAULT_COMMAND_PAGE_LENGTH : pageLength)
                .orElseThrow(() -> HttpError.notFound("no run " + runId));
        e.sendJson(200, g -> QueryJson.writeCommandPage(g, page));
    }

    void command(Exchange e, String runId, String commandId) throws IOException {
        CommandView c = projection.queries().command(runId, commandId).orElseThrow(() -> HttpError.notFound(
                projection.queries().run(runId).isPresent() ? "no command " + commandId + " in run " + runId : "no run " + runId));
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeFieldName("data");
            QueryJson.writeRaw(g, c.json());
            g.writeEndObject();
        });
    }

    void commandsJson(Exchange e, String runId) throws IOException {
        if (projection.queries().run(runId).isEmpty()) {
            throw HttpError.notFound("no run " + runId);
        }
        e.stream(200, "application/json", out -> {
            if (!projection.queries().writeCommandsJson(runId, out)) {
                out.write("[]".getBytes(java.nio.charset.StandardCharsets.US_ASCII)); // deleted in between
            }
        });
    }
}
