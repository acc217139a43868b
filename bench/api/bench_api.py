#!/usr/bin/env python3
"""bench/api: HTTP throughput and latency of `mgd serve`, idle and under load.

usage: bench_api.py MGD [--examples DIR] [--duration S] [--connections N]
                        [--threads N] [--workers N]

Starts `MGD serve --listen 127.0.0.1:0` on a fresh data directory, creates a
project from examples/hello with inline sources and builds it once, then runs
`wrk -tT -cC -dDs --latency` (with the admin token in an Authorization
header) against
  GET /health       no auth, no SQLite: the server's own ceiling (the floor
                    every other endpoint is measured against)
  GET /builds/:id   the finished build
  GET /projects     the project list
first with the daemon idle, then while two builds run the whole time: two
projects of many sources whose forced builds (every action runs again) are
re-queued as soon as they finish. Prints requests/s, p99 latency and non-2xx
answers per endpoint and condition, and the goal: >= 20,000 requests/s on
the idle API endpoints (PASS or BELOW). Exit status 1 on a setup failure
or when an endpoint answered anything but 2xx.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgd_bench import TERMINAL, BenchError, load_example, run_with_daemon  # noqa: E402

GOAL_RPS = 20000


def busy_project(n_files):
    """A config and inline sources that take a while to compile: the hello
    job plus n_files C files of arithmetic the optimiser has to chew on."""
    config = {
        "mgd": 1,
        "name": "busy",
        "devices": {
            "main": {"main": "busy_start", "type": "console -> job",
                     "sources": ["main.c"] + [f"src/f{i:03}.c" for i in range(n_files)]}
        },
        "jobs": [{"apply": "main", "to": ["default_console"]}],
    }
    sources = {"main.c": '#include "mg/console.h"\n'
                         "int busy_start(mg_console *console);\n"
                         "int busy_start(mg_console *console) { (void)console; return 0; }\n"}
    for i in range(n_files):
        body = [f"unsigned f{i:03}_{k}(unsigned x);\n"
                f"unsigned f{i:03}_{k}(unsigned x)\n{{\n"
                f"    for (unsigned j = 0; j < {k + 3}u; j++) x = x * 2654435761u + j;\n"
                f"    return x ^ (x >> {k % 13 + 3});\n}}\n" for k in range(60)]
        sources[f"src/f{i:03}.c"] = "".join(body)
    return config, sources


class Keeper(threading.Thread):
    """Keeps one forced build of each project queued or running: re-queues
    a build as soon as the previous one ends, and samples how many run."""

    def __init__(self, daemon, projects):
        super().__init__(daemon=True)
        self.d = daemon
        self.projects = projects
        self.current = {}
        self.samples = []
        self.measuring = False
        self.stop_flag = threading.Event()
        self.finished = 0
        self.failed = []
        self.error = None

    def run(self):
        try:
            self.keep()
        except Exception as e:  # reported by the main thread
            self.error = e

    def keep(self):
        for p in self.projects:
            self.current[p] = self.d.build(p, force=True)["id"]
        while not self.stop_flag.is_set():
            running = 0
            for p in self.projects:
                b = self.d.expect(200, "GET", f"/builds/{self.current[p]}")
                if b["status"] in TERMINAL:
                    self.finished += 1
                    if b["status"] != "succeeded":
                        self.failed.append((b["id"], b["status"], b.get("error")))
                    self.current[p] = self.d.build(p, force=True)["id"]
                elif b["status"] == "running":
                    running += 1
            if self.measuring:
                self.samples.append(running)
            time.sleep(0.1)

    def wait_both_running(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [self.d.expect(200, "GET", f"/builds/{b}")["status"]
                      for b in list(self.current.values())]
            if len(states) == len(self.projects) and all(s == "running" for s in states):
                return
            if self.error:
                raise BenchError(f"keeping the load builds going: {self.error}")
            time.sleep(0.1)
        raise BenchError("the two load builds never ran at the same time")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run_wrk(url, token, args):
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
            "--latency"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if not rps or not p99:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    return {"rps": float(rps.group(1)),
            "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)],
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(0) if errors else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mgd")
    ap.add_argument("--examples", default=os.path.join(os.path.dirname(__file__),
                                                       "../../examples"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--busy-files", type=int, default=40,
                    help="C files per load project (more: longer builds)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("bench_api: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    return run_with_daemon("bench_api", args.mgd, args.workers, run, args)


def run(d, args):
    config, sources = load_example(os.path.abspath(args.examples), "hello")
    project = d.create_project("hello", config, sources)
    build = d.wait_build(d.build(project["id"])["id"])
    if build["status"] != "succeeded":
        raise BenchError(f"the hello build {build['status']}: {build.get('error')}\n"
                         + d.log_of(build["id"])[-2000:])
    endpoints = [("GET /health", "/health", False),
                 (f"GET /builds/{build['id']}", f"/builds/{build['id']}", True),
                 ("GET /projects", "/projects", True)]
    for _, path, auth in endpoints:  # measure answers, not 401s
        d.expect(200, "GET", path, auth=auth)

    results = []
    for name, path, auth in endpoints:
        results.append((name, "idle", run_wrk(d.url + path, d.token if auth else None, args)))

    busy_config, busy_sources = busy_project(args.busy_files)
    busy = []
    for p in ("busy-a", "busy-b"):
        busy_config["name"] = p
        busy.append(d.create_project(p, busy_config, busy_sources)["id"])
    t0 = time.monotonic()
    first = d.wait_build(d.build(busy[0], force=True)["id"], timeout=900)
    one_build_s = time.monotonic() - t0
    if first["status"] != "succeeded":
        raise BenchError(f"a load build {first['status']}: {first.get('error')}\n"
                         + d.log_of(first["id"])[-2000:])
    keeper = Keeper(d, busy)
    keeper.start()
    keeper.wait_both_running()
    keeper.measuring = True
    for name, path, auth in endpoints:
        results.append((name, "2 builds", run_wrk(d.url + path, d.token if auth else None,
                                                  args)))
    keeper.measuring = False
    keeper.stop_flag.set()
    keeper.join(timeout=30)
    if keeper.error:
        raise BenchError(f"keeping the load builds going: {keeper.error}")

    print(f"bench/api: wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
          f"--latency against {d.url} ({os.cpu_count()} cores, shared with wrk)")
    print(f"  {'endpoint':<18} {'condition':<9} {'req/s':>10} {'p99':>10} {'non-2xx':>8}  goal")
    bad = False
    for name, cond, r in results:
        goal = ""
        if name == "GET /health":
            goal = "(the server's ceiling)"
        elif cond == "idle":
            goal = f">= {GOAL_RPS:,}: " + ("PASS" if r["rps"] >= GOAL_RPS else "BELOW")
        print(f"  {name:<18} {cond:<9} {r['rps']:>10,.0f} {r['p99_ms']:>8.2f}ms "
              f"{r['non2xx']:>8}  {goal}")
        if r["non2xx"]:
            bad = True
        if r["socket_errors"]:
            print(f"  {'':<18} {r['socket_errors']}")
    samples = keeper.samples
    mean = sum(samples) / len(samples) if samples else 0
    print(f"  load: forced builds of {args.busy_files + 1} user sources + the runtime, "
          f"one alone {one_build_s:.1f} s; {keeper.finished} finished during the run; "
          f"builds running while measured: mean {mean:.2f}, min {min(samples, default=0)} "
          f"({len(samples)} samples)")
    if keeper.failed:
        print(f"  load builds that did not succeed: {keeper.failed}")
    if bad:
        print("  some answers were not 2xx: the figures above are not all real answers")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
