#!/usr/bin/env python3
"""Appends from Python, measured: the client beside raw http.client sending the same bytes.

Starts its own ``runledger serve`` (the checkout's bin/runledger) unless --url is given, and appends
real-shaped events (../shared/data's Opentrons commands when present, else examples/sample-analysis.json)
in batches of --batch events, in rounds that alternate the ways of sending so that machine noise falls
on each alike. Prints events/s per way (median of the rounds) and the client's overhead against raw
http.client.

    python3 clients/python/bench.py [--events 100000] [--batch 1000] [--rounds 3] [--url URL]
"""

import argparse
import gzip
import http.client
import json
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "tests"))

import runledger_client as rl  # noqa: E402

SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data", "opentrons-sample.events.ndjson.gz")


def source_events():
    """Events as dicts, in journal order, from the real Opentrons sample (or the bundled analysis)."""
    if os.path.exists(SHARED):
        with gzip.open(SHARED, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()], "../shared/data (25 Opentrons runs)"
    from examples_loader import analysis_events  # pragma: no cover - only without ../shared
    return analysis_events(), "examples/sample-analysis.json"


def workload(template, events, suffix):
    """``events`` events: the template's runs again and again, each copy's run ids made unique."""
    out = []
    copy = 0
    while len(out) < events:
        tag = "%s-%d" % (suffix, copy)
        for e in template:
            e = dict(e)
            e["runId"] = e["runId"] + "-" + tag
            out.append(e)
        copy += 1
    # cut at a run boundary-free point: trailing events of an unfinished run are harmless
    return out[:events]


def batches(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def client_append(url, token, events, size):
    """Client.append, one batch of ``size`` after another (events as dicts or as JSON text)."""
    with rl.Client(url, token=token) as c:
        start = time.perf_counter()
        for b in batches(events, size):
            c.append(b)
        return time.perf_counter() - start


def appender(url, token, events, size):
    with rl.Client(url, token=token) as c:
        start = time.perf_counter()
        with c.appender(max_events=size, max_delay=0.05) as log:
            for e in events:
                log.append(e)
            log.flush()
        return time.perf_counter() - start


def raw(url, token, batches_of_events, body_of, keyed=False):
    """The baseline: each batch made into a body by ``body_of`` and POSTed with http.client on one keep-alive
    connection (with ``keyed``, each with an Idempotency-Key, to show what the key costs the server)."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = "Bearer " + token
    start = time.perf_counter()
    for batch in batches_of_events:
        body = body_of(batch)
        if keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        conn.request("POST", "/events", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise SystemExit("raw append failed: %d %s" % (r.status, data[:300]))
    took = time.perf_counter() - start
    conn.close()
    return took


def joined(lines):
    """Lines of JSON text as an NDJSON body, as a raw caller would join them."""
    return ("\n".join(lines) + "\n").encode("utf-8")


def dumped(events):
    """Dicts as an NDJSON body, as a raw caller would json.dumps them."""
    return "".join(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n" for e in events).encode("utf-8")


def settle(url, token):
    """Waits until the projector has caught up, so each way starts on a quiet server (on 2 cores a
    projector still applying the previous way's events would slow the next one down)."""
    with rl.Client(url, token=token) as c:
        deadline = time.monotonic() + 300
        while c.health()["projection"]["lagEvents"] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--url")
    args = p.parse_args()
    server = None
    url, token = args.url, os.environ.get("RUNLEDGER_TOKEN")
    if url is None:
        from runledger_server import Server
        server = Server()
        url, token = server.url, None
    try:
        template, source = source_events()
        print("python %s, %d events per way per round in batches of %d, %d rounds; events from %s; server %s"
              % (sys.version.split()[0], args.events, args.batch, args.rounds, source, url))
        times = {"raw http.client (same bytes)": [], "raw http.client + Idempotency-Key": [],
                 "Client.append, events as JSON text": [],
                 "raw http.client + json.dumps per batch": [],
                 "Client.append, events as dicts": [], "Appender (background thread), dicts": []}
        size_bytes = 0
        # One unmeasured round first: the server's JIT warms up on it, not on the first way measured.
        warmup = [rl.encode_event(e).decode("utf-8") for e in workload(template, args.events, "warm-" + uuid.uuid4().hex[:6])]
        raw(url, token, batches(warmup, args.batch), joined)
        for r in range(args.rounds):
            run = uuid.uuid4().hex[:6]
            ev = {k: workload(template, args.events, "%s-%d-%d" % (run, r, i)) for i, k in enumerate(times)}
            raw_lines = [rl.encode_event(e).decode("utf-8") for e in ev["raw http.client (same bytes)"]]
            size_bytes = sum(len(line.encode("utf-8")) + 1 for line in raw_lines)
            text_lines = [rl.encode_event(e).decode("utf-8") for e in ev["Client.append, events as JSON text"]]
            keyed_lines = [rl.encode_event(e).decode("utf-8") for e in ev["raw http.client + Idempotency-Key"]]
            ways = [("raw http.client (same bytes)", lambda: raw(url, token, batches(raw_lines, args.batch), joined)),
                    ("raw http.client + Idempotency-Key",
                     lambda: raw(url, token, batches(keyed_lines, args.batch), joined, keyed=True)),
                    ("Client.append, events as JSON text", lambda: client_append(url, token, text_lines, args.batch)),
                    ("raw http.client + json.dumps per batch",
                     lambda: raw(url, token, batches(ev["raw http.client + json.dumps per batch"], args.batch), dumped)),
                    ("Client.append, events as dicts",
                     lambda: client_append(url, token, ev["Client.append, events as dicts"], args.batch)),
                    ("Appender (background thread), dicts",
                     lambda: appender(url, token, ev["Appender (background thread), dicts"], args.batch))]
            if r % 2 == 1:
                ways.reverse()  # neither end of the order is always first
            for name, way in ways:
                settle(url, token)
                times[name].append(way())
        base = statistics.median(times["raw http.client (same bytes)"])
        print("%-40s %12s %10s %14s" % ("way", "events/s", "MB/s", "vs raw"))
        for name, ts in times.items():
            t = statistics.median(ts)
            print("%-40s %12s %10.1f %13.2fx" % (name, "{:,.0f}".format(args.events / t), size_bytes / t / 1e6, base / t))
        per_batch = args.events / args.batch
        text = statistics.median(times["Client.append, events as JSON text"])
        keyed = statistics.median(times["raw http.client + Idempotency-Key"])
        print("client overhead on the same bytes: %.0f us per %d-event batch (%+.1f%%); against raw with an"
              " Idempotency-Key too: %.0f us (%+.1f%%)" % ((text - base) / per_batch * 1e6, args.batch,
                                                        (text - base) / base * 100, (text - keyed) / per_batch * 1e6,
                                                        (text - keyed) / keyed * 100))
        dumps = statistics.median(times["raw http.client + json.dumps per batch"])
        dicts = statistics.median(times["Client.append, events as dicts"])
        print("client overhead on dicts, against json.dumps + http.client: %.0f us per batch (%+.1f%%)"
              % ((dicts - dumps) / per_batch * 1e6, (dicts - dumps) / dumps * 100))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
