"""A client of one Run Ledger server (``runledger serve``): appends and reads, over keep-alive HTTP.

Only the standard library is used: a robot's Python often cannot install more.
"""

import http.client
import json
import os
import ssl
import threading
import time
import urllib.parse
import uuid
from collections import namedtuple

from . import errors

RunPage = namedtuple("RunPage", "runs next_cursor total")
RunPage.__doc__ = "A page of runs: ``runs`` (dicts), ``next_cursor`` (None on the last page), ``total`` (with total=True)."
CommandPage = namedtuple("CommandPage", "commands cursor total_length")
CommandPage.__doc__ = "A page of a run's commands: ``commands`` (dicts), ``cursor`` (its first position), ``total_length``."
AppendResult = namedtuple("AppendResult", "last_index appended replayed")
AppendResult.__doc__ = ("An append's answer: ``last_index`` (give it as ``min_index`` to read your own write), "
                        "``appended`` events, and ``replayed`` when a retry got the first attempt's answer.")

_RETRYABLE = (OSError, http.client.HTTPException)


class Client:
    """A connection to one server. Thread-safe: requests from several threads take turns on one
    keep-alive connection (use one Client per thread for parallel requests).

    ``url``: ``http://127.0.0.1:8080`` (the default of ``runledger serve``) or an ``https://`` URL.
    ``token``: the bearer token; by default ``RUNLEDGER_TOKEN`` from the environment (or none).
    ``retries``: how many times a request is repeated when no answer came or the server answered 503
    (appends carry an Idempotency-Key, so a repeat never appends a batch twice while the server runs).
    """

    def __init__(self, url="http://127.0.0.1:8080", token=None, timeout=30.0, retries=5, ssl_context=None):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("url must be http://HOST:PORT or https://HOST:PORT but was %r" % url)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 80)
        self._prefix = parsed.path.rstrip("/")
        self._token = token if token is not None else os.environ.get("RUNLEDGER_TOKEN") or None
        self._timeout = timeout
        self._retries = retries
        self._ssl = ssl_context or (ssl.create_default_context() if self._https else None)
        self._lock = threading.Lock()
        self._conn = None
        self.url = url

    # ---- appending -------------------------------------------------------------------------------

    def append(self, events, idempotency_key=None):
        """Appends a batch, all or nothing, and returns an :class:`AppendResult`.

        ``events``: dicts (encoded compactly, key order kept) or strings of JSON text (sent exactly as
        given, so an engine's own bytes are stored byte for byte). A refused batch raises a
        :class:`~runledger_client.errors.RunLedgerError` whose ``line`` and ``event`` name the bad event.
        """
        events = list(events)
        if not events:
            raise ValueError("a batch needs at least one event")
        return self._append_body(encode_batch(events), events, idempotency_key or str(uuid.uuid4()))

    def _append_body(self, body, events, key):
        """Appends an encoded batch; ``events`` (as the caller gave them) name a refused line."""
        status, headers, data = self._request("POST", "/events", body, {
            "Content-Type": "application/x-ndjson", "Idempotency-Key": key}, events=events)
        answer = json.loads(data)
        return AppendResult(answer["lastIndex"], answer["appended"], headers.get("idempotent-replayed") == "true")

    def appender(self, max_events=1000, max_delay=0.1, **kwargs):
        """An :class:`~runledger_client.appender.Appender` on this client: batches in the background."""
        from .appender import Appender
        return Appender(self, max_events=max_events, max_delay=max_delay, **kwargs)

    def delete_run(self, run_id, erase=False):
        """Deletes a run (appends ``run.deleted``); with ``erase=True`` waits until none of its bytes are left."""
        path = "/runs/" + _segment(run_id) + ("?erase=true" if erase else "")
        return json.loads(self._request("DELETE", path, None, {})[2])

    # ---- reading ---------------------------------------------------------------------------------

    def runs(self, labels=None, status=None, page_length=None, cursor=None, created_from=None,
             created_before=None, total=False, min_index=None):
        """One page of runs, newest first. ``labels``: ``{"assay": "pcr"}`` (AND over keys), a list of
        values for any of them (``{"assay": ["pcr", "elisa"]}``), or None to ask only that a key exist."""
        query = []
        for key, value in (labels or {}).items():
            name = "label." + key
            if value is None:
                query.append((name, None))
            elif isinstance(value, (list, tuple, set, frozenset)):
                query.extend((name, v) for v in value)
            else:
                query.append((name, value))
        query += [("status", status), ("pageLength", page_length), ("cursor", cursor),
                  ("createdFrom", created_from), ("createdBefore", created_before),
                  ("total", "true" if total else None), ("minIndex", min_index)]
        answer = self._get_json("/runs", query, keep_bare=True)
        meta = answer.get("meta", {})
        return RunPage(answer["data"], meta.get("nextCursor"), meta.get("totalLength"))

    def iter_runs(self, **kwargs):
        """Every run matching, page by page (the arguments of :meth:`runs`)."""
        cursor = None
        while True:
            page = self.runs(cursor=cursor, **kwargs)
            for run in page.runs:
                yield run
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
            kwargs.pop("min_index", None)  # applied once is applied for every page

    def run(self, run_id, min_index=None):
        """One run (a dict), or :class:`~runledger_client.errors.NotFound`."""
        return self._get_json("/runs/" + _segment(run_id), [("minIndex", min_index)])["data"]

    def commands(self, run_id, cursor=None, page_length=None, min_index=None):
        """A page of a run's commands; without ``cursor``, the last page (Opentrons-style)."""
        answer = self._get_json("/runs/%s/commands" % _segment(run_id),
                                [("cursor", cursor), ("pageLength", page_length), ("minIndex", min_index)])
        return CommandPage(answer["data"], answer["meta"]["cursor"], answer["meta"]["totalLength"])

    def command(self, run_id, command_id, min_index=None):
        return self._get_json("/runs/%s/commands/%s" % (_segment(run_id), _segment(command_id)),
                              [("minIndex", min_index)])["data"]

    def all_commands_json(self, run_id, min_index=None):
        """Every command of a run as the server stores them: one JSON array, as bytes, byte for byte."""
        return self._request("GET", _with_query("/runs/%s/commands.json" % _segment(run_id),
                                                [("minIndex", min_index)]), None, {})[2]

    def health(self):
        """The server's health document (journal head, projection checkpoint and lag, ...)."""
        return json.loads(self._request("GET", "/health", None, {}, ok=(200, 503))[2])

    # ---- plumbing --------------------------------------------------------------------------------

    def _get_json(self, path, query, keep_bare=False):
        return json.loads(self._request("GET", _with_query(path, query, keep_bare), None, {})[2])

    def _request(self, method, path, body, headers, events=None, ok=(200,)):
        """Sends one request, repeating it when no answer came or the server answered 503."""
        headers = dict(headers)
        if self._token:
            headers["Authorization"] = "Bearer " + self._token
        delay = 0.05
        attempt = 0
        while True:
            attempt += 1
            try:
                status, answer_headers, data = self._send(method, self._prefix + path, body, headers)
            except ssl.SSLCertVerificationError as untrusted:  # repeating cannot make the certificate trusted
                raise errors.ConnectionFailed("%s %s: %s does not present a certificate this client trusts: %s"
                                              % (method, path, self.url, untrusted)) from untrusted
            except _RETRYABLE as failure:
                if attempt > self._retries:
                    raise errors.ConnectionFailed("%s %s: no answer from %s after %d attempt(s): %s"
                                                  % (method, path, self.url, attempt, failure)) from failure
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if status in ok:
                return status, answer_headers, data
            retry_after = _seconds(answer_headers.get("retry-after"))
            if status == 503 and attempt <= self._retries:
                time.sleep(retry_after if retry_after is not None else delay)
                delay = min(delay * 2, 2.0)
                continue
            raise errors.from_response(method, path, status, data, retry_after, events)

    def _send(self, method, path, body, headers):
        with self._lock:
            if self._conn is None:
                if self._https:
                    self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                             context=self._ssl)
                else:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
            except BaseException:
                self._conn.close()  # a broken keep-alive connection is never reused
                self._conn = None
                raise
            if response.will_close:
                self._conn.close()
                self._conn = None
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def encode_event(event):
    """One event as UTF-8 NDJSON text without its newline: dicts compactly, strings exactly as given."""
    if isinstance(event, bytes):
        event = event.decode("utf-8")
    if isinstance(event, str):
        if "\n" in event or "\r" in event:  # checked first: most events need no copy
            event = event.strip("\r\n")
            if "\n" in event:
                raise ValueError("an event given as text must be one line of JSON: %.80r" % event)
        return event.encode("utf-8")
    if isinstance(event, dict):
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raise TypeError("an event is a dict or a string of JSON, not %s" % type(event).__name__)


def encode_batch(events):
    """A batch as an NDJSON body: each event on its line, the last line ended too."""
    if all(type(e) is str for e in events):  # text from an engine: checked and joined in C, not per event
        text = "\n".join(events)
        if text.count("\n") == len(events) - 1 and "\r" not in text:
            return (text + "\n").encode("utf-8")
    return b"\n".join([encode_event(e) for e in events]) + b"\n"


def _segment(value):
    """A path segment percent-encoded per RFC 3986 (a '+' or '/' in an id stays part of the id)."""
    return urllib.parse.quote(str(value), safe="")


def _with_query(path, query, keep_bare=False):
    parts = []
    for name, value in query:
        if value is None:
            if keep_bare and name.startswith("label."):
                parts.append(urllib.parse.quote(name, safe="./-_~"))
            continue
        parts.append(urllib.parse.quote(name, safe="./-_~") + "=" + urllib.parse.quote(str(value), safe="-_.~"))
    return path + ("?" + "&".join(parts) if parts else "")


def _seconds(value):
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
