"""The client against a real ``runledger serve`` (started once for the module; see runledger_server.py)."""

import http.client
import http.server
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import runledger_client as rl  # noqa: E402
from runledger_server import Server  # noqa: E402

TOKEN = "py-client-token-0123456789"
SERVER = None
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def setUpModule():
    global SERVER
    if shutil.which("java") is None:
        raise unittest.SkipTest("no java on PATH: cannot start runledger serve")
    SERVER = Server(token=TOKEN)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def new_run_id():
    return "r-" + uuid.uuid4().hex[:12]


def created(run_id, labels=None):
    e = {"type": "run.created", "runId": run_id, "createdAt": "2026-11-22T10:00:00Z"}
    if labels is not None:
        e["labels"] = labels
    return e


def command(run_id, cid, status="queued", command_type="aspirate"):
    return {"type": "command.recorded", "runId": run_id,
            "command": {"id": cid, "commandType": command_type, "status": status}}


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.client = rl.Client(SERVER.url, token=TOKEN)

    def tearDown(self):
        self.client.close()

    def test_appends_and_reads_its_own_writes_back_byte_for_byte(self):
        run_id = new_run_id()
        # Spellings a re-encoder would change: a trailing zero, an escape, null, key order.
        text = '{"id":"c-1","status":"succeeded","commandType":"aspirate","params":{"volume":1.50,"note":"\\u00e9","x":null}}'
        result = self.client.append([created(run_id, {"assay": "pcr"}),
                                     '{"type":"command.recorded","runId":"%s","command":%s}' % (run_id, text)])
        self.assertEqual(2, result.appended)
        self.assertFalse(result.replayed)
        run = self.client.run(run_id, min_index=result.last_index)
        self.assertEqual({"assay": "pcr"}, run["labels"])
        self.assertEqual(1, run["commandCount"])
        self.assertEqual(("[" + text + "]").encode("utf-8"), self.client.all_commands_json(run_id))
        self.assertEqual("c-1", self.client.command(run_id, "c-1")["id"])

    def test_batches_in_the_background_by_count_and_by_time(self):
        run_id = new_run_id()
        with self.client.appender(max_events=1000, max_delay=0.05) as log:
            log.append(created(run_id))
            for i in range(2499):
                log.append(command(run_id, "c-%d" % i))
            last = log.flush()
            self.assertEqual(3, log.batches, "2,500 events in batches of at most 1,000")
            self.assertEqual(last, log.last_index)
            log.append(command(run_id, "late"))
            deadline = time.monotonic() + 10
            while log.last_index == last and time.monotonic() < deadline:
                time.sleep(0.01)  # no flush: the delay alone sends it
            self.assertGreater(log.last_index, last)
            self.assertEqual(4, log.batches)
        page = self.client.commands(run_id, min_index=log.last_index)
        self.assertEqual(2500, page.total_length)
        self.assertEqual("late", page.commands[-1]["id"])

    def test_stops_on_a_refused_batch_naming_the_event_and_keeping_what_was_not_sent(self):
        run_id = new_run_id()
        log = self.client.appender(max_events=10, max_delay=10)
        log.append(created(run_id))
        log.append(command(run_id, "c-1"))
        bad = {"type": "labels.changed", "runId": run_id, "set": {"my key": "x"}}
        log.append(bad)
        log.append(command(run_id, "c-2"))
        with self.assertRaises(rl.AppenderStopped) as stopped:
            log.flush()
        self.assertIsInstance(stopped.exception.cause, rl.InvalidEvent)
        self.assertEqual(3, stopped.exception.line)
        self.assertEqual(bad, stopped.exception.event)
        self.assertIn("my key", str(stopped.exception))
        self.assertEqual(4, len(stopped.exception.unsent), "the whole refused batch, nothing appended")
        with self.assertRaises(rl.AppenderStopped):
            log.append(command(run_id, "c-3"))
        with self.assertRaises(rl.NotFound):
            self.client.run(run_id)

    def test_stops_and_says_so_when_sending_fails_unexpectedly(self):
        client = rl.Client(SERVER.url, token=TOKEN)
        client._append_body = lambda body, events, key: {}["lastIndex"]  # a bug anywhere below the appender
        log = client.appender(max_events=10, max_delay=0.01)
        log.append(created(new_run_id()))
        with self.assertRaises(rl.AppenderStopped) as stopped:
            log.flush(timeout=10)
        self.assertIsInstance(stopped.exception.cause.__cause__, KeyError)
        self.assertEqual(1, len(stopped.exception.unsent))

    def test_maps_error_answers_to_typed_exceptions(self):
        run_id = new_run_id()
        with self.assertRaises(rl.InvalidEvent) as invalid:
            self.client.append([created(run_id), '{"type":"run.created","runId":'])
        self.assertEqual(2, invalid.exception.line)
        self.assertEqual('{"type":"run.created","runId":', invalid.exception.event)
        with self.assertRaises(rl.EventRejected) as rejected:
            self.client.append([command("no-such-run-" + run_id, "c-1")])
        self.assertEqual(409, rejected.exception.status)
        self.assertEqual(1, rejected.exception.line)
        with self.assertRaises(rl.NotFound):
            self.client.run(run_id)
        with self.assertRaises(rl.BadRequest) as bad:
            self.client.runs(labels={"my key": "x"})
        self.assertIn("my key", bad.exception.detail)
        with rl.Client(SERVER.url, token="wrong-token-0123456789") as stranger:
            with self.assertRaises(rl.Unauthorized):
                stranger.runs()
            self.assertEqual("ok", stranger.health()["status"], "/health needs no token")
        with self.assertRaises(rl.IdempotencyKeyReused):
            self.client.append([created(new_run_id())], idempotency_key="k-" + run_id)
            self.client.append([created(new_run_id())], idempotency_key="k-" + run_id)
        with self.assertRaises(TypeError):
            self.client.append([object()])

    def test_takes_the_token_from_the_environment(self):
        os.environ["RUNLEDGER_TOKEN"] = TOKEN
        try:
            with rl.Client(SERVER.url) as from_env:
                self.assertIsInstance(from_env.runs().runs, list)
        finally:
            del os.environ["RUNLEDGER_TOKEN"]
        with rl.Client(SERVER.url) as without:
            with self.assertRaises(rl.Unauthorized):
                without.runs()

    def test_pages_through_runs_filtered_by_labels(self):
        tag = uuid.uuid4().hex[:8]
        ids = [new_run_id() for _ in range(7)]
        result = self.client.append([created(r, {"batch": tag, "parity": str(i % 2)}) for i, r in enumerate(ids)])
        seen = [r["id"] for r in self.client.iter_runs(labels={"batch": tag}, page_length=3, min_index=result.last_index)]
        self.assertEqual(list(reversed(ids)), seen, "newest first, every page")
        odd = self.client.runs(labels={"batch": tag, "parity": ["1"]}, total=True)
        self.assertEqual(3, odd.total)
        self.assertEqual(7, len(list(self.client.iter_runs(labels={"batch": tag, "parity": None}))))

    def test_a_batch_whose_answer_was_lost_is_retried_and_appended_once(self):
        run_id = new_run_id()
        with LossyProxy(SERVER.url) as proxy, rl.Client(proxy.url, token=TOKEN) as client:
            proxy.drop_next_answer = True
            result = client.append([created(run_id), command(run_id, "c-1")])
            self.assertEqual(2, proxy.posts, "sent twice: the first answer never arrived")
            self.assertTrue(result.replayed)
        run = self.client.run(run_id, min_index=result.last_index)
        self.assertEqual(1, run["commandCount"])
        # Appended once: a second run.created for the same run would have been refused, and the head moved by 2.
        self.assertEqual(result.last_index, self.client.health()["journal"]["head"])

    def test_example_replays_an_analysis_as_a_live_run(self):
        env = dict(os.environ, RUNLEDGER_TOKEN=TOKEN)
        out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "replay_analysis.py"), "--url", SERVER.url,
                              "--run-id", "analysis-" + uuid.uuid4().hex[:6], os.path.join(EXAMPLES, "sample-analysis.json")],
                             env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        with open(os.path.join(EXAMPLES, "sample-analysis.json"), encoding="utf-8") as f:
            commands = len(json.load(f)["commands"])
        self.assertIn("%d commands as %d events appended" % (commands, 3 * commands + 3), out.stdout)
        self.assertIn("read back: status succeeded, %d commands" % commands, out.stdout)


class TlsTest(unittest.TestCase):
    """HTTPS with the server's certificate as the only trusted one (the system's CAs do not know it)."""

    def test_appends_and_reads_over_https(self):
        if shutil.which("openssl") is None:
            self.skipTest("no openssl to make a certificate with")
        work = tempfile.mkdtemp(prefix="runledger-tls-")
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        server = Server(token=TOKEN, extra_args=("--tls-keystore", cert, "--tls-key", key))
        try:
            self.assertTrue(server.url.startswith("https://"), server.url)
            with rl.Client(server.url, token=TOKEN, ssl_context=ssl.create_default_context(cafile=cert)) as client:
                run_id = new_run_id()
                result = client.append([created(run_id)])
                self.assertEqual(run_id, client.run(run_id, min_index=result.last_index)["id"])
            with rl.Client(server.url, token=TOKEN) as untrusting:  # the system's CAs only; refused at once
                with self.assertRaises(rl.ConnectionFailed) as refused:
                    untrusting.runs()
                self.assertIn("CERTIFICATE_VERIFY_FAILED", str(refused.exception))
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)


class LossyProxy:
    """An HTTP proxy that can forward a POST to the server and then drop the connection instead of
    answering: the server appended, the client never heard."""

    def __init__(self, upstream):
        host, port = upstream.split("//")[1].split(":")
        proxy = self
        self.drop_next_answer = False
        self.posts = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.command == "POST":
                    proxy.posts += 1
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                if self.command == "POST" and proxy.drop_next_answer:
                    proxy.drop_next_answer = False
                    self.close_connection = True
                    return  # nothing written: the client sees the connection close
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="lossy-proxy", daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    unittest.main()
