#!/usr/bin/env python3
"""Crash safety: builds are started, the daemon is killed with SIGKILL
while they run, and a new daemon starts on the same data directory. The
builds that were running are `interrupted`, the queued ones run and
finish; the database passes PRAGMA quick_check; every blob in the cache
hashes to its name (no half-written file was published); scratch space is
cleaned; no compiler of the dead daemon is left; new builds succeed.

This file keeps its own action cache (DIR/cache), as the check of the blobs
is about that directory; it starts as a copy of the suite's shared cache
(when there is one) to skip compiling the runtime again."""

import hashlib
import os
import sqlite3
import subprocess
import time
import unittest

import harness

KEEP = []  # daemons to finish whatever happens


def tearDownModule():
    harness.finish_daemons(KEEP)


def quick_check(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA quick_check").fetchall()
    finally:
        db.close()


def bad_blobs(cache):
    """Files under cache/blobs whose sha256 is not their name."""
    bad = []
    root = os.path.join(cache, "blobs")
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if harness.sha256_file(path) != name:
                bad.append(os.path.relpath(path, cache))
    return bad


class Crash(unittest.TestCase):
    maxDiff = 4000

    def fail_with(self, d, msg):
        self.fail(msg + "\nstderr:\n" + d.stderr_text())

    def test_kill9_while_building(self):
        d = harness.Daemon(cache=None)
        KEEP.append(d)
        d.seed_cache()
        d.start()
        token = d.admin_token
        for name in ("slow1", "slow2"):
            d.create_project(harness.slow_project(name))
        for name in ("quick1", "quick2"):
            d.create_project(harness.hello_project(name, config_name=name))
        running = [d.start_build(name)["id"] for name in ("slow1", "slow2")]
        queued = [d.start_build(name)["id"] for name in ("quick1", "quick2")]
        for i in running:
            harness.wait_running_compile(d, i, file="slow.c", timeout=120)
        for i in queued:
            self.assertEqual(d.build(i)["status"], "queued")

        d.kill9()

        d.start()
        self.assertEqual(d.admin_token, token, "a restart keeps the admin token")
        self.assertNotIn("admin token written", d.stderr_text())
        # no compiler of the dead daemon survives it for long (the new
        # daemon's own builds of the queued projects do not count)
        left = harness.wait_no_processes(d.data, timeout=5, exclude=d.pids(),
                                         alive=d.pids()[0])
        harness.kill_pids(left)
        self.assertEqual(left, [], "orphan processes of the killed daemon")
        for i in running:
            b = d.build(i)
            self.assertEqual(b["status"], "interrupted", b)
            self.assertTime(b["finished_at"])
            self.assertIsNone(b["image"])
            log = d.log(i)
            self.assertTrue(log.rstrip().endswith("the next start marked it"), log[-300:])
            self.assertEqual(b["log_size"], len(log.encode()), b)
        for i in queued:
            b = d.wait_build(i)
            self.assertEqual(b["status"], "succeeded", d.log(i))
        scratch = os.path.join(d.data, "scratch")
        left = os.listdir(scratch) if os.path.isdir(scratch) else []
        self.assertEqual(left, [], "scratch space is not cleaned")
        d.create_project(harness.hello_project("quick3", config_name="quick3"))
        b = d.build_and_wait("quick3")
        self.assertIsNone(b["reused_from"])
        r = d.get("/builds?status=queued,running")
        self.assertEqual(r.json, [])

        d.stop()
        self.assertEqual(quick_check(os.path.join(d.data, "mgd.sqlite3")), [("ok",)])
        self.assertEqual(bad_blobs(os.path.join(d.data, "cache")), [])

        # and it starts again
        d.start()
        self.assertEqual(d.build(b["id"])["status"], "succeeded")
        d.stop()
        d.check_sanitizers()

    def test_kill9_in_a_burst(self):
        """SIGKILL at an arbitrary moment of many short builds: every build
        ends in a terminal state afterwards and the stores are sound."""
        d = harness.Daemon(cache=None)
        KEEP.append(d)
        d.seed_cache()
        d.start()
        ids = []
        for i in range(6):
            d.create_project(harness.hello_project("burst%d" % i, config_name="burst%d" % i))
        for round_ in range(2):
            for i in range(6):
                ids.append(d.start_build("burst%d" % i)["id"])
        time.sleep(1.0)
        d.kill9()
        d.start()
        left = harness.wait_no_processes(d.data, timeout=5, exclude=d.pids())
        harness.kill_pids(left)
        self.assertEqual(left, [], "orphan processes of the killed daemon")
        for i in ids:
            b = d.wait_build(i)
            self.assertIn(b["status"], ("succeeded", "interrupted"), b)
        done = [d.build(i) for i in ids if d.build(i)["status"] == "succeeded"]
        for b in done:
            r = d.get("/builds/%d/image" % b["id"])
            self.assertEqual(r.status, 200)
            self.assertEqual(hashlib.sha256(r.body).hexdigest(), b["image"]["sha256"])
        d.create_project(harness.hello_project("after", config_name="after"))
        d.build_and_wait("after")
        d.stop()
        self.assertEqual(quick_check(os.path.join(d.data, "mgd.sqlite3")), [("ok",)])
        self.assertEqual(bad_blobs(os.path.join(d.data, "cache")), [])
        d.check_sanitizers()

    def test_sigterm_while_building(self):
        """A graceful stop does not wait for builds: it exits 0 at once,
        kills the compilers, and the build is `interrupted` afterwards."""
        d = harness.Daemon()
        KEEP.append(d)
        d.start()
        # one daemon per data directory
        p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("another mgd", p.stderr)
        self.assertTrue(d.health())

        d.create_project(harness.slow_project("slowterm"))
        b = d.start_build("slowterm")
        needle = harness.wait_running_compile(d, b["id"], file="slow.c")
        t0 = time.monotonic()
        d.stop(timeout=10)
        self.assertLess(time.monotonic() - t0, 5)
        left = harness.wait_no_processes(needle, timeout=3)
        harness.kill_pids(left)
        self.assertEqual(left, [], "compilers outlive the daemon")
        d.start()
        b = d.build(b["id"])
        self.assertEqual(b["status"], "interrupted", b)
        self.assertTrue(b["error"])
        d.stop()
        d.check_sanitizers()

    def assertTime(self, value):
        self.assertRegex(value or "", harness.RFC3339_RE)


if __name__ == "__main__":
    harness.main()
