#!/usr/bin/env python3
"""Pull workers end to end, on loopback: a coordinator (`mgd serve` with a
short --worker-lease-timeout) and two `mgd worker`s with a token of scope
worker (docs/cli.md, "mgd worker"; docs/api.md, the /workers routes).

  1. ten builds of examples (several targets, distinct keys so none is a
     reuse) spread over both workers: each ran at least one (the build
     record's "worker"), every image's sha256 is a local `mgd build`'s, and
     without a shared cache the images were uploaded to the coordinator;
  2. kill -9 of a worker during a build: the build is queued again after
     the lease and succeeds on the other worker; the lost worker's finish,
     replayed with curl and its old lease while the build runs elsewhere,
     gets 409;
  3. cancel of a build running on a worker reaches it: no process of the
     build is left, the worker goes on;
  4. a wrong token: the worker exits 1 at once;
  5. with a shared cache (nginx on loopback, its WebDAV config as in
     docs/remote-cache.md) on the coordinator and the workers: the snapshot
     and the image travel through /cas/ (nginx's access log), nothing is
     uploaded to the coordinator. Skipped (noted) without nginx.
usage: workers.py MGD
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import harness  # noqa: E402

MGD = harness.MGD = os.path.abspath(sys.argv[1])
CACHE = os.environ.get("MGD_CACHE")
LEASE_MS = 1500
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Worker:
    started = []  # every Worker made, for the failure report
    def __init__(self, work, url, name, token, *extra):
        self.name = name
        self.data = os.path.join(work, name)
        tok = os.path.join(work, name + ".token")
        with open(tok, "w") as f:
            f.write(token + "\n")
        os.chmod(tok, 0o600)
        argv = [MGD, "worker", "--coordinator", url, "--token-file", tok, "--name", name,
                "--data", self.data] + (["--cache", CACHE] if CACHE else []) + list(extra)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        Worker.started.append(self)  # every worker's stderr is printed on a failure
        self.lines = []
        threading.Thread(target=lambda: [self.lines.append(l) for l in self.proc.stderr],
                         daemon=True).start()

    def text(self):
        return "".join(self.lines)

    def kids(self):
        return harness.descendants(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def available_targets(d):
    """(target, arch) pairs the coordinator can build for the host arch."""
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(os.uname().machine, "x86_64")
    out = []
    for t in d.get("/targets").json:
        for a in t.get("arches", []):
            name = a.get("name") if isinstance(a, dict) else a
            ok = a.get("available", True) if isinstance(a, dict) else True
            if name == arch and ok:
                out.append((t["name"], name))
    return out or [("unix", arch)]


def local_sha(target, arch, name, work):
    """The sha256 of `mgd build` of examples/hello named `name`."""
    src = os.path.join(work, "local-" + name)
    if not os.path.isdir(src):
        harness.hello_tree(src, name)
    out = os.path.join(work, "ref-%s-%s-%s" % (name, target, arch))
    argv = [MGD, "build", src, "--target", target, "--arch", arch, "-o", out] + \
        (["--cache", CACHE] if CACHE else [])
    r = subprocess.run(argv, capture_output=True, text=True)
    return r.stdout.split()[0] if r.returncode == 0 else "local build failed: " + r.stderr[-300:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_nginx(work):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        return None, None, None
    ng = os.path.join(work, "nginx")
    for sub in ("logs", "tmp", "store"):
        os.makedirs(os.path.join(ng, sub))
    os.chmod(work, 0o755)
    if os.getuid() == 0:
        shutil.chown(os.path.join(ng, "store"), "nobody")
        shutil.chown(os.path.join(ng, "tmp"), "nobody")
    port = free_port()
    conf = """daemon off;
pid %(ng)s/nginx.pid;
error_log %(ng)s/logs/error.log;
worker_processes 1;
events { worker_connections 256; }
http {
  log_format rc '$remote_addr "$request" $status';
  access_log %(ng)s/logs/access.log rc;
  client_body_temp_path %(ng)s/tmp;
  proxy_temp_path %(ng)s/tmp; fastcgi_temp_path %(ng)s/tmp;
  uwsgi_temp_path %(ng)s/tmp; scgi_temp_path %(ng)s/tmp;
  server {
    listen 127.0.0.1:%(port)d;
    root %(ng)s/store;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 1g;
      limit_except GET HEAD { allow 127.0.0.1; deny all; }
    }
  }
}
""" % {"ng": ng, "port": port}
    with open(os.path.join(ng, "nginx.conf"), "w") as f:
        f.write(conf)
    p = subprocess.Popen([nginx, "-p", ng, "-c", os.path.join(ng, "nginx.conf")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if not wait_for(lambda: _connects(port), 10):
        p.kill()
        return None, None, None
    return p, "http://127.0.0.1:%d/mgd" % port, os.path.join(ng, "logs", "access.log")


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def main():
    work = tempfile.mkdtemp(prefix="mgd-workers-")
    os.environ.setdefault("MGD_TEST_CACHE", CACHE or "")
    workers, daemons, nginx, gone = [], [], None, []
    try:
        d = harness.Daemon(extra_args=["--worker-lease-timeout", str(LEASE_MS)], workers=1,
                           cache=None)
        d.seed_cache()  # its own cache: an image it has came from a worker
        d.start()
        daemons.append(d)
        url = "http://127.0.0.1:%d" % d.port
        _, token = d.create_token("worker", "workers-test")
        _, read_token = d.create_token("read", "reader")
        r = d.request("POST", "/workers/claim", {"name": "x", "platforms": []}, token=read_token)
        check(r.status == 403, "a read token may not claim (%d)" % r.status)

        w1 = Worker(work, url, "w1", token)
        w2 = Worker(work, url, "w2", token)
        workers += [w1, w2]
        ok = wait_for(lambda: all(n in d.get("/workers").text for n in ('"w1"', '"w2"')), 30)
        check(ok, "GET /workers shows both workers")

        # 1. ten builds over several targets
        pairs = available_targets(d)
        builds = []
        for i in range(10):
            # ten projects named apart: ten different inputs, no reuse
            target, arch = pairs[i % len(pairs)]
            name = "hello%d" % i
            d.create_project(harness.hello_project(name, config_name=name))
            b = d.start_build(name, {"target": target, "arch": arch})
            builds.append((b["id"], target, arch, name))
        done = [d.wait_build(bid, timeout=120) for bid, _, _, _ in builds]
        check(all(b["status"] == "succeeded" for b in done),
              "1: ten builds succeeded (%s)" % sorted({b["status"] for b in done}))
        ran = {b.get("worker") for b in done}
        check({"w1", "w2"} <= ran, "1: both workers ran builds (%s)" % sorted(map(str, ran)))
        check(len({t for _, t, _, _ in builds}) >= min(2, len(pairs)),
              "1: on several targets (%s)" % sorted({"%s/%s" % (t, a) for _, t, a, _ in builds}))
        same = True
        for (bid, target, arch, msg), b in zip(builds, done):
            want = local_sha(target, arch, msg, work)
            got = (b.get("image") or {}).get("sha256")
            if got != want:
                same = False
                print("  build %d %s/%s: %s, local %s" % (bid, target, arch, got, want))
        check(same, "1: every image's sha256 is a local mgd build's")
        logs = [d.log(bid) for bid, _, _, _ in builds]
        check(all("uploaded to the coordinator" in l for l in logs),
              "1: without a shared cache the images were uploaded")
        img = d.get("/builds/%d/image" % builds[0][0])
        check(img.status == 200 and hashlib.sha256(img.body).hexdigest() ==
              done[0]["image"]["sha256"], "1: the coordinator serves the uploaded image")

        # 2. kill -9 of a worker during a build
        d.create_project(harness.slow_project("slowkill", blocks=3))
        bid = d.start_build("slowkill")["id"]
        running = wait_for(lambda: (lambda b: b if b["status"] == "running" and b.get("worker")
                                    else None)(d.build(bid)), 60)
        victim = next((w for w in workers if running and w.name == running.get("worker")), None)
        check(victim is not None, "2: the slow build runs on a worker (%s)" %
              (running or {}).get("worker"))
        if victim:
            other = w2 if victim is w1 else w1
            wait_for(lambda: victim.kids(), 30)
            m = re.search(r"build %d \([^)]*\): started, lease (\d+)" % bid, victim.text())
            old_lease = int(m.group(1)) if m else None
            kids = victim.kids()
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            harness.kill_pids([(k, "") for k in kids])  # its compilers, as a crash would
            moved = wait_for(lambda: (lambda b: b if b.get("worker") == other.name and
                                      b["status"] == "running" else None)(d.build(bid)),
                             LEASE_MS / 1000 + 30)
            check(moved, "2: after the lease the build runs on %s" % other.name)
            late = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                 "-H", "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
                 "--data", json.dumps({"lease": old_lease, "status": "failed",
                                       "error": "late", "actions": 0, "hits": 0, "misses": 0}),
                 url + "/workers/builds/%d/finish" % bid], capture_output=True, text=True)
            check(old_lease is not None and late.stdout == "409",
                  "2: the lost worker's late finish (lease %s) gets 409 (%s)" %
                  (old_lease, late.stdout))
            b = d.wait_build(bid, timeout=300)
            check(b["status"] == "succeeded" and b.get("worker") == other.name,
                  "2: the build succeeded on %s (%s)" % (other.name, b["status"]))
            check("stopped answering" in d.log(bid), "2: the log says the worker stopped answering")
            workers.remove(victim)
            gone.append(victim)
            w3 = Worker(work, url, victim.name + "b", token)
            workers.append(w3)

        # 3. cancel reaches the worker
        d.create_project(harness.slow_project("slowcancel", blocks=3))
        bid = d.start_build("slowcancel")["id"]
        running = wait_for(lambda: (lambda b: b if b["status"] == "running" and b.get("worker")
                                    else None)(d.build(bid)), 60)
        w = next((x for x in workers if running and x.name == running.get("worker")), None)
        check(w is not None and wait_for(lambda: w.kids(), 30), "3: the build runs a compiler")
        if w:
            kids = w.kids()
            r = d.post("/builds/%d/cancel" % bid)
            check(r.status in (200, 202), "3: cancel (%d)" % r.status)
            # The worker hears of it in a heartbeat (every lease/3). Until
            # then the build goes on, and the processes seen at the cancel
            # may end by themselves and the next action's start: so wait
            # for the worker to say it stopped, then for its processes to
            # be gone (30 s leaves room for a loaded sanitizer build).
            wait_for(lambda: "cancelled" in w.text(), 30)
            ended = wait_for(lambda: not [k for k in kids | w.kids() if alive(k)], 30)
            check(ended, "3: no compiler of the cancelled build is left")
            check(w.proc.poll() is None and "cancelled" in w.text(),
                  "3: the worker says so and goes on")

        # 4. a wrong token
        t0 = time.time()
        bad = Worker(work, url, "bad", "not-a-token")
        try:
            rc = bad.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 1 and time.time() - t0 < 10 and "refuses the token" in bad.text(),
              "4: a wrong token: exit 1 at once (%s)" % rc)

        for w in workers:
            check(w.stop() == 0, "%s: SIGTERM: exit 0" % w.name)
        workers = []
        d.stop()

        # 5. the shared cache
        nginx, rc_url, access = start_nginx(work)
        if not nginx:
            print("skip 5: nginx is not installed or does not start (scripts/deps.sh)")
        else:
            d2 = harness.Daemon(extra_args=["--worker-lease-timeout", str(LEASE_MS),
                                            "--remote-cache", rc_url], workers=1, cache=None)
            d2.seed_cache()
            d2.start()
            daemons.append(d2)
            url2 = "http://127.0.0.1:%d" % d2.port
            _, token2 = d2.create_token("worker")
            w = Worker(work, url2, "wc", token2, "--remote-cache", rc_url)
            workers.append(w)
            wait_for(lambda: "wc" in d2.get("/workers").text, 30)
            # new sources and a new name: no cache of an earlier run has
            # the snapshot or the image
            nonce = "%d%d" % (time.time() * 1000, os.getpid())
            proj = harness.hello_project("hellorc", config_name="rc" + nonce)
            proj["sources"]["nonce.txt"] = nonce
            d2.create_project(proj)
            b = d2.build_and_wait("hellorc", timeout=300)
            log = d2.log(b["id"])
            sha = b["image"]["sha256"]
            acc = open(access).read()
            check(b.get("worker") == "wc", "5: the worker ran the build")
            check("put in the shared cache" in log and "uploaded to the coordinator" not in log,
                  "5: the image went to the shared cache, not up to the coordinator")
            check(re.search(r'"PUT /mgd/cas/%s HTTP' % sha, acc) and
                  re.search(r'"GET /mgd/cas/%s HTTP[^"]*" 200' % sha, acc),
                  "5: nginx saw the image PUT (worker) and GET (coordinator)")
            check("from the shared cache" in log, "5: the snapshot came from /cas/")
            img = d2.get("/builds/%d/image" % b["id"])
            check(img.status == 200 and hashlib.sha256(img.body).hexdigest() == sha,
                  "5: the coordinator serves the image")
    except AssertionError as e:
        failures.append(str(e)[:200])
        print("FAIL %s" % e, flush=True)
    finally:
        if failures:
            for w in Worker.started:
                print("--- %s's stderr:\n%s" % (w.name, w.text()[-3000:]))
            for d in daemons:
                print("--- the coordinator's stderr:\n%s" % d.stderr_text()[-3000:])
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
        for d in daemons:
            try:
                d.stop()
            except Exception as e:  # noqa: BLE001
                print("daemon stop: %s" % e)
            d.cleanup()
        if nginx:
            # the master stops its workers (a SIGKILL would leave them)
            nginx.terminate()
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
        if os.environ.get("MGD_TEST_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    print("%d failure%s" % (len(failures), "" if len(failures) == 1 else "s"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
