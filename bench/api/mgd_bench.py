"""Shared by the daemon benchmarks (bench/api, bench/queue): start `mgd serve`
on a fresh data directory, talk to its API, make projects with inline
sources. Python 3 standard library only.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


class BenchError(Exception):
    pass


class Daemon:
    """`mgd serve --listen 127.0.0.1:0 --data DATA` and its admin token."""

    def __init__(self, mgd, work, extra_args=()):
        self.data = os.path.join(work, "data")
        self.log_path = os.path.join(work, "serve.log")
        self.log = open(self.log_path, "wb")
        argv = [mgd, "serve", "--listen", "127.0.0.1:0", "--data", self.data, *extra_args]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.url = self._wait_listening()
        token_file = os.path.join(self.data, "admin.token")
        with open(token_file) as f:
            self.token = f.read().strip()

    def _wait_listening(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                m = re.search(rb"mgd: listening on (http://[^\s]+)", f.read())
            if m:
                return m.group(1).decode().rstrip("/")
            if self.proc.poll() is not None:
                raise BenchError(f"mgd serve exited with status {self.proc.returncode}:\n"
                                 + self.log_text())
            time.sleep(0.05)
        raise BenchError("mgd serve did not say where it listens within "
                         f"{timeout} s:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def request(self, method, path, body=None, auth=True, raw=False, timeout=60):
        """(status, headers, body): body parsed as JSON unless raw or not JSON."""
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, hdrs, payload = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, payload = e.code, e.headers, e.read()
        if raw:
            return status, hdrs, payload
        try:
            return status, hdrs, json.loads(payload) if payload else None
        except ValueError:
            return status, hdrs, payload.decode(errors="replace")

    def expect(self, status, method, path, body=None, **kw):
        got, hdrs, payload = self.request(method, path, body, **kw)
        if got != status:
            raise BenchError(f"{method} {path}: expected {status}, got {got}: {payload}")
        return payload

    def create_project(self, name, config, sources):
        return self.expect(201, "POST", "/projects",
                           {"name": name, "config": config, "sources": sources})

    def build(self, project, **options):
        return self.expect(202, "POST", f"/projects/{project}/build", options)

    def wait_build(self, build_id, timeout=600, poll=0.1):
        deadline = time.monotonic() + timeout
        while True:
            b = self.expect(200, "GET", f"/builds/{build_id}")
            if b["status"] in TERMINAL:
                return b
            if time.monotonic() > deadline:
                raise BenchError(f"build {build_id} still {b['status']} after {timeout} s")
            time.sleep(poll)

    def log_of(self, build_id):
        status, _, payload = self.request("GET", f"/builds/{build_id}/log", raw=True)
        if status != 200:
            raise BenchError(f"GET /builds/{build_id}/log: {status}")
        return payload.decode(errors="replace")


def read_tree(directory, skip=("config.json",)):
    """A directory's files as inline sources {relative path: text}, leaving
    out its top-level dist/ (images mgd build wrote there), as mgctl and
    scripts/project-json.py do."""
    out = {}
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not (root == directory and d == "dist"))
        for f in sorted(files):
            path = os.path.join(root, f)
            rel = os.path.relpath(path, directory)
            if rel not in skip:
                with open(path) as fh:
                    out[rel] = fh.read()
    return out


def load_example(examples, name):
    """(config, inline sources) of examples/NAME."""
    d = os.path.join(examples, name)
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    return config, read_tree(d)


def parse_metrics(text):
    """Prometheus text -> {name{labels}: value} (samples only)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(None, 1)
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def metric_sum(metrics, name):
    """Sum of every sample of `name` whatever its labels."""
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def run_with_daemon(name, mgd, workers, run, args, extra_args=()):
    """Runs run(daemon, args) against a fresh `mgd serve` (with extra_args) on
    a temporary data directory; on a BenchError prints it with the daemon's
    log. Returns the exit status; the daemon and its directory are gone
    afterwards."""
    work = tempfile.mkdtemp(prefix=name.replace("_", "-") + "-")
    daemon = None
    try:
        daemon = Daemon(os.path.abspath(mgd), work, ["--workers", str(workers), *extra_args])
        return run(daemon, args)
    except BenchError as e:
        print(f"{name}: {e}", file=sys.stderr)
        if daemon:
            print(f"--- serve log (tail)\n{daemon.log_text()}", file=sys.stderr)
        return 1
    finally:
        if daemon:
            daemon.stop()
        shutil.rmtree(work, ignore_errors=True)
