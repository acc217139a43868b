#!/usr/bin/env python3
"""`mgd worker` against a scripted coordinator: the worker's half of the
protocol (docs/api.md, "Workers"), and every way a coordinator can
misbehave.

A fake coordinator (this file, on a loopback port) hands out builds of
examples/hello with snapshots made here, in the snapshot format
(daemon/snapshot.h), and records what the worker sends. Checked:
  1. a build: the claim names the worker, its slots and platforms (with a
     64-hex toolchain identity); the log comes by offset from log_offset,
     its clock goes on from elapsed_ms; heartbeats come; without a shared
     cache the image is uploaded, and finish says succeeded with the
     sha256 a local `mgd build` gives;
  2. with a writable shared cache (the same server's /rc/): the snapshot
     comes from its /cas/ (the coordinator's sources route is not asked),
     the image goes to /cas/; the first finish answers 412 and the worker
     uploads the image and finishes again;
  3. hostile answers, each failing that build with a line saying why and
     the worker going on: a snapshot whose bytes do not hash to its name,
     one larger than announced, one with an entry leaving the tree (no file
     written outside), a target the worker did not offer, a claim answer
     that is not JSON, one larger than 16 MiB, 503s (retried);
  4. cancel in a heartbeat's answer: the build's processes are killed, no
     finish; a 409 on the log drops the build the same way;
  5. SIGTERM during a build: exit 0 at once, no process of it left, no
     finish, the scratch directory removed;
  6. a refused token (401): exit 1 with a clear message, at once.
usage: worker_hostile.py MGD
"""
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

MGD = os.path.abspath(sys.argv[1])
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO = os.path.join(SRC, "examples", "hello")
ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "riscv64": "riscv64"}.get(os.uname().machine)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def snapshot(tree, extra=None):
    """The ustar archive of `tree` (a dict path -> bytes, or None for a
    directory) in the snapshot format: sorted, uid 0, mtime 0."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for path in sorted(tree):
            data = tree[path]
            info = tarfile.TarInfo(path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            else:
                info.mode, info.size = 0o644, len(data)
                t.addfile(info, io.BytesIO(data))
        if extra:
            extra(t)
    return out.getvalue()


def hello_tree():
    tree = {}
    for root, dirs, files in os.walk(HELLO):
        rel = os.path.relpath(root, HELLO)
        dirs[:] = [d for d in dirs if d != "dist"]
        if rel != ".":
            tree[rel] = None
        for f in files:
            p = os.path.normpath(os.path.join(rel, f))
            tree[p] = open(os.path.join(root, f), "rb").read()
    return tree


HELLO_CONFIG = json.load(open(os.path.join(HELLO, "config.json")))
HELLO_SNAP = snapshot(hello_tree())


def evil_entry(t):
    info = tarfile.TarInfo("../escaped")
    info.uid = info.gid = 0
    info.mtime = 0
    info.mode, info.size = 0o644, 4
    t.addfile(info, io.BytesIO(b"evil"))


EVIL_SNAP = snapshot(hello_tree(), evil_entry)


class Coordinator:
    """The scripted coordinator: `jobs` are handed out in order; what the
    worker sends is kept per build."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs = []
        self.claims = []
        self.builds = {}  # id -> {"log": bytes, "heartbeats": n, "image": bytes, "finish": [...]}
        self.cas = {}  # the shared cache's /rc/cas/
        self.lost_cas = False  # the shared cache forgets what it is given
        self.claim_status = []  # statuses to answer claims with first
        self.sources_asked = []
        self.snapshots = {}  # sha -> bytes served by the sources route

    def build(self, bid):
        return self.builds.setdefault(
            bid, {"log": b"", "heartbeats": 0, "image": None, "finish": [], "posts": []})


C = Coordinator()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        if body or status != 204:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def query(self):
        q = {}
        if "?" in self.path:
            for kv in self.path.split("?", 1)[1].split("&"):
                k, _, v = kv.partition("=")
                q[k] = v
        return q

    def do_GET(self):
        path = self.path.split("?")[0]
        m = re.match(r"^/rc/cas/([0-9a-f]{64})$", path)
        if m:
            data = C.cas.get(m.group(1))
            return self.reply(200, raw=data, ctype="application/octet-stream") if data else \
                self.reply(404, {"error": "no"})
        m = re.match(r"^/workers/builds/(\d+)/sources$", path)
        if m:
            bid = int(m.group(1))
            C.sources_asked.append(bid)
            data = C.snapshots.get(bid)
            return self.reply(200, raw=data, ctype="application/x-tar") if data is not None else \
                self.reply(404, {"error": "no such build"})
        self.reply(404, {"error": "no route"})

    def do_HEAD(self):
        self.reply(404)

    def do_PUT(self):
        path = self.path.split("?")[0]
        data = self.body()
        m = re.match(r"^/rc/cas/([0-9a-f]{64})$", path)
        if m:
            if not C.lost_cas:
                C.cas[m.group(1)] = data
            return self.reply(200, {})
        if re.match(r"^/rc/ac/", path):
            return self.reply(200, {})
        m = re.match(r"^/workers/builds/(\d+)/image$", path)
        if m:
            b = C.build(int(m.group(1)))
            sha = self.query().get("sha256")
            if hashlib.sha256(data).hexdigest() != sha:
                return self.reply(400, {"error": "the image does not hash to sha256"})
            b["image"] = data
            return self.reply(200, {"sha256": sha, "size": len(data)})
        self.reply(404, {"error": "no route"})

    def do_POST(self):
        path = self.path.split("?")[0]
        data = self.body()
        if self.headers.get("Authorization") != "Bearer worker-token":
            return self.reply(401, {"error": "bad token"})
        if path == "/workers/claim":
            with C.lock:
                C.claims.append(json.loads(data))
                status = C.claim_status.pop(0) if C.claim_status else None
                job = C.jobs.pop(0) if (status is None and C.jobs) else None
            if status is not None:
                return self.reply(status, {"error": "scripted %d" % status})
            if job is None:
                time.sleep(0.2)
                return self.reply(204)
            if isinstance(job, bytes):
                return self.reply(200, raw=job)
            return self.reply(200, job)
        m = re.match(r"^/workers/builds/(\d+)/(log|heartbeat|finish)$", path)
        if not m:
            return self.reply(404, {"error": "no route"})
        bid, what = int(m.group(1)), m.group(2)
        b = C.build(bid)
        if what == "log":
            off = int(self.query()["offset"])
            b["posts"].append(off)
            if b.get("log_conflict"):
                return self.reply(409, {"error": "lease lost"})
            if off > len(b["log"]):
                return self.reply(416, {"error": "past the end", "size": len(b["log"])})
            b["log"] = b["log"][:off] + data if off + len(data) > len(b["log"]) else b["log"]
            return self.reply(200, {"size": len(b["log"])})
        if what == "heartbeat":
            b["heartbeats"] += 1
            return self.reply(200, {"cancel": b.get("cancel_after", 10**9) <= b["heartbeats"]})
        body = json.loads(data)
        b["finish"].append(body)
        if body.get("status") == "succeeded" and b.get("want412") and b["image"] is None and \
                body["image"]["sha256"] not in C.cas:
            return self.reply(412, {"error": "image not available: PUT it"})
        return self.reply(200, {"id": bid, "status": body["status"]})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a worker that hangs up (stopped, or refusing a big answer) is expected


def job(bid, snap=HELLO_SNAP, **over):
    sha = hashlib.sha256(snap).hexdigest()
    C.snapshots[bid] = snap
    j = {"build": bid, "lease": 1, "heartbeat_ms": 200, "lease_timeout_ms": 600,
         "project": "hello", "target": "unix", "arch": ARCH, "keys": {},
         "config": HELLO_CONFIG, "force": False,
         "sources": {"sha256": sha, "size": len(snap)},
         "input_hash": "ab" * 32, "log_offset": 100, "elapsed_ms": 5000}
    j.update(over)
    C.build(bid).update({"log": b"x" * j["log_offset"]})
    return j


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def descendants(pid):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                ppid = int(open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def alive(pid):
    try:
        st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        return st != "Z"
    except OSError:
        return False


def main():
    if ARCH is None:
        print("skipped: an unknown host arch")
        return 77
    work = tempfile.mkdtemp(prefix="mgd-worker-test-")
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % port
    cache = os.environ.get("MGD_CACHE") or os.path.join(work, "cache")
    tokfile = os.path.join(work, "token")
    with open(tokfile, "w") as f:
        f.write("worker-token\n")
    os.chmod(tokfile, 0o600)
    procs = []

    def start(name, *extra, token_file=tokfile):
        p = subprocess.Popen([MGD, "worker", "--coordinator", url, "--token-file", token_file,
                              "--name", name, "--data", os.path.join(work, name),
                              "--cache", cache] + list(extra),
                             stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append(l) for l in p.stderr], daemon=True).start()
        procs.append(p)
        return p, lines

    try:
        # the reference: a local build of the same sources
        ref = subprocess.run([MGD, "build", HELLO, "--cache", cache, "--arch", ARCH,
                              "-o", os.path.join(work, "hello.ref")],
                             capture_output=True, text=True)
        check(ref.returncode == 0, "mgd build hello (the reference)")
        ref_sha = ref.stdout.split()[0] if ref.returncode == 0 else "?"

        # 1. a build, the image uploaded
        C.jobs.append(job(1))
        w, wlines = start("w1")
        ok = wait_for(lambda: C.builds[1]["finish"], 120)
        check(ok, "1: the worker finished build 1")
        claim = C.claims[0] if C.claims else {}
        plats = claim.get("platforms") or []
        check(claim.get("name") == "w1" and claim.get("slots") == 1 and
              0 < claim.get("wait_ms", 0) <= 30000, "1: the claim names w1, 1 slot, a wait")
        check(any(p.get("target") == "unix" and p.get("arch") == ARCH and
                  re.match(r"^[0-9a-f]{64}$", p.get("toolchain", "")) for p in plats),
              "1: the claim offers unix/%s with a toolchain identity" % ARCH)
        b = C.builds[1]
        fin = b["finish"][-1] if b["finish"] else {}
        check(fin.get("status") == "succeeded" and fin.get("lease") == 1,
              "1: finish says succeeded with the lease")
        check(fin.get("image", {}).get("sha256") == ref_sha,
              "1: the image's sha256 is the local build's (%s)" % ref_sha[:12])
        check(b["image"] is not None and hashlib.sha256(b["image"]).hexdigest() == ref_sha,
              "1: the image was uploaded (no shared cache)")
        check(all(k in fin for k in ("actions", "hits", "misses", "remote")),
              "1: finish carries the counters")
        log = b["log"][100:].decode(errors="replace")
        stamps = [float(x) for x in re.findall(r"^\[\s*([0-9.]+)\] ", log, re.M)]
        check(b["posts"] and b["posts"][0] == 100, "1: the log starts at log_offset")
        check(stamps and min(stamps) >= 5.0, "1: the log's clock goes on from elapsed_ms")
        check("resolved hello" in log and "worker w1" in log, "1: the log has the build's lines")
        check(all(re.match(r"^\[\s*[0-9]+\.[0-9]{3}\] ", l) for l in log.splitlines() if l),
              "1: every log line is stamped like the daemon's")
        # the worker removes it after the finish's answer: give it a moment
        scratch = os.path.join(work, "w1", "scratch")
        deadline = time.time() + 5
        while os.listdir(scratch) and time.time() < deadline:
            time.sleep(0.05)
        check(not os.listdir(scratch), "1: the scratch directory is removed")

        # 3. hostile answers, to the same worker
        wrong = job(2)
        wrong["sources"]["sha256"] = "0" * 64
        C.snapshots[2] = HELLO_SNAP
        # a snapshot no cache has (a local cache keeps those it got from /cas/)
        fresh = dict(hello_tree(), **{"nonce.txt": b"%f %d" % (time.time(), os.getpid())})
        big = job(3, snapshot(fresh))
        big["sources"]["size"] = 100  # the route sends more
        evil = job(4, EVIL_SNAP)
        other = job(5, target="nosuchtarget")
        C.jobs += [wrong, big, evil, other, b"{not json", b"{" + b" " * (17 << 20) + b"}"]
        ok = wait_for(lambda: all(C.builds.get(i, {}).get("finish") for i in (2, 3, 4, 5)), 60)
        check(ok, "3: the hostile builds all got a finish")

        def err(i):
            f = C.builds.get(i, {}).get("finish") or [{}]
            return f[-1].get("status"), f[-1].get("error", "")
        s, e = err(2)
        check(s == "failed" and "hashes to" in e, "3: a snapshot with a wrong hash fails: " + e)
        s, e = err(3)
        check(s == "failed" and "larger than" in e, "3: a snapshot larger than announced: " + e)
        s, e = err(4)
        check(s == "failed" and "escaped" in e, "3: a snapshot leaving the tree: " + e)
        check(not os.path.exists(os.path.join(work, "w1", "scratch", "escaped")) and
              not any(os.path.exists(os.path.join(work, "w1", "scratch", d, "escaped"))
                      for d in os.listdir(os.path.join(work, "w1", "scratch"))),
              "3: nothing written outside the tree")
        s, e = err(5)
        check(s == "failed" and "not a platform" in e, "3: a target not offered: " + e)
        n = len(C.claims)
        ok = wait_for(lambda: len(C.claims) >= n + 2 and not C.jobs, 30)
        check(ok and w.poll() is None, "3: bad JSON and a 17 MiB answer: the worker goes on")
        text = "".join(wlines)
        check("not JSON" in text and "the answer is larger than" in text,
              "3: the worker says what was wrong with them")
        C.claim_status += [503, 503, 502]
        C.jobs.append(job(6))
        ok = wait_for(lambda: C.builds.get(6, {}).get("finish"), 60)
        check(ok and err(6)[0] == "succeeded", "3: after three 5xx the worker takes a build")
        check("".join(wlines).count("HTTP 503") == 1, "3: the 5xx was reported once")

        # 4. cancel in the heartbeat, then a 409 on the log: forced builds
        # (every action runs, so it lasts)
        C.jobs.append(job(7, force=True))
        C.build(7)["cancel_after"] = 2
        ok = wait_for(lambda: C.builds[7]["heartbeats"] >= 2, 60)
        time.sleep(1.5)
        check(ok, "4: heartbeats come every heartbeat_ms (%d)" % C.builds[7]["heartbeats"])
        check(not C.builds[7]["finish"], "4: a cancelled build is dropped (no finish)")
        check(not descendants(w.pid), "4: no process of the cancelled build is left")
        check("cancelled" in "".join(wlines), "4: the worker says it was cancelled")
        C.jobs.append(job(8, force=True))
        C.build(8)["log_conflict"] = True
        ok = wait_for(lambda: C.builds[8]["posts"], 60)
        time.sleep(1.5)
        check(ok and not C.builds[8]["finish"] and not descendants(w.pid),
              "4: a 409 on the log drops the build and kills its processes")

        # 5. SIGTERM during a build
        C.jobs.append(job(9, force=True))
        ok = wait_for(lambda: C.builds[9]["posts"] and descendants(w.pid), 60)
        kids = descendants(w.pid)
        t0 = time.time()
        w.send_signal(signal.SIGTERM)
        try:
            rc = w.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        check(ok and rc == 0, "5: SIGTERM during a build: exit 0 (%s) in %.1f s" %
              (rc, time.time() - t0))
        time.sleep(0.5)
        check(not [k for k in kids if alive(k)], "5: none of its processes is left")
        check(not C.builds[9]["finish"], "5: an abandoned build is not finished")
        check(not os.listdir(os.path.join(work, "w1", "scratch")),
              "5: the scratch directory is removed")

        # 2. a writable shared cache: the snapshot from /cas/, the image to
        # it; the coordinator does not get it (412): uploaded, finished again
        C.cas[hashlib.sha256(HELLO_SNAP).hexdigest()] = HELLO_SNAP
        C.lost_cas = True
        C.jobs.append(job(10))
        C.build(10)["want412"] = True
        w2, w2lines = start("w2", "--remote-cache", url + "/rc")
        ok = wait_for(lambda: len(C.builds[10]["finish"]) >= 2, 120)
        check(ok, "2: two finishes (412, then after the upload)")
        check(10 not in C.sources_asked, "2: the snapshot came from the shared cache's /cas/")
        check(C.builds[10]["image"] is not None and
              hashlib.sha256(C.builds[10]["image"]).hexdigest() == ref_sha,
              "2: after the 412 the image was uploaded")
        check("put in the shared cache" in C.builds[10]["log"].decode(errors="replace"),
              "2: the image went to the shared cache first")
        C.lost_cas = False
        C.jobs.append(job(11))
        C.build(11)["want412"] = True
        ok = wait_for(lambda: C.builds[11]["finish"], 120)
        check(ok and len(C.builds[11]["finish"]) == 1 and C.builds[11]["image"] is None and
              ref_sha in C.cas, "2: with the image in /cas/, one finish and no upload")
        w2.send_signal(signal.SIGINT)
        check(w2.wait(15) == 0, "2: SIGINT when idle: exit 0")

        # 6. a refused token
        bad = os.path.join(work, "bad")
        with open(bad, "w") as f:
            f.write("nope\n")
        os.chmod(bad, 0o600)
        t0 = time.time()
        w3, w3lines = start("w3", token_file=bad)
        try:
            rc = w3.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        time.sleep(0.2)
        check(rc == 1 and time.time() - t0 < 10, "6: a refused token: exit 1 at once (%s)" % rc)
        check("refuses the token" in "".join(w3lines), "6: and says so")
        os.chmod(bad, 0o644)
        r = subprocess.run([MGD, "worker", "--coordinator", url, "--token-file", bad],
                           capture_output=True, text=True)
        check(r.returncode == 2 and "chmod 600" in r.stderr,
              "6: a token file others may read is refused")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        srv.shutdown()
        if os.environ.get("MGD_TEST_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    print("%d failure%s" % (len(failures), "" if len(failures) == 1 else "s"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
