#!/usr/bin/env python3
"""A full disk (issue 19, item 1): the daemon's data directory (database,
cache, logs, scratch) on a small tmpfs this test mounts, filled by a file
of its own while builds run:

- a build that runs out of space fails, with a log line that says so; a
  build whose log cannot be written either says so in its error;
- the API keeps answering reads (200), and writes that need room get 507
  with the error object of docs/api.md (never a 500); a pull worker's
  image upload and finish too;
- no half-written blob or log is ever served: every blob hashes to its
  name, every log holds whole lines;
- PRAGMA quick_check stays ok;
- once the filler is gone, everything works again: new builds succeed and
  the failed ones rebuild.

Needs root (mount); without it, or where tmpfs cannot be mounted, exits
77 (skipped). The mount is undone however the test ends, and no process
is left behind."""

import atexit
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import harness

SIZE_MIB = 48
MNT = {}

# A unit whose object file is 2 MiB of initialised data: compiling it
# needs room on the disk, quickly.
BIG_C = """/* %s */
const char mg_big_%s[2 << 20] = {1};
"""


def big_project(name):
    return {
        "name": name,
        "config": harness.printer_config(name, extra_sources=["big.c"]),
        "sources": {
            "unikernel.c": harness.printer_source("big project " + name),
            "big.c": BIG_C % (name, name.replace("-", "_")),
        },
    }


def unmount():
    mnt = MNT.pop("path", None)
    if not mnt:
        return
    for _ in range(50):
        if subprocess.run(["umount", mnt], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
    os.rmdir(mnt)


def setUpModule():
    if os.geteuid() != 0:
        print("skipped: mounting a tmpfs needs root")
        sys.exit(77)
    mnt = tempfile.mkdtemp(prefix="mgd-diskfull-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % SIZE_MIB,
                        "mgd-test-diskfull", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        print("skipped: cannot mount a tmpfs: " + r.stderr.strip())
        sys.exit(77)
    MNT["path"] = mnt
    # the mount goes whatever ends the test: a failure, an exception, a
    # SIGTERM of CTest's timeout
    atexit.register(unmount)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    unittest.addModuleCleanup(unmount)


def free_bytes():
    st = os.statvfs(MNT["path"])
    return st.f_bavail * st.f_frsize


def fill(leave=0):
    """Grows the filler until `leave` bytes are free (0: until the file
    system refuses another byte)."""
    path = os.path.join(MNT["path"], "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        chunk = b"\0" * (1 << 20)
        while free_bytes() - leave >= len(chunk):
            os.write(fd, chunk)
        if leave:
            left = free_bytes() - leave
            if left > 0:
                os.write(fd, b"\0" * left)
            return
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                if e.errno != 28:  # ENOSPC
                    raise
    finally:
        os.close(fd)


def unfill():
    os.unlink(os.path.join(MNT["path"], "filler"))


def quick_check(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return db.execute("PRAGMA quick_check").fetchall()
    finally:
        db.close()


def bad_blobs(cache):
    bad = []
    for dirpath, _, files in os.walk(os.path.join(cache, "blobs")):
        for name in files:
            if harness.sha256_file(os.path.join(dirpath, name)) != name:
                bad.append(name)
    return bad


def pending_ends(d):
    m = re.search(r"(?m)^mgd_build_ends_pending (\d+)$", d.get("/metrics").text)
    assert m, "no mgd_build_ends_pending in /metrics"
    return int(m.group(1))


STAMP = re.compile(r"\[ *\d+\.\d{3}\] ")
NO_SPACE = "No space left on device"
# what a build that ran out of room says: the system's words, or the
# daemon's when its tool did not say why
SPACE = NO_SPACE + "|ran out of space"


class DiskFull(unittest.TestCase):
    maxDiff = 4000

    def assertWholeLog(self, d, build_id):
        """The log as served: whole lines, each stamp at a line's start."""
        r = d.get("/builds/%d/log" % build_id)
        self.assertEqual(r.status, 200, r)
        text = r.text
        if text:
            self.assertTrue(text.endswith("\n"), "log %d ends in the middle of a line: %r"
                            % (build_id, text[-300:]))
        for line in text.splitlines():
            for m in STAMP.finditer(line):
                self.assertEqual(m.start(), 0, "log %d: a line cut short: %r" % (build_id, line))
        return text

    def assertWriteAnswer(self, r, ok):
        """A write on a full disk: done (`ok`), or 507 with the error object."""
        if r.status in ok:
            return
        self.assertEqual(r.status, 507, r)
        e = r.json.get("error")
        self.assertEqual(e.get("code"), "insufficient_storage", r)
        self.assertIsInstance(e.get("details"), list, r)
        # the system's words, or SQLite's
        self.assertRegex(e.get("message", ""), NO_SPACE + "|disk is full", r)

    def test_disk_full(self):
        d = harness.Daemon(data=os.path.join(MNT["path"], "data"), cache=None, workers=2, jobs=2)
        try:
            self.run_full(d)
            d.stop()
            db = os.path.join(d.data, "mgd.sqlite3")
            self.assertEqual(quick_check(db), [("ok",)])
            self.assertEqual(bad_blobs(os.path.join(d.data, "cache")), [])
            d.check_sanitizers()
        finally:
            if d.proc is not None:
                d.kill9()
            harness.kill_pids(harness.processes_mentioning(MNT["path"]))
            d.cleanup()

    def run_full(self, d):
        d.start()
        db = os.path.join(d.data, "mgd.sqlite3")
        cache = os.path.join(d.data, "cache")
        # warm: the runtime is compiled and cached
        d.create_project(harness.hello_project("warm"))
        warm = d.build_and_wait("warm")
        image = d.get("/builds/%d/image" % warm["id"]).body
        # two slow builds hold both workers while build a waits
        for name in ("slow1", "slow2", "slow3"):
            d.create_project(harness.slow_project(name, blocks=40 if name != "slow3" else 2))
        slow = [d.start_build(n, {"force": True})["id"] for n in ("slow1", "slow2")]
        for i in slow:
            harness.wait_running_compile(d, i, file="slow.c")
        d.create_project(big_project("big"))
        a = d.start_build("big", {"force": True})["id"]

        # 1. a little room: build a runs out of it, and its log says so
        fill(leave=256 << 10)
        self.assertEqual(d.post("/builds/%d/cancel" % slow[0]).status, 200)
        ba = d.wait_build(a, timeout=120)
        self.assertEqual(d.post("/builds/%d/cancel" % slow[1]).status, 200)
        self.assertEqual(ba["status"], "failed", ba)
        self.assertRegex(ba["error"], SPACE, ba)
        print("build a failed with a little room: %s" % ba["error"])
        log = self.assertWholeLog(d, a)
        self.assertRegex(log, r"(?m)^\[ *\d+\.\d{3}\] error: .*" + NO_SPACE, log[-2000:])

        # 2. build b compiles while the last byte goes: it fails, its log
        # cannot say so, and nor can the database until there is room
        unfill()
        b = d.start_build("slow3", {"force": True})["id"]
        harness.wait_running_compile(d, b, file="slow.c")
        fill()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if d.build(b)["status"] in harness.TERMINAL or any(
                    "build %d: cannot record its end" % b in l for l in d.stderr_lines):
                break
            time.sleep(0.2)
        else:
            self.fail("build %d neither ended nor tried to: %s" % (b, d.build(b)))
        # what the failed build left is gone: no room at all again
        fill()
        self.assertEqual(free_bytes(), 0)
        if d.build(b)["status"] not in harness.TERMINAL:
            # its end waits for room, and /metrics says so
            self.assertGreaterEqual(pending_ends(d), 1)
        # reads are answered
        for path in ("/health", "/projects", "/projects/warm", "/builds", "/builds/%d" % a,
                     "/builds/%d/log" % a, "/builds?status=failed", "/metrics", "/targets",
                     "/tokens", "/projects/warm/config", "/builds/%d/log" % b):
            r = d.get(path)
            self.assertEqual(r.status, 200, r)
        r = d.get("/builds/%d/image" % warm["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, image)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), warm["image"]["sha256"])
        # writes that need room: 507, never 500
        r = d.post("/projects/warm/build", {"force": True})
        self.assertWriteAnswer(r, ())
        self.assertIn(NO_SPACE, r.json["error"]["message"])
        self.assertWriteAnswer(d.post("/projects", harness.hello_project("new")), (201,))
        self.assertWriteAnswer(d.request("PUT", "/projects/warm/config",
                                         harness.hello_config("warm2")), (200, 201))
        self.assertWriteAnswer(d.post("/tokens", {"scope": "read"}), (201,))
        self.assertEqual(quick_check(db), [("ok",)])
        self.assertEqual(bad_blobs(cache), [])
        self.assertTrue(d.health())

        # 3. room again: build b's end is recorded, saying why
        unfill()
        bb = d.wait_build(b, timeout=30)
        self.assertEqual(bb["status"], "failed", bb)
        self.assertRegex(bb["error"], SPACE, bb)
        print("build b failed with no room: %s" % bb["error"])
        self.assertEqual(pending_ends(d), 0)
        self.assertRegex(d.get("/metrics").text, r'mgd_http_requests_total\{[^}]*code="507"\} [1-9]')
        blog = self.assertWholeLog(d, b)
        if NO_SPACE not in blog:
            self.assertIn("log", bb["error"], bb)
        for i in [warm["id"], a, b] + slow:
            self.assertWholeLog(d, i)
        self.assertEqual(quick_check(db), [("ok",)])
        self.assertEqual(bad_blobs(cache), [])
        d.build_and_wait("warm", {"force": True})
        for i in (a, b):
            r = d.post("/builds/%d/rebuild" % i)
            self.assertEqual(r.status, 202, r)
            nb = d.wait_build(r.json["id"], timeout=120)
            self.assertEqual(nb["status"], "succeeded", d.log(nb["id"])[-3000:])
            got = d.get("/builds/%d/image" % nb["id"])
            self.assertEqual(hashlib.sha256(got.body).hexdigest(), nb["image"]["sha256"])

        # 4. a pull worker on a full disk: its image upload and its finish
        # are refused with 507 and taken once there is room
        worker = d.create_token("worker", "w")[1]
        plat = {"target": "unix", "arch": "x86_64", "toolchain": "0" * 64}

        def claim(wait_ms, toolchain):
            body = {"name": "w", "slots": 1, "wait_ms": wait_ms,
                    "platforms": [dict(plat, toolchain=toolchain)]}
            return d.post("/workers/claim", body, token=worker)

        r = claim(0, "0" * 64)
        self.assertEqual(r.status, 204, r)
        toolchain = [w for w in d.get("/workers").json
                     if w["name"] == "w"][0]["platforms"][0]["coordinator_toolchain"]
        # seen with the right toolchain: the daemon's threads leave the
        # build to it
        self.assertEqual(claim(0, toolchain).status, 204)
        c = d.start_build("warm", {"force": True})["id"]
        r = claim(10000, toolchain)
        self.assertEqual(r.status, 200, r)
        job = r.json
        self.assertEqual(job["build"], c)
        img = image + b"\0" * 16 + os.urandom(16)
        sha = hashlib.sha256(img).hexdigest()
        put = "/workers/builds/%d/image?lease=%d&sha256=%s" % (c, job["lease"], sha)
        fill()
        r = d.request("PUT", put, img, token=worker)
        self.assertWriteAnswer(r, ())
        # nothing of it is stored under its name
        self.assertFalse(os.path.exists(os.path.join(cache, "blobs", sha[:2], sha)))
        # the image the coordinator has already: its finish needs a pin
        fin = {"lease": job["lease"], "status": "succeeded", "image": warm["image"]}
        r = d.post("/workers/builds/%d/finish" % c, fin, token=worker)
        self.assertWriteAnswer(r, (200,))
        if r.status == 507:
            self.assertEqual(d.build(c)["status"], "running")
        self.assertEqual(bad_blobs(cache), [])
        unfill()
        if r.status == 507:
            r = d.post("/workers/builds/%d/finish" % c, fin, token=worker)
            self.assertEqual(r.status, 200, r)
        done = d.build(c)
        self.assertEqual(done["status"], "succeeded", done)
        self.assertEqual(d.get("/builds/%d/image" % c).body, image)
        self.assertWholeLog(d, c)


if __name__ == "__main__":
    harness.main()
