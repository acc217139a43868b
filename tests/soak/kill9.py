#!/usr/bin/env python3
"""The kill -9 soak (issue 19): `mgd serve` is killed with SIGKILL at random
moments while a burst of builds runs over several projects (inline trees and
git repositories, several targets), and started again each time on the same
data directory. Nothing may be lost:

  - after every restart: PRAGMA quick_check is ok (on a read-only
    connection, beside the running daemon), every blob hashes to its name,
    and no process of a killed daemon is left (below);
  - at the end: every accepted build (every 202) is in a terminal state,
    with its whole log; every `interrupted` build can be rebuilt and the
    rebuild's image has the sha256 of another build of the same inputs
    (one from the soak, or a forced build made for the comparison); no two
    succeeded builds with the same input hash differ; every image
    downloads with its recorded sha256.

Processes left behind are found by parent, not by name: this process is a
child subreaper (PR_SET_CHILD_SUBREAPER), so whatever a killed daemon
started (bubblewrap, the compilers in it, `mgd __fetch`) is reparented to
it. After a kill, such processes are given a moment to die with their
sandbox (they should: bubblewrap's --die-with-parent); after the restart,
none may be left but the new daemon's own (the restart kills what a dead
daemon left: docs/daemon.md, "Crash safety").

usage: kill9.py MGD [--kills N] [--builds N] [--seed N] [--workers N]

Prints the figures (kills, builds, outcomes, orphans, time) at the end;
exit status 1 when anything was lost. $MGD_TEST_CACHE seeds the daemon's
cache (runtime objects) as in tests/api; $MGD_TEST_KEEP=1 keeps the data.
"""

import argparse
import collections
import ctypes
import hashlib
import json
import os
import random
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "api"))
import harness  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
WANT_TARGETS = ("unix", "spt", "virtio")


class Lost(Exception):
    """Something the soak must not see: a corrupt database, a build that
    did not end, an image that does not reproduce, a process left."""


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def quick_check(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    try:
        return db.execute("PRAGMA quick_check").fetchall()
    finally:
        db.close()


def bad_blobs(cache):
    """Files under cache/blobs whose sha256 is not their name."""
    bad = []
    for dirpath, _, files in os.walk(os.path.join(cache, "blobs")):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                if harness.sha256_file(path) != name:
                    bad.append(path)
            except FileNotFoundError:
                pass  # collected meanwhile
    return bad


def left_behind(daemon_pid):
    """[(pid, cmdline)] of the processes below this one that are neither
    the running daemon (`daemon_pid`, None when there is none) nor its
    descendants: what killed daemons left. Zombies reparented to us are
    reaped and not counted."""
    table = harness.proc_table()
    mine = harness.descendants(os.getpid(), table)
    keep = set()
    if daemon_pid:
        keep = {daemon_pid} | harness.descendants(daemon_pid, table)
    left = []
    for pid in sorted(mine - keep):
        p = table[pid]
        if p.state == "Z":
            if p.ppid == os.getpid():
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            continue
        left.append((pid, p.cmd or "[%s]" % p.comm))
    return left


def wait_left_behind(daemon_pid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = left_behind(daemon_pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def slow_c(nonce):
    """About 2.7 s of gcc -O2 (one block of harness.SLOW_C): kills land
    inside compiles."""
    return harness.SLOW_C % (nonce, "F1000(1)")


def make_repo(path, name, slow):
    os.makedirs(path)
    git = harness.git
    git(path, "init", "-q", "-b", "main")
    with open(os.path.join(path, "unikernel.c"), "w") as f:
        f.write(harness.printer_source("soak %s: one" % name))
    if slow:
        with open(os.path.join(path, "slow.c"), "w") as f:
            f.write(slow_c(name))
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "one")
    git(path, "tag", "v1")
    with open(os.path.join(path, "unikernel.c"), "w") as f:
        f.write(harness.printer_source("soak %s: two" % name))
    git(path, "commit", "-q", "-am", "two")


def projects(d, tmp):
    """Creates the soak's projects: {name: [build bodies it may get]}."""
    out = {}
    for name, slow in (("inl-slow", True), ("inl-a", False), ("inl-b", False)):
        sources = {"unikernel.c": harness.printer_source("soak " + name)}
        extra = []
        if slow:
            sources["slow.c"] = slow_c(name)
            extra = ["slow.c"]
        d.create_project({"name": name, "config": harness.printer_config(name, extra),
                          "sources": sources})
        out[name] = [{}]
    d.create_project(harness.hello_project("inl-hello", config_name="inl-hello"))
    out["inl-hello"] = [{}]
    for name, slow in (("git-slow", True), ("git-a", False)):
        repo = os.path.join(tmp, "repos", name)
        make_repo(repo, name, slow)
        config = harness.printer_config(name, ["slow.c"] if slow else [])
        d.create_project({"name": name, "config": config,
                          "repo": {"url": repo, "ref": "main"}})
        out[name] = [{}, {"ref": "v1"}]
    return out


class Soak:
    def __init__(self, args):
        self.args = args
        # one generator per thread, so that a seed repeats the plan and
        # the kill times (what the daemon does meanwhile is its own)
        self.rng = random.Random(args.seed)
        self.submit_rng = random.Random(args.seed + 1)
        self.d = harness.Daemon(cache=None, workers=args.workers, jobs=args.jobs)
        self.db = os.path.join(self.d.data, "mgd.sqlite3")
        self.lock = threading.Lock()
        self.accepted = []  # ids of builds answered 202
        self.lost_posts = 0  # POSTs whose answer the kill took
        self.submit_error = None
        self.kills = []  # (seconds the daemon had been up, running builds then)
        self.survivors = []  # processes alive 2 s after a kill (killed by the restart)
        self.restart_killed = 0  # "killed N processes left by an earlier daemon"
        self.checks = 0

    # -- the daemon ---------------------------------------------------------

    def start(self):
        self.d.start()
        self.up_since = time.monotonic()
        pid = self.d.pids()[0]
        for line in self.d.stderr_lines:
            if "left by an earlier daemon" in line:
                self.restart_killed += int(line.split("killed ")[1].split()[0])
        # what a dead daemon left is gone once the new one listens (it
        # kills it before it opens the store); the new one's own processes
        # (its builds) do not count
        left = wait_left_behind(pid, 3)
        if left:
            harness.kill_pids(left)
            raise Lost("processes of a killed daemon outlived the restart: %r" % left)
        qc = quick_check(self.db)
        if qc != [("ok",)]:
            raise Lost("PRAGMA quick_check after restart %d: %r" % (len(self.kills), qc))
        bad = bad_blobs(os.path.join(self.d.data, "cache"))
        if bad:
            raise Lost("blobs that do not hash to their name: %r" % bad)
        self.checks += 1

    def running_now(self):
        try:
            r = self.d.get("/builds?status=running", timeout=5)
            return len(r.json) if r.status == 200 else -1
        except (OSError, harness.http.client.HTTPException):
            return -1

    def kill(self):
        running = self.running_now()
        up = time.monotonic() - self.up_since
        self.d.kill9()
        self.kills.append((up, running))
        # bubblewrap dies with the daemon's thread that started it, and
        # the compilers with bubblewrap's PID namespace
        left = wait_left_behind(None, 2)
        self.survivors.extend(left)

    # -- the builds ---------------------------------------------------------

    def submit(self, plan, spread_s):
        try:
            self.submit_all(plan, spread_s)
        except Exception as e:  # noqa: BLE001 - handed to the main thread
            self.submit_error = e

    def submit_all(self, plan, spread_s):
        """Posts the planned builds at random intervals (mean: spread_s over
        the plan), retrying while the daemon is down."""
        mean = spread_s / max(1, len(plan))
        for project, body in plan:
            time.sleep(self.submit_rng.expovariate(1.0 / mean) if mean > 0 else 0)
            while True:
                port = self.d.port
                try:
                    conn = harness.http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("POST", "/projects/%s/build" % project,
                                 body=json.dumps(body),
                                 headers={"Authorization": "Bearer " + self.d.admin_token,
                                          "Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    conn.close()
                except (OSError, harness.http.client.HTTPException):
                    # down, or killed while answering: the build may or may
                    # not exist (the end checks every build there is)
                    with self.lock:
                        self.lost_posts += 1
                    time.sleep(0.1)
                    continue
                if r.status == 202:
                    with self.lock:
                        self.accepted.append(json.loads(data)["id"])
                    break
                raise Lost("POST /projects/%s/build %r: %d %r" % (project, body, r.status, data))

    def run(self):
        t0 = time.monotonic()
        become_subreaper()
        self.d.seed_cache()
        self.start()
        targets = [t["name"] for t in self.d.get("/targets").json
                   if t["name"] in WANT_TARGETS
                   and any(a["name"] == "x86_64" and a["available"] for a in t["arches"])]
        kinds = projects(self.d, self.d.tmp)
        plan = []
        for _ in range(self.args.builds):
            name = self.rng.choice(sorted(kinds))
            body = dict(self.rng.choice(kinds[name]))
            body["target"] = self.rng.choice(targets)
            if self.rng.random() < 0.5:
                body["force"] = True
            plan.append((name, body))
        gap = (0.05, self.args.max_gap)
        spread = self.args.kills * sum(gap) / 2
        submitter = threading.Thread(target=self.submit, args=(plan, spread), daemon=True)
        submitter.start()
        for _ in range(self.args.kills):
            if self.submit_error:
                break
            # a few kills land during the restart itself (recovery, the
            # first claims); the others anywhere in a build
            wait = 0.0 if self.rng.random() < 0.15 else self.rng.uniform(*gap)
            time.sleep(wait)
            self.kill()
            self.start()
        submitter.join(600)
        if self.submit_error:
            raise self.submit_error
        if submitter.is_alive():
            raise Lost("the builds were not all accepted within 10 minutes")
        t_burst = time.monotonic() - t0
        self.finish_builds()
        self.d.stop()
        qc = quick_check(self.db)
        if qc != [("ok",)]:
            raise Lost("PRAGMA quick_check after the last stop: %r" % qc)
        bad = bad_blobs(os.path.join(self.d.data, "cache"))
        if bad:
            raise Lost("blobs that do not hash to their name: %r" % bad)
        left = wait_left_behind(None, 3)
        if left:
            harness.kill_pids(left)
            raise Lost("processes left after the last stop: %r" % left)
        # what the kills left on disk: the builds' work folders in the
        # cache's tmp/ (the cache may be shared, so a start does not empty
        # it; `mgd cache gc` removes what is older than an hour)
        self.tmp_entries, self.tmp_bytes = 0, 0
        tmp = os.path.join(self.d.data, "cache", "tmp")
        for entry in os.listdir(tmp):
            self.tmp_entries += 1
            for dirpath, _, files in os.walk(os.path.join(tmp, entry)):
                for name in files:
                    try:
                        self.tmp_bytes += os.lstat(os.path.join(dirpath, name)).st_size
                    except OSError:
                        pass
        self.d.check_sanitizers()
        self.report(t_burst, time.monotonic() - t0)

    # -- the end ------------------------------------------------------------

    def wait_idle(self, timeout=600):
        deadline = time.monotonic() + timeout
        while self.d.get("/builds?status=queued,running&per_page=1").json:
            if time.monotonic() > deadline:
                raise Lost("builds still queued or running %d s after the soak" % timeout)
            time.sleep(0.2)

    def all_builds(self):
        out, page = [], 1
        while True:
            r = self.d.get("/builds?per_page=100&page=%d" % page)
            if r.status != 200:
                raise Lost("GET /builds: %r" % r)
            out += r.json
            if len(r.json) < 100:
                return {b["id"]: b for b in out}
            page += 1

    def finish_builds(self):
        self.wait_idle()
        builds = self.all_builds()
        missing = [i for i in self.accepted if i not in builds]
        if missing:
            raise Lost("accepted builds that are gone: %r" % missing)
        self.outcomes = collections.Counter(builds[i]["status"] for i in self.accepted)
        self.n_all = len(builds)
        for b in builds.values():
            if b["status"] not in harness.TERMINAL:
                raise Lost("build %d is %s after the soak" % (b["id"], b["status"]))
            log = self.d.get("/builds/%d/log" % b["id"])
            if log.status != 200 or len(log.body) != b["log_size"]:
                raise Lost("build %d: log of %d bytes, log_size %d (%d)"
                           % (b["id"], len(log.body), b["log_size"], log.status))
            if b["status"] == "interrupted" and not log.text.rstrip().endswith(
                    "the next start marked it"):
                raise Lost("interrupted build %d: its log does not say so: %r"
                           % (b["id"], log.text[-300:]))
            if b["status"] == "failed":
                raise Lost("build %d failed: %s\n%s" % (b["id"], b["error"], log.text[-2000:]))
        # every interrupted build again: rebuilt (or, for a git build that
        # never fetched, built anew at its ref: a 409 saying so)
        self.rebuilt, self.anew = [], []
        for b in sorted(builds.values(), key=lambda b: b["id"]):
            if b["status"] != "interrupted":
                continue
            r = self.d.post("/builds/%d/rebuild" % b["id"], {})
            if r.status == 202:
                self.rebuilt.append(r.json["id"])
            elif r.status == 409 and b["commit"] is None and b["sources_sha256"] is None \
                    and "never fetched" in r.json["error"]["message"]:
                body = {"target": b["target"], "arch": b["arch"], "keys": b["keys"]}
                if b["ref"]:
                    body["ref"] = b["ref"]
                self.anew.append(self.d.start_build(b["project"]["name"], body)["id"])
            else:
                raise Lost("rebuilding interrupted build %d: %r" % (b["id"], r))
        for i in self.rebuilt + self.anew:
            b = self.d.wait_build(i, timeout=600)
            if b["status"] != "succeeded":
                raise Lost("rebuild %d: %s\n%s" % (i, b["status"], self.d.log(i)[-2000:]))
        # reproduction: a rebuild without a twin in the soak gets one now
        self.compared = 0
        for i in self.rebuilt:
            b = self.d.build(i)
            if b["differs_from"]:
                raise Lost("rebuild %d differs from %r" % (i, b["differs_from"]))
            if not b["reproduced_by"]:
                body = {"target": b["target"], "arch": b["arch"], "keys": b["keys"],
                        "force": True}
                if b["commit"]:
                    body["ref"] = b["commit"]
                twin = self.d.build_and_wait(b["project"]["name"], body, timeout=600)
                if twin["input_hash"] != b["input_hash"]:
                    raise Lost("build %d is not of the same inputs as rebuild %d"
                               % (twin["id"], i))
                b = self.d.build(i)
            if not b["reproduced_by"] or b["differs_from"]:
                raise Lost("rebuild %d does not reproduce: %r" % (i, b))
            self.compared += 1
        builds = self.all_builds()
        self.images = 0
        for b in builds.values():
            if b["status"] != "succeeded":
                continue
            if b["differs_from"]:
                raise Lost("build %d: same inputs, another image than %r"
                           % (b["id"], b["differs_from"]))
            r = self.d.get("/builds/%d/image" % b["id"])
            if r.status != 200 or hashlib.sha256(r.body).hexdigest() != b["image"]["sha256"]:
                raise Lost("build %d: its image does not download as recorded (%d)"
                           % (b["id"], r.status))
            self.images += 1

    def report(self, t_burst, t_all):
        ups = [u for u, _ in self.kills]
        during = sum(1 for _, n in self.kills if n > 0)
        print("kill -9 soak: %d kills in %.0f s (%d while builds ran, %d during a start; "
              "the daemon up %.2f-%.2f s before each), %.0f s in all"
              % (len(self.kills), t_burst, during, sum(1 for u in ups if u < 0.05),
                 min(ups), max(ups), t_all))
        print("builds: %d accepted (202), %d in the database; outcomes of the accepted: %s"
              % (len(self.accepted), self.n_all,
                 ", ".join("%s %d" % kv for kv in sorted(self.outcomes.items()))))
        print("interrupted: %d rebuilt, all succeeded, %d compared with a build of the same "
              "inputs, 0 differ; %d git builds killed before their fetch started anew"
              % (len(self.rebuilt), self.compared, len(self.anew)))
        print("images: %d downloaded, each with its recorded sha256; quick_check ok after "
              "%d starts; every blob hashes to its name" % (self.images, self.checks))
        print("processes: %d alive 2 s after a kill (killed by the next start: %d), "
              "0 after any restart" % (len(self.survivors), self.restart_killed))
        for pid, cmd in self.survivors:
            print("  survived a kill: %d %s" % (pid, cmd[:200]))
        print("POSTs cut by a kill (retried): %d" % self.lost_posts)
        print("left in the cache's tmp/ by the kills: %d entries, %.1f MiB"
              % (self.tmp_entries, self.tmp_bytes / 1048576.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mgd")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--builds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max-gap", type=float, default=2.5,
                    help="most seconds between a start and the next kill")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    harness.MGD = os.path.abspath(args.mgd)
    print("seed %d (--seed repeats the plan and the kill times)" % args.seed, flush=True)
    s = Soak(args)
    try:
        s.run()
        return 0
    except (Lost, AssertionError) as e:
        print("LOST: %s" % e, file=sys.stderr)
        print("daemon stderr (tail):\n" + "\n".join(s.d.all_stderr[-40:]), file=sys.stderr)
        return 1
    finally:
        if s.d.proc is not None:
            s.d.kill9()
        harness.kill_pids(left_behind(None))
        s.d.cleanup()


if __name__ == "__main__":
    sys.exit(main())
