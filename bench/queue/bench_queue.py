#!/usr/bin/env python3
"""bench/queue: 200 build requests at once on 20 projects, none lost.

usage: bench_queue.py MGD [--examples DIR] [--projects N] [--builds N]
                          [--workers N] [--timeout S]

Starts `MGD serve --listen 127.0.0.1:0` on a fresh data directory (so a cold
cache), creates 20 projects with inline sources from examples/hello, each
with its own user code but the same target and runtime, then sends 200
POST /projects/:id/build requests at once (one thread each, released
together) and waits until no build is queued or running.

Checks (exit status 1 when one fails):
  - every request was accepted (202) and got its own build id: 200
    distinct ids, each of them now in a terminal state (none lost);
  - every action that compiles the shared runtime ran exactly once.

How "ran once" is measured: the build log has a line
"<label>: ran in N ms" for every action that executed (a cache hit logs
"<label>: cached"; a reused build runs nothing). Reading the log of every
build and counting those lines per label for the runtime's actions
("compile runtime/...", "archive libmgrt.a") gives how often each ran
across all 200 builds. /metrics cannot say it: its action histogram counts
executed actions without their labels. Its totals are printed beside the
sums over builds' "cache" objects as a cross-check.

Prints the wall time (first request sent -> no build queued or running),
builds by status (and how many were reuses of an earlier identical build),
executed and cached actions.
"""
import argparse
import collections
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from mgd_bench import (TERMINAL, BenchError, load_example,  # noqa: E402
                       metric_sum, parse_metrics, run_with_daemon)

RAN = re.compile(r"(compile runtime/\S+|archive libmgrt\.a): ran in \d+ ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mgd")
    ap.add_argument("--examples", default=os.path.join(os.path.dirname(__file__),
                                                       "../../examples"))
    ap.add_argument("--projects", type=int, default=20)
    ap.add_argument("--builds", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds to wait for the builds")
    args = ap.parse_args()
    return run_with_daemon("bench_queue", args.mgd, args.workers, run, args)


def send_all(d, projects, n):
    """n build requests, round-robin over projects, from n threads released
    at once. Returns [(project, status, body)] in request order."""
    results = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        p = projects[i % len(projects)]
        try:
            gate.wait(timeout=60)
            status, _, body = d.request("POST", f"/projects/{p}/build", {}, timeout=300)
        except Exception as e:  # counted as lost below
            status, body = None, repr(e)
        results[i] = (p, status, body)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run(d, args):
    config, sources = load_example(os.path.abspath(args.examples), "hello")
    projects = []
    for i in range(args.projects):
        src = dict(sources)
        # its own user code: a distinct input hash and user compile per project
        src["unikernel.c"] += (f"\nint bench_queue_{i}(void);\n"
                               f"int bench_queue_{i}(void) {{ return {i}; }}\n")
        projects.append(d.create_project(f"q{i:02}", config, src)["id"])

    t0 = time.monotonic()
    sent = send_all(d, projects, args.builds)
    t_sent = time.monotonic() - t0
    problems = []
    ids = []
    for p, status, body in sent:
        if status != 202 or not isinstance(body, dict) or "id" not in body:
            problems.append(f"project {p}: build request answered {status}: {str(body)[:200]}")
        else:
            ids.append(body["id"])
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} build ids given twice")

    # wait until nothing is queued or running
    deadline = t0 + args.timeout
    while True:
        _, hdrs, _ = d.request("GET", "/builds?status=queued,running&per_page=1")
        left = int(hdrs.get("X-Total-Count", "-1"))
        if left == 0:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{left} builds still queued or running after {args.timeout} s")
        time.sleep(0.25)
    wall = time.monotonic() - t0

    builds = [d.expect(200, "GET", f"/builds/{i}") for i in sorted(set(ids))]
    not_terminal = [b["id"] for b in builds if b["status"] not in TERMINAL]
    if not_terminal:
        problems.append(f"builds not in a terminal state: {not_terminal}")
    by_status = collections.Counter(b["status"] for b in builds)
    reused = sum(1 for b in builds if b.get("reused_from"))
    executed = sum(b["cache"]["misses"] for b in builds)
    cached = sum(b["cache"]["hits"] for b in builds)
    actions = sum(b["cache"]["actions"] for b in builds)

    ran = collections.Counter()
    ran_in = collections.defaultdict(set)  # label -> builds that ran it
    for b in builds:
        for m in RAN.finditer(d.log_of(b["id"])):
            ran[m.group(1)] += 1
            ran_in[m.group(1)].add(b["id"])
    twice = {label: n for label, n in ran.items() if n > 1}
    if not ran:
        problems.append("no runtime action ran in any build (the logs say nothing of them)")
    if twice:
        builds_twice = sorted(set().union(*(ran_in[k] for k in twice)))
        problems.append(f"{len(twice)} runtime actions ran more than once ("
                        + ", ".join(f"{k} x{v}" for k, v in sorted(twice.items())[:4])
                        + f", ...), in builds {builds_twice[:10]}")

    metrics = parse_metrics(d.expect(200, "GET", "/metrics"))
    m_hits = metric_sum(metrics, "mgd_cache_hits_total")
    m_misses = metric_sum(metrics, "mgd_cache_misses_total")
    m_ran = metric_sum(metrics, "mgd_action_duration_seconds_count")

    print(f"bench/queue: {args.builds} builds at once on {args.projects} projects, "
          f"{args.workers} workers ({os.cpu_count()} cores)")
    print(f"  requests sent in        {t_sent:8.2f} s")
    print(f"  wall time               {wall:8.2f} s  (first request -> none queued or running)")
    print(f"  build ids               {len(set(ids)):8d} distinct of {len(sent)} requests")
    print("  by status               " + ", ".join(f"{s} {n}" for s, n in
                                                  sorted(by_status.items())))
    print(f"  reuses of a build       {reused:8d}  (succeeded at once, nothing run)")
    print(f"  actions (sum of builds) {actions:8d}  executed {executed}, cached {cached}")
    print(f"  /metrics                executed {m_misses:.0f} (action histogram count "
          f"{m_ran:.0f}), cached {m_hits:.0f}")
    print(f"  runtime actions         {len(ran):8d} labels; ran once: "
          f"{sum(1 for n in ran.values() if n == 1)}, more than once: {len(twice)}"
          f" (max {max(ran.values(), default=0)}x)")
    for p in problems:
        print(f"  FAIL {p}")
    if not problems:
        print("  PASS none lost, all terminal, every runtime action ran once")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
