#!/usr/bin/env python3
"""`mgctl build` as CI uses it, against a live daemon: the log streamed
while the build runs and equal to GET /builds/:id/log, also when the
stream is cut and mgctl must poll; the exit status of succeeded (0),
failed (1) and cancelled (3) builds; verified downloads; a server that is
not there or does not answer; tokens without the needed scope.

    test_mgctl_builds.py MGD MGCTL
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import mgctl_harness as mh
from mgctl_harness import harness


def setUpModule():
    # a cache of its own: the runtime is compiled by the first build, so
    # that build runs long enough to be followed line by line
    harness.start_shared(cache=None, jobs=1)


def tearDownModule():
    harness.stop_shared()


BROKEN_C = """#include "mg/console.h"

int app_start(mg_console *console);

int app_start(mg_console *console)
{
    this is not C;
}
"""


def read_lines_timed(stream, out):
    """Reads `stream` line by line into `out` as (monotonic time, bytes)."""
    for line in iter(stream.readline, b""):
        out.append((time.monotonic(), line))


class Follow(mh.MgctlTest):
    def test_follow_streams_while_running(self):
        """The first build compiles the runtime and a slow file: lines
        arrive while the build runs, and stdout is the log, byte for byte."""
        body = harness.slow_project("cli-follow", blocks=1)
        self.create(body)
        tmp = tempfile.mkdtemp(prefix="mgctl-follow-")
        self.addCleanup(shutil.rmtree, tmp, True)
        img = os.path.join(tmp, "out.img")
        p = self.popen("build", "cli-follow", "--follow", "-o", img)
        lines = []
        reader = threading.Thread(target=read_lines_timed, args=(p.stdout, lines))
        reader.start()
        # while lines come in, the build is still running
        deadline = time.monotonic() + 120
        while not lines and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.02)
        self.assertTrue(lines, "no line while the build ran")
        build_id = int(re.search(rb"build (\d+) of cli-follow", lines[0][1]).group(1))
        self.assertIn(self.d.build(build_id)["status"], ("queued", "running"))
        err = p.stderr.read()
        self.assertEqual(p.wait(180), 0, err)
        reader.join(10)
        b = self.d.build(build_id)
        self.assertEqual(b["status"], "succeeded")
        streamed = b"".join(l for _, l in lines)
        self.assertEqual(streamed, self.d.get("/builds/%d/log" % build_id).body)
        # the lines came over time, not in one piece at the end
        self.assertGreater(lines[-1][0] - lines[0][0], 0.5)
        # notes on stderr: queued, then how it ended, then the download
        e = err.decode()
        self.assertRegex(e, r"^build %d (queued|running): cli-follow unix/x86_64\n" % build_id)
        self.assertRegex(e, r"(?m)^build %d succeeded in .*sha256 %s" % (build_id, b["image"]["sha256"][:12]))
        self.assertRegex(e, r"(?m)^saved %s \(.* verified\)$" % re.escape(img))
        self.assertEqual(harness.sha256_file(img), b["image"]["sha256"])
        out = subprocess.run([img], capture_output=True, timeout=30)
        self.assertEqual(out.stdout, b"slow project cli-follow\n")
        self.assertNotRegex(e, mh.SANITIZER_RE)

    def test_stream_cut_falls_back_to_polling(self):
        """A proxy cuts every log stream after 900 bytes (mid-event): mgctl
        goes on by polling from the last offset, and its output is still
        exactly the log."""
        body = harness.slow_project("cli-cut", blocks=1)
        self.create(body)
        proxy = mh.Proxy(self.d.port, cut_streams=True, cut_after=900)
        self.addCleanup(proxy.close)
        r = self.mgctl("build", "cli-cut", "--follow", "--force", url=proxy.url())
        build_id = int(re.search(r"build (\d+)", r.errtext).group(1))
        log = self.d.get("/builds/%d/log" % build_id).body
        self.assertGreater(len(log), 2000)  # longer than what the stream carried
        self.assertEqual(r.out, log)
        self.assertGreaterEqual(proxy.cuts, 1)
        self.assertGreaterEqual(proxy.log_polls, 1)
        # the same for `mgctl log --follow` of the finished build
        r = self.mgctl("log", str(build_id), "--follow", url=proxy.url())
        self.assertEqual(r.out, log)

    def test_wait_json(self):
        body = harness.hello_project("cli-json")
        self.create(body)
        tmp = tempfile.mkdtemp(prefix="mgctl-json-")
        self.addCleanup(shutil.rmtree, tmp, True)
        img = os.path.join(tmp, "hello.img")
        r = self.mgctl("build", "cli-json", "--wait", "--json", "-o", img)
        j = self.json_of(r)
        self.assertEqual(j["status"], "succeeded")
        self.assertEqual(j["saved"], {"path": img, "size": j["image"]["size"],
                                      "sha256": j["image"]["sha256"], "verified": True})
        self.assertEqual(harness.sha256_file(img), j["image"]["sha256"])
        # --follow with --json: the log goes to stderr, stdout stays JSON
        r = self.mgctl("build", "cli-json", "--follow", "--json", "--force")
        j = self.json_of(r)
        self.assertEqual(r.err.decode().encode(), self.d.get("/builds/%d/log" % j["id"]).body)
        # not waiting: the queued build, exit 0
        j = self.json_of(self.mgctl("build", "cli-json", "--json"))
        self.assertIn(j["status"], ("queued", "running", "succeeded"))
        self.d.wait_build(j["id"])
        r = self.mgctl("build", "cli-json", "--follow", "-o", "-", want=2)
        self.assertIn("-o - writes the image to stdout", r.errtext)


class ExitStatus(mh.MgctlTest):
    def test_failed_build_exits_1(self):
        body = {"name": "cli-broken", "config": harness.printer_config("cli-broken"),
                "sources": {"unikernel.c": BROKEN_C}}
        self.create(body)
        r = self.mgctl("build", "cli-broken", "--wait", want=1)
        self.assertRegex(r.text, r"(?m)^build (\d+) failed after ")
        build_id = int(re.search(r"build (\d+) failed", r.text).group(1))
        self.assertEqual(self.d.build(build_id)["status"], "failed")
        # the compiler's error is in the followed log
        r = self.mgctl("build", "cli-broken", "--follow", "--force", want=1)
        self.assertIn(b"error:", r.out)
        self.assertIn(b"this is not C", r.out)
        j = self.json_of(self.mgctl("build", "cli-broken", "--wait", "--json", "--force", want=1))
        self.assertEqual(j["status"], "failed")
        # -o of a failed build: nothing is written
        tmp = tempfile.mkdtemp(prefix="mgctl-failed-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.mgctl("build", "cli-broken", "--force", "-o", os.path.join(tmp, "x"), want=1)
        self.assertEqual(os.listdir(tmp), [])
        self.mgctl("log", str(j["id"]), "--follow", want=1)
        r = self.mgctl("image", str(j["id"]), cwd=tmp, want=2)
        self.assertIn("has no image", r.errtext)

    def test_cancelled_build_exits_3(self):
        body = harness.slow_project("cli-cancel", blocks=9)
        self.create(body)
        p = self.popen("build", "cli-cancel", "--follow")
        build_id = None
        deadline = time.monotonic() + 60
        while build_id is None and time.monotonic() < deadline:
            ids = [b["id"] for b in self.d.get("/projects/cli-cancel/builds").json]
            build_id = ids[0] if ids else None
            time.sleep(0.05)
        self.assertIsNotNone(build_id)
        harness.wait_running_compile(self.d, build_id, "slow.c")
        t0 = time.monotonic()
        r = self.mgctl("cancel", str(build_id))
        self.assertEqual(r.text, "cancelled build %d\n" % build_id)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 3, err)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertIn(b"build %d was cancelled" % build_id, err)
        self.assertEqual(out, self.d.get("/builds/%d/log" % build_id).body)
        # cancelling again: the server's conflict, exit 2
        r = self.mgctl("cancel", str(build_id), want=2)
        self.assertIn("mgctl: conflict: ", r.errtext)
        self.mgctl("log", str(build_id), "--follow", want=3)
        j = self.json_of(self.mgctl("status", str(build_id), "--json"))
        self.assertEqual(j["status"], "cancelled")
        # --json: the cancelled Build
        queued = self.json_of(self.mgctl("build", "cli-cancel", "--force", "--json"))
        j = self.json_of(self.mgctl("cancel", str(queued["id"]), "--json"))
        self.assertEqual((j["id"], j["status"]), (queued["id"], "cancelled"))


class Unreachable(mh.MgctlTest):
    def test_no_server(self):
        url = "http://127.0.0.1:%d" % mh.free_port()
        for argv in (["targets"], ["build", "p", "--wait"], ["log", "1", "--follow"],
                     ["project", "list", "--json"]):
            r = self.mgctl(*argv, url=url, want=2, timeout=30)
            self.assertLess(r.seconds, 10, r)
            self.assertEqual(r.out, b"")
            lines = r.errtext.splitlines()
            self.assertEqual(len(lines), 1, r)
            self.assertIn("cannot connect to %s" % url, lines[0])

    def test_bad_url(self):
        for url, says in (("ftp://127.0.0.1/", "scheme must be http or https"),
                          ("http://", "bad server URL"),
                          ("http://127.0.0.1:8080/?x=1", "scheme, host, port and path only"),
                          ("not a url", "bad server URL")):
            r = self.mgctl("targets", url=url, want=2)
            self.assertIn(says, r.errtext)
            self.assertEqual(len(r.errtext.splitlines()), 1, r)
        r = self.mgctl("targets", "--url", "http://no-such-host.invalid", want=2, timeout=60)
        self.assertEqual(len(r.errtext.splitlines()), 1, r)

    def test_server_that_does_not_answer(self):
        silent = mh.SilentServer()
        self.addCleanup(silent.close)
        url = "http://127.0.0.1:%d" % silent.port
        for argv in (["targets"], ["build", "p", "--wait"]):
            r = self.mgctl(*argv, "--timeout", "2", url=url, want=2, timeout=60)
            self.assertLess(r.seconds, 10, r)
            self.assertIn("no complete answer within 2 s", r.errtext)
        r = self.mgctl("targets", "--timeout", "soon", url=url, want=2)
        self.assertIn("--timeout is a number of seconds", r.errtext)

    def test_not_mgd(self):
        """Something else answers at --url: said so, not dumped."""
        import http.server

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(502)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html>bad gateway</html>")

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        r = self.mgctl("targets", url="http://127.0.0.1:%d" % srv.server_port, want=2)
        self.assertIn("answered HTTP 502 without an mgd error", r.errtext)
        self.assertNotIn("<html>", r.errtext)


class Tokens(mh.MgctlTest):
    @classmethod
    def setUpClass(cls):
        d = harness._shared
        d.create_project(harness.hello_project("cli-auth"))
        cls.read = d.create_token("read", "ci-read")[1]
        cls.write = d.create_token("write", "ci-write")[1]

    def test_scope_too_small(self):
        r = self.mgctl("build", "cli-auth", "--wait", token=self.read, want=2)
        self.assertIn("mgctl: forbidden: ", r.errtext)
        self.assertIn("write", r.errtext)
        self.assertEqual(self.d.get("/projects/cli-auth/builds").json, [])
        r = self.mgctl("project", "delete", "cli-auth", token=self.write, want=2)
        self.assertIn("mgctl: forbidden: ", r.errtext)
        self.assertIn("admin", r.errtext)
        self.assertEqual(self.d.get("/projects/cli-auth").status, 200)
        # read is enough to look
        self.mgctl("project", "show", "cli-auth", token=self.read)
        self.mgctl("builds", "cli-auth", token=self.read)

    def test_no_or_bad_token(self):
        r = self.mgctl("project", "list", token=None, want=2)
        self.assertIn("mgctl: unauthorized: ", r.errtext)
        self.assertIn("set --token or MGD_TOKEN", r.errtext)
        r = self.mgctl("project", "list", token="mgd_" + "A" * 43, want=2)
        self.assertIn("mgctl: unauthorized: ", r.errtext)
        self.assertNotIn("set --token", r.errtext)
        # --token wins over MGD_TOKEN
        r = self.mgctl("project", "list", "--token", self.read, token="bad")
        self.assertIn("cli-auth", r.text)


class Downloads(mh.MgctlTest):
    def test_damaged_image_is_refused(self):
        body = harness.hello_project("cli-dl")
        self.create(body)
        b = self.d.build_and_wait("cli-dl")
        proxy = mh.Proxy(self.d.port, corrupt_images=True)
        self.addCleanup(proxy.close)
        tmp = tempfile.mkdtemp(prefix="mgctl-dl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        r = self.mgctl("image", str(b["id"]), "-o", os.path.join(tmp, "x.img"),
                       url=proxy.url(), want=2)
        self.assertEqual(proxy.corrupted, 1)
        self.assertIn("did not arrive intact", r.errtext)
        self.assertIn(b["image"]["sha256"], r.errtext)
        self.assertEqual(os.listdir(tmp), [])  # nothing half-written left
        # an existing file is not replaced by a bad download
        with open(os.path.join(tmp, "x.img"), "w") as f:
            f.write("old")
        self.mgctl("build", "cli-dl", "-o", os.path.join(tmp, "x.img"), url=proxy.url(), want=2)
        with open(os.path.join(tmp, "x.img")) as f:
            self.assertEqual(f.read(), "old")
        self.assertEqual(os.listdir(tmp), ["x.img"])


if __name__ == "__main__":
    mh.main()
