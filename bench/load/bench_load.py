#!/usr/bin/env python3
"""bench/load: 1,000 followers of running builds' logs (server-sent events)
and `wrk` on GET /builds/:id while building; the daemon's resident memory
before, during and after (issue 19).

usage: bench_load.py MGD [--followers N] [--builds N] [--files N]
                         [--duration S] [--connections N] [--threads N]
                         [--rounds N] [--max-kib-per-follower K]

Starts `MGD serve` on a fresh data directory with the connection limits a
user serving that many followers from one address sets:
  --max-connections (followers + wrk's connections + 64) x 8/7
  --per-ip          (the same: every client here is 127.0.0.1)
so that the streams and wrk's connections stay under 7/8 of the limit
(near the limit the daemon closes connections waiting for a request to make
room, and never closes a stream for it: docs/api.md). Each follower costs
the daemon two descriptors, its socket and the log file it streams: the
daemon raises its soft limit of open files to match --max-connections
(docs/daemon.md, "Limits"), and this bench needs the hard limit to allow
it (it raises its own soft limit, for its sockets).

Then, per round:
  1. `--builds` projects are built, forced (so that they compile whatever
     the cache holds): `--files` small files, which give the log a line or
     two each, then one that takes minutes; a round starts once only that
     one compiles (the log has not grown for 2 s);
  2. `wrk -tT -cC -dDs --latency` on GET /builds/:id of one of them, with
     no follower: the baseline;
  3. `--followers` raw connections follow the running builds' logs, spread
     over them (Accept: text/event-stream), until each has caught up (read
     as many bytes as the log has); mgd_log_streams (GET /metrics) must
     say as many;
  4. `wrk` again, the same, with every follower open and reading;
  5. the builds are cancelled: every follower must get the `end` event of
     its build (then it closes), and mgd_log_streams must be back to 0.
The daemon's VmRSS is sampled every 100 ms throughout, each phase's
highest printed: before (the builds running), with wrk alone, with the
followers alone (and what that costs per follower), with both, after (2 s
after the last follower closed); and VmHWM, the process's peak. Prints
requests/s and latency (p50, p99) with and without followers; exit 1 when
a follower was not served (not caught up, no end event, cut), when wrk saw
errors or non-2xx answers, or when the memory per follower passes
--max-kib-per-follower (bounded: a leak or a per-stream buffer shows
there).
"""
import argparse
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from mgd_bench import BenchError, parse_metrics, run_with_daemon  # noqa: E402

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}

# about 2.7 s of gcc -O2 per block of 1000 functions; a build of `blocks`
# blocks compiles for minutes at nice 19 beside wrk, longer than a round
SLOW_C = """#include <stdint.h>
/* %s */
#define F(i) uint64_t f##i(uint64_t x); uint64_t f##i(uint64_t x) { uint64_t a = x * i##u; \\
    for (int k = 0; k < (int)(i %% 7u) + 3; k++) \\
        a = (a ^ (a >> (i %% 13u + 1u))) * 0x9e3779b97f4a7c15u + i##u; \\
    return a + i##u; }
#define F10(i) F(i##0) F(i##1) F(i##2) F(i##3) F(i##4) F(i##5) F(i##6) F(i##7) F(i##8) F(i##9)
#define F100(i) F10(i##0) F10(i##1) F10(i##2) F10(i##3) F10(i##4) \\
    F10(i##5) F10(i##6) F10(i##7) F10(i##8) F10(i##9)
#define F1000(i) F100(i##0) F100(i##1) F100(i##2) F100(i##3) F100(i##4) \\
    F100(i##5) F100(i##6) F100(i##7) F100(i##8) F100(i##9)
%s
"""

MAIN_C = """#include "mg/console.h"
int load_start(mg_console *console);
int load_start(mg_console *console) { mg_console_printf(console, "load\\n"); return 0; }
"""


def slow_project(name, files, blocks=40):
    """A project whose build compiles `files` small files (a log line or
    two each: a long log for the followers to catch up on) and one file
    that takes minutes."""
    small = ["src/f%03d.c" % i for i in range(files)]
    config = {"mgd": 1, "name": name,
              "devices": {"main": {"main": "load_start", "type": "console -> job",
                                   "sources": ["main.c", "slow.c"] + small}},
              "jobs": [{"apply": "main", "to": ["default_console"]}]}
    body = "\n".join("F1000(%d)" % (i + 1) for i in range(blocks))
    sources = {"main.c": MAIN_C, "slow.c": SLOW_C % (name, body)}
    for i, path in enumerate(small):
        sources[path] = ("unsigned f%03d(unsigned x);\nunsigned f%03d(unsigned x) { return x * %du; }\n"
                         % (i, i, i + 3))
    return config, sources


def vm(pid):
    """{"VmRSS": KiB, "VmHWM": KiB} of process `pid`."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1])
    return out


class RssSampler(threading.Thread):
    """VmRSS of the daemon every 100 ms, each sample tagged with the phase
    the main thread says it is in."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples = pid, "start", []
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                self.samples.append((self.phase, vm(self.pid)["VmRSS"]))
            except OSError:
                return
            time.sleep(0.1)

    def peak(self, phase):
        v = [kib for p, kib in self.samples if p == phase]
        return max(v) if v else 0


class Followers(threading.Thread):
    """Raw connections following build logs as server-sent events, read by
    one thread (selectors): each counts as `started` at its first event
    (the stream's opening comment) and `ended` at its `end` event, when it
    closes. A connection the daemon closes before its end is `cut`."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.sel = selectors.DefaultSelector()
        self.state = {}  # socket -> [bytes seen tail, started, ended]
        self.started = self.caught_up = self.ended = self.cut = self.bytes = 0
        self.end_statuses = {}
        self.stop_flag = threading.Event()

    def add(self, build_id, log_size):
        """Before start(): one more follower of build `build_id`, caught up
        once it received as many bytes as the log has now."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(("GET /builds/%d/log HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
                   "Accept: text/event-stream\r\n\r\n" % (build_id, self.token)).encode())
        s.setblocking(False)
        self.state[s] = [b"", False, False, log_size]
        self.sel.register(s, selectors.EVENT_READ)

    def run(self):
        while not self.stop_flag.is_set() and self.state:
            for key, _ in self.sel.select(timeout=0.05):
                self.read(key.fileobj)

    def read(self, s):
        st = self.state[s]
        try:
            data = s.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.bytes += len(data)
        if st[3] > 0:
            st[3] -= len(data)
            if st[3] <= 0:
                self.caught_up += 1
        if data:
            tail = st[0] + data
            if not st[1] and b": log of build" in tail:
                st[1] = True
                self.started += 1
            m = re.search(rb'event: end\ndata: \{"status":"(\w+)"\}\n\n', tail)
            if m:
                st[2] = True
                self.ended += 1
                status = m.group(1).decode()
                self.end_statuses[status] = self.end_statuses.get(status, 0) + 1
            st[0] = tail[-256:]
            if not st[2]:
                return
        elif not st[2]:
            self.cut += 1
        self.sel.unregister(s)
        del self.state[s]
        s.close()

    def close_all(self):
        self.stop_flag.set()
        self.join(5)
        for s in list(self.state):
            s.close()
        self.state.clear()


def run_wrk(url, token, args):
    argv = ["wrk", "-t%d" % args.threads, "-c%d" % args.connections, "-d%ds" % args.duration,
            "--latency", "-H", "Authorization: Bearer " + token, url]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 60)
    out = p.stdout
    if p.returncode != 0:
        raise BenchError("wrk exited with status %d:\n%s%s" % (p.returncode, out, p.stderr))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = {q: re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\b" % q, out, re.M) for q in ("50", "99")}
    if not rps or not all(lat.values()):
        raise BenchError("cannot read wrk's output:\n" + out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": float(rps.group(1)),
            "p50_ms": float(lat["50"].group(1)) * UNITS[lat["50"].group(2)],
            "p99_ms": float(lat["99"].group(1)) * UNITS[lat["99"].group(2)],
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(0) if errors else ""}


def open_streams(d):
    _, _, text = d.request("GET", "/metrics", raw=True)
    m = parse_metrics(text.decode())
    if "mgd_log_streams" not in m:
        raise BenchError("GET /metrics has no mgd_log_streams")
    return int(m["mgd_log_streams"])


def wait_until(what, check, timeout):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError("%s: not within %d s" % (what, timeout))
        time.sleep(0.1)


def one_round(d, args, rss):
    ids = []
    for i in range(args.builds):
        ids.append(d.build("load%d" % i, force=True)["id"])
    # caught running: each has begun compiling (its log says so)
    # followed once all is compiled but the slow file (its log line comes
    # when it ends): the log stays as it is for minutes, which 2 s without
    # growth tell
    sizes = {"seen": []}

    def settled():
        now = {}
        for b in ids:
            got = d.expect(200, "GET", "/builds/%d" % b)
            if got["status"] != "running":
                return False
            now[b] = got["log_size"]
        sizes["seen"] = (sizes["seen"] + [now])[-5:]
        sizes["last"] = now
        time.sleep(0.5)
        return len(sizes["seen"]) == 5 and all(x == now for x in sizes["seen"])

    wait_until("the load builds compiling their slow file alone", settled, 300)
    log_kib = sum(sizes["last"].values()) / len(ids) / 1024
    rss.phase = "before"
    time.sleep(1)
    url = d.url + "/builds/%d" % ids[0]
    rss.phase = "wrk"
    idle = run_wrk(url, d.token, args)
    rss.phase = "settle"
    time.sleep(1)
    f = Followers(int(d.url.rsplit(":", 1)[1]), d.token)
    t0 = time.monotonic()
    for k in range(args.followers):
        b = ids[k % len(ids)]
        f.add(b, sizes["last"][b])
    f.start()
    try:
        wait_until("every follower caught up", lambda: f.caught_up == args.followers, 120)
    except BenchError as e:
        raise BenchError("%s: %d of %d started, %d caught up, %d cut"
                         % (e, f.started, args.followers, f.caught_up, f.cut))
    connect_s = time.monotonic() - t0
    wait_until("mgd_log_streams = followers", lambda: open_streams(d) == args.followers, 10)
    rss.phase = "followers"
    time.sleep(1)
    rss.phase = "during"
    loaded = run_wrk(url, d.token, args)
    streams_during = open_streams(d)
    rss.phase = "ending"
    for b in ids:
        d.request("POST", "/builds/%d/cancel" % b, {})
    try:
        wait_until("every follower's end event", lambda: f.ended == args.followers, 60)
    finally:
        ended, cut, statuses = f.ended, f.cut, dict(f.end_statuses)
        f.close_all()
    wait_until("mgd_log_streams back to 0", lambda: open_streams(d) == 0, 10)
    for b in ids:
        wait_until("build %d ended" % b,
                   lambda: d.expect(200, "GET", "/builds/%d" % b)["status"] == "cancelled", 60)
    rss.phase = "after"
    time.sleep(2)
    return {"log_kib": log_kib, "idle": idle, "loaded": loaded, "connect_s": connect_s, "ended": ended, "cut": cut,
            "statuses": statuses, "streams_during": streams_during,
            "rss_before": rss.peak("before"), "rss_wrk": rss.peak("wrk"),
            "rss_followers": rss.peak("followers"), "rss_during": rss.peak("during"),
            "rss_after": rss.peak("after"), "hwm": vm(d.proc.pid)["VmHWM"]}


def run(d, args):
    for i in range(args.builds):
        config, sources = slow_project("load%d" % i, args.files)
        d.create_project("load%d" % i, config, sources)
    rss = RssSampler(d.proc.pid)
    rss.start()
    print("bench/load: %d followers of %d running builds' logs, wrk -t%d -c%d -d%ds --latency "
          "on GET /builds/:id (%d cores, shared)"
          % (args.followers, args.builds, args.threads, args.connections, args.duration,
             os.cpu_count()))
    print("  mgd serve --max-connections %d --per-ip %d; open files %d"
          % (args.max_connections, args.max_connections,
             resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    bad = False
    for rnd in range(args.rounds):
        r = one_round(d, args, rss)
        per = (r["rss_followers"] - r["rss_before"]) / args.followers
        print("round %d:" % (rnd + 1))
        print("  GET /builds/:id  no follower:     %8.0f requests/s, p50 %.2f ms, p99 %.2f ms"
              % (r["idle"]["rps"], r["idle"]["p50_ms"], r["idle"]["p99_ms"]))
        print("  GET /builds/:id  %4d followers:  %8.0f requests/s, p50 %.2f ms, p99 %.2f ms "
              "(%.0f %% of the rate without)"
              % (args.followers, r["loaded"]["rps"], r["loaded"]["p50_ms"],
                 r["loaded"]["p99_ms"], 100.0 * r["loaded"]["rps"] / max(1, r["idle"]["rps"])))
        print("  followers: %d joined builds with %.0f KiB of log, caught up and streaming in "
              "%.2f s, %d open streams during wrk, %d ended with their build (%s), %d cut"
              % (args.followers, r["log_kib"], r["connect_s"], r["streams_during"], r["ended"],
                 ", ".join("%s %d" % kv for kv in sorted(r["statuses"].items())), r["cut"]))
        print("  VmRSS: before %.1f MiB, wrk alone %.1f, followers alone %.1f (%.1f KiB per "
              "follower), followers and wrk %.1f, after %.1f MiB; VmHWM %.1f MiB"
              % (r["rss_before"] / 1024, r["rss_wrk"] / 1024, r["rss_followers"] / 1024, per,
                 r["rss_during"] / 1024, r["rss_after"] / 1024, r["hwm"] / 1024))
        for name in ("idle", "loaded"):
            w = r[name]
            if w["non2xx"] or w["errors"]:
                print("  wrk (%s): %d non-2xx answers; %s" % (name, w["non2xx"], w["errors"]))
                bad = True
        if r["cut"] or r["ended"] != args.followers:
            bad = True
        if args.max_kib_per_follower and per > args.max_kib_per_follower:
            print("  BOUND PASSED: %.1f KiB per follower, more than %d"
                  % (per, args.max_kib_per_follower))
            bad = True
    rss.stop_flag.set()
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mgd")
    ap.add_argument("--followers", type=int, default=1000)
    ap.add_argument("--builds", type=int, default=2, help="running builds to follow")
    ap.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    ap.add_argument("--connections", type=int, default=50, help="wrk's connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk's threads")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--files", type=int, default=100,
                    help="small files in each followed build: its log, which followers "
                         "catch up on when they join, grows by a line or two each")
    # measured on 2 cores, a Release build, followers catching up on 55 KiB
    # of log: 49 KiB (libmicrohttpd's connection and its response, the
    # stream); 178 KiB when each stream kept its read buffers
    ap.add_argument("--max-kib-per-follower", type=int, default=64,
                    help="the bound on the daemon's memory per open follower (KiB; 0: "
                         "not checked, for sanitizer builds, whose allocator keeps freed "
                         "memory in quarantine)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("bench_load: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    # near --max-connections (fewer than an eighth free) the daemon closes
    # the connections waiting for a request to make room, and log streams
    # are never closed for room: so the streams and wrk's connections must
    # stay under 7/8 of the limit (docs/api.md, "Slow, malformed and greedy
    # requests")
    args.max_connections = (args.followers + args.connections + 64) * 8 // 7 + 1
    # two descriptors per follower in the daemon, one here; some to spare
    need = 2 * args.max_connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            print("bench_load: %d followers need %d open files; the hard limit is %d "
                  "(ulimit -Hn)" % (args.followers, need, hard), file=sys.stderr)
            return 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    extra = ["--max-connections", str(args.max_connections),
             "--per-ip", str(args.max_connections)]
    return run_with_daemon("bench_load", args.mgd, args.builds, run, args, extra)


if __name__ == "__main__":
    sys.exit(main())
