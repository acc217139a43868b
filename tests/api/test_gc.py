#!/usr/bin/env python3
"""Retention and gc end to end (docs/daemon.md, "Retention and gc"):

- POST /gc on a daemon with --keep-builds 2 deletes the builds retention
  does not keep (the last 2 finished per project, target and arch, the
  newest succeeded one, the pinned one, the queued and running ones stay)
  with their logs and the blobs nothing names any more, prunes the mirror
  of a project that no longer fetches, and says so in its answer, in the
  daemon's log and in /metrics; bytes freed > 0;
- a build running and one queued during gc keep their inputs (inline
  trees whose other builds were deleted) and succeed;
- what remains is downloadable; what went answers 404;
- `mgd gc` refuses while the daemon holds the data directory, and does
  the same offline after it stopped; PRAGMA quick_check stays ok, every
  artifact's blob and every build's log is there, and no log is left
  without its build;
- hostile inputs: a retention that is negative, fractional, a string, too
  large or has other members; a pin of a missing build; POST /gc with a
  worker, read or write token.

    test_gc.py MGD
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import harness

KEEP = 2


def setUpModule():
    # a cache of its own (seeded with the suite's, so the runtime is not
    # compiled again): gc removes blobs, and other files must not see it
    d = harness.Daemon(workers=1, cache=None,
                       extra_args=["--keep-builds", str(KEEP), "--gc-interval", "0"])
    d.seed_cache()
    harness._shared = d
    unittest.addModuleCleanup(harness.stop_shared)
    d.start()


def tearDownModule():
    harness.stop_shared()


def printer(name, line):
    return {"name": name, "config": harness.printer_config(name),
            "sources": {"unikernel.c": harness.printer_source(line)}}


class Gc(harness.ApiTest):
    def patch_sources(self, project, text, **more):
        tree = {"unikernel.c": text}
        tree.update(more)
        r = self.d.request("PATCH", "/projects/" + project, {"sources": tree})
        self.assertStatus(r, 200)
        return r.json["sources"]["sha256"]

    def build(self, project, want="succeeded", force=False):
        return self.d.build_and_wait(project, {"force": force} if force else {}, want=want)

    def blob_path(self, sha):
        return os.path.join(self.d.data, "cache", "blobs", sha[:2], sha)

    def metric(self, text, name):
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        self.assertIsNotNone(m, "no %s in /metrics:\n%s" % (name, text))
        return float(m.group(1))

    # -- hostile inputs --------------------------------------------------------

    def test_a_hostile_inputs(self):
        d = self.d
        d.create_project(printer("hostile", "hostile"))
        _, worker = d.create_token("worker")
        _, reader = d.create_token("read")
        _, writer = d.create_token("write")
        for token, status in ((worker, 403), (reader, 403), (writer, 403), (None, 401)):
            r = d.post("/gc", token=token)
            self.assertStatus(r, status)
        self.assertError(d.post("/gc", {"now": True}), 400, "bad_request")
        for path in ("/builds/999999/pin", "/builds/abc/pin", "/builds/0/pin",
                     "/builds/-3/pin", "/builds/99999999999999999999/pin"):
            self.assertError(d.post(path), 404, "not_found")
            self.assertError(d.request("DELETE", path), 404, "not_found")
        self.assertError(d.post("/builds/999999/pin"), 404, "not_found", "no build 999999")
        b = d.start_build("hostile")
        for token in (worker, reader):
            self.assertStatus(d.post("/builds/%d/pin" % b["id"], token=token), 403)
        self.assertFalse(d.build(b["id"])["pinned"])
        self.assertError(d.post("/builds/%d/pin" % b["id"], {"x": 1}), 400, "bad_request")
        for bad in ({"keep_builds": -1}, {"keep_builds": 1.5}, {"keep_builds": "3"},
                    {"keep_builds": 2000000}, {"keep_builds": 1e300}, {}, [],
                    {"keep_builds": 1, "x": 1}, {"keep_builds": True}, 3, "3"):
            r = d.request("PATCH", "/projects/hostile", {"retention": bad})
            self.assertError(r, 400, "bad_request")
            self.assertIn("retention", r.json["error"]["message"])
        # nothing changed: a bad retention with good sources stores neither
        before = d.get("/projects/hostile").json
        for bad in (-1, {"keep_builds": -1}):
            r = d.request("PATCH", "/projects/hostile",
                          {"retention": bad, "sources": {"unikernel.c": "x"}})
            self.assertError(r, 400, "bad_request")
        after = d.get("/projects/hostile").json
        self.assertIsNone(after["retention"])
        self.assertEqual(after["sources"], before["sources"])
        self.assertError(d.request("PATCH", "/projects/hostile", {}), 400, "bad_request",
                         "retention")
        for ok in ({"keep_builds": 0}, {"keep_builds": 7}, {"keep_builds": None}, None):
            r = d.request("PATCH", "/projects/hostile", {"retention": ok})
            self.assertStatus(r, 200)
            want = None if ok is None or ok["keep_builds"] is None else ok
            self.assertEqual(r.json["retention"], want)
            self.assertEqual(d.get("/projects/hostile").json["retention"], want)
        # a write token may set both
        r = d.request("PATCH", "/projects/hostile", {"retention": {"keep_builds": 1}},
                      token=writer)
        self.assertStatus(r, 200)
        self.assertStatus(d.request("PATCH", "/projects/hostile", {"retention": None},
                                    token=reader), 403)
        d.wait_build(b["id"])

    # -- the whole story -------------------------------------------------------

    def test_b_gc_end_to_end(self):
        d = self.d
        d.create_project(printer("pr", "v1"))
        b1 = self.build("pr")
        tree2 = self.patch_sources("pr", harness.printer_source("v2"))
        b2 = self.build("pr")
        tree3 = self.patch_sources("pr", harness.printer_source("v3"))
        b3 = self.build("pr")
        self.patch_sources("pr", "this is not C;\n")
        b4 = self.build("pr", want="failed")
        self.patch_sources("pr", harness.printer_source("v5"))
        b5 = self.build("pr")
        r = d.post("/builds/%d/pin" % b1["id"])
        self.assertStatus(r, 200)
        self.assertTrue(r.json["pinned"])
        self.assertTrue(d.build(b1["id"])["pinned"])
        # pinning again is fine
        self.assertTrue(d.post("/builds/%d/pin" % b1["id"]).json["pinned"])

        # a git project built once, then switched to inline sources: its
        # mirror is no longer needed
        tmp = tempfile.mkdtemp(prefix="mgd-api-gc-")
        self.addCleanup(shutil.rmtree, tmp, True)
        repo = os.path.join(tmp, "repo")
        os.makedirs(repo)
        harness.git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "unikernel.c"), "w") as f:
            f.write(harness.printer_source("from git"))
        harness.git(repo, "add", ".")
        harness.git(repo, "commit", "-q", "-m", "one")
        g = d.create_project({"name": "gitp", "config": harness.printer_config("gitp"),
                              "repo": {"url": repo}})
        self.build("gitp")
        mirror = os.path.join(d.data, "git", str(g["id"]))
        self.assertTrue(os.path.isdir(mirror))
        self.patch_sources("gitp", harness.printer_source("inline now"))

        # a build runs (the one worker is busy) and one waits, each on a
        # tree nothing else names once the projects moved on
        d.create_project(harness.slow_project("slow", blocks=2))
        running = d.start_build("slow")
        harness.wait_running_compile(d, running["id"], "slow.c")
        self.patch_sources("slow", harness.printer_source("slow, later"), **{"slow.c": "int x;\n"})
        self.patch_sources("pr", harness.printer_source("v2"))
        waiting = d.start_build("pr")
        self.assertEqual(waiting["sources_sha256"], tree2)
        self.patch_sources("pr", harness.printer_source("v6"))
        self.assertEqual(d.build(waiting["id"])["status"], "queued")
        self.assertEqual(d.build(running["id"])["status"], "running")

        r = d.post("/gc")
        self.assertStatus(r, 200)
        rep = r.json
        self.assertEqual(set(rep), {"builds", "logs", "blobs", "mirrors", "bytes_freed",
                                    "duration_ms"})
        # b2 and b3 go: b4 and b5 are the last two, b5 the newest succeeded,
        # b1 is pinned; the running, the waiting and the other projects'
        # builds stay
        self.assertEqual(rep["builds"]["deleted"], 2, rep)
        self.assertGreaterEqual(rep["logs"]["deleted"], 2, rep)
        self.assertGreater(rep["logs"]["bytes"], 0, rep)
        self.assertEqual(rep["mirrors"]["deleted"], 1, rep)
        self.assertGreater(rep["mirrors"]["bytes"], 0, rep)
        self.assertFalse(os.path.exists(mirror))
        # b3's tree goes (b2's waits in the queue); the images stay as long
        # as the action cache names them
        self.assertGreaterEqual(rep["blobs"]["deleted"], 1, rep)
        self.assertFalse(os.path.exists(self.blob_path(tree3)))
        self.assertTrue(os.path.exists(self.blob_path(tree2)), "the queued build's tree went")
        self.assertEqual(rep["bytes_freed"], rep["logs"]["bytes"] + rep["blobs"]["bytes"]
                         + rep["mirrors"]["bytes"])
        self.assertGreater(rep["bytes_freed"], 0)

        # both builds go on and succeed
        self.assertEqual(d.wait_build(running["id"])["status"], "succeeded",
                         d.log(running["id"]))
        w = d.wait_build(waiting["id"])
        self.assertEqual(w["status"], "succeeded", d.log(waiting["id"]))
        self.assertIn("sources: inline tree %s" % tree2[:12], d.log(waiting["id"]))

        # what went is gone; what stays is downloadable
        for gone in (b2, b3):
            for suffix in ("", "/log", "/image"):
                self.assertError(d.get("/builds/%d%s" % (gone["id"], suffix)), 404, "not_found")
        for kept in (b1, b5):
            r = d.get("/builds/%d/image" % kept["id"])
            self.assertStatus(r, 200)
            self.assertEqual(hashlib.sha256(r.body).hexdigest(),
                             kept["image"]["sha256"])
        self.assertIn("error", d.log(b4["id"]))
        ids = [b["id"] for b in d.get("/projects/pr/builds?per_page=100").json]
        self.assertEqual(sorted(ids), sorted([b1["id"], b4["id"], b5["id"], waiting["id"]]))

        # the daemon's log and /metrics say it too
        self.assertTrue(any(re.search(r"mgd: gc \(requested\): deleted 2 builds \(\d+ kept\)", l)
                            for l in d.stderr_lines), d.stderr_text())
        m = d.get("/metrics").text
        self.assertEqual(self.metric(m, 'mgd_gc_runs_total{result="ok"}'), 1)
        self.assertEqual(self.metric(m, 'mgd_gc_deleted_total{kind="builds"}'), 2)
        self.assertEqual(self.metric(m, 'mgd_gc_deleted_total{kind="mirrors"}'), 1)
        self.assertEqual(self.metric(m, "mgd_gc_freed_bytes_total"), rep["bytes_freed"])
        self.assertGreater(self.metric(m, "mgd_gc_last_run_timestamp_seconds"), 0)

        # unpinned, b1 is an ordinary old build again
        r = d.request("DELETE", "/builds/%d/pin" % b1["id"])
        self.assertStatus(r, 200)
        self.assertFalse(r.json["pinned"])

        # offline: refused while the daemon holds the directory
        r = subprocess.run([harness.MGD, "gc", "--data", d.data], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("a daemon serves", r.stderr)
        self.assertIn("POST /gc", r.stderr)
        d.stop()
        for bad in ("-1", "x", "1.5", ""):
            r = subprocess.run([harness.MGD, "gc", "--data", d.data, "--keep-builds", bad],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, (bad, r))
        r = subprocess.run([harness.MGD, "gc", "--data", d.data, "--keep-builds", "1", "--json"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r)
        off = json.loads(r.stdout)
        # pr keeps only `waiting` (its last and newest succeeded): b1, b4, b5 go
        self.assertEqual(off["builds"]["deleted"], 3, off)
        self.assertGreater(off["bytes_freed"], 0, off)
        self.check_store(d)
        d.start()
        ids = [b["id"] for b in d.get("/projects/pr/builds").json]
        self.assertEqual(ids, [waiting["id"]])
        r = d.get("/builds/%d/image" % waiting["id"])
        self.assertStatus(r, 200)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), w["image"]["sha256"])
        self.assertEqual(d.build(running["id"])["status"], "succeeded")

    # -- the periodic gc -------------------------------------------------------

    def test_c_periodic(self):
        """--gc-interval 1: a second daemon collects by itself, says so in its
        log and /metrics; the options refuse what they cannot take."""
        for bad in (["--keep-builds", "-1"], ["--keep-builds", "1000001"],
                    ["--keep-builds", "two"], ["--gc-interval", "-5"],
                    ["--gc-interval", "2592001"], ["--gc-interval", ""]):
            r = subprocess.run([harness.MGD, "serve", "--listen", "127.0.0.1:0", "--data",
                                os.path.join(self.d.tmp, "never")] + bad,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, (bad, r))
            self.assertIn(bad[0], r.stderr)
        d = harness.Daemon(workers=1, cache=None,
                           extra_args=["--keep-builds", "1", "--gc-interval", "1"])
        d.seed_cache()
        self.addCleanup(d.finish)
        d.start()
        self.assertIn("mgd: retention: 1 finished builds per project, target and arch; "
                      "gc every 1 s", d.stderr_text())
        d.create_project(printer("per", "one"))
        first = d.build_and_wait("per")
        r = d.request("PATCH", "/projects/per",
                      {"sources": {"unikernel.c": harness.printer_source("two")}})
        self.assertStatus(r, 200)
        last = d.build_and_wait("per")
        deadline = harness.time.monotonic() + 30
        while d.get("/builds/%d" % first["id"]).status != 404:
            self.assertLess(harness.time.monotonic(), deadline, d.stderr_text())
            harness.time.sleep(0.2)
        self.assertStatus(d.get("/builds/%d" % last["id"]), 200)
        self.assertTrue(any(re.search(r"mgd: gc \(periodic\): deleted 1 build \(1 kept\)", l)
                            for l in d.stderr_lines), d.stderr_text())
        m = d.get("/metrics").text
        self.assertGreaterEqual(self.metric(m, 'mgd_gc_runs_total{result="ok"}'), 1)
        self.assertEqual(self.metric(m, 'mgd_gc_deleted_total{kind="builds"}'), 1)

    def check_store(self, d):
        """The database is sound and agrees with the files."""
        db = sqlite3.connect(os.path.join(d.data, "mgd.sqlite3"))
        try:
            self.assertEqual(db.execute("PRAGMA quick_check").fetchone()[0], "ok")
            self.assertEqual(db.execute("PRAGMA foreign_key_check").fetchall(), [])
            shas = [r[0] for r in db.execute("SELECT sha256 FROM artifacts")]
            builds = {r[0]: r[1] for r in db.execute("SELECT id, status FROM builds")}
            pending = db.execute("SELECT count(*) FROM gc_pending").fetchone()[0]
        finally:
            db.close()
        self.assertEqual(pending, 0)
        for sha in shas:
            path = self.blob_path(sha)
            self.assertTrue(os.path.exists(path), "artifact %s has no blob" % sha)
            self.assertEqual(harness.sha256_file(path), sha)
        logs = os.listdir(os.path.join(d.data, "logs"))
        for name in logs:
            self.assertIn(int(name.split(".")[0]), builds, "log %s without its build" % name)
        for bid, status in builds.items():
            if status not in (0, 1):
                self.assertIn("%d.log" % bid, logs, "build %d without its log" % bid)


if __name__ == "__main__":
    harness.main()
