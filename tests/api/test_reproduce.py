#!/usr/bin/env python3
"""Reproducibility as builder-web shows it, the build log's steps and its
end, and the live fields of a build (issue 21).

- `reproduced_by` / `differs_from` / `reproduces`: a build that reused an
  earlier image (`reused_from`) reproduces nothing and lists nothing; two
  builds that took cached outputs do not list each other; a forced build
  (every action run) with the same bytes reproduces them (its
  `reproduces`, their `reproduced_by`), and two forced builds reproduce
  each other; builds whose bytes differ (a source using __TIMESTAMP__, the
  time the daemon unpacked it) list the full runs among them.
- The log: every step has a "LABEL: started" line before its "LABEL: ran
  in N ms" line; the build's end is said once and truthfully: one
  "error: ..." line for a failed build, "cancelled by a user" (no error)
  for a cancelled one, "interrupted: ..." (no cancel, no error) for one
  the daemon's stop (SIGTERM) or death (SIGKILL) interrupted.
- `queue_position` of queued builds (1 = next) and `progress` (phase,
  the actions running) of a running one."""

import os
import re
import time

import harness
from harness import ApiTest

STAMP_RE = re.compile(r"^\[\s*\d+\.\d{3}\] ?(.*)$")
INTERRUPTED = "interrupted: the daemon stopped while the build ran"
KEEP = []  # daemons of their own, finished whatever happens


def setUpModule():
    harness.start_shared()


def tearDownModule():
    try:
        harness.finish_daemons(KEEP)
    finally:
        harness.stop_shared()


def lines(log):
    """The log's lines without their time stamps."""
    out = []
    for line in log.splitlines():
        m = STAMP_RE.match(line)
        out.append(m.group(1) if m else line)
    return out


def own_project(name, extra=""):
    """hello with sources of its own (its own actions miss the cache)."""
    src = harness.hello_sources()
    src["unikernel.c"] += "\n/* %s %f %d */\n%s" % (name, time.time(), os.getpid(), extra)
    return {"name": name, "config": harness.hello_config(name), "sources": src}


def complete_log(d, build_id, timeout=10):
    """The log once the worker let go of the build (it may write its last
    line after a cancel answered)."""
    deadline = time.monotonic() + timeout
    while True:
        r = d.get("/builds/%d/log" % build_id)
        if r.header("X-More-Data") == "false" or time.monotonic() > deadline:
            return r.text
        time.sleep(0.05)


def ran_every_action(b):
    return b["reused_from"] is None and b["cache"]["actions"] > 0 and b["cache"]["hits"] == 0


class Reproducibility(ApiTest):
    def test_reuse_is_not_reproduction(self):
        self.d.create_project(own_project("rep"))
        a = self.d.build_and_wait("rep")
        b = self.d.build_and_wait("rep")
        self.assertEqual(b["reused_from"], a["id"])
        self.assertEqual(b["image"]["sha256"], a["image"]["sha256"])
        # a reuse copied the bytes: it tells nothing, either way
        self.assertEqual((b["reproduced_by"], b["differs_from"], b["reproduces"]), ([], [], []))
        self.assertNotIn(b["id"], self.d.build(a["id"])["reproduced_by"])

        f = self.d.build_and_wait("rep", {"force": True})
        self.assertIsNone(f["reused_from"])
        self.assertEqual(f["cache"]["hits"], 0, f["cache"])
        self.assertEqual(f["image"]["sha256"], a["image"]["sha256"], "not reproducible")
        self.assertEqual(f["reproduces"], [a["id"]])
        # a's own run counts only when it ran every action too
        self.assertEqual(f["reproduced_by"], [a["id"]] if ran_every_action(a) else [])
        self.assertEqual(f["differs_from"], [])
        self.assertEqual(self.d.build(a["id"])["reproduced_by"], [f["id"]])
        self.assertEqual(self.d.build(b["id"])["reproduced_by"], [])
        # the list views carry the same fields
        listed = {x["id"]: x for x in self.d.get("/builds?project=rep").json}
        self.assertEqual(listed[a["id"]]["reproduced_by"], [f["id"]])
        self.assertEqual(listed[f["id"]]["reproduces"], [a["id"]])
        self.assertEqual(listed[b["id"]]["reproduced_by"], [])

    def test_cached_builds_reproduced_by_a_forced_one(self):
        # the runtime in the cache: each build below takes it from there
        self.d.create_project(own_project("warm"))
        self.d.build_and_wait("warm")
        self.d.create_project(own_project("part"))
        # both at once (2 workers): neither finished when the other looked
        # for an image to reuse; they share the cache meanwhile
        ids = [self.d.start_build("part")["id"] for _ in range(2)]
        a, b = [self.d.wait_build(i) for i in ids]
        for x in (a, b):
            self.assertEqual(x["status"], "succeeded", self.d.log(x["id"])[-2000:])
            self.assertIsNone(x["reused_from"], x)
            self.assertGreater(x["cache"]["hits"], 0, x["cache"])
        self.assertEqual(a["image"]["sha256"], b["image"]["sha256"], "not reproducible")
        # cached outputs copied bytes: the two prove nothing to each other
        for x in (a, b):
            self.assertEqual((x["reproduced_by"], x["differs_from"], x["reproduces"]),
                             ([], [], []), x)

        f = self.d.build_and_wait("part", {"force": True})
        self.assertEqual(f["cache"]["hits"], 0, f["cache"])
        self.assertEqual(f["image"]["sha256"], a["image"]["sha256"], "not reproducible")
        self.assertEqual(f["reproduces"], ids)
        self.assertEqual(f["reproduced_by"], [])
        self.assertEqual(f["differs_from"], [])
        for i in ids:
            x = self.d.build(i)
            self.assertEqual((x["reproduced_by"], x["differs_from"], x["reproduces"]),
                             ([f["id"]], [], []), x)

        # a second full run: the two full runs reproduce each other
        g = self.d.build_and_wait("part", {"force": True})
        self.assertEqual(g["reproduced_by"], [f["id"]])
        self.assertEqual(g["reproduces"], ids + [f["id"]])
        f = self.d.build(f["id"])
        self.assertEqual(f["reproduced_by"], [g["id"]])
        self.assertEqual(f["reproduces"], ids + [g["id"]])
        self.assertEqual(self.d.build(ids[0])["reproduced_by"], [f["id"], g["id"]])

    def test_differing_bytes_both_ways(self):
        # __TIMESTAMP__ is the source's mtime: when the daemon unpacked it
        stamp = 'const char *mg_when(void);\nconst char *mg_when(void) { return __TIMESTAMP__; }\n'
        src = own_project("nondet")["sources"]["unikernel.c"]
        src = src.replace('"%s\\n", g->message', '"%s %s\\n", g->message, mg_when()')
        src = stamp + src
        self.d.create_project({"name": "nondet", "config": harness.hello_config("nondet"),
                               "sources": {"unikernel.c": src}})
        n0 = self.d.build_and_wait("nondet")
        time.sleep(1.1)
        r = self.d.build_and_wait("nondet")
        self.assertEqual(r["reused_from"], n0["id"])
        x = self.d.build_and_wait("nondet", {"force": True})
        time.sleep(1.1)
        y = self.d.build_and_wait("nondet", {"force": True})
        ids = [n0["id"], x["id"], y["id"]]
        shas = {self.d.build(i)["image"]["sha256"] for i in ids}
        self.assertEqual(len(shas), 3, "the builds were meant to differ")
        # each lists the others that ran every action (x and y; n0 when it
        # took nothing from the cache)
        ran = [i for i in ids if ran_every_action(self.d.build(i))]
        self.assertIn(x["id"], ran)
        self.assertIn(y["id"], ran)
        for i in ids:
            b = self.d.build(i)
            self.assertEqual(b["reproduced_by"], [], b)
            self.assertEqual(b["reproduces"], [], b)
            self.assertEqual(b["differs_from"], [j for j in ran if j != i], b)
        self.assertEqual(self.d.build(r["id"])["differs_from"], [])


class Logs(ApiTest):
    def test_steps_start_before_they_end(self):
        self.d.create_project(own_project("steps"))
        b = self.d.build_and_wait("steps", {"force": True})
        ls = lines(self.d.log(b["id"]))
        ended = [i for i, l in enumerate(ls) if re.search(r": ran in \d+ ms$", l)]
        self.assertGreater(len(ended), 5, ls)
        for i in ended:
            label = ls[i].rsplit(": ran in ", 1)[0]
            self.assertIn(label + ": started", ls[:i], "no start line before " + ls[i])
        self.assertEqual(ls[-1], "succeeded")
        self.assertEqual([l for l in ls if l.startswith("error")], [])

    def test_failure_said_once(self):
        src = harness.hello_sources()
        src["unikernel.c"] += "\nthis does not compile;\n"
        self.d.create_project({"name": "broken", "config": harness.hello_config("broken"),
                               "sources": src})
        b = self.d.build_and_wait("broken", want="failed")
        ls = lines(self.d.log(b["id"]))
        errors = [l for l in ls if l.startswith("error: ")]
        self.assertEqual(errors, ["error: " + b["error"]], ls[-15:])
        self.assertEqual(ls[-1], errors[0])
        self.assertTrue(any(re.match(r"compile unikernel\.c: ran in \d+ ms, exit status 1$", l)
                            for l in ls), ls)

    def test_cancel_said_once(self):
        self.d.create_project(harness.slow_project("slowcancel"))
        b = self.d.start_build("slowcancel")
        needle = harness.wait_running_compile(self.d, b["id"], file="slow.c")
        self.assertStatus(self.d.post("/builds/%d/cancel" % b["id"]), 200)
        harness.kill_pids(harness.wait_no_processes(needle, timeout=5))
        ls = lines(complete_log(self.d, b["id"]))
        self.assertEqual([l for l in ls if "cancelled" in l], ["cancelled by a user"], ls[-10:])
        self.assertEqual(ls[-1], "cancelled by a user")
        self.assertEqual([l for l in ls if l.startswith("error")], [], ls[-10:])
        self.assertTrue(any(re.match(r"compile slow\.c: ran in \d+ ms, stopped$", l) for l in ls),
                        ls[-10:])
        # every step that started ended, those the cancel stopped too
        for i, l in enumerate(ls):
            if l.endswith(": started"):
                label = l[:-len(": started")]
                self.assertTrue(any(m.startswith(label + ": ran in ") for m in ls[i:]), l)


class Interrupted(ApiTest):
    def check_interrupted(self, d, build_id):
        b = d.build(build_id)
        self.assertEqual(b["status"], "interrupted", b)
        ls = lines(d.log(build_id))
        # (a crash's line, written at the next start, says so)
        self.assertRegex(ls[-1], r"^(\[mgd\] )?" + INTERRUPTED, ls[-10:])
        self.assertEqual([l for l in ls if "cancelled" in l or l.startswith("error")], [],
                         ls[-10:])
        self.assertEqual(len([l for l in ls if INTERRUPTED in l]), 1, ls[-10:])

    def test_stop_and_kill(self):
        d = harness.Daemon()
        KEEP.append(d)
        d.start()
        d.create_project(harness.slow_project("slowstop"))
        b = d.start_build("slowstop")
        needle = harness.wait_running_compile(d, b["id"], file="slow.c")
        d.stop(timeout=10)  # SIGTERM
        harness.kill_pids(harness.wait_no_processes(needle, timeout=3))
        d.start()
        self.check_interrupted(d, b["id"])

        c = d.start_build("slowstop")
        needle = harness.wait_running_compile(d, c["id"], file="slow.c")
        d.kill9()
        harness.kill_pids(harness.wait_no_processes(needle, timeout=3))
        d.start()
        self.check_interrupted(d, c["id"])
        d.stop()


class Live(ApiTest):
    def test_queue_position_and_steps(self):
        # the shared daemon has 2 workers: two slow builds hold them
        running, queued = [], []
        for name in ("slowlive1", "slowlive2"):
            self.d.create_project(harness.slow_project(name))
            running.append(self.d.start_build(name)["id"])
        needles = [harness.wait_running_compile(self.d, i, file="slow.c") for i in running]
        try:
            for i in running:
                p = self.d.build(i)["progress"]
                self.assertEqual(p["phase"], "build", p)
                self.assertIn("compile slow.c", p["steps"])
                self.assertIsNone(self.d.build(i)["queue_position"])
            self.d.create_project(own_project("queued1"))
            queued = [self.d.start_build("queued1")["id"] for _ in range(2)]
            for pos, i in enumerate(queued, 1):
                b = self.d.build(i)
                self.assertEqual((b["status"], b["queue_position"], b["progress"]),
                                 ("queued", pos, None))
            listed = {x["id"]: x for x in self.d.get("/builds?status=queued").json}
            self.assertEqual([listed[i]["queue_position"] for i in queued], [1, 2])
            self.assertStatus(self.d.post("/builds/%d/cancel" % queued[0]), 200)
            self.assertEqual(self.d.build(queued[1])["queue_position"], 1)
            self.assertIsNone(self.d.build(queued[0])["queue_position"])
        finally:
            for i in running + queued:
                self.d.post("/builds/%d/cancel" % i)
            for n in needles:
                harness.kill_pids(harness.wait_no_processes(n, timeout=5))
        done = self.d.build(running[0])
        self.assertIsNone(done["progress"])
        self.assertIsNone(done["queue_position"])


if __name__ == "__main__":
    harness.main()
