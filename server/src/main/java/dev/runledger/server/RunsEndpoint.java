package dev.runledger.server;

import com.sun.net.httpserver.HttpExchange;
import dev.runledger.projections.CommandPage;
import dev.runledger.projections.CommandView;
import dev.runledger.projections.Projection;
import dev.runledger.projections.QueryJson;
import dev.runledger.projections.RunPage;
import dev.runledger.projections.RunQuery;
import dev.runledger.projections.RunView;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;

/**
 * The reads: {@code /runs}, {@code /runs/{id}}, {@code /runs/{id}/commands}, {@code /runs/{id}/commands/{commandId}}
 * and {@code /runs/{id}/commands.json}. Every read takes {@code minIndex} (read-your-writes, bounded wait).
 * Stored JSON (commands, summaries) is written out raw, never re-encoded.
 */
final class RunsEndpoint {
    private final Projection projection;
    private final ServerConfig config;

    RunsEndpoint(Projection projection, ServerConfig config) {
        this.projection = projection;
        this.config = config;
    }

    /** The route template, for the request timer's tag (never the raw path: ids would explode the series). */
    static String route(HttpExchange ex) {
        String[] p = ex.getRequestURI().getRawPath().split("/");
        int n = p.length - 1; // p[0] is empty
        if (n <= 1) {
            return "/runs";
        }
        if (n == 2) {
            return "/runs/{id}";
        }
        if (n == 3) {
            return "commands.json".equals(p[3]) ? "/runs/{id}/commands.json" : "/runs/{id}/commands";
        }
        return "/runs/{id}/commands/{commandId}";
    }

    void handle(Exchange e) throws Exception {
        if (!"GET".equals(e.method())) {
            e.http.getResponseHeaders().set("Allow", "GET");
            throw new HttpError(405, "MethodNotAllowed", "runs are read with GET; append events with POST /events");
        }
        awaitMinIndex(e);
        List<String> p = e.path;
        if (p.size() == 1) {
            listRuns(e);
        } else if (p.size() == 2) {
            run(e, p.get(1));
        } else if (p.size() == 3 && "commands".equals(p.get(2))) {
            commands(e, p.get(1));
        } else if (p.size() == 3 && "commands.json".equals(p.get(2))) {
            commandsJson(e, p.get(1));
        } else if (p.size() == 4 && "commands".equals(p.get(2))) {
            command(e, p.get(1), p.get(3));
        } else {
            throw HttpError.notFound("no such endpoint: " + e.http.getRequestURI().getPath());
        }
    }

    private void awaitMinIndex(Exchange e) throws InterruptedException {
        Long minIndex = e.longParam("minIndex");
        if (minIndex != null && !projection.awaitApplied(minIndex, config.maxWait())) {
            throw new HttpError(503, "NotYetApplied", "journal index " + minIndex + " is not applied yet (applied: "
                    + projection.appliedIndex() + ") after waiting " + config.maxWait().toMillis() + " ms; retry");
        }
    }

    private void listRuns(Exchange e) throws IOException {
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

    private void run(Exchange e, String runId) throws IOException {
        RunView run = projection.queries().run(runId).orElseThrow(() -> HttpError.notFound("no run " + runId));
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeFieldName("data");
            QueryJson.writeRun(g, run);
            g.writeEndObject();
        });
    }

    private void commands(Exchange e, String runId) throws IOException {
        Integer cursor = e.intParam("cursor", 0, Integer.MAX_VALUE);
        Integer pageLength = e.intParam("pageLength", 1, config.maxPageLength());
        CommandPage page = projection.queries().commands(runId, cursor, pageLength == null ? 20 : pageLength)
                .orElseThrow(() -> HttpError.notFound("no run " + runId));
        e.sendJson(200, g -> QueryJson.writeCommandPage(g, page));
    }

    private void command(Exchange e, String runId, String commandId) throws IOException {
        CommandView c = projection.queries().command(runId, commandId).orElseThrow(() -> HttpError.notFound(
                projection.queries().run(runId).isPresent() ? "no command " + commandId + " in run " + runId : "no run " + runId));
        e.sendJson(200, g -> {
            g.writeStartObject();
            g.writeFieldName("data");
            g.writeRawValue(c.json());
            g.writeEndObject();
        });
    }

    private void commandsJson(Exchange e, String runId) throws IOException {
        if (projection.queries().run(runId).isEmpty()) {
            throw HttpError.notFound("no run " + runId);
        }
        try (OutputStream out = e.stream(200, "application/json")) {
            if (!projection.queries().writeCommandsJson(runId, out)) {
                out.write("[]".getBytes(java.nio.charset.StandardCharsets.US_ASCII)); // deleted in between
            }
        }
    }
}
