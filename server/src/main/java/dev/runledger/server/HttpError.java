package dev.runledger.server;

/** A request that ends in an error response: status, a stable id, and a sentence saying what was wrong. */
final class HttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;
    final String id;
    final Long line;
    final Double progress;

    HttpError(int status, String id, String detail) {
        this(status, id, detail, null, null);
    }

    HttpError(int status, String id, String detail, Long line, Double progress) {
        super(detail, null, false, false);
        this.status = status;
        this.id = id;
        this.line = line;
        this.progress = progress;
    }

    static HttpError badRequest(String detail) {
        return new HttpError(400, "BadRequest", detail);
    }

    static HttpError notFound(String detail) {
        return new HttpError(404, "NotFound", detail);
    }
}
