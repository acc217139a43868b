#!/usr/bin/env python3
"""bench/api: HTTP throughput and latency of `mgd serve`, idle and under load.

usage: bench_api.py MGD [--examples DIR] [--duration S] [--connections N]
                        [--threads N] [--workers N] [--busy-files N]
                        [--no-sandbox]

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
re-queued as soon as they finish. Creating those two projects changes what
GET /projects lists (three projects, two of them with large inline trees),
so it is measured idle a second time once they exist ("GET /projects*"):
the loaded figure is compared with that one, and the difference is the
builds' alone.

Prints requests/s, p99 latency and non-2xx answers per endpoint and
condition; under load, each rate as a share of the same request idle. Goals:
>= 20,000 requests/s on the idle API endpoints, and under two builds the API
endpoints keep >= 50 % of their idle rate (PASS or BELOW).

Then, to tell where the CPU went, for each measurement: the machine's busy
cores (/proc/stat) split into wrk (its rusage), mgd's HTTP threads, mgd's
build worker threads (the threads at nice 19), and the rest: the build
processes and anything else running on the machine (the processes of a
sandboxed action escape rusage: bwrap's PID namespace does not hand their
times back). And how the load's processes (every descendant of mgd seen
while measuring) were scheduled: nice, policy, and whether they run in mgd's
session and autogroup. With autogroup on (kernel.sched_autogroup_enabled),
nice only weighs within an autogroup, and each session is one: a process in
a session of its own competes with the whole of mgd as an equal.

--no-sandbox starts the daemon with --insecure-no-sandbox (build actions
under the limits only), to compare. Exit status 1 on a setup failure or when
an endpoint answered anything but 2xx.
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
GOAL_SHARE = 0.5  # of the idle rate, under two builds
CLK_TCK = os.sysconf("SC_CLK_TCK")
POLICIES = {0: "TS", 1: "FF", 2: "RR", 3: "B", 5: "IDL", 6: "DLN"}


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


def proc_stat(path):
    """Fields of a /proc/.../stat file after the command: [0] is the state
    (field 3 of proc(5)), so field n is at [n - 3]. None if it is gone."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def machine_busy():
    """Jiffies the machine's CPUs spent busy (not idle, not waiting on I/O)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]


def mgd_threads(pid):
    """(jiffies of mgd's threads at nice 0: HTTP and the rest, jiffies of
    its threads at nice > 0: the build workers)."""
    http = workers = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        f = proc_stat(f"/proc/{pid}/task/{tid}/stat")
        if not f:
            continue
        t = int(f[11]) + int(f[12])
        if int(f[16]) > 0:
            workers += t
        else:
            http += t
    return http, workers


def descendants(root):
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            f = proc_stat(f"/proc/{name}/stat")
            if f:
                children.setdefault(int(f[1]), []).append(int(name))
    out, pending = [], [root]
    while pending:
        for c in children.get(pending.pop(), []):
            out.append(c)
            pending.append(c)
    return out


class LoadSampler(threading.Thread):
    """While measuring, samples the processes mgd started (its descendants)
    every 0.2 s: the first sight of each pid records its command, nice,
    policy, session and autogroup. The shortest-lived are missed."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.seen = {}
        self.measuring = False
        self.stop_flag = threading.Event()
        me = proc_stat(f"/proc/{pid}/stat")
        self.session = int(me[3])
        self.autogroup = (read_text(f"/proc/{pid}/autogroup") or "").split(" ")[0]

    def run(self):
        while not self.stop_flag.wait(0.2):  # a scan of /proc takes ~5 ms of CPU
            if not self.measuring:
                continue
            for p in descendants(self.pid):
                if p in self.seen:
                    continue
                f = proc_stat(f"/proc/{p}/stat")
                comm = read_text(f"/proc/{p}/comm")
                ag = read_text(f"/proc/{p}/autogroup")
                if f and comm and f[0] != "Z":
                    self.seen[p] = (comm, int(f[16]), int(f[38]), int(f[3]),
                                    ag.split(" ")[0] if ag else None)

    def summary(self):
        """One line per command: how many, at which nice and policy, how many
        in a session and an autogroup other than mgd's."""
        by = {}
        for comm, nice, policy, session, ag in self.seen.values():
            by.setdefault(comm, []).append((nice, policy, session, ag))
        lines = []
        for comm, ps in sorted(by.items(), key=lambda kv: -len(kv[1])):
            nices = sorted({n for n, _, _, _ in ps})
            pols = sorted({POLICIES.get(p, str(p)) for _, p, _, _ in ps})
            own_session = sum(1 for _, _, s, _ in ps if s != self.session)
            other_ag = sum(1 for _, _, _, a in ps if a and a != self.autogroup)
            lines.append(f"{comm:<15} {len(ps):5}  nice {','.join(map(str, nices)):<6} "
                         f"policy {','.join(pols):<5} own session {own_session:5}  "
                         f"other autogroup {other_ag:5}")
        return lines


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run_wrk(url, token, args, mgd_pid):
    """wrk's figures, and the CPU used while it ran (cores): the machine's
    busy time, wrk's own, mgd's HTTP threads', mgd's build workers'."""
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
            "--latency"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    busy0, (http0, work0), t0 = machine_busy(), mgd_threads(mgd_pid), time.monotonic()
    p = subprocess.Popen(argv + [url], stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    busy1, (http1, work1) = machine_busy(), mgd_threads(mgd_pid)
    if p.returncode != 0:
        raise BenchError(f"wrk exited with status {p.returncode}:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if not rps or not p99:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    cpu = {"busy": (busy1 - busy0) / CLK_TCK / wall,
           "wrk": (ru.ru_utime + ru.ru_stime) / wall,
           "http": (http1 - http0) / CLK_TCK / wall,
           "workers": (work1 - work0) / CLK_TCK / wall}
    cpu["rest"] = cpu["busy"] - cpu["wrk"] - cpu["http"] - cpu["workers"]
    return {"rps": float(rps.group(1)),
            "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)],
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(0) if errors else "",
            "cpu": cpu}


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
    ap.add_argument("--no-sandbox", action="store_true",
                    help="start the daemon with --insecure-no-sandbox, to compare")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("bench_api: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    extra = ["--insecure-no-sandbox"] if args.no_sandbox else []
    return run_with_daemon("bench_api", args.mgd, args.workers, run, args, extra)


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
    pid = d.proc.pid

    def measure(name, cond, path, auth):
        results.append((name, cond, run_wrk(d.url + path, d.token if auth else None, args,
                                            pid)))

    results = []
    for name, path, auth in endpoints:
        measure(name, "idle", path, auth)

    busy_config, busy_sources = busy_project(args.busy_files)
    busy = []
    for p in ("busy-a", "busy-b"):
        busy_config["name"] = p
        busy.append(d.create_project(p, busy_config, busy_sources)["id"])
    # the list the loaded run gets, idle
    endpoints[2] = ("GET /projects*", "/projects", True)
    measure(endpoints[2][0], "idle", "/projects", True)
    t0 = time.monotonic()
    first = d.wait_build(d.build(busy[0], force=True)["id"], timeout=900)
    one_build_s = time.monotonic() - t0
    if first["status"] != "succeeded":
        raise BenchError(f"a load build {first['status']}: {first.get('error')}\n"
                         + d.log_of(first["id"])[-2000:])
    keeper = Keeper(d, busy)
    keeper.start()
    keeper.wait_both_running()
    sampler = LoadSampler(pid)
    sampler.start()
    keeper.measuring = sampler.measuring = True
    for name, path, auth in endpoints:
        measure(name, "2 builds", path, auth)
    keeper.measuring = sampler.measuring = False
    sampler.stop_flag.set()
    keeper.stop_flag.set()
    keeper.join(timeout=30)
    sampler.join(timeout=30)
    if keeper.error:
        raise BenchError(f"keeping the load builds going: {keeper.error}")

    idle = {name: r["rps"] for name, cond, r in results if cond == "idle"}
    print(f"bench/api: wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
          f"--latency against {d.url} ({os.cpu_count()} cores, shared with wrk)"
          + (", daemon --insecure-no-sandbox" if args.no_sandbox else ""))
    print(f"  {'endpoint':<18} {'condition':<9} {'req/s':>10} {'p99':>10} {'non-2xx':>8} "
          f"{'of idle':>8}  goal")
    bad = False
    for name, cond, r in results:
        goal, share = "", ""
        api = name != "GET /health"
        if cond == "idle":
            if not api:
                goal = "(the server's ceiling)"
            elif name.endswith("*"):
                goal = "(* with the two load projects: the list the loaded run gets)"
            else:
                goal = f">= {GOAL_RPS:,}/s: " + ("PASS" if r["rps"] >= GOAL_RPS else "BELOW")
        else:
            frac = r["rps"] / idle[name]
            share = f"{frac * 100:.0f} %"
            if api:
                goal = (f">= {GOAL_SHARE * 100:.0f} % of idle: "
                        + ("PASS" if frac >= GOAL_SHARE else "BELOW"))
        print(f"  {name:<18} {cond:<9} {r['rps']:>10,.0f} {r['p99_ms']:>8.2f}ms "
              f"{r['non2xx']:>8} {share:>8}  {goal}")
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

    print(f"  CPU while measured, cores of {os.cpu_count()}: machine busy = wrk + mgd HTTP "
          "threads + mgd build workers + rest (build processes, anything else running)")
    for name, cond, r in results:
        c = r["cpu"]
        print(f"  {name:<18} {cond:<9} {c['busy']:5.2f} = {c['wrk']:4.2f} + {c['http']:4.2f} + "
              f"{c['workers']:4.2f} + {c['rest']:4.2f}")
    foreign = max(r["cpu"]["rest"] for _, cond, r in results if cond == "idle")
    if foreign > 0.25:
        print(f"  while idle was measured something else used up to {foreign:.2f} cores: "
              "the idle rates, and the shares of them, are not the daemon's alone")
    ag = read_text("/proc/sys/kernel/sched_autogroup_enabled")
    print(f"  the load's processes while measured (mgd: nice 0, session {sampler.session}, "
          f"{sampler.autogroup or 'no autogroup'}; kernel.sched_autogroup_enabled = {ag}):")
    for line in sampler.summary():
        print(f"    {line}")
    if bad:
        print("  some answers were not 2xx: the figures above are not all real answers")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
