#!/usr/bin/env python3
"""The coordinator's side of pull workers (docs/workers.md), driven by a fake
worker in Python that speaks the protocol: claims (204 after wait_ms, a
toolchain never handed a build it does not match), the snapshot (a tar
python opens, with the project's files, also PUT to the remote cache), log
posts by offset (idempotent, 416 past the end), heartbeats with cancel, a
finish and a cancel racing (the log ends once, with the winner's line), the
lease (expired: queued again under the next lease, the log says so, the lost
worker's late log, heartbeat and finish get 409), image uploads (a wrong hash
or not an image refused), finish (412 without the image, then upload, then
200 and GET /builds/:id/image gives those bytes; from the remote cache
without an upload), scopes, hostile requests, many long polls at once (the
API still answers; past the claims' threads 503 with Retry-After), and the
daemon's own threads building when no worker is connected.

The shared daemon runs with a short lease (LEASE_MS) and a fake remote cache
(a small HTTP server here, in the layout of docs/remote-cache.md)."""

import hashlib
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

import harness
from harness import ApiTest

LEASE_MS = 4000
PLATFORM = {"target": "unix", "arch": "x86_64"}
F = {}


class FakeCache(http.server.ThreadingHTTPServer):
    """GET/HEAD/PUT <base>/ac|cas/<hex>, kept in memory."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), CacheHandler)
        self.entries, self.puts = {}, []
        self.lock = threading.Lock()


class CacheHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _key(self):
        parts = self.path.split("/")
        return "/".join(parts[-2:]) if len(parts) >= 3 and parts[-2] in ("ac", "cas") else None

    def _answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        key = self._key()
        with self.server.lock:
            body = self.server.entries.get(key)
        self._answer(200, body) if body is not None else self._answer(404)

    do_HEAD = do_GET

    def do_PUT(self):
        key = self._key()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if key is None:
            return self._answer(400)
        with self.server.lock:
            self.server.entries[key] = body
            self.server.puts.append(key)
        self._answer(201)


def setUpModule():
    cache = FakeCache()
    threading.Thread(target=cache.serve_forever, daemon=True).start()
    F["cache"] = cache
    d = harness.start_shared(
        extra_args=[
            "--worker-lease-timeout", str(LEASE_MS),
            "--remote-cache", "http://127.0.0.1:%d/mgd" % cache.server_address[1],
        ]
    )
    F["worker"] = d.create_token("worker", "w")[1]
    F["worker2"] = d.create_token("worker", "w2")[1]
    F["read"] = d.create_token("read", "r")[1]
    F["write"] = d.create_token("write", "wr")[1]
    d.create_project(harness.hello_project("wk"))
    # the coordinator's toolchain identity, as GET /workers shows it for a
    # platform it ignored
    r = claim(d, "probe", wait_ms=0, toolchain="0" * 64)
    assert r.status == 204, r
    probe = [w for w in d.get("/workers").json if w["name"] == "probe"][0]
    plat = probe["platforms"][0]
    assert plat["ignored"] is True, probe
    F["toolchain"] = plat["coordinator_toolchain"]
    assert harness.HEX64_RE.match(F["toolchain"] or ""), probe
    # the real image of the project, built by `mgd build` here
    F["dir"] = tempfile.mkdtemp(prefix="mgd-workers-")
    out = os.path.join(F["dir"], "hello.unix")
    env = dict(os.environ)
    cache_dir = os.environ.get("MGD_TEST_CACHE") or os.path.join(F["dir"], "cache")
    subprocess.run(
        [harness.MGD, "build", os.path.join(harness.EXAMPLES, "hello"), "--target", "unix",
         "-o", out, "--cache", cache_dir, "--jobs", "2"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=170,
    )
    with open(out, "rb") as f:
        F["image"] = f.read()


def tearDownModule():
    try:
        harness.stop_shared()
    finally:
        F["cache"].shutdown()
        import shutil

        shutil.rmtree(F.get("dir", "/nonexistent"), ignore_errors=True)


def claim(d, name, wait_ms=0, toolchain=None, platforms=None, token=None, timeout=60):
    body = {
        "name": name,
        "slots": 1,
        "wait_ms": wait_ms,
        "platforms": platforms
        or [dict(PLATFORM, toolchain=toolchain or F["toolchain"])],
    }
    return d.post("/workers/claim", body, token=token or F["worker"], timeout=timeout)


def wpath(job, what, **query):
    q = dict(lease=job["lease"])
    q.update(query)
    return "/workers/builds/%d/%s?%s" % (
        job["build"], what, "&".join("%s=%s" % kv for kv in q.items()))


class WorkerTest(ApiTest):
    def w(self, method, path, body=None, ctype=None, token=None):
        headers = {"Content-Type": ctype} if ctype else None
        return self.d.request(method, path, body, token=token or F["worker"], headers=headers)

    def take(self, name="w1", body=None):
        """A fresh build handed to worker `name`: it says it is there (so
        the daemon's threads leave the build to it), the build is queued,
        and the claim takes it."""
        self.assertStatus(claim(self.d, name), 204)
        b = self.d.start_build("wk", body or {"force": True})
        r = claim(self.d, name, wait_ms=10000)
        self.assertStatus(r, 200)
        job = r.json
        self.assertEqual(job["build"], b["id"], job)
        return job

    def log_post(self, job, offset, data, lease=None):
        return self.w("POST", wpath(job, "log", offset=offset, lease=lease or job["lease"]), data,
                      ctype="text/plain")

    def fail_job(self, job):
        r = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                   {"lease": job["lease"], "status": "failed", "error": "test over"})
        self.assertStatus(r, 200)

    # -- claims ----------------------------------------------------------

    def test_claim_answers_204_after_wait_ms(self):
        t = time.monotonic()
        r = claim(self.d, "idle", wait_ms=700)
        took = time.monotonic() - t
        self.assertStatus(r, 204)
        self.assertEqual(r.body, b"")
        self.assertGreaterEqual(took, 0.6)
        self.assertLess(took, 5)

    def test_job_and_snapshot(self):
        job = self.take()
        try:
            for k in ("build", "lease", "heartbeat_ms", "lease_timeout_ms", "log_offset",
                      "elapsed_ms"):
                self.assertIsInstance(job[k], int, k)
            self.assertEqual(job["lease_timeout_ms"], LEASE_MS)
            self.assertEqual(job["heartbeat_ms"], LEASE_MS // 3)
            self.assertEqual((job["project"], job["target"], job["arch"]), ("wk", "unix", "x86_64"))
            self.assertEqual(job["config"], harness.hello_config("hello"))
            self.assertEqual(job["keys"], {})
            self.assertIs(job["force"], True)
            self.assertRegex(job["input_hash"], harness.HEX64_RE)
            self.assertEqual(self.d.build(job["build"])["input_hash"], job["input_hash"])
            self.assertEqual(self.d.build(job["build"])["worker"], "w1")
            log = self.d.log(job["build"])
            self.assertIn("worker w1 took the build", log)
            self.assertEqual(job["log_offset"], len(log.encode()))
            r = self.w("GET", wpath(job, "sources"))
            self.assertStatus(r, 200)
            self.assertEqual(r.header("Content-Type"), "application/x-tar")
            self.assertEqual(len(r.body), job["sources"]["size"])
            self.assertEqual(hashlib.sha256(r.body).hexdigest(), job["sources"]["sha256"])
            with tarfile.open(fileobj=io.BytesIO(r.body)) as tar:
                names = tar.getnames()
                self.assertEqual(names, ["unikernel.c"])
                got = tar.extractfile("unikernel.c").read().decode()
            self.assertEqual(got, harness.hello_sources()["unikernel.c"])
            # the same bytes in the remote cache, put before the answer
            key = "cas/" + job["sources"]["sha256"]
            self.assertIn(key, F["cache"].puts)
            self.assertEqual(F["cache"].entries[key], r.body)
            # another lease gets none of it
            self.assertError(self.w("GET", wpath(job, "sources", lease=job["lease"] + 1)), 409,
                             "conflict")
            self.assertError(self.w("GET", "/workers/builds/999999/sources?lease=1"), 404,
                             "not_found")
            w = [x for x in self.d.get("/workers").json if x["name"] == "w1"][0]
            self.assertEqual(w["builds"], [job["build"]])
            self.assertIs(w["platforms"][0]["ignored"], False)
            self.assertTime(w["last_seen"])
        finally:
            self.fail_job(job)
        b = self.d.build(job["build"])
        self.assertEqual((b["status"], b["error"], b["worker"]), ("failed", "test over", "w1"))

    def test_a_mismatched_toolchain_is_never_handed_a_build(self):
        self.assertStatus(claim(self.d, "other", toolchain="1" * 64), 204)
        # a worker that matches is connected too, so the daemon's threads wait
        self.assertStatus(claim(self.d, "w1"), 204)
        b = self.d.start_build("wk", {"force": True})
        r = claim(self.d, "other", wait_ms=800, toolchain="1" * 64)
        self.assertStatus(r, 204)
        other = [w for w in self.d.get("/workers").json if w["name"] == "other"][0]
        self.assertIs(other["platforms"][0]["ignored"], True)
        self.assertEqual(other["platforms"][0]["coordinator_toolchain"], F["toolchain"])
        self.assertEqual(self.d.build(b["id"])["status"], "queued")
        # a platform the coordinator does not have at all
        r = claim(self.d, "other", platforms=[{"target": "nosuch", "arch": "x86_64",
                                               "toolchain": F["toolchain"]}])
        self.assertStatus(r, 204)
        r = claim(self.d, "w1", wait_ms=5000)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["build"], b["id"])
        self.fail_job(r.json)

    # -- log, heartbeat --------------------------------------------------

    def test_log_posts_are_idempotent_and_416_past_the_end(self):
        job = self.take()
        try:
            off = job["log_offset"]
            a, b = b"[   1.000] one\n", b"[   2.000] two\n"
            r = self.log_post(job, off, a)
            self.assertStatus(r, 200)
            self.assertEqual(r.json, {"size": off + len(a)})
            # the same post again (a retry): nothing added
            r = self.log_post(job, off, a)
            self.assertEqual(r.json, {"size": off + len(a)})
            # overlapping: only the new part is appended
            r = self.log_post(job, off, a + b)
            self.assertEqual(r.json, {"size": off + len(a) + len(b)})
            log = self.d.log(job["build"]).encode()
            self.assertEqual(log[off:], a + b)
            # past the end
            r = self.log_post(job, off + len(a) + len(b) + 10, b"x\n")
            self.assertError(r, 416, "range_not_satisfiable", "past the log")
            self.assertEqual(r.json["size"], off + len(a) + len(b))
            # an empty post says where the log is
            self.assertEqual(self.log_post(job, 0, b"").json["size"], off + len(a) + len(b))
            # more than 1 MiB in one post
            r = self.log_post(job, off, b"x" * ((1 << 20) + 1))
            self.assertError(r, 413, "payload_too_large")
        finally:
            self.fail_job(job)
        self.assertError(self.log_post(job, 0, b"late\n"), 409, "conflict")

    def test_heartbeat_says_cancel(self):
        job = self.take()
        r = self.w("POST", wpath(job, "heartbeat"))
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"cancel": False})
        self.assertStatus(self.d.post("/builds/%d/cancel" % job["build"]), 200)
        r = self.w("POST", wpath(job, "heartbeat"))
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"cancel": True})
        self.assertEqual(self.d.build(job["build"])["status"], "cancelled")
        # the log ends saying so, once, and not as an error
        log = self.d.log(job["build"]).splitlines()
        self.assertRegex(log[-1], r"^\[ *\d+\.\d{3}\] cancelled by a user$")
        self.assertEqual(len([l for l in log if "cancelled" in l]), 1, log[-5:])
        # a finish after the cancel is refused: the build has ended
        r = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                   {"lease": job["lease"], "status": "failed", "error": "x"})
        self.assertError(r, 409, "conflict")
        self.assertError(self.w("POST", wpath(job, "heartbeat", lease=job["lease"] + 1)), 409,
                         "conflict")
        self.assertError(self.w("POST", "/workers/builds/999999/heartbeat?lease=1"), 404,
                         "not_found")

    def test_a_cancel_racing_a_finish_ends_the_log_once(self):
        # the finish and the cancel at the same moment, again and again:
        # whichever the store takes writes the log's one end line
        outcomes = {}
        for _ in range(100):
            job = self.take()
            gate, res = threading.Barrier(2), {}

            def finish():
                gate.wait()
                res["finish"] = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                                       {"lease": job["lease"], "status": "failed",
                                        "error": "boom"}).status

            def cancel():
                gate.wait()
                res["cancel"] = self.d.post("/builds/%d/cancel" % job["build"]).status

            threads = [threading.Thread(target=f) for f in (finish, cancel)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            b = self.d.build(job["build"])
            ends = [l.split("] ", 1)[-1] for l in self.d.log(job["build"]).splitlines()]
            ends = [l for l in ends if l in ("worker w1: error: boom", "cancelled by a user")]
            want = {"failed": "worker w1: error: boom", "cancelled": "cancelled by a user"}
            self.assertIn(b["status"], want, b)
            self.assertEqual(ends, [want[b["status"]]], (res, b["status"]))
            # the loser hears that the build ended
            self.assertEqual(sorted(res.values()), [200, 409], res)
            outcomes[b["status"]] = outcomes.get(b["status"], 0) + 1
        sys.stderr.write("finish/cancel races won: %s\n" % outcomes)

    def test_an_expired_lease_queues_the_build_again(self):
        job = self.take("lost")
        self.assertStatus(self.log_post(job, job["log_offset"], b"[   0.500] working\n"), 200)
        # a second worker that stays in touch, so the daemon's threads leave
        # the build to it once it is queued again
        deadline = time.monotonic() + LEASE_MS / 1000 * 3
        again = None
        while time.monotonic() < deadline:
            r = claim(self.d, "w2", wait_ms=500)
            if r.status == 200:
                again = r.json
                break
        self.assertIsNotNone(again, "the build was not queued again")
        self.assertEqual(again["build"], job["build"])
        self.assertEqual(again["lease"], job["lease"] + 2)  # +1 re-queued, +1 claimed
        log = self.d.log(job["build"])
        self.assertIn("worker lost stopped answering (no heartbeat for", log)
        self.assertIn("queued again", log)
        self.assertIn("working", log)  # what came before stays
        self.assertIn("worker w2 took the build", log)
        self.assertEqual(again["log_offset"], len(log.encode()))
        # the lost worker comes back: everything under its lease is refused
        self.assertError(self.w("POST", wpath(job, "heartbeat")), 409, "conflict")
        self.assertError(self.log_post(job, again["log_offset"], b"late\n"), 409, "conflict")
        self.assertError(self.w("PUT", wpath(job, "image", sha256=hashlib.sha256(
            F["image"]).hexdigest()), F["image"]), 409, "conflict")
        r = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                   {"lease": job["lease"], "status": "failed", "error": "late"})
        self.assertError(r, 409, "conflict", "lease")
        self.assertEqual(self.d.build(job["build"])["status"], "running")
        m = self.d.get("/metrics").text
        expired = [l for l in m.splitlines() if l.startswith("mgd_worker_leases_expired_total ")]
        self.assertEqual(len(expired), 1, m)
        self.assertGreaterEqual(int(expired[0].split()[1]), 1)
        connected = [l for l in m.splitlines() if l.startswith("mgd_workers_connected ")]
        self.assertGreaterEqual(int(connected[0].split()[1]), 1, m)
        self.fail_job(again)

    def test_a_claim_whose_answer_is_lost_expires(self):
        # the worker's connection is gone before the coordinator answers
        # (a client that timed out while the build was prepared): the build
        # is leased to a worker that never heard of it, sends no heartbeat,
        # and the lease timer queues it again all the same
        self.assertStatus(claim(self.d, "ghost"), 204)
        body = json.dumps({"name": "ghost", "wait_ms": 10000, "platforms": [
            dict(PLATFORM, toolchain=F["toolchain"])]}).encode()
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"POST /workers/claim HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + F["worker"].encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.3)  # the claim waits on the claims' pool
        s.close()
        b = self.d.start_build("wk", {"force": True})
        deadline = time.monotonic() + LEASE_MS / 1000 * 4
        log = ""
        while time.monotonic() < deadline:
            log = self.d.log(b["id"])
            if "worker ghost stopped answering (no heartbeat for" in log:
                break
            time.sleep(0.2)
        self.assertIn("worker ghost took the build (lease 1)", log)
        self.assertIn("worker ghost stopped answering (no heartbeat for", log)
        self.assertIn("queued again", log)
        # it is anyone's again: with no worker in touch, the daemon's own
        # threads build it
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.d.build(b["id"])["status"] in (
                "queued", "running"):
            time.sleep(0.2)
        rec = self.d.build(b["id"])
        self.assertEqual(rec["status"], "succeeded", rec)
        self.assertIsNone(rec["worker"])

    # -- image, finish ---------------------------------------------------

    def test_image_upload_checks_hash_and_note(self):
        job = self.take()
        try:
            img = F["image"]
            good = hashlib.sha256(img).hexdigest()
            r = self.w("PUT", wpath(job, "image", sha256="0" * 64), img)
            self.assertError(r, 400, "bad_request", "sha256")
            junk = b"\x7fELF not really an image" * 10
            r = self.w("PUT", wpath(job, "image", sha256=hashlib.sha256(junk).hexdigest()), junk)
            self.assertError(r, 400, "bad_request", "not an mgd image")
            self.assertError(self.w("PUT", wpath(job, "image", sha256="abc"), img), 400,
                             "bad_request")
            self.assertError(self.w("PUT", wpath(job, "image"), img), 400, "bad_request")
            r = self.w("PUT", wpath(job, "image", sha256=good), img)
            self.assertStatus(r, 200)
            self.assertEqual(r.json, {"sha256": good, "size": len(img)})
        finally:
            self.fail_job(job)

    def test_uploads_under_one_lease_do_not_pile_up(self):
        # each upload is kept for the finish, replacing the one before: only
        # the image the finish names reaches the blob store (before, every
        # upload went there, and a worker could fill the disk, 256 MiB at a
        # time, with images no build names)
        cache = self.d.cache or os.path.join(self.d.data, "cache")

        def stored(sha):
            return os.path.exists(os.path.join(cache, "blobs", sha[:2], sha))

        job = self.take()
        try:
            imgs = [F["image"] + b"\0" * 16 + os.urandom(16) for _ in range(3)]
            shas = [hashlib.sha256(i).hexdigest() for i in imgs]
            for img, sha in zip(imgs, shas):
                self.assertStatus(self.w("PUT", wpath(job, "image", sha256=sha), img), 200)
            for sha in shas:
                self.assertFalse(stored(sha), "an upload no finish named is in the blob store")
            path = "/workers/builds/%d/finish" % job["build"]
            fin = {"lease": job["lease"], "status": "succeeded",
                   "image": {"name": "hello.unix", "sha256": shas[0], "size": len(imgs[0])}}
            # the first upload was replaced: the coordinator no longer has it
            self.assertError(self.w("POST", path, fin), 412, "precondition_failed")
            fin["image"] = {"name": "hello.unix", "sha256": shas[2], "size": len(imgs[2])}
            self.assertStatus(self.w("POST", path, fin), 200)
            self.assertTrue(stored(shas[2]))
            self.assertFalse(stored(shas[0]) or stored(shas[1]))
            self.assertEqual(self.d.get("/builds/%d/image" % job["build"]).body, imgs[2])
        except BaseException:
            self.fail_job(job)
            raise

    def test_an_image_for_another_target_is_refused(self):
        spt = [t for t in self.d.get("/targets").json if t["name"] == "spt"]
        arches = spt[0].get("arches", []) if spt else []
        if not any(a.get("name") == "x86_64" and a.get("available") for a in arches):
            self.skipTest("target spt/x86_64 is not available here")
        self.assertStatus(claim(self.d, "w1", platforms=[
            {"target": "spt", "arch": "x86_64", "toolchain": "0" * 64}]), 204)
        spt_tc = [w for w in self.d.get("/workers").json
                  if w["name"] == "w1"][0]["platforms"][0]["coordinator_toolchain"]
        plats = [{"target": "spt", "arch": "x86_64", "toolchain": spt_tc}]
        self.assertStatus(claim(self.d, "w1", platforms=plats), 204)
        b = self.d.start_build("wk", {"target": "spt", "force": True})
        r = claim(self.d, "w1", wait_ms=10000, platforms=plats)
        self.assertStatus(r, 200)
        job = r.json
        self.assertEqual(job["build"], b["id"])
        try:
            img = F["image"]
            r = self.w("PUT", wpath(job, "image", sha256=hashlib.sha256(img).hexdigest()), img)
            self.assertError(r, 400, "bad_request", "unix/x86_64")
        finally:
            self.fail_job(job)

    def test_finish_needs_the_image(self):
        img = F["image"]
        sha = hashlib.sha256(img).hexdigest()
        # the daemon must not have it already (an earlier test uploaded it,
        # into the shared blob store): a copy with other bytes at the end
        # is still the image of hello, with another hash
        img = img + b"\0" * 16 + os.urandom(16)
        sha = hashlib.sha256(img).hexdigest()
        job = self.take()
        fin = {"lease": job["lease"], "status": "succeeded", "actions": 24, "hits": 20,
               "misses": 4, "image": {"name": "hello.unix", "sha256": sha, "size": len(img)},
               "remote": {"hits": 1, "misses": 2, "errors": 0, "bytes_down": 5, "bytes_up": 6}}
        path = "/workers/builds/%d/finish" % job["build"]
        r = self.w("POST", path, fin)
        e = self.assertError(r, 412, "precondition_failed", "/workers/builds/%d/image"
                             % job["build"])
        self.assertIn(sha, e["message"])
        self.assertEqual(self.d.build(job["build"])["status"], "running")
        self.assertStatus(self.w("PUT", wpath(job, "image", sha256=sha), img), 200)
        bad = dict(fin, image=dict(fin["image"], size=len(img) + 1))
        self.assertError(self.w("POST", path, bad), 400, "bad_request", "bytes")
        r = self.w("POST", path, fin)
        self.assertStatus(r, 200)
        b = r.json
        self.assertEqual(b["status"], "succeeded")
        self.assertEqual(b["worker"], "w1")
        self.assertEqual(b["image"], {"name": "hello.unix", "size": len(img), "sha256": sha})
        self.assertEqual(b["cache"]["actions"], 24)
        self.assertEqual(b["cache"]["remote"]["bytes_up"], 6)
        # the toolchain the claim matched: the worker's, the coordinator's
        self.assertEqual(b["toolchain"], F["toolchain"])
        got = self.d.get("/builds/%d/image" % job["build"])
        self.assertStatus(got, 200)
        self.assertEqual(got.body, img)
        self.assertIn("worker w1: succeeded", self.d.log(job["build"]))
        # a second finish: the build has ended
        self.assertError(self.w("POST", path, fin), 409, "conflict")

    def test_finish_takes_the_image_from_the_remote_cache(self):
        img = F["image"] + b"\0" * 16 + os.urandom(16)
        sha = hashlib.sha256(img).hexdigest()
        with F["cache"].lock:
            F["cache"].entries["cas/" + sha] = img
        job = self.take()
        r = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                   {"lease": job["lease"], "status": "succeeded",
                    "image": {"name": "hello.unix", "sha256": sha, "size": len(img)}})
        self.assertStatus(r, 200)
        self.assertEqual(self.d.get("/builds/%d/image" % job["build"]).body, img)
        # a tampered entry is not taken
        img2 = F["image"] + os.urandom(32)
        sha2 = hashlib.sha256(img2).hexdigest()
        with F["cache"].lock:
            F["cache"].entries["cas/" + sha2] = img2[:-1] + b"!"
        job = self.take()
        r = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                   {"lease": job["lease"], "status": "succeeded",
                    "image": {"name": "hello.unix", "sha256": sha2, "size": len(img2)}})
        self.assertError(r, 412, "precondition_failed")
        self.fail_job(job)

    # -- scopes, hostile requests ------------------------------------------

    def test_scopes(self):
        for scope in ("read", "write"):
            r = claim(self.d, "x", token=F[scope])
            self.assertError(r, 403, "forbidden", "worker")
            r = self.d.post("/workers/builds/1/heartbeat?lease=1", token=F[scope])
            self.assertError(r, 403, "forbidden")
        for path in ("/projects", "/builds", "/workers", "/metrics"):
            self.assertError(self.d.get(path, token=F["worker"]), 403, "forbidden")
        self.assertError(self.d.post("/projects/wk/build", {}, token=F["worker"]), 403,
                         "forbidden")
        self.assertError(claim(self.d, "x", token="mgd_" + "A" * 43), 401, "unauthorized")
        # admin may act as a worker; read may list the workers
        self.assertStatus(claim(self.d, "x", token=self.d.admin_token), 204)
        self.assertStatus(self.d.get("/workers", token=F["read"]), 200)

    def test_hostile_claims(self):
        d = self.d
        good = {"name": "h", "wait_ms": 0,
                "platforms": [dict(PLATFORM, toolchain=F["toolchain"])]}

        def bad(body, mentions=None, status=400, code="bad_request", **kw):
            r = d.request("POST", "/workers/claim", body, token=F["worker"], **kw)
            self.assertError(r, status, code, mentions)

        bad(b"{not json", headers={"Content-Type": "application/json"})
        bad(b"[1]", headers={"Content-Type": "application/json"})
        bad(dict(good, extra=1), "extra")
        bad(dict(good, name="x" * 200), "name")
        bad(dict(good, name=""), "name")
        bad(dict(good, name="a/b"), "name")
        bad(dict(good, wait_ms=30001), "wait_ms")
        bad(dict(good, wait_ms=-1), "wait_ms")
        bad(dict(good, wait_ms="5"), "wait_ms")
        bad(dict(good, slots=0), "slots")
        bad(dict(good, platforms=[]), "platforms")
        bad(dict(good, platforms=[good["platforms"][0]] * 65), "platforms")
        bad(dict(good, platforms=[1]), "platforms[0]")
        bad(dict(good, platforms=[dict(PLATFORM)]), "toolchain")
        bad(dict(good, platforms=[dict(PLATFORM, toolchain="A" * 64)]), "toolchain")
        bad(dict(good, platforms=[dict(PLATFORM, toolchain=F["toolchain"], x=1)]), "x")
        bad(dict(good, platforms=[dict(PLATFORM, target="../x", toolchain=F["toolchain"])]),
            "target")
        bad(dict(good, platforms=[dict(PLATFORM, arch="x" * 100, toolchain=F["toolchain"])]),
            "arch")
        bad(None)
        bad(json.dumps(good), status=415, code="unsupported_media_type",
            headers={"Content-Type": "text/plain"})
        self.assertStatus(claim(d, "h"), 204)

    def test_another_token_cannot_act_under_the_lease(self):
        # a lease is a small integer: a second worker token that guesses it
        # must not read the snapshot, write the log, keep the lease, upload
        # or finish the build
        job = self.take()
        try:
            other = F["worker2"]
            self.assertError(self.w("GET", wpath(job, "sources"), token=other), 409, "conflict",
                             "another worker token")
            r = self.w("POST", wpath(job, "log", offset=job["log_offset"]), b"forged\n",
                       ctype="text/plain", token=other)
            self.assertError(r, 409, "conflict")
            self.assertError(self.w("POST", wpath(job, "heartbeat"), token=other), 409,
                             "conflict")
            img = F["image"]
            r = self.w("PUT", wpath(job, "image", sha256=hashlib.sha256(img).hexdigest()), img,
                       ctype="application/octet-stream", token=other)
            self.assertError(r, 409, "conflict")
            r = self.w("POST", "/workers/builds/%d/finish" % job["build"],
                       {"lease": job["lease"], "status": "failed", "error": "forged"}, token=other)
            self.assertError(r, 409, "conflict")
            self.assertEqual(self.d.build(job["build"])["status"], "running")
            self.assertNotIn(b"forged", self.d.get("/builds/%d/log" % job["build"]).body)
        finally:
            self.fail_job(job)

    def test_hostile_lease_bound_requests(self):
        job = self.take()
        try:
            b = job["build"]
            for q in ("lease=abc", "lease=-1", "lease=0", "lease=", "", "lease=1e3",
                      "lease=99999999999999999999"):
                r = self.w("POST", "/workers/builds/%d/heartbeat?%s" % (b, q))
                self.assertError(r, 400, "bad_request", "lease")
            for off in ("-1", "abc", "", "1.5"):
                r = self.w("POST", "/workers/builds/%d/log?lease=%d&offset=%s"
                           % (b, job["lease"], off), b"x\n")
                self.assertError(r, 400, "bad_request", "offset")
            self.assertError(self.w("POST", "/workers/builds/abc/heartbeat?lease=1"), 404,
                             "not_found")
            path = "/workers/builds/%d/finish" % b
            for body in ({"lease": job["lease"], "status": "done"},
                         {"lease": job["lease"], "status": "failed"},
                         {"lease": job["lease"], "status": "succeeded"},
                         {"lease": job["lease"], "status": "failed", "error": "x", "y": 1},
                         {"lease": "1", "status": "failed", "error": "x"},
                         {"lease": 0, "status": "failed", "error": "x"},
                         {"lease": job["lease"], "status": "failed", "error": "x", "hits": -1},
                         {"lease": job["lease"], "status": "succeeded",
                          "image": {"name": "../x", "sha256": "0" * 64, "size": 1}},
                         {"lease": job["lease"], "status": "succeeded",
                          "image": {"name": "x", "sha256": "0" * 64, "size": 0}},
                         {"lease": job["lease"], "status": "failed", "error": "x",
                          "remote": {"hits": 1, "z": 2}}):
                self.assertError(self.w("POST", path, body), 400, "bad_request")
            self.assertError(self.w("POST", path, b"{", ctype="application/json"), 400,
                             "bad_request")
            self.assertError(self.w("POST", path), 400, "bad_request")
            self.assertEqual(self.d.build(b)["status"], "running")
        finally:
            self.fail_job(job)

    # -- long polls ------------------------------------------------------

    def test_long_polls_leave_the_api_answering(self):
        n = 8
        results = [None] * n

        def poll(i):
            results[i] = claim(self.d, "poll%d" % i, wait_ms=3000, toolchain="2" * 64, timeout=30)

        threads = [threading.Thread(target=poll, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        for _ in range(5):
            t0 = time.monotonic()
            r = self.d.get("/projects")
            self.assertStatus(r, 200)
            self.assertLess(time.monotonic() - t0, 1.0)
        for t in threads:
            t.join(30)
        self.assertEqual([r.status for r in results], [204] * n)

    def test_past_the_claims_threads_503(self):
        n = 20  # more than MG_CLAIMPOOL_THREADS (16)
        results = [None] * n

        def poll(i):
            results[i] = claim(self.d, "many%d" % i, wait_ms=3000, toolchain="2" * 64, timeout=30)

        threads = [threading.Thread(target=poll, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        busy = [r for r in results if r.status == 503]
        self.assertGreaterEqual(len(busy), n - 16, results)
        for r in busy:
            self.assertError(r, 503, "unavailable", "try again")
            self.assertEqual(r.header("Retry-After"), "2")
        self.assertEqual(sorted(set(r.status for r in results)), [204, 503])

    # -- no worker -------------------------------------------------------

    def test_zz_without_a_worker_the_daemon_builds(self):
        # no request of a worker for longer than the lease: none is connected
        time.sleep(LEASE_MS / 1000 + 0.5)
        m = self.d.get("/metrics").text
        self.assertIn("\nmgd_workers_connected 0\n", m)
        self.assertEqual(self.d.get("/workers").json, [])
        b = self.d.build_and_wait("wk", {"force": True})
        self.assertIsNone(b["worker"])
        self.assertNotIn("took the build", self.d.log(b["id"]))


class StopTest(ApiTest):
    """Stopping the daemon during a long poll: the claim is answered (503)
    and the daemon exits at once, not after wait_ms."""

    def test_stop_during_a_long_poll(self):
        d = harness.Daemon()
        d.start()
        try:
            tok = d.create_token("worker", "s")[1]
            out = {}

            def poll():
                try:
                    out["r"] = d.post("/workers/claim", {
                        "name": "s", "wait_ms": 30000,
                        "platforms": [dict(PLATFORM, toolchain="3" * 64)]}, token=tok, timeout=40)
                except Exception as e:  # noqa: BLE001 - a closed connection is fine too
                    out["e"] = e

            t = threading.Thread(target=poll)
            t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            d.stop(timeout=10)
            self.assertLess(time.monotonic() - t0, 5)
            t.join(10)
            if "r" in out:
                self.assertEqual(out["r"].status, 503, out["r"])
        finally:
            d.finish()

    def test_stop_while_a_claim_fetches(self):
        """A claim preparing a build whose remote never answers: stopping
        the daemon kills the fetch, the daemon exits at once, and the build
        is queued again (nobody got it), with a line in its log."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        held, stop = [], threading.Event()

        def serve():
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(srv.accept()[0])  # read nothing, answer nothing
                except socket.timeout:
                    pass
                except OSError:
                    return

        threading.Thread(target=serve, daemon=True).start()
        d = harness.Daemon(workers=1)
        d.start()
        try:
            tok = d.create_token("worker", "s")[1]
            url = "http://127.0.0.1:%d/stall.git" % srv.getsockname()[1]
            d.create_project({"name": "stall", "config": harness.printer_config("stall"),
                              "repo": {"url": url}})
            self.assertStatus(d.post("/workers/claim", {"name": "s", "wait_ms": 0, "platforms": [
                dict(PLATFORM, toolchain="0" * 64)]}, token=tok), 204)
            plat = [dict(PLATFORM, toolchain=[w for w in d.get("/workers").json][0][
                "platforms"][0]["coordinator_toolchain"])]
            self.assertStatus(d.post("/workers/claim", {"name": "s", "wait_ms": 0,
                                                        "platforms": plat}, token=tok), 204)
            b = d.start_build("stall")
            out = {}

            def poll():
                try:
                    out["r"] = d.post("/workers/claim", {"name": "s", "wait_ms": 30000,
                                                         "platforms": plat}, token=tok, timeout=40)
                except Exception as e:  # noqa: BLE001 - a closed connection is fine too
                    out["e"] = e

            t = threading.Thread(target=poll)
            t.start()
            # the claim took it and fetches (the fetch's lines come when it ends)
            got = d.wait_build(b["id"], statuses=("running",) + harness.TERMINAL, timeout=20)
            self.assertEqual((got["status"], got["worker"]), ("running", "s"))
            deadline = time.monotonic() + 10
            while len(held) < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertTrue(held, "the fetch never connected")
            time.sleep(0.5)
            t0 = time.monotonic()
            d.stop(timeout=10)
            self.assertLess(time.monotonic() - t0, 5)
            t.join(10)
            if "r" in out:
                self.assertEqual(out["r"].status, 503, out["r"])
            d.start()
            got = d.build(b["id"])
            self.assertIn(got["status"], ("queued", "running"), got)
            self.assertIn("while preparing the build; queued again", d.log(b["id"]))
        finally:
            stop.set()
            srv.close()
            for c in held:
                c.close()
            d.finish()


if __name__ == "__main__":
    harness.main()
