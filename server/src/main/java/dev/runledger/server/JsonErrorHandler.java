package dev.runledger.server;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;

/**
 * Errors Jetty answers itself, before a request reaches the route table (a malformed request line or URI,
 * headers over the size limit, a request it could not parse), in the API's one JSON error shape rather
 * than an HTML page, and never with a stack trace or an exception's text.
 */
final class JsonErrorHandler extends ErrorHandler {

    @Override
    public boolean errorPageForMethod(String method) {
        return !"HEAD".equals(method);
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(Exchange.errorJson(code, id(code), detail(code, message), null, null)), callback);
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json");
        return ByteBuffer.wrap(Exchange.errorJson(status, id(status), detail(status, reason), null, null));
    }

    private static String id(int status) {
        return switch (status) {
            case 400 -> "BadRequest";
            case 404 -> "NotFound";
            case 408 -> "RequestTimeout";
            case 413 -> "PayloadTooLarge";
            case 414 -> "UriTooLong";
            case 431 -> "HeadersTooLarge";
            case 500 -> "InternalError";
            case 503 -> "Unavailable";
            default -> "HttpError";
        };
    }

    /**
     * Jetty's reason names the violation when it has one ("Bad URI", "Header Fields Too Large"); when it
     * only says "Bad Request" the request line or a header could not be parsed, most often a path with a
     * broken percent-escape, which the sentence says. An exception's text is never passed on.
     */
    private static String detail(int status, String reason) {
        String standard = HttpStatus.getMessage(status);
        if (status == 400 && (reason == null || reason.equals(standard))) {
            return "the request line or a header is malformed, e.g. a percent-escape in the path that is not %"
                    + " followed by two hex digits (%ZZ); nothing was read";
        }
        if (reason == null || reason.isBlank() || reason.contains("Exception") || reason.contains("\n")) {
            return "the request was refused before it was read: " + standard;
        }
        return "the request was refused before it was read: " + reason + (reason.equals(standard) ? "" : " (" + standard + ")");
    }
}
