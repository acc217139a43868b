"""Harness of the REST API integration tests (tests/api/test_*.py).

It runs a real `mgd serve` on a free port with a data directory of its own,
talks HTTP to it with the standard library only, and checks on the way out
that the daemon stops cleanly on SIGTERM and that the sanitizers of the test
build (ASan, UBSan) found nothing in its stderr. Every answer request()
receives is checked against the OpenAPI document api/openapi.json
(openapi_check.py, with python3-jsonschema), so no test can pass on an
answer the document does not describe.

Usage from a test file:

    import harness
    def setUpModule(): harness.start_shared()
    def tearDownModule(): harness.stop_shared()
    class T(harness.ApiTest): ...
    if __name__ == "__main__": harness.main()

The mgd binary is argv[1] (CTest passes $<TARGET_FILE:mgd>) or $MGD.
$MGD_TEST_CACHE, when set, is passed as `--cache` so that test files share
the action cache (the runtime is compiled once for the whole suite).
$MGD_TEST_KEEP=1 keeps the temporary directories for a post-mortem.
"""

import collections
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openapi_check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(SOURCE_DIR, "examples")

MGD = os.environ.get("MGD")
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
SANITIZER_RE = re.compile(r"runtime error|Sanitizer")
LISTEN_RE = re.compile(r"mgd: listening on http://127\.0\.0\.1:(\d+)")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
HEX40_RE = re.compile(r"^[0-9a-f]{40}$")

# Sentinel: "use the daemon's admin token" (the default of every request).
ADMIN = object()


class Response:
    """One HTTP answer: status, headers (case-insensitive), body bytes."""

    def __init__(self, method, path, status, headers, body):
        self.method, self.path = method, path
        self.status, self.headers, self.body = status, headers, body
        self._json = None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body)
            except ValueError as e:
                raise AssertionError(
                    "%s %s: %d, body is not JSON (%s): %r"
                    % (self.method, self.path, self.status, e, self.body[:500])
                )
        return self._json

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        body = self.body[:800]
        return "%s %s -> %d %s %r" % (
            self.method,
            self.path,
            self.status,
            dict(self.headers.items()),
            body,
        )


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies (a
    CTest timeout, ^C), so that no daemon outlives its test."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort; finish() still stops it
        pass


class Daemon:
    """A `mgd serve` process on 127.0.0.1 with its own data directory."""

    def __init__(self, data=None, extra_args=(), workers=2, jobs=2, cache="shared"):
        if not MGD:
            raise RuntimeError("the path of mgd is argv[1] or $MGD")
        self.tmp = tempfile.mkdtemp(prefix="mgd-api-")
        self.data = data or os.path.join(self.tmp, "data")
        self.extra_args = list(extra_args)
        self.workers, self.jobs = workers, jobs
        if cache == "shared":
            cache = os.environ.get("MGD_TEST_CACHE") or None
        self.cache = cache
        self.proc = None
        self.port = None
        self.admin_token = None
        self.stderr_lines = []
        self.all_stderr = []  # across restarts, for the sanitizer check
        self._reader = None

    # -- process ---------------------------------------------------------

    def argv(self):
        a = [MGD, "serve", "--listen", "127.0.0.1:0", "--data", self.data]
        a += ["--workers", str(self.workers), "--jobs", str(self.jobs)]
        if self.cache:
            a += ["--cache", self.cache]
        return a + self.extra_args

    def start(self, timeout=60):
        self.stderr_lines = []
        self.proc = subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        ready = threading.Event()

        def read():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stderr_lines.append(line)
                self.all_stderr.append(line)
                m = LISTEN_RE.search(line)
                if m and not ready.is_set():
                    self.port = int(m.group(1))
                    ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(2)
                raise AssertionError(
                    "mgd serve did not start (exit %r): %s\nstderr:\n%s"
                    % (self.proc.poll(), " ".join(self.argv()), self.stderr_text())
                )
        with open(os.path.join(self.data, "admin.token")) as f:
            self.admin_token = f.read().strip()
        return self

    def seed_cache(self):
        """Copies the suite's shared action cache (when there is one) into
        DATA/cache before the first start, so that a daemon with a cache of
        its own does not compile the runtime again. Only finished entries
        are copied (blobs, records, runtime trees; tmp/ is not)."""
        shared = os.environ.get("MGD_TEST_CACHE")
        if not shared or not os.path.isdir(os.path.join(shared, "blobs")):
            return
        for sub in ("blobs", "records", "runtime"):
            src = os.path.join(shared, sub)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(self.data, "cache", sub), dirs_exist_ok=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        return "\n".join(self.stderr_lines)

    def stop(self, timeout=10):
        """SIGTERM; the daemon must exit 0 within `timeout` seconds."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._reader.join(5)
                raise AssertionError(
                    "mgd did not exit within %d s of SIGTERM; stderr:\n%s"
                    % (timeout, self.stderr_text())
                )
        self._reader.join(5)
        proc.stderr.close()
        if proc.returncode != 0:
            raise AssertionError(
                "mgd exited with %d after SIGTERM (want 0); stderr:\n%s"
                % (proc.returncode, self.stderr_text())
            )

    def kill9(self):
        """SIGKILL, as a crash: nothing of the daemon runs afterwards."""
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait()
        self._reader.join(5)
        proc.stderr.close()

    def pids(self):
        """The daemon's own pid, to tell it from what it started."""
        return (self.proc.pid,) if self.proc is not None else ()

    def check_sanitizers(self):
        bad = [l for l in self.all_stderr if SANITIZER_RE.search(l)]
        if bad:
            raise AssertionError(
                "the sanitizers reported problems in mgd:\n" + "\n".join(self.all_stderr)
            )

    def cleanup(self):
        if os.environ.get("MGD_TEST_KEEP") == "1":
            sys.stderr.write("keeping %s\n" % self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def finish(self):
        """Stop (checking the exit), check the sanitizers, remove the files."""
        try:
            self.stop()
            self.check_sanitizers()
        finally:
            if self.proc is not None:
                self.kill9()
            self.cleanup()

    # -- HTTP ------------------------------------------------------------

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, body=None, token=ADMIN, headers=None, timeout=60, openapi=True):
        """One request on a fresh connection. `body`: a dict or list is sent
        as JSON (with its Content-Type); bytes or str are sent as they are,
        with whatever Content-Type `headers` gives (none by default).

        Every answer is checked against api/openapi.json (openapi_check.py):
        a status, Content-Type, header or JSON body the document does not
        describe fails the test. `openapi=False` is only for requests that
        deliberately step outside HTTP's semantics, whose answer is not the
        API's (e.g. libmicrohttpd's own HTML errors)."""
        h = {}
        if token is ADMIN:
            token = self.admin_token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if headers:
            h.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        if openapi:
            openapi_check.check(method, path, r.status, r.headers, data)
        return Response(method, path, r.status, r.headers, data)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def health(self, timeout=10):
        """True when GET /health answers 200 {"status": "ok"}."""
        try:
            r = self.request("GET", "/health", token=None, timeout=timeout)
        except (OSError, http.client.HTTPException):
            return False
        return r.status == 200 and json.loads(r.body).get("status") == "ok"

    # -- tokens, builds --------------------------------------------------

    def create_token(self, scope, name=None):
        """A new token of `scope` through POST /tokens: (id, token)."""
        body = {"scope": scope}
        if name:
            body["name"] = name
        r = self.post("/tokens", body)
        if r.status != 201:
            raise AssertionError("cannot create a %s token: %r" % (scope, r))
        return r.json["id"], r.json["token"]

    def build(self, build_id):
        r = self.get("/builds/%d" % build_id)
        if r.status != 200:
            raise AssertionError("GET /builds/%d: %r" % (build_id, r))
        return r.json

    def log(self, build_id):
        return self.get("/builds/%d/log" % build_id).text

    def wait_build(self, build_id, statuses=TERMINAL, timeout=180):
        """Polls the build until its status is in `statuses`; fails with the
        build's JSON and its log when the deadline passes."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            b = self.build(build_id)
            if b["status"] in statuses:
                return b
            if time.monotonic() > deadline:
                raise AssertionError(
                    "build %d did not reach %s in %d s: %s\nlog:\n%s"
                    % (build_id, statuses, timeout, json.dumps(b, indent=1), self.log(build_id))
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def start_build(self, project, body=None, token=ADMIN):
        r = self.post("/projects/%s/build" % project, body if body is not None else {}, token=token)
        if r.status != 202:
            raise AssertionError("cannot start a build of %s: %r" % (project, r))
        return r.json

    def build_and_wait(self, project, body=None, want="succeeded", timeout=180):
        b = self.wait_build(self.start_build(project, body)["id"], timeout=timeout)
        if want and b["status"] != want:
            raise AssertionError(
                "build %d of %s is %s, want %s: %s\nlog:\n%s"
                % (b["id"], project, b["status"], want, json.dumps(b, indent=1), self.log(b["id"]))
            )
        return b

    def create_project(self, body):
        r = self.post("/projects", body)
        if r.status != 201:
            raise AssertionError("cannot create project %s: %r" % (body.get("name"), r))
        return r.json


# -- projects to build ----------------------------------------------------


def read(path):
    with open(path) as f:
        return f.read()


def hello_config(name="hello"):
    c = json.loads(read(os.path.join(EXAMPLES, "hello", "config.json")))
    c["name"] = name
    return c


def hello_sources():
    return {"unikernel.c": read(os.path.join(EXAMPLES, "hello", "unikernel.c"))}


def hello_project(name, config_name="hello"):
    """A POST /projects body: examples/hello with inline sources."""
    return {"name": name, "config": hello_config(config_name), "sources": hello_sources()}


def hello_tree(dest, config_name="hello"):
    """The tree of hello_project(..., config_name) in the folder `dest`, for
    a local `mgd build` to compare a daemon's or a worker's image with."""
    shutil.copytree(os.path.join(EXAMPLES, "hello"), dest, ignore=shutil.ignore_patterns("dist"))
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(hello_config(config_name), f)


# One line printer: its output tells which source an image was built from.
PRINTER_C = """#include "mg/console.h"

int app_start(mg_console *console);

int app_start(mg_console *console)
{
    mg_console_printf(console, "%s\\n");
    return 0;
}
"""


def printer_config(name="printer", extra_sources=()):
    return {
        "mgd": 1,
        "name": name,
        "devices": {
            "main": {
                "main": "app_start",
                "type": "console -> job",
                "sources": ["unikernel.c"] + list(extra_sources),
            }
        },
        "jobs": [{"apply": "main", "to": ["default_console"]}],
    }


def printer_source(line):
    return PRINTER_C % line


# A C file that takes gcc -O2 about 2.7 s per block of 1000 functions, in
# 600 bytes of source; `nonce` makes its text (and so its cache key) unique.
SLOW_C = """#include <stdint.h>
/* %s */
#define F(i) uint64_t f##i(uint64_t x); uint64_t f##i(uint64_t x) { uint64_t a = x * i##u; \\
    for (int k = 0; k < (int)(i %% 7u) + 3; k++) \\
        a = (a ^ (a >> (i %% 13u + 1u))) * 0x9e3779b97f4a7c15u + i##u; \\
    return a + i##u; }
#define F10(i) F(i##0) F(i##1) F(i##2) F(i##3) F(i##4) F(i##5) F(i##6) F(i##7) F(i##8) F(i##9)
#define F100(i) F10(i##0) F10(i##1) F10(i##2) F10(i##3) F10(i##4) \\
    F10(i##5) F10(i##6) F10(i##7) F10(i##8) F10(i##9)
#define F1000(i) F100(i##0) F100(i##1) F100(i##2) F100(i##3) F100(i##4) \\
    F100(i##5) F100(i##6) F100(i##7) F100(i##8) F100(i##9)
%s
"""


def slow_project(name, blocks=9, nonce=None):
    """A project whose build compiles for about 2.7 s x `blocks` (gcc -O2):
    long enough to be caught running, then cancelled or killed."""
    nonce = nonce or "%s %f %d" % (name, time.time(), os.getpid())
    body = "\n".join("F1000(%d)" % (i + 1) for i in range(blocks))
    return {
        "name": name,
        "config": printer_config(name, extra_sources=["slow.c"]),
        "sources": {
            "unikernel.c": printer_source("slow project " + name),
            "slow.c": SLOW_C % (nonce, body),
        },
    }


# -- git --------------------------------------------------------------------


def git(repo, *args):
    """Runs git in `repo` with a fixed identity and no user or system
    configuration; its stdout, stripped."""
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
               GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    r = subprocess.run(["git", "-C", repo] + list(args), env=env, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("git %s: %s" % (" ".join(args), r.stderr))
    return r.stdout.strip()


# -- processes --------------------------------------------------------------


def processes_mentioning(needle, exclude=()):
    """[(pid, cmdline)] of the processes whose command line contains
    `needle` (a path under a data directory: a build's scratch checkout),
    but for the pids in `exclude` and this one."""
    found = []
    needle_b = needle.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid() or int(pid) in exclude:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle_b in cmd:
            found.append((int(pid), cmd.replace(b"\0", b" ").decode("utf-8", "replace")))
    return found


Proc = collections.namedtuple("Proc", "ppid state starttime cmd comm")


def proc_table():
    """{pid: Proc(ppid, state, starttime, cmdline, comm)} of every process now."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses;
        # fields 3 (state), 4 (ppid), 22 (starttime) are rest[0], [1], [19]
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        rest = stat[stat.rfind(")") + 2:].split()
        out[int(name)] = Proc(int(rest[1]), rest[0], int(rest[19]), cmd, comm)
    return out


def descendants(root, table=None):
    """The pids of every process below `root` (its children, theirs...), in
    `table` (proc_table(); read now when not given)."""
    children = {}
    for pid, p in (table if table is not None else proc_table()).items():
        children.setdefault(p.ppid, []).append(pid)
    found, pending = set(), [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def status_of(raw):
    """The status code of a raw HTTP answer."""
    parts = raw.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise AssertionError("not an HTTP answer: %r" % raw[:300])
    return int(parts[1])


def rss_kib(pid):
    """The resident memory of process `pid`, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/%d/status" % pid)


def wait_no_processes(needle, timeout=5.0, exclude=(), alive=None):
    """[] once no process mentions `needle`, else what is left at the
    deadline. With `alive` (a daemon's pid), its own processes (its builds)
    do not count: only what it did not start."""
    deadline = time.monotonic() + timeout
    while True:
        skip = set(exclude) | (descendants(alive) if alive else set())
        left = processes_mentioning(needle, skip)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def wait_running_compile(d, build_id, file=None, timeout=90):
    """Waits until build `build_id` of daemon `d` runs a process on its
    scratch checkout (on `file` in it, when given): returns the scratch
    path, the needle that finds the build's processes in /proc."""
    needle = os.path.join(d.data, "scratch", str(build_id))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b = d.build(build_id)
        if b["status"] in TERMINAL:
            raise AssertionError("build %d ended (%s) before it was caught running:\n%s"
                                 % (build_id, b["status"], d.log(build_id)[-3000:]))
        if b["status"] == "running":
            procs = processes_mentioning(needle)
            if file:
                procs = [p for p in procs if "/" + file + " " in p[1] + " "]
            if procs:
                return needle
        time.sleep(0.1)
    raise AssertionError("build %d never ran a process on %s %s: %s\nlog:\n%s"
                         % (build_id, needle, file or "", d.build(build_id),
                            d.log(build_id)[-3000:]))


def kill_pids(procs):
    """Ends processes the test caused (a daemon's leftover compilers)."""
    for pid, _ in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_link(value):
    """{rel: (path, {param: value})} from a Link header."""
    out = {}
    for url, rel in re.findall(r'<([^>]*)>\s*;\s*rel="([^"]+)"', value or ""):
        u = urllib.parse.urlsplit(url)
        out[rel] = (u.path, dict(urllib.parse.parse_qsl(u.query)))
    return out


def describe_cli(config, sources=None, args=()):
    """What `mgd describe` prints for `config` (a dict), parsed: the describe
    JSON on success or {"errors": [...]}; with its exit status."""
    d = tempfile.mkdtemp(prefix="mgd-api-describe-")
    try:
        path = os.path.join(d, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        for name, content in (sources or {}).items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(content)
        r = subprocess.run([MGD, "describe", path] + list(args), capture_output=True, timeout=60)
        return r.returncode, json.loads(r.stdout)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- test cases -------------------------------------------------------------

_shared = None


def start_shared(**kw):
    """Starts the daemon shared by a test file's cases (setUpModule)."""
    global _shared
    _shared = Daemon(**kw)
    # runs even when the rest of setUpModule fails (tearDownModule does not)
    unittest.addModuleCleanup(stop_shared)
    _shared.start()
    return _shared


def stop_shared():
    """tearDownModule: stop, exit status, sanitizers, clean up."""
    global _shared
    d, _shared = _shared, None
    if d is not None:
        d.finish()  # stops it if it runs, removes its files


def finish_daemons(daemons):
    """tearDownModule of a file whose tests start daemons of their own (a
    list filled as they start them): ends what each left running (its
    compilers), then stops it (exit status, sanitizers) when it still runs,
    and removes its files."""
    for d in daemons:
        kill_pids(processes_mentioning(d.data, d.pids()))
        if d.proc is not None:
            d.finish()
        else:
            d.cleanup()


def project_module(state, project, prefix):
    """setUpModule and tearDownModule of a file whose cases share one
    daemon holding the hello project `project`, and a scratch directory
    (state["dir"], removed at the end)."""

    def setup():
        d = start_shared()
        d.create_project(hello_project(project))
        state["dir"] = tempfile.mkdtemp(prefix=prefix)

    def teardown():
        try:
            stop_shared()
        finally:
            shutil.rmtree(state.get("dir", "/nonexistent"), ignore_errors=True)

    return setup, teardown


class ApiTest(unittest.TestCase):
    """A test against the file's shared daemon; after every test the daemon
    must still answer GET /health."""

    maxDiff = 4000

    @property
    def d(self):
        return _shared

    def tearDown(self):
        d = self.d
        if d is None:
            return
        if not d.alive():
            self.fail("mgd died during the test; stderr:\n" + d.stderr_text())
        if not d.health():
            self.fail("mgd no longer answers GET /health; stderr:\n" + d.stderr_text())

    # assertions

    def assertStatus(self, r, status):
        if isinstance(status, int):
            status = (status,)
        if r.status not in status:
            self.fail("want %s, got %r" % ("/".join(map(str, status)), r))

    def assertError(self, r, status, code, mentions=None):
        """An error answer as docs/api.md has it: status, JSON body with
        error.code, a message (mentioning `mentions`) and details (array)."""
        self.assertStatus(r, status)
        ctype = r.header("Content-Type", "")
        self.assertTrue(ctype.startswith("application/json"), "Content-Type %r: %r" % (ctype, r))
        e = r.json.get("error")
        self.assertIsInstance(e, dict, repr(r))
        self.assertEqual(e.get("code"), code, repr(r))
        self.assertIsInstance(e.get("message"), str, repr(r))
        self.assertTrue(e["message"], repr(r))
        self.assertIsInstance(e.get("details"), list, repr(r))
        if mentions is not None:
            self.assertIn(mentions, e["message"], repr(r))
        return e

    def assertTime(self, value, nullable=False):
        if nullable and value is None:
            return
        self.assertIsInstance(value, str)
        self.assertRegex(value, RFC3339_RE)


def main():
    global MGD
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        MGD = os.path.abspath(args.pop(0))
    if not MGD or not os.access(MGD, os.X_OK):
        sys.exit("usage: %s MGD [unittest args] (or MGD=path)" % sys.argv[0])
    unittest.main(module="__main__", argv=[sys.argv[0]] + args, verbosity=2)
