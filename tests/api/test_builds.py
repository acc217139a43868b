#!/usr/bin/env python3
"""Builds through the API: reuse of an identical build, `force`, `rebuild`
and reproducibility (`reproduced_by`, `reproduces`), log paging and the SSE stream, the
image download (ETag / If-None-Match, Range), cancel of a running and of a
queued build (no process left behind), and the queue limit (429)."""

import hashlib
import http.client
import json
import os
import subprocess
import threading
import time

import harness
from harness import ApiTest

A = {}  # the reference build of project "ref"


def setUpModule():
    d = harness.start_shared()
    d.create_project(harness.hello_project("ref", config_name="ref"))
    A.update(d.build_and_wait("ref"))


def tearDownModule():
    harness.stop_shared()


def sse_events(d, path, headers=None, timeout=120):
    """Reads an SSE stream to its end: (response, [event dicts]); comment
    lines (keep-alives) are counted under the key None."""
    h = {"Authorization": "Bearer " + d.admin_token, "Accept": "text/event-stream"}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        events, cur = [], {}
        while True:
            line = r.readline()
            if not line:
                break
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if cur:
                    events.append(cur)
                cur = {}
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if field == "data" and "data" in cur:
                    cur["data"] += "\n" + value
                else:
                    cur[field] = value
        if cur:
            events.append(cur)
        return harness.Response("GET", path, r.status, r.headers, b""), events
    finally:
        conn.close()


class Reuse(ApiTest):
    def test_reuse(self):
        b = self.d.build_and_wait("ref")
        self.assertEqual(b["reused_from"], A["id"])
        self.assertEqual(b["input_hash"], A["input_hash"])
        self.assertEqual(b["image"], A["image"])
        self.assertEqual(b["cache"]["misses"], 0, "a reused build runs no action")
        self.assertIs(b["force"], False)
        self.assertIn("reused build %d" % A["id"], self.d.log(b["id"]))

    def test_force(self):
        b = self.d.build_and_wait("ref", {"force": True})
        self.assertIsNone(b["reused_from"])
        self.assertIs(b["force"], True)
        self.assertEqual(b["input_hash"], A["input_hash"])
        self.assertEqual(b["image"]["sha256"], A["image"]["sha256"])
        self.assertNotIn("reused build", self.d.log(b["id"]))

    def test_rebuild(self):
        r = self.d.post("/builds/%d/rebuild" % A["id"])
        self.assertStatus(r, 202)
        self.assertEqual(r.header("Location"), "/builds/%d" % r.json["id"])
        self.assertEqual(r.json["rebuild_of"], A["id"])
        b = self.d.wait_build(r.json["id"])
        self.assertEqual(b["status"], "succeeded", self.d.log(b["id"]))
        self.assertIs(b["force"], True)
        self.assertIsNone(b["reused_from"])
        for k in ("config_version", "target", "arch", "keys", "sources_sha256", "input_hash"):
            self.assertEqual(b[k], A[k], k)
        self.assertEqual(b["image"]["sha256"], A["image"]["sha256"], "not reproducible")
        # bypassing the cache: every action ran
        self.assertGreater(b["cache"]["actions"], 0)
        self.assertEqual(b["cache"]["misses"], b["cache"]["actions"], b["cache"])
        self.assertIn("unikernel.c", self.d.log(b["id"]))
        # the rebuild ran every action: it reproduces A (and lists A in
        # its reproduced_by only if A ran every action too)
        self.assertIn(A["id"], b["reproduces"])
        self.assertIn(b["id"], self.d.build(A["id"])["reproduced_by"])
        self.assertEqual(b["differs_from"], [])
        self.assertEqual(self.d.build(A["id"])["differs_from"], [])
        self.assertNotIn(b["id"], b["reproduced_by"] + b["reproduces"])

    def test_reuse_is_per_input(self):
        # another key value or other sources: a new input hash, no reuse
        self.d.create_project(harness.hello_project("ref2", config_name="ref"))
        src = harness.hello_sources()
        src["unikernel.c"] += "\n/* other */\n"
        r = self.d.request("PATCH", "/projects/ref2", {"sources": src})
        self.assertStatus(r, 200)
        b = self.d.build_and_wait("ref2")
        self.assertIsNone(b["reused_from"])
        self.assertNotEqual(b["input_hash"], A["input_hash"])


class Inputs(ApiTest):
    def keyed_project(self, name):
        cfg = harness.hello_config(name)
        cfg["keys"]["loud"] = {"stage": "configure", "type": "bool", "default": False,
                               "doc": "a configure key"}
        cfg["keys"]["level"] = {"stage": "configure", "type": "int", "default": 1,
                                "doc": "another"}
        return self.d.create_project({"name": name, "config": cfg,
                                      "sources": harness.hello_sources()})

    def test_keys(self):
        self.keyed_project("keyed")
        plain = self.d.build_and_wait("keyed")
        self.assertEqual(plain["keys"], {})
        b = self.d.build_and_wait("keyed", {"keys": {"loud": True, "level": 7}})
        self.assertEqual(b["keys"], {"level": "7", "loud": "true"})
        self.assertNotEqual(b["input_hash"], plain["input_hash"])
        self.assertIsNone(b["reused_from"])
        r = self.d.get("/builds/%d/describe" % b["id"])
        self.assertEqual(r.json["keys"]["loud"], True)
        self.assertEqual(r.json["keys"]["level"], 7)
        # the same values as text: the same build
        again = self.d.build_and_wait("keyed", {"keys": {"loud": "true", "level": "7"}})
        self.assertEqual(again["reused_from"], b["id"])
        r = self.d.post("/projects/keyed/build", {"keys": {"loud": "maybe"}})
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual([x["code"] for x in e["details"]], ["bad_key_value"])
        self.assertEqual(e["details"][0]["path"], "loud")

    def test_rebuild_keeps_inputs(self):
        """A rebuild uses the first build's config version, keys and inline
        tree, whatever changed in the project since."""
        self.keyed_project("kept")
        a = self.d.build_and_wait("kept", {"keys": {"level": 3}})
        cfg = self.d.get("/projects/kept/config").json
        cfg["keys"]["hello"]["default"] = "changed"
        self.assertStatus(self.d.request("PUT", "/projects/kept/config", cfg), 201)
        src = harness.hello_sources()
        src["unikernel.c"] += "\n/* changed */\n"
        self.assertStatus(self.d.request("PATCH", "/projects/kept", {"sources": src}), 200)
        r = self.d.post("/builds/%d/rebuild" % a["id"], b"")
        self.assertStatus(r, 202)
        b = self.d.wait_build(r.json["id"])
        self.assertEqual(b["status"], "succeeded", self.d.log(b["id"]))
        for k in ("config_version", "keys", "sources_sha256", "input_hash"):
            self.assertEqual(b[k], a[k], k)
        self.assertEqual(b["image"]["sha256"], a["image"]["sha256"])
        # a new build takes the new inputs
        c = self.d.build_and_wait("kept", {"keys": {"level": 3}})
        self.assertEqual(c["config_version"], 2)
        self.assertNotEqual(c["sources_sha256"], a["sources_sha256"])

    def test_parallel_config_versions(self):
        self.d.create_project(harness.hello_project("versions"))
        got, errors = [], []

        def put(i):
            cfg = harness.hello_config()
            cfg["keys"]["hello"]["default"] = "v%d" % i
            r = self.d.request("PUT", "/projects/versions/config", cfg)
            (got if r.status == 201 else errors).append(r.json.get("version", r))

        threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(got), list(range(2, 10)))


class Logs(ApiTest):
    def test_paging(self):
        r = self.d.get("/builds/%d/log" % A["id"])
        self.assertStatus(r, 200)
        full = r.body
        self.assertGreater(len(full), 0)
        self.assertEqual(r.header("X-Log-Size"), str(len(full)))
        self.assertEqual(r.header("X-More-Data"), "false")
        self.assertEqual(self.d.build(A["id"])["log_size"], len(full))
        for off in (0, 1, 7, len(full) // 2, len(full) - 1, len(full), len(full) + 1000):
            with self.subTest(offset=off):
                r = self.d.get("/builds/%d/log?offset=%d" % (A["id"], off))
                self.assertStatus(r, 200)
                self.assertEqual(r.body, full[off:])
                self.assertEqual(r.header("X-Log-Size"), str(len(full)))
        for off in ("-1", "abc", "1.5", "99999999999999999999999"):
            with self.subTest(offset=off):
                self.assertError(self.d.get("/builds/%d/log?offset=%s" % (A["id"], off)), 400,
                                 "bad_request")

    def test_sse_live(self):
        self.d.create_project(harness.hello_project("live", config_name="live"))
        b = self.d.start_build("live", {"force": True})
        r, events = sse_events(self.d, "/builds/%d/log" % b["id"])
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/event-stream"), r)
        self.assertTrue(events, "no event")
        end = events[-1]
        self.assertEqual(end.get("event"), "end", events[-3:])
        self.assertEqual(json.loads(end["data"]), {"status": "succeeded"})
        lines = [e for e in events[:-1] if e.get("event") in (None, "message")]
        self.assertEqual(len(lines), len(events) - 1, "events other than lines and end")
        full = self.d.get("/builds/%d/log" % b["id"])
        want = [l.decode("utf-8") for l in full.body.split(b"\n")[:-1]]
        self.assertTrue(full.body.endswith(b"\n"), "the log ends with a line")
        self.assertEqual([e["data"] for e in lines], want)
        # ids are the byte offsets after each line
        offsets = [int(e["id"]) for e in lines]
        self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(offsets[-1], int(full.header("X-Log-Size")))
        expect, pos = [], 0
        for line in full.body.split(b"\n")[:-1]:
            pos += len(line) + 1
            expect.append(pos)
        self.assertEqual(offsets, expect)

        # resume after the third line, by Last-Event-ID and by offset
        k = min(2, len(lines) - 1)
        for how in ({"Last-Event-ID": lines[k]["id"]}, None):
            with self.subTest(resume=how):
                path = "/builds/%d/log" % b["id"]
                if how is None:
                    path += "?offset=" + lines[k]["id"]
                _, again = sse_events(self.d, path, headers=how)
                self.assertEqual(again[-1].get("event"), "end")
                self.assertEqual([e["data"] for e in again[:-1]],
                                 [e["data"] for e in lines[k + 1:]])

    def test_sse_failed_build(self):
        body = {"name": "ssefail", "config": harness.printer_config("ssefail"),
                "sources": {"unikernel.c": "#error this unikernel does not compile\n"}}
        self.d.create_project(body)
        b = self.d.start_build("ssefail")
        _, events = sse_events(self.d, "/builds/%d/log" % b["id"])
        self.assertEqual(events[-1].get("event"), "end")
        self.assertEqual(json.loads(events[-1]["data"]), {"status": "failed"})
        self.assertTrue(any("does not compile" in e.get("data", "") for e in events[:-1]))


class Image(ApiTest):
    def test_download(self):
        path = "/builds/%d/image" % A["id"]
        r = self.d.get(path)
        self.assertStatus(r, 200)
        img = r.body
        sha = A["image"]["sha256"]
        self.assertEqual(hashlib.sha256(img).hexdigest(), sha)
        self.assertEqual(len(img), A["image"]["size"])
        self.assertEqual(r.header("ETag"), '"%s"' % sha)
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="ref"')
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertEqual(r.header("Content-Length"), str(len(img)))

        r = self.d.get(path, headers={"If-None-Match": '"%s"' % sha})
        self.assertStatus(r, 304)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("ETag"), '"%s"' % sha)
        r = self.d.get(path, headers={"If-None-Match": '"%s"' % ("0" * 64)})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, img)

        n = len(img)
        for rng, lo, hi in (("0-9", 0, 9), ("100-", 100, n - 1), ("-50", n - 50, n - 1),
                            ("%d-%d" % (n - 1, n + 100), n - 1, n - 1), ("0-", 0, n - 1),
                            ("-%d" % (n + 10), 0, n - 1)):
            with self.subTest(range=rng):
                r = self.d.get(path, headers={"Range": "bytes=" + rng})
                self.assertStatus(r, 206)
                self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (lo, hi, n))
                self.assertEqual(r.body, img[lo:hi + 1])
        for rng in ("%d-" % n, "%d-%d" % (n + 5, n + 10)):
            with self.subTest(range=rng):
                r = self.d.get(path, headers={"Range": "bytes=" + rng})
                self.assertError(r, 416, "range_not_satisfiable")
                self.assertEqual(r.header("Content-Range"), "bytes */%d" % n)

        r = self.d.request("HEAD", path)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("Content-Length"), str(len(img)))
        self.assertEqual(r.header("ETag"), '"%s"' % sha)

        # a running image runs
        out = os.path.join(self.d.tmp, "ref.img")
        with open(out, "wb") as f:
            f.write(img)
        os.chmod(out, 0o700)
        p = subprocess.run([out, "--count=1", "--hello=from the API"], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual((p.returncode, p.stdout), (0, "from the API\n"))


class Cancel(ApiTest):
    def tearDown(self):
        # never leave compilers of this file's builds running
        harness.kill_pids(harness.processes_mentioning(os.path.join(self.d.data, "scratch")))
        super().tearDown()

    def test_cancel_running(self):
        self.d.create_project(harness.slow_project("slowc"))
        b = self.d.start_build("slowc")
        needle = harness.wait_running_compile(self.d, b["id"], file="slow.c")

        r = self.d.get("/builds/%d/log" % b["id"])
        self.assertEqual(r.header("X-More-Data"), "true")
        self.assertError(self.d.post("/builds/%d/rebuild" % b["id"]), 409, "conflict")
        self.assertError(self.d.get("/builds/%d/image" % b["id"]), 404, "not_found")

        t0 = time.monotonic()
        r = self.d.post("/builds/%d/cancel" % b["id"])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "cancelled")
        self.assertLess(time.monotonic() - t0, 10)
        left = harness.wait_no_processes(needle, timeout=3)
        self.assertEqual(left, [], "processes of the cancelled build are left")
        c = self.d.build(b["id"])
        self.assertEqual(c["status"], "cancelled")
        self.assertTime(c["finished_at"])
        self.assertIsNone(c["image"])
        # the log is complete once the worker has let go of the build (it
        # may write its last lines after the cancel): soon, and for good
        deadline = time.monotonic() + 10
        while (self.d.get("/builds/%d/log" % b["id"]).header("X-More-Data") == "true"
               and time.monotonic() < deadline):
            time.sleep(0.05)
        r = self.d.get("/builds/%d/log" % b["id"])
        self.assertEqual(r.header("X-More-Data"), "false")
        self.assertEqual(int(r.header("X-Log-Size")), len(r.body))
        self.assertError(self.d.post("/builds/%d/cancel" % b["id"]), 409, "conflict")
        deadline = time.monotonic() + 5
        while os.path.exists(needle) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(os.path.exists(needle), "scratch of the cancelled build is left")

    def test_cancel_queued(self):
        # three projects: identical builds could share one compile
        for name in ("slowq1", "slowq2", "slowq3"):
            self.d.create_project(harness.slow_project(name))
        running = [self.d.start_build(name)["id"] for name in ("slowq1", "slowq2")]
        needles = [harness.wait_running_compile(self.d, i, file="slow.c") for i in running]
        q = self.d.start_build("slowq3")
        self.assertEqual(self.d.build(q["id"])["status"], "queued")
        self.assertIn(q["id"], [x["id"] for x in self.d.get("/builds?status=queued").json])
        r = self.d.post("/builds/%d/cancel" % q["id"])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "cancelled")
        for i in running:
            self.assertStatus(self.d.post("/builds/%d/cancel" % i), 200)
        for n in needles:
            self.assertEqual(harness.wait_no_processes(n, timeout=3), [])
        time.sleep(0.5)
        c = self.d.build(q["id"])
        self.assertEqual(c["status"], "cancelled")
        self.assertIsNone(c["started_at"], "a cancelled queued build never starts")
        self.assertEqual(self.d.get("/builds?status=queued,running").json, [])
        # the workers are free again
        self.d.create_project(harness.hello_project("free", config_name="free"))
        self.assertIsNone(self.d.build_and_wait("free")["reused_from"])


    def test_sse_ends_on_cancel(self):
        self.d.create_project(harness.slow_project("slowsse"))
        b = self.d.start_build("slowsse")
        harness.wait_running_compile(self.d, b["id"], file="slow.c")
        out = {}

        def follow():
            out["r"], out["events"] = sse_events(self.d, "/builds/%d/log" % b["id"])

        t = threading.Thread(target=follow)
        t.start()
        time.sleep(0.5)
        self.assertStatus(self.d.post("/builds/%d/cancel" % b["id"]), 200)
        t.join(20)
        self.assertFalse(t.is_alive(), "the stream did not end with the build")
        events = out["events"]
        self.assertEqual(events[-1].get("event"), "end", events[-3:])
        self.assertEqual(json.loads(events[-1]["data"]), {"status": "cancelled"})

    def test_delete_cancels_running(self):
        self.d.create_project(harness.slow_project("slowdel"))
        b = self.d.start_build("slowdel")
        needle = harness.wait_running_compile(self.d, b["id"], file="slow.c")
        r = self.d.request("DELETE", "/projects/slowdel")
        self.assertStatus(r, 204)
        self.assertEqual(harness.wait_no_processes(needle, timeout=3), [],
                         "processes of the deleted project's build are left")
        self.assertError(self.d.get("/builds/%d" % b["id"]), 404, "not_found")
        deadline = time.monotonic() + 5
        while os.path.exists(needle) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(os.path.exists(needle), "scratch of the deleted build is left")


class Concurrency(ApiTest):
    def test_parallel_requests(self):
        """16 clients ask for builds of one project at once: 16 builds,
        distinct ids, all succeed (one runs, the others reuse it or run)."""
        self.d.create_project(harness.hello_project("par", config_name="par"))
        ids, errors = [], []

        def ask():
            try:
                r = self.d.post("/projects/par/build", {})
                if r.status == 202:
                    ids.append(r.json["id"])
                else:
                    errors.append(r)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                errors.append(e)

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(set(ids)), 16)
        shas = set()
        for i in ids:
            b = self.d.wait_build(i)
            self.assertEqual(b["status"], "succeeded", self.d.log(i))
            shas.add(b["image"]["sha256"])
        self.assertEqual(len(shas), 1)
        self.assertEqual(self.d.get("/projects/par/builds").header("X-Total-Count"), "16")


class Limits(ApiTest):
    """Configurable limits, each on a daemon of its own: inline sources, log
    size, action timeout."""

    def with_daemon(self, args, body):
        d = harness.Daemon(extra_args=args)
        d.start()
        try:
            body(d)
        finally:
            harness.kill_pids(harness.processes_mentioning(os.path.join(d.data, "scratch")))
            d.finish()

    def test_sources_and_log(self):
        def body(d):
            big = harness.hello_project("bigsrc")
            big["sources"]["pad.txt"] = "x" * 20000
            r = d.post("/projects", big)
            self.assertStatus(r, (400, 413))
            self.assertIn("16384", r.json["error"]["message"])
            self.assertStatus(d.get("/projects/bigsrc"), 404)

            # The log stops at its limit with a note; the build goes on. A
            # config name of its own: actions that run log their commands.
            name = "longlog%x" % int(time.time() * 1000)
            d.create_project(harness.hello_project("longlog", config_name=name))
            b = d.build_and_wait("longlog")
            self.assertGreater(b["cache"]["misses"], 0)
            r = d.get("/builds/%d/log" % b["id"])
            self.assertEqual(r.header("X-Log-Size"), str(len(r.body)))
            self.assertEqual(b["log_size"], len(r.body))
            self.assertLessEqual(len(r.body), 1000 + 100)
            self.assertGreater(len(r.body), 500)
            self.assertIn("limit", r.text.rstrip("\n").splitlines()[-1])

        self.with_daemon(["--max-sources", "16K", "--max-log", "1000"], body)

    def test_action_timeout(self):
        def body(d):
            # an action over its time limit fails the build, and is killed
            d.create_project(harness.slow_project("timeout"))
            t0 = time.monotonic()
            b = d.build_and_wait("timeout", want="failed", timeout=60)
            self.assertLess(time.monotonic() - t0, 25)
            self.assertIn("time limit of 6 s exceeded", b["error"])
            self.assertIn("slow.c", b["error"])
            scratch = os.path.join(d.data, "scratch", str(b["id"]))
            self.assertEqual(harness.wait_no_processes(scratch, timeout=3), [])

        self.with_daemon(["--action-timeout", "6"], body)


class QueueLimit(ApiTest):
    def test_429(self):
        d = harness.Daemon(extra_args=["--max-queue", "3"])
        d.start()
        try:
            d.create_project(harness.slow_project("slowlimit"))
            accepted, refused = [], []
            for _ in range(8):
                r = d.post("/projects/slowlimit/build", {})
                if r.status == 202:
                    accepted.append(r.json["id"])
                else:
                    refused.append(r)
            self.assertGreaterEqual(len(accepted), 3)
            self.assertLessEqual(len(accepted), 5, "3 queued + 2 running at most")
            self.assertTrue(refused)
            for r in refused:
                self.assertError(r, 429, "too_many_requests")
            self.assertLessEqual(len(d.get("/builds?status=queued").json), 3)
            for i in accepted:
                r = d.post("/builds/%d/cancel" % i)
                self.assertStatus(r, (200, 409))
            self.assertEqual(
                harness.wait_no_processes(os.path.join(d.data, "scratch"), timeout=5), [])
            # room again
            self.assertStatus(d.post("/projects/slowlimit/build", {}), 202)
            for b in d.get("/builds?status=queued,running").json:
                d.post("/builds/%d/cancel" % b["id"])
        finally:
            harness.kill_pids(harness.processes_mentioning(os.path.join(d.data, "scratch")))
            d.finish()


if __name__ == "__main__":
    harness.main()
