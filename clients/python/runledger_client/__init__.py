"""A Python client for Run Ledger (``runledger serve``), standard library only, Python 3.9+.

    from runledger_client import Client
    client = Client("http://127.0.0.1:8080")            # token from RUNLEDGER_TOKEN, if set
    with client.appender(max_events=1000, max_delay=0.1) as log:
        log.append({"type": "run.created", "runId": "r-1", "createdAt": "2026-11-22T10:00:00Z"})
        ...
        last = log.flush()
    client.run("r-1", min_index=last)                   # reads your own writes
"""

from .appender import Appender, AppenderStopped
from .client import AppendResult, Client, CommandPage, RunPage, encode_batch, encode_event
from .errors import (BadRequest, ConnectionFailed, EventRejected, IdempotencyKeyReused, InvalidEvent,
                     JournalFull, NotFound, PayloadTooLarge, RequestTimeout, RunLedgerError, ServerError,
                     Unauthorized, Unavailable, UnsupportedMediaType)

__version__ = "0.1.0"

__all__ = ["Appender", "AppenderStopped", "AppendResult", "BadRequest", "Client", "CommandPage",
           "ConnectionFailed", "EventRejected", "IdempotencyKeyReused", "InvalidEvent", "JournalFull",
           "NotFound", "PayloadTooLarge", "RequestTimeout", "RunLedgerError", "RunPage", "ServerError",
           "Unauthorized", "Unavailable", "UnsupportedMediaType", "encode_batch", "encode_event"]
