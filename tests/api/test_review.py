#!/usr/bin/env python3
"""Regression tests of the review of issue 4 (the daemon), and the connection
limits of `mgd serve`. Each review test fails
on the code as reviewed and passes once its finding is fixed:

- keys_quadratic: mg_keys_from_json (api/reqjson.c) checks every key name
  against all earlier ones, so a 4 MiB body of distinct keys keeps a pool
  thread busy for minutes; POST .../check needs only a read token.
- delete_leaves_mirror: DELETE /projects/:id leaves DATA/git/<id>/ (its mirror).
- config_big_int: a config is stored as cJSON_PrintUnformatted prints it,
  whose "%1.15g" (accepted when within DBL_EPSILON) turns 2^53-1 into
  9.00719925474099e+15, i.e. 9007199254740990 (api/h_projects.c).
- stalled_fetch: libgit2 1.5 has no network timeout and calls no callback
  while a remote sends nothing, so a build fetching from a server that
  never answers holds its worker forever, even after its cancel
  (daemon/sources.c do_fetch); SIGTERM then does not stop the daemon.
- patch_sources_breaks_config: PATCH /projects/:id takes an inline tree
  that lacks the files the current config names (PUT .../config would
  answer 422 for the same pair); every build then fails.
"""

import json
import os
import shutil
import socket
import tempfile
import threading
import time

import harness
from harness import ApiTest

R = {}


git = harness.git


def setUpModule():
    d = harness.start_shared()
    d.create_project(harness.hello_project("revkeys"))
    R["dir"] = tempfile.mkdtemp(prefix="mgd-api-review-")


def tearDownModule():
    try:
        harness.stop_shared()
    finally:
        shutil.rmtree(R.get("dir", "/nonexistent"), ignore_errors=True)


class Review(ApiTest):
    def test_keys_quadratic(self):
        """~300k distinct keys in a body under 4 MiB: the answer (any 4xx)
        must come in seconds, not after minutes of strcmp."""
        _, read = self.d.create_token("read")
        keys = {"k%06d" % i: 1 for i in range(300000)}
        body = json.dumps({"keys": keys}, separators=(",", ":")).encode()
        self.assertLess(len(body), 4 << 20)
        t0 = time.monotonic()
        try:
            r = self.d.request("POST", "/projects/revkeys/check", body=body, token=read,
                               headers={"Content-Type": "application/json"}, timeout=20)
        except Exception as e:  # the socket timed out
            self.fail("no answer within 20 s to a body of %d keys (%s)" % (len(keys), e))
        took = time.monotonic() - t0
        self.assertLess(took, 10, "POST /check with %d keys took %.1f s" % (len(keys), took))
        self.assertIn(r.status, (200, 400, 413, 422), repr(r))

    def test_delete_leaves_mirror(self):
        """A deleted project's bare mirror goes with it."""
        repo = os.path.join(R["dir"], "repo")
        os.makedirs(repo)
        git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "unikernel.c"), "w") as f:
            f.write(harness.printer_source("review"))
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "one")
        p = self.d.create_project({"name": "revgit", "config": harness.printer_config("revgit"),
                                   "repo": {"url": repo, "ref": "main"}})
        b = self.d.start_build("revgit")
        self.d.wait_build(b["id"])
        mirror = os.path.join(self.d.data, "git", "%d" % p["id"])
        self.assertTrue(os.path.isdir(mirror), "the build made no mirror at %s" % mirror)
        r = self.d.request("DELETE", "/projects/revgit")
        self.assertStatus(r, 204)
        self.assertFalse(os.path.exists(mirror), "%s outlives its project" % mirror)

    def test_per_ip_connection_limit(self):
        """--per-ip N: the N+1st open connection from one address is turned
        away while N stay open, and served again once one closes."""
        import socket
        d = harness.Daemon(extra_args=["--per-ip", "3"])
        d.start()
        try:
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(3)]
            extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                got = extra.recv(4096)
            except (ConnectionResetError, socket.timeout):
                got = b""
            self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:80])
            extra.close()
            held[0].close()
            time.sleep(0.5)
            self.assertEqual(d.get("/health", token=None).status, 200)
            for s in held[1:]:
                s.close()
        finally:
            d.finish()

    def test_graph_without_graphviz(self):
        """Without `dot` on PATH the SVG graph is drawn by mgd's own layout
        (and says so), not an error."""
        empty = tempfile.mkdtemp(prefix="mgd-api-nopath-")
        self.addCleanup(shutil.rmtree, empty, True)
        d = harness.Daemon()
        old = os.environ["PATH"]
        os.environ["PATH"] = empty
        try:
            d.start()
        finally:
            os.environ["PATH"] = old
        try:
            d.create_project(harness.hello_project("nodot"))
            r = d.get("/projects/nodot/graph?format=svg")
            self.assertStatus(r, 200)
            self.assertEqual(r.header("X-Graph-Renderer"), "mgd", r)
            self.assertIn("<svg", r.text)
            self.assertNotIn("graphviz", r.text)
            self.assertIn("main3", r.text)
        finally:
            d.finish()

    def test_graph_leaves_threads(self):
        """Drawings must never take the HTTP threads. With --threads 2 and
        a `dot` that takes 6 s, two graphs at once used to hold both
        threads, so /health waited 6 s; now they are drawn on the work
        pool (test_graph_pool.py) and /health answers at once. The
        drawing's temporary directory goes with it."""
        tmp = tempfile.mkdtemp(prefix="mgd-api-slowdot-")
        self.addCleanup(shutil.rmtree, tmp, True)
        bindir, tmpdir = os.path.join(tmp, "bin"), os.path.join(tmp, "tmp")
        os.makedirs(bindir)
        os.makedirs(tmpdir)
        with open(os.path.join(bindir, "dot"), "w") as f:
            f.write("#!/bin/sh\n/bin/sleep 6\necho 'slow dot: gave up' >&2\nexit 1\n")
        os.chmod(os.path.join(bindir, "dot"), 0o755)
        d = harness.Daemon(extra_args=["--threads", "2"])
        old = dict(os.environ)
        os.environ["PATH"] = bindir + os.pathsep + old["PATH"]
        os.environ["TMPDIR"] = tmpdir
        try:
            d.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
        try:
            d.create_project(harness.hello_project("slowdot"))
            got = []

            def draw():
                got.append(d.get("/projects/slowdot/graph?format=svg", timeout=30))

            # one after the other, so that each finds a thread waiting for
            # connections (a thread that is drawing accepts none)
            drawers = [threading.Thread(target=draw) for _ in range(2)]
            for t in drawers:
                t.start()
                time.sleep(0.5)
            t0 = time.monotonic()
            r = d.get("/health", token=None, timeout=30)
            took = time.monotonic() - t0
            for t in drawers:
                t.join(30)
            self.assertStatus(r, 200)
            self.assertLess(took, 2, "GET /health took %.1f s while two graphs were drawn" % took)
            # both drawn on the work pool (this dot fails: 500)
            self.assertEqual(sorted(x.status for x in got), [500, 500], got)
            self.assertEqual(os.listdir(tmpdir), [])
        finally:
            d.finish()

    def test_delete_drops_pins(self):
        """Deleting a project drops the records that keep its image and its
        inline-source snapshot in the cache (gc may then reclaim them)."""
        import hashlib
        name = "revpins"
        proj = harness.hello_project(name)
        proj["sources"]["unikernel.c"] += "\nint revpins_marker = 7; /* an image of its own */\n"
        self.d.create_project(proj)
        b = self.d.build_and_wait(name)
        self.assertEqual(b["status"], "succeeded", b)
        cache = self.d.cache or os.path.join(self.d.data, "cache")

        def record(kind, sha):
            key = hashlib.sha256(("mgd %s\n%s" % (kind, sha)).encode()).hexdigest()
            return os.path.join(cache, "records", key[:2], key)
        pins = [record("artifact", b["image"]["sha256"]), record("sources", b["sources_sha256"])]
        for p in pins:
            self.assertTrue(os.path.exists(p), p)
        self.assertStatus(self.d.request("DELETE", "/projects/" + name), 204)
        for p in pins:
            self.assertFalse(os.path.exists(p), "still pinned: " + p)

    def test_config_big_int(self):
        """An integer key default within +-2^53 comes back as it was sent."""
        cfg = harness.hello_config("revbig")
        cfg["keys"]["count"]["default"] = 9007199254740991
        r = self.d.request("PUT", "/projects/revkeys/config", cfg)
        self.assertStatus(r, (200, 201))
        r = self.d.get("/projects/revkeys/config")
        self.assertStatus(r, 200)
        got = json.loads(r.body)["keys"]["count"]["default"]
        self.assertEqual(got, 9007199254740991, "stored as %r" % (got,))

    def test_patch_sources_breaks_config(self):
        """An inline tree without the config's files is refused (422), as
        PUT .../config refuses a config naming files the tree lacks."""
        self.d.create_project(harness.hello_project("revpatch"))
        r = self.d.request("PATCH", "/projects/revpatch", {"sources": {"other.c": "int x;\n"}})
        self.assertStatus(r, 422)

    def test_stalled_fetch(self):
        """A remote that accepts and never answers: cancelling the build
        frees its worker, so the next build (one worker) starts."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        held = []
        stop = threading.Event()

        def serve():
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(srv.accept()[0])  # read nothing, answer nothing
                except socket.timeout:
                    pass
                except OSError:
                    return

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        d = harness.Daemon(workers=1)
        d.start()
        try:
            url = "http://127.0.0.1:%d/stall.git" % srv.getsockname()[1]
            d.create_project({"name": "stall", "config": harness.printer_config("stall"),
                              "repo": {"url": url}})
            d.create_project(harness.hello_project("after"))
            b = d.start_build("stall")
            d.wait_build(b["id"], statuses=("running",) + harness.TERMINAL, timeout=30)
            deadline = time.monotonic() + 10
            while "fetching" not in d.log(b["id"]) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertStatus(d.post("/builds/%d/cancel" % b["id"], {}), (200, 409))
            nxt = d.start_build("after")
            try:
                d.wait_build(nxt["id"], statuses=("running",) + harness.TERMINAL, timeout=20)
            except AssertionError:
                self.fail("the cancelled build's stalled fetch still holds the only worker")
        finally:
            stop.set()
            srv.close()
            t.join(5)
            for c in held:
                c.close()  # lets a stuck fetch fail, so the daemon can stop
            d.finish()

if __name__ == "__main__":
    harness.main()
