"""Errors a Run Ledger server answers, as typed exceptions.

Every error the server sends has the shape ``{"errors":[{"id":..., "detail":..., "line":...}]}``; the
``id`` picks the class, so callers can catch what they can act on (``EventRejected`` is the engine's
bug, ``Unavailable`` is worth a retry, ``Unauthorized`` is configuration).
"""

import json


class RunLedgerError(Exception):
    """A request the server refused or could not answer.

    Attributes: ``status`` (HTTP status, or None when no answer came), ``error_id`` (the server's
    stable id, e.g. ``InvalidEvent``), ``detail`` (its sentence), ``line`` (the 1-based NDJSON line of
    the batch it is about, or None) and ``event`` (that line's event as the caller gave it, or None).
    """

    def __init__(self, message, status=None, error_id=None, detail=None, line=None, event=None):
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.detail = detail
        self.line = line
        self.event = event


class ConnectionFailed(RunLedgerError):
    """No answer: the server could not be reached, or the connection broke (retries were spent)."""


class BadRequest(RunLedgerError):
    """400: a parameter, a path or an Idempotency-Key is malformed."""


class InvalidEvent(BadRequest):
    """400: a line of the batch is not a valid event (``line`` and ``event`` name it); nothing was appended."""


class Unauthorized(RunLedgerError):
    """401: the server needs a token (``RUNLEDGER_TOKEN`` or ``token=``) and did not get the right one."""


class NotFound(RunLedgerError):
    """404: no such run, command or endpoint."""


class RequestTimeout(RunLedgerError):
    """408: the body arrived too slowly; nothing was appended."""


class EventRejected(RunLedgerError):
    """409: an event breaks its run's lifecycle (unknown or deleted run, a second ``run.created``, a
    command after ``run.completed``); ``line`` and ``event`` name it; nothing was appended."""


class PayloadTooLarge(RunLedgerError):
    """413: the batch (or one event) is larger than the server takes; send smaller batches."""


class UnsupportedMediaType(RunLedgerError):
    """415: not sent as NDJSON."""


class IdempotencyKeyReused(RunLedgerError):
    """422: the batch's Idempotency-Key was used before for another batch; nothing was appended."""


class Unavailable(RunLedgerError):
    """503: not now (stopping, busy, a ``min_index`` not reached in time); ``retry_after`` is in seconds."""

    def __init__(self, *args, retry_after=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class JournalFull(RunLedgerError):
    """507: the robot's disk is full; nothing was appended."""


class ServerError(RunLedgerError):
    """500 or another status this client does not know."""


_BY_ID = {
    "InvalidEvent": InvalidEvent,
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "NotFound": NotFound,
    "RequestTimeout": RequestTimeout,
    "EventRejected": EventRejected,
    "PayloadTooLarge": PayloadTooLarge,
    "UnsupportedMediaType": UnsupportedMediaType,
    "IdempotencyKeyReused": IdempotencyKeyReused,
    "JournalFull": JournalFull,
}
_BY_STATUS = {400: BadRequest, 401: Unauthorized, 404: NotFound, 408: RequestTimeout, 409: EventRejected,
              413: PayloadTooLarge, 415: UnsupportedMediaType, 422: IdempotencyKeyReused, 503: Unavailable,
              507: JournalFull}


def from_response(method, path, status, body, retry_after=None, events=None):
    """The exception for an error answer; ``events`` is the batch sent, so a ``line`` can name its event."""
    error_id, detail, line = None, None, None
    try:
        first = json.loads(body.decode("utf-8"))["errors"][0]
        error_id, detail, line = first.get("id"), first.get("detail"), first.get("line")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        detail = body[:300].decode("utf-8", "replace") or "(no body)"
    if status == 503:
        cls = Unavailable
    else:
        cls = _BY_ID.get(error_id) or _BY_STATUS.get(status, ServerError)
    event = None
    if line is not None and events is not None and 1 <= line <= len(events):
        event = events[line - 1]
    message = "%s %s: %d %s: %s" % (method, path, status, error_id or "error", detail)
    if event is not None:
        message += " (line %d: %s)" % (line, _abbreviate(event))
    kwargs = dict(status=status, error_id=error_id, detail=detail, line=line, event=event)
    if cls is Unavailable:
        return Unavailable(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _abbreviate(event):
    text = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 200 else text[:200] + "..."
