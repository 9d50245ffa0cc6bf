#!/usr/bin/env python3
"""Replays an Opentrons protocol analysis as a live run, the way a protocol engine would log one.

Each command of the analysis is recorded three times, as the engine sees it: queued, running, then
its final state; the rest of the analysis (labware, pipettes, modules, errors, ...) becomes the run's
summary, and the run completes as succeeded, or failed when the analysis has errors. Then the run is
read back with min_index (read-your-writes).

    python3 examples/replay_analysis.py --url http://127.0.0.1:8080 examples/sample-analysis.json

The token, if the server has one, comes from RUNLEDGER_TOKEN.
"""

import argparse
import datetime
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from runledger_client import Client, RunLedgerError  # noqa: E402

_ENGINE_FIELDS = ("result", "error", "startedAt", "completedAt", "notes")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def replay(client, analysis, run_id, labels, pace=0.0):
    """Appends the analysis as a run; returns (last journal index, commands, events appended)."""
    commands = analysis.get("commands", [])
    summary = {k: v for k, v in analysis.items() if k != "commands"}
    failed = bool(analysis.get("errors"))
    events = 0
    with client.appender(max_events=1000, max_delay=0.05) as log:
        log.append({"type": "run.created", "runId": run_id, "createdAt": now(), "labels": labels})
        events += 1
        for command in commands:
            queued = {k: v for k, v in command.items() if k not in _ENGINE_FIELDS}
            queued["status"] = "queued"
            running = dict(queued, status="running", startedAt=now())
            for state in (queued, running, command):
                log.append({"type": "command.recorded", "runId": run_id, "command": state})
                events += 1
            if pace:
                time.sleep(pace)
        log.append({"type": "run.summary", "runId": run_id, "summary": summary})
        log.append({"type": "run.completed", "runId": run_id, "status": "failed" if failed else "succeeded",
                    "completedAt": now()})
        events += 2
        last = log.flush()
    return last, len(commands), events


def main(argv=None):
    parser = argparse.ArgumentParser(description="Replay an Opentrons protocol analysis as a live run.")
    parser.add_argument("analysis", help="an analysis JSON file ({\"commands\": [...], \"labware\": ..., ...})")
    parser.add_argument("--url", default=os.environ.get("RUNLEDGER_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--run-id", default=None, help="default: run-<random>")
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between commands (0: as fast as possible)")
    args = parser.parse_args(argv)
    with open(args.analysis, encoding="utf-8") as f:
        analysis = json.load(f)
    run_id = args.run_id or "run-" + uuid.uuid4().hex[:10]
    protocol = os.path.splitext(os.path.basename(args.analysis))[0]
    client = Client(args.url)
    try:
        started = time.monotonic()
        last, commands, events = replay(client, analysis, run_id, {"protocol": protocol, "source": "analysis"}, args.pace)
        took = time.monotonic() - started
        run = client.run(run_id, min_index=last)
        tail = client.commands(run_id, page_length=3, min_index=last)
    except RunLedgerError as e:
        print("replay_analysis: %s" % e, file=sys.stderr)
        return 1
    finally:
        client.close()
    print("run %s: %d commands as %d events appended in %.2f s (last journal index %d)"
          % (run_id, commands, events, took, last))
    print("read back: status %s, %d commands, labels %s" % (run["status"], run["commandCount"],
                                                           json.dumps(run["labels"], sort_keys=True)))
    for c in tail.commands:
        print("  #%d %s %s" % (tail.cursor + tail.commands.index(c), c["commandType"], c["status"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
