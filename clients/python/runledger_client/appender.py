"""Batching in the background, so a protocol engine's loop never waits on HTTP."""

import threading
import time
import uuid

from . import errors
from .client import encode_event


class AppenderStopped(errors.RunLedgerError):
    """The appender stopped on a batch the server refused (``cause``); later events were not sent.

    Nothing is dropped silently: ``unsent`` holds the refused batch and everything after it, in order.
    """

    def __init__(self, message, cause, unsent):
        super().__init__(message, status=cause.status, error_id=cause.error_id, detail=cause.detail,
                         line=cause.line, event=cause.event)
        self.cause = cause
        self.unsent = unsent


class Appender:
    """Takes events one at a time and appends them in batches from a background thread
    (``runledger-appender``): a batch goes when it holds ``max_events`` events or ``max_batch_bytes``,
    or when its oldest event has waited ``max_delay`` seconds.

    Batches go in order, one at a time, each with its own Idempotency-Key, so the client's retries
    never append one twice while the server runs. :meth:`flush` waits for everything given so far and
    returns the last journal index; :attr:`last_index` is the last one acknowledged. When the server
    refuses a batch the appender stops, and the next :meth:`append`, :meth:`flush` or :meth:`close`
    raises :class:`AppenderStopped` naming the event (its ``unsent`` keeps what was not appended).
    ``append`` blocks while ``max_pending`` events wait (the server is slower than the engine).
    """

    def __init__(self, client, max_events=1000, max_delay=0.1, max_batch_bytes=8 << 20, max_pending=100_000):
        if max_events < 1 or max_delay < 0 or max_batch_bytes < 1 or max_pending < max_events:
            raise ValueError("need max_events >= 1, max_delay >= 0, max_batch_bytes >= 1, max_pending >= max_events")
        self._client = client
        self._max_events = max_events
        self._max_delay = max_delay
        self._max_bytes = max_batch_bytes
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending = []          # (event, encoded bytes, time given)
        self._given = 0             # events given to append()
        self._acknowledged = 0      # events the server acknowledged
        self._flush_wanted = False
        self._closing = False
        self._failure = None
        self._last_index = None
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="runledger-appender", daemon=True)
        self._thread.start()

    @property
    def last_index(self):
        """The journal index of the last event the server acknowledged (None before the first)."""
        return self._last_index

    def append(self, event):
        """Queues one event (a dict, or a string of JSON text kept byte for byte)."""
        encoded = encode_event(event)
        with self._cond:
            self._raise_if_stopped()
            if self._closing:
                raise RuntimeError("the appender is closed")
            while len(self._pending) >= self._max_pending and self._failure is None:
                self._cond.wait()
            self._raise_if_stopped()
            self._pending.append((event, encoded, time.monotonic()))
            self._given += 1
            self._cond.notify_all()

    def flush(self, timeout=None):
        """Waits until every event given so far is appended; returns the last journal index."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._given
            self._flush_wanted = True
            self._cond.notify_all()
            while self._acknowledged < target and self._failure is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("%d event(s) still not appended after %.1f s"
                                       % (target - self._acknowledged, timeout))
                self._cond.wait(remaining)
            self._raise_if_stopped()
            return self._last_index

    def close(self, timeout=None):
        """Flushes, stops the thread and returns the last journal index."""
        try:
            return self.flush(timeout)
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:  # keep the caller's exception; still send what was given
            try:
                self.close()
            except errors.RunLedgerError:
                pass

    def _raise_if_stopped(self):
        if self._failure is not None:
            raise self._failure

    def _run(self):
        while True:
            with self._cond:
                batch = self._next_batch()
                if batch is None:
                    return
            events = [e for e, _, _ in batch]
            body_size = sum(len(b) + 1 for _, b, _ in batch)
            try:
                result = self._client._append_body(b"".join(b + b"\n" for _, b, _ in batch), events, str(uuid.uuid4()))
            except Exception as failure:  # noqa: BLE001 - whatever it is, the caller must hear of it, not hang in flush()
                refused = failure
                if not isinstance(failure, errors.RunLedgerError):
                    refused = errors.RunLedgerError("appending failed unexpectedly: %r" % (failure,))
                    refused.__cause__ = failure
                if refused.line is not None and 1 <= refused.line <= len(events):
                    refused.event = events[refused.line - 1]
                with self._cond:
                    unsent = events + [e for e, _, _ in self._pending]
                    self._pending.clear()
                    self._failure = AppenderStopped(
                        "the appender stopped: a batch of %d event(s) (%d bytes) was refused: %s; %d event(s) not"
                        " appended (see .unsent)" % (len(events), body_size, refused, len(unsent)), refused, unsent)
                    self._cond.notify_all()
                return
            with self._cond:
                self._acknowledged += len(batch)
                self._last_index = result.last_index
                self.batches += 1
                self._cond.notify_all()

    def _next_batch(self):
        """Waits (holding the condition) for a batch that is due; None once closed with nothing left."""
        while True:
            if self._pending:
                due = (len(self._pending) >= self._max_events or self._flush_wanted or self._closing
                       or time.monotonic() - self._pending[0][2] >= self._max_delay
                       or sum(len(b) for _, b, _ in self._pending[:self._max_events]) >= self._max_bytes)
                if due:
                    taken, size = 0, 0
                    while taken < len(self._pending) and taken < self._max_events:
                        size += len(self._pending[taken][1]) + 1
                        if taken > 0 and size > self._max_bytes:
                            break
                        taken += 1
                    batch = self._pending[:taken]
                    del self._pending[:taken]
                    if not self._pending:
                        self._flush_wanted = False
                    self._cond.notify_all()  # room for a blocked append()
                    return batch
                self._cond.wait(max(0.0, self._max_delay - (time.monotonic() - self._pending[0][2])))
            elif self._closing:
                return None
            else:
                self._flush_wanted = False
                self._cond.wait()
