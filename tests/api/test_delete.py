#!/usr/bin/env python3
"""Deleting a project stops and removes everything of it.

A git project with 600 queued builds, the two oldest running (compiling a
slow file, one at each of two commits, so both workers run gcc), is deleted:
204; within a few seconds no process of its builds is left among the
daemon's descendants (no bwrap, gcc, cc1, as, ld or `mgd __fetch`), its
builds answer 404 (by id and in GET /builds?project=), none of their logs
(DATA/logs/<id>.log) and not its mirror (DATA/git/<project id>/) is left,
and the workers go on to build another project to success.

A racing delete: a project with 500 builds (two running) is deleted while
50 POST /projects/:id/build sent from threads over 0.6 s arrive: they get
202, 404 or 409; every build that was accepted ends cancelled or gone
(never succeeded), and neither a log nor a process of any of them is
left.

Both fail on a delete that pages the project's builds in rounds (the two
oldest, running, are never reached)."""

import os
import shutil
import tempfile
import threading
import time

import harness
from harness import ApiTest, descendants, proc_table

R = {}  # the scratch directory of the test file (git repositories)

# What a build or a fetch runs: none of it may outlive a deleted project.
BUILD_COMMS = ("bwrap", "gcc", "cc", "cc1", "as", "ld", "collect2", "prlimit", "make")


git = harness.git


def slow_repo(path, name):
    """A git repository of harness.slow_project(name) with two commits whose
    slow.c differ (so builds at each compile it anew): their shas."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    shas = []
    for i in range(2):
        p = harness.slow_project(name, nonce="%s commit %d %f %d" % (name, i, time.time(),
                                                                      os.getpid()))
        for f, text in p["sources"].items():
            with open(os.path.join(path, f), "w") as out:
                out.write(text)
        git(path, "add", ".")
        git(path, "commit", "-q", "-m", "c%d" % i)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def build_processes(d):
    """The daemon's descendants that belong to a build or a fetch."""
    scratch = os.path.join(d.data, "scratch")
    table = proc_table()
    return {pid: (table[pid].comm, table[pid].cmd) for pid in descendants(d.proc.pid, table)
            if table[pid].comm in BUILD_COMMS or "__fetch" in table[pid].cmd
            or scratch in table[pid].cmd}


def wait_no_build_processes(d, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = build_processes(d)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def setUpModule():
    harness.start_shared(workers=2)
    R["dir"] = tempfile.mkdtemp(prefix="mgd-api-delete-")


def tearDownModule():
    try:
        d = harness._shared
        if d is not None and d.proc is not None:
            # what a failed test (or the old code) left compiling
            harness.kill_pids(harness.processes_mentioning(d.data, d.pids()))
        harness.stop_shared()
    finally:
        shutil.rmtree(R.get("dir", "/nonexistent"), ignore_errors=True)


class Delete(ApiTest):
    def post_many(self, path, n, threads=8):
        """n POSTs of `path` from `threads` threads: the answers."""
        out, lock = [], threading.Lock()
        per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

        def run(k):
            for _ in range(k):
                r = self.d.post(path, {})
                with lock:
                    out.append(r)

        ts = [threading.Thread(target=run, args=(k,)) for k in per]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    def assertNothingLeft(self, ids, project_id, what):
        d = self.d
        left = [i for i in ids if os.path.exists(os.path.join(d.data, "logs", "%d.log" % i))]
        self.assertEqual(left, [], "logs of %s are left" % what)
        left = [i for i in ids if os.path.exists(os.path.join(d.data, "scratch", str(i)))]
        self.assertEqual(left, [], "scratch folders of %s are left" % what)
        self.assertFalse(os.path.exists(os.path.join(d.data, "git", str(project_id))),
                         "the mirror of the deleted project is left")

    def test_delete_with_600_queued_stops_everything(self):
        d = self.d
        name = "many"
        repo = os.path.join(R["dir"], name)
        sha1, _ = slow_repo(repo, name)
        p = d.create_project({"name": name,
                              "config": harness.printer_config(name, extra_sources=["slow.c"]),
                              "repo": {"url": repo, "ref": "main"}})
        pid = p["id"]
        # the two oldest at different commits: both workers compile
        first = [d.start_build(pid, {"ref": sha1})["id"], d.start_build(pid)["id"]]
        answers = self.post_many("/projects/%d/build" % pid, 598)
        bad = [r for r in answers if r.status != 202]
        self.assertEqual(bad, [], "queueing 600 builds")
        ids = sorted(first + [r.json["id"] for r in answers])
        self.assertEqual(len(ids), 600)
        for b in first:
            harness.wait_running_compile(d, b)
        self.assertEqual([d.build(b)["status"] for b in first], ["running", "running"])
        self.assertTrue(os.path.isdir(os.path.join(d.data, "git", str(pid))),
                        "the project's mirror is not where this test looks")
        self.assertTrue(build_processes(d), "no build process seen before the delete")

        t0 = time.monotonic()
        r = d.request("DELETE", "/projects/%d" % pid)
        took = time.monotonic() - t0
        self.assertStatus(r, 204)
        self.assertLess(took, 30, "the delete took %.1f s" % took)

        left = wait_no_build_processes(d, timeout=5)
        self.assertEqual(left, {}, "processes of the deleted project's builds are left")
        self.assertError(d.get("/projects/%d" % pid), 404, "not_found")
        self.assertError(d.get("/builds?project=%d" % pid), 404, "not_found")
        self.assertError(d.get("/projects/%d/builds" % pid), 404, "not_found")
        for b in first + ids[2:10] + ids[-10:]:
            self.assertError(d.get("/builds/%d" % b), 404, "not_found")
        # in the whole list neither (cancelled or not)
        listed = {x["id"] for x in d.get("/builds?per_page=100").json}
        self.assertEqual(listed & set(ids), set())
        # a cancel of what ran answers as for any unknown build
        self.assertError(d.post("/builds/%d/cancel" % first[0]), 404, "not_found")
        self.assertNothingLeft(ids, pid, "the deleted project's builds")
        # a moment later, still nothing (no worker wrote after the delete)
        time.sleep(1)
        self.assertEqual(build_processes(d), {})
        self.assertNothingLeft(ids, pid, "the deleted project's builds")

        # the workers go on with another project
        d.create_project(harness.hello_project("after", config_name="after"))
        b = d.build_and_wait("after", timeout=120)
        self.assertIsNone(b["reused_from"])
        self.assertEqual(build_processes(d), {})

    def test_builds_racing_the_delete(self):
        d = self.d
        p = d.create_project(harness.slow_project("racer"))
        pid = p["id"]
        path = "/projects/%d/build" % pid
        # 500 builds: both workers busy with it, 498 waiting
        running = [d.start_build(pid)["id"], d.start_build(pid, {"force": True})["id"]]
        answers = self.post_many(path, 498)
        self.assertEqual([a for a in answers if a.status != 202], [], "queueing 498 builds")
        queued = [a.json["id"] for a in answers]
        harness.wait_running_compile(d, running[0])

        # a watcher: any build of the project seen succeeded
        seen_succeeded, stop = set(), threading.Event()

        def watch():
            while not stop.is_set():
                r = d.get("/builds?project=%d&status=succeeded&per_page=100" % pid)
                if r.status != 200:
                    return
                seen_succeeded.update(x["id"] for x in r.json)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()

        answers, lock = [], threading.Lock()
        go = threading.Barrier(51)

        def post(i):
            go.wait()
            time.sleep(i * 0.012)  # over 0.6 s, around the DELETE (sent at 0.05 s)
            r = d.post(path, {})
            with lock:
                answers.append(r)

        ts = [threading.Thread(target=post, args=(i,)) for i in range(50)]
        for t in ts:
            t.start()
        go.wait()
        time.sleep(0.05)
        r = d.request("DELETE", "/projects/%d" % pid)
        for t in ts:
            t.join()
        self.assertStatus(r, 204)
        bad = [a for a in answers if a.status not in (202, 404, 409)]
        self.assertEqual(bad, [], "answers to the racing builds")
        accepted = [a.json["id"] for a in answers if a.status == 202]
        for a in answers:
            if a.status == 202:
                self.assertIn(a.json["status"], ("queued", "running", "cancelled"), a)

        # some time for a build that escaped to show itself
        left = wait_no_build_processes(d, timeout=5)
        self.assertEqual(left, {}, "processes of the deleted project's builds are left")
        time.sleep(2)
        stop.set()
        watcher.join()
        everything = running + queued + accepted
        self.assertEqual(seen_succeeded & set(everything), set(), "builds ran to succeeded")
        for b in accepted + running:
            self.assertError(d.get("/builds/%d" % b), 404, "not_found")
        self.assertEqual(build_processes(d), {})
        self.assertNothingLeft(everything, pid, "the racing builds")
        self.assertError(d.post(path, {}), 404, "not_found")


if __name__ == "__main__":
    harness.main()
