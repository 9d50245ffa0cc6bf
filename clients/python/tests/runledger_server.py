"""Starts a real ``runledger serve`` for the tests: the checkout's ``bin/runledger`` (or the command in
RUNLEDGER_SERVE, e.g. an unpacked distribution's ``bin/runledger``), on a free port, in a fresh data
directory, and reads the port it chose from its log."""

import os
import re
import shlex
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_SERVING = re.compile(r"serving on (https?)://([^:\s]+):(\d+)")


class Server:
    def __init__(self, token=None, extra_args=()):
        self.data = tempfile.mkdtemp(prefix="runledger-py-")
        self.token = token
        command = shlex.split(os.environ.get("RUNLEDGER_SERVE", "")) or [os.path.join(ROOT, "bin", "runledger")]
        args = command + ["serve", "--journal", os.path.join(self.data, "journal"),
                          "--db", os.path.join(self.data, "runs.sqlite"), "--port", "0", *extra_args]
        env = dict(os.environ)
        env.pop("RUNLEDGER_TOKEN", None)
        if token:
            env["RUNLEDGER_TOKEN"] = token
        self.log = []
        self._port = None
        self._ready = threading.Event()
        self.process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read_log, name="serve-log", daemon=True).start()
        if not self._ready.wait(180) or self._port is None:
            self.stop()
            raise RuntimeError("runledger serve did not start:\n" + "".join(self.log[-40:]))
        self.url = "%s://127.0.0.1:%d" % (self._scheme, self._port)

    def _read_log(self):
        for line in self.process.stderr:
            self.log.append(line)
            m = _SERVING.search(line)
            if m and self._port is None:
                self._scheme = m.group(1)
                self._port = int(m.group(3))
                self._ready.set()
        self._ready.set()  # exited

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        subprocess.run(["rm", "-rf", self.data], check=False)
