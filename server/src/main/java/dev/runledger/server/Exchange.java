package dev.runledger.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.runledger.projections.ProjectionUnavailableException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One request from its arrival to its one response: decoded path segments and query parameters, JSON
 * responses written with Jackson, and the completion that ends it exactly once, whichever thread (the
 * handler, a body reader, a parked read being woken) answers.
 */
final class Exchange {
    private static final Logger LOG = LoggerFactory.getLogger(Exchange.class);
    private static final JsonFactory JSON = new JsonFactory();

    /** More query parameters than any endpoint takes (label filters included) is an error, not work. */
    static final int MAX_PARAMETERS = 100;
    /** The status recorded for an exchange dropped before it could answer (nginx's "client closed request"). */
    static final int CLIENT_GONE = 499;

    interface JsonBody {
        void write(JsonGenerator g) throws IOException;
    }

    interface StreamBody {
        void write(OutputStream out) throws IOException;
    }

    /** Told once when the exchange ends, with the status it answered (499 if it was dropped before one was sent). */
    interface Completion {
        void completed(Exchange exchange, int status);
    }

    private final Request request;
    private final Response response;
    private final Callback callback;
    private final Completion completion;
    private final AtomicBoolean ended = new AtomicBoolean();
    final long startNanos;
    List<String> path = List.of();
    Map<String, List<String>> query = Map.of();
    /** The route template that answered, for logs and the {@code route} tag. */
    String route = Routes.UNKNOWN;
    private volatile int status;

    Exchange(Request request, Response response, Callback callback, long startNanos, Completion completion) {
        this.request = request;
        this.response = response;
        this.callback = callback;
        this.startNanos = startNanos;
        this.completion = completion;
    }

    /** Decodes the path and query; throws 400 naming what is malformed. */
    void parse() {
        this.path = segments(request.getHttpURI().getPath());
        this.query = parameters(request.getHttpURI().getQuery());
    }

    Request request() {
        return request;
    }

    String method() {
        return request.getMethod();
    }

    String rawPath() {
        return request.getHttpURI().getPath();
    }

    String header(String name) {
        return request.getHeaders().get(name);
    }

    void setHeader(String name, String value) {
        response.getHeaders().put(name, value);
    }

    private static List<String> segments(String rawPath) {
        List<String> out = new ArrayList<>();
        if (rawPath == null) {
            return out;
        }
        for (String s : rawPath.split("/")) {
            if (!s.isEmpty()) {
                out.add(decode(s, false));
            }
        }
        return out;
    }

    private static Map<String, List<String>> parameters(String rawQuery) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return out;
        }
        String[] pairs = rawQuery.split("&", MAX_PARAMETERS + 2);
        if (pairs.length > MAX_PARAMETERS) {
            throw HttpError.badRequest("too many query parameters: at most " + MAX_PARAMETERS + " query parameters are taken");
        }
        for (String pair : pairs) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = decode(eq < 0 ? pair : pair.substring(0, eq), true);
            String value = eq < 0 ? null : decode(pair.substring(eq + 1), true);
            out.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
        }
        return out;
    }

    /**
     * Percent-decoding per RFC 3986 into strict UTF-8: a malformed escape or bytes that are not UTF-8
     * (overlong forms such as %C0%AF included) are refused, never patched. {@code +} is a space only in a
     * query (form encoding); in a path segment it is a plus.
     */
    static String decode(String raw, boolean plusIsSpace) {
        if (raw.indexOf('%') < 0 && (!plusIsSpace || raw.indexOf('+') < 0)) {
            return raw;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int lo = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw HttpError.badRequest("malformed percent-encoding in " + abbreviate(raw));
                }
                bytes.write(hi << 4 | lo);
                i += 2;
            } else if (c == '+' && plusIsSpace) {
                bytes.write(' ');
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(b, 0, b.length);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw HttpError.badRequest("percent-encoded bytes in " + abbreviate(raw) + " are not valid UTF-8");
        }
    }

    static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    /** A single-valued parameter, or null. */
    String param(String name) {
        List<String> values = query.get(name);
        if (values == null) {
            return null;
        }
        if (values.size() > 1) {
            throw HttpError.badRequest("parameter " + name + " given " + values.size() + " times");
        }
        return values.get(0);
    }

    Integer intParam(String name, int min, int max) {
        String value = param(name);
        if (value == null) {
            return null;
        }
        try {
            int n = Integer.parseInt(value);
            if (n < min || n > max) {
                throw HttpError.badRequest("parameter " + name + " must be " + min + "-" + max + " but was " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("parameter " + name + " must be a whole number but was \"" + value + "\"");
        }
    }

    Long longParam(String name) {
        String value = param(name);
        if (value == null) {
            return null;
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("parameter " + name + " must be a whole number but was \"" + value + "\"");
        }
    }

    /** The request declares a body (a length above zero, or chunks). */
    private boolean carriesBody() {
        return request.getLength() > 0 || request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
    }

    /** The body's declared length, or -1 when it is chunked; 413 past {@code limit}. */
    long declaredLength(int limit) {
        long n = request.getLength();
        if (n > limit) {
            throw tooLarge(limit);
        }
        return n;
    }

    static HttpError tooLarge(int limit) {
        return new HttpError(413, "PayloadTooLarge", "request body is larger than the limit of " + limit + " bytes");
    }

    void sendJson(int status, JsonBody body) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1024);
        try (JsonGenerator g = JSON.createGenerator(buf)) {
            body.write(g);
        }
        send(status, "application/json", buf.toByteArray());
    }

    /** Sends a whole response; the exchange ends when the bytes are written. */
    void send(int status, String contentType, byte[] bytes) {
        this.status = status;
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        response.write(true, ByteBuffer.wrap(bytes), Callback.from(this::succeeded, this::abort));
    }

    /**
     * Streams a response of unknown length (chunked), blocking this thread while the client reads; a
     * failure after the first bytes can only abort the connection, as the status is already sent.
     */
    void stream(int status, String contentType, StreamBody body) throws IOException {
        this.status = status;
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        try (OutputStream out = Content.Sink.asOutputStream(response)) {
            body.write(out);
        }
        succeeded();
    }

    /**
     * Answers a failure: an {@link HttpError} as it says, an unavailable projection as 503 with its
     * progress, anything else as a 500 that names an incident in the log and never the cause.
     */
    void fail(Throwable failure) {
        if (response.isCommitted()) {
            abort(failure); // headers went out already (a streamed response): nothing more can be said
            return;
        }
        HttpError error;
        if (failure instanceof HttpError e) {
            error = e;
        } else if (failure instanceof ProjectionUnavailableException e) {
            error = new HttpError(503, "ProjectionUnavailable", e.getMessage(), null, e.progress());
        } else if (failure instanceof dev.runledger.fleet.FleetQueries.FleetReadException e) {
            LOG.warn("{} {} (route {}): {}", method(), rawPath(), route, e.getMessage());
            setHeader("Retry-After", "5");
            error = new HttpError(503, "FleetUnavailable", "the fleet's PostgreSQL cannot answer: " + e.getMessage());
        } else {
            String incident = Long.toHexString(System.nanoTime());
            LOG.error("{} {} (route {}) failed (incident {})", method(), rawPath(), route, incident, failure);
            error = new HttpError(500, "InternalError", "the request failed on the server; its log names incident " + incident);
        }
        if (error.status == 401) {
            setHeader("WWW-Authenticate", "Bearer");
        }
        if (carriesBody()) {
            // Most refusals come before the body is read (too large, no token, no budget), and Jetty closes a
            // connection with unread bytes after the answer. Without saying so, a client that reuses connections
            // sent its next request into the closing socket and got no answer at all.
            setHeader("Connection", "close");
        }
        try {
            send(error.status, "application/json", errorJson(error.status, error.id, error.getMessage(), error.line, error.progress));
        } catch (RuntimeException e) {
            abort(e);
        }
    }

    /** The one JSON error shape: {@code {"errors":[{"id":...,"detail":...}]}}. */
    static byte[] errorJson(int status, String id, String detail, Long line, Double progress) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        try (JsonGenerator g = JSON.createGenerator(buf)) {
            g.writeStartObject();
            g.writeArrayFieldStart("errors");
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeStringField("detail", detail);
            if (line != null) {
                g.writeNumberField("line", line);
            }
            if (progress != null) {
                g.writeNumberField("rebuildProgress", progress);
            }
            g.writeEndObject();
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory failed", e);
        }
        return buf.toByteArray();
    }

    private void succeeded() {
        if (ended.compareAndSet(false, true)) {
            callback.succeeded();
            completion.completed(this, status);
        }
    }

    /** Ends the exchange without an answer: the connection is dropped (the client went away, or a stream broke). */
    void abort(Throwable cause) {
        if (ended.compareAndSet(false, true)) {
            LOG.debug("{} {} aborted", method(), rawPath(), cause);
            callback.failed(cause);
            completion.completed(this, status == 0 ? CLIENT_GONE : status);
        }
    }
}
