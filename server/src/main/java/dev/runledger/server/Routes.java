package dev.runledger.server;

import java.util.ArrayList;
import java.util.List;

/**
 * The one table of endpoints: each route is a method and a path template ({@code /runs/{id}/commands}),
 * and the template a request matches is both where it is dispatched and its {@code route} tag on
 * {@code http.server.requests}. A path that matches no template is 404 and tagged {@link #UNKNOWN}, so
 * the tag never names a route that did not answer (and raw paths never explode the series).
 */
final class Routes {
    static final String UNKNOWN = "unknown";

    @FunctionalInterface
    interface Handler {
        /** @param params the values of the template's {@code {...}} segments, in order */
        void handle(Exchange exchange, List<String> params) throws Exception;
    }

    private record Route(String method, String template, String[] segments, Handler handler) {
    }

    /** Where a request goes: its route template, and the handler (null for an unknown path or method). */
    record Match(String template, Handler handler, List<String> params, List<String> allowedMethods) {
    }

    private final List<Route> routes = new ArrayList<>();

    Routes add(String method, String template, Handler handler) {
        String[] segments = template.equals("/") ? new String[0] : template.substring(1).split("/");
        routes.add(new Route(method, template, segments, handler));
        return this;
    }

    List<String> endpoints() {
        return routes.stream().map(r -> r.method() + " " + r.template()).toList();
    }

    /** Matches decoded path segments; literals win over {@code {...}} because routes are tried in order. */
    Match match(String method, List<String> path) {
        String template = null;
        List<String> allowed = new ArrayList<>();
        for (Route r : routes) {
            List<String> params = bind(r, path);
            if (params == null || template != null && !template.equals(r.template())) {
                continue;
            }
            template = r.template();
            if (r.method().equals(method)) {
                return new Match(template, r.handler(), params, List.of(r.method()));
            }
            allowed.add(r.method());
        }
        return new Match(template == null ? UNKNOWN : template, null, List.of(), List.copyOf(allowed));
    }

    private static List<String> bind(Route r, List<String> path) {
        if (r.segments().length != path.size()) {
            return null;
        }
        List<String> params = new ArrayList<>(2);
        for (int i = 0; i < path.size(); i++) {
            String s = r.segments()[i];
            if (s.startsWith("{")) {
                params.add(path.get(i));
            } else if (!s.equals(path.get(i))) {
                return null;
            }
        }
        return params;
    }
}
