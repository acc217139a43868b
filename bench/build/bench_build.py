#!/usr/bin/env python3
"""bench/build: how fast `mgd build` is, against the floor of plain gcc, and
what the build sandbox costs.

usage: bench_build.py MGD [EXAMPLES_DIR] [--rounds N]

Measured in one run, on the `hello` example, with the sandbox (the default;
toolchain/sandbox.h) unless said otherwise:
  cold       first build with an empty cache (the runtime compiled too)
  new        a new project (new user code) with the runtime already cached
  one change rebuild after changing the one user source
  no-op      rebuild with nothing changed
  floor      plain gcc on the same user source: compile it and link it with
             main.o and the runtime archive (what a rebuild must redo)
  size       the stripped hello image
The one-change and no-op rebuilds are also measured with --no-sandbox,
interleaved with the sandboxed ones, for reference.
Each figure is the median of several runs (cold: 3 fresh caches). Goals:
one change <= 1.3x floor; no-op < 20 ms; stripped hello < 100 KB.

The sandbox's cost: forced builds (--force: every action runs, none from
the cache) with the sandbox and with --no-sandbox, interleaved, N rounds
(default 7), with the default jobs and with --jobs 1: the medians of both,
and the median over rounds of (sandboxed - unsandboxed wall time) / actions
run, the cost per action. With several jobs that is wall time per action
with actions overlapping; with --jobs 1, each action's own.
"""
import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


GOAL_CHANGE = 1.3  # x the floor
GOAL_NOOP_MS = 20
GOAL_SIZE = 100 * 1024


def timed_summary(argv, env=None, cwd=None):
    """(ms, actions run): mgd build's summary line says how many ran."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit status {r.returncode}\n{r.stderr[-2000:]}")
    m = re.search(r"(\d+) actions, (\d+) cached, (\d+) run", r.stderr)
    return ms, int(m.group(3)) if m else None


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mgd")
    ap.add_argument("examples", nargs="?",
                    default=os.path.join(os.path.dirname(__file__), "../../examples"))
    ap.add_argument("--rounds", type=int, default=7,
                    help="rounds of forced builds with and without the sandbox")
    args = ap.parse_args()
    mgd = os.path.abspath(args.mgd)
    examples = os.path.abspath(args.examples)
    work = tempfile.mkdtemp(prefix="bench-build-")
    try:
        return run(mgd, examples, work, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def run(mgd, examples, work, rounds):
    load_at_start = loadavg()
    env = dict(os.environ)
    proj = os.path.join(work, "hello")
    shutil.copytree(os.path.join(examples, "hello"), proj)
    image = os.path.join(work, "hello.img")

    def build(cache, project=proj, out=image, extra=()):
        e = dict(env, MGD_CACHE=cache)
        return timed_summary([mgd, "build", project, "-o", out, *extra], env=e)

    cold = [build(os.path.join(work, f"cold{i}"))[0] for i in range(3)]
    cache = os.path.join(work, "cold0")

    new = []
    for i in range(5):
        p = os.path.join(work, f"new{i}")
        shutil.copytree(proj, p)
        with open(os.path.join(p, "unikernel.c"), "a") as f:
            f.write(f"\nint new_project_{i}(void);\nint new_project_{i}(void) {{ return {i}; }}\n")
        new.append(build(cache, p, os.path.join(work, f"new{i}.img"))[0])

    # one change, with the sandbox and without, and the floor, interleaved
    # (a machine busy with something else slows all three alike); then no-op
    floor_once = prepare_floor(mgd, proj, cache, work)
    src = os.path.join(proj, "unikernel.c")
    change, change_ns, floors = [], [], []
    for i in range(14):
        with open(src, "a") as f:
            f.write(f"\nint changed_{i}(void);\nint changed_{i}(void) {{ return {i}; }}\n")
        if i % 2:
            change_ns.append(build(cache, extra=["--no-sandbox"])[0])
        else:
            change.append(build(cache)[0])
        floors.append(floor_once())
    floor = median(floors)
    noop, noop_ns = [], []
    for _ in range(15):
        noop.append(build(cache)[0])
        noop_ns.append(build(cache, extra=["--no-sandbox"])[0])
    size = os.path.getsize(image)

    # the sandbox's cost: forced builds, interleaved
    forced = {}
    for jobs in (None, 1):
        j = ["--jobs", str(jobs)] if jobs else []
        on, off, per_action = [], [], []
        for r in range(rounds):
            pair = {}
            # alternate which goes first, so neither always follows the other
            for sandbox in ((True, False) if r % 2 == 0 else (False, True)):
                pair[sandbox] = build(cache, out=os.path.join(work, "forced.img"),
                                      extra=["--force", *j] + ([] if sandbox else ["--no-sandbox"]))
            (ms_on, n_on), (ms_off, n_off) = pair[True], pair[False]
            if not n_on or n_on != n_off:
                raise RuntimeError(f"forced builds ran {n_on} and {n_off} actions")
            on.append(ms_on)
            off.append(ms_off)
            per_action.append((ms_on - ms_off) / n_on)
        forced[jobs] = (on, off, per_action, n_on)

    rows = [("cold build (empty cache)", median(cold), ""),
            ("new project, runtime cached", median(new), ""),
            ("rebuild after one change", median(change),
             f"goal <= {GOAL_CHANGE}x floor = {GOAL_CHANGE * floor:.1f} ms"),
            ("  the same, --no-sandbox", median(change_ns), ""),
            ("no-op rebuild", median(noop), f"goal < {GOAL_NOOP_MS} ms"),
            ("  the same, --no-sandbox", median(noop_ns), ""),
            ("floor: gcc compile + link", floor, "")]
    print("bench/build: mgd build of examples/hello, with the sandbox unless said "
          f"(median of runs, ms; {os.cpu_count()} cores, load average {load_at_start} at "
          f"the start, {loadavg()} at the end: others busy on the machine slow every figure)")
    for name, ms, goal in rows:
        print(f"  {name:<30} {ms:9.1f}  {goal}")
    print(f"  {'stripped image size':<30} {size:9d} bytes  goal < {GOAL_SIZE // 1024} KB")
    ratio = median(change) / floor
    goals = [(f"rebuild after one change <= {GOAL_CHANGE}x floor", ratio <= GOAL_CHANGE,
              f"{ratio:.2f}x"),
             (f"no-op rebuild < {GOAL_NOOP_MS} ms", median(noop) < GOAL_NOOP_MS,
              f"{median(noop):.1f} ms"),
             (f"stripped hello < {GOAL_SIZE // 1024} KB", size < GOAL_SIZE, f"{size} bytes")]
    for name, ok, fig in goals:
        print(f"  goal {name:<40} {'met' if ok else 'MISSED':<7} ({fig})")

    print(f"bench/build: the sandbox's cost, forced builds (--force), sandboxed and "
          f"--no-sandbox interleaved, {rounds} rounds (median, ms)")
    for jobs, (on, off, per_action, n) in forced.items():
        label = f"--jobs {jobs}" if jobs else f"default jobs ({os.cpu_count()} cores)"
        print(f"  {label}: {n} actions run; sandbox {median(on):.1f}, --no-sandbox "
              f"{median(off):.1f}; sandbox cost per action {median(per_action):+.2f} "
              f"(rounds: {', '.join(f'{x:+.2f}' for x in per_action)})")
    return 0


def prepare_floor(mgd, proj, cache, work):
    """gcc by hand on the same user source, with the target's flags: compile
    unikernel.c, link it with main.o and an archive of the runtime. Builds
    main.o and the archive, and returns the function that times one compile
    and link."""
    gen = os.path.join(work, "gen")
    subprocess.run([mgd, "describe", os.path.join(proj, "config.json"), "--generate", gen],
                   check=True, stdout=subprocess.DEVNULL)
    rt = glob.glob(os.path.join(cache, "runtime", "*", "runtime"))[0]
    flags = ["-std=gnu11", "-O2", "-fno-ident", "-ffunction-sections", "-fdata-sections",
             "-fno-common", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE",
             "-I" + gen, "-I" + os.path.join(rt, "include")]
    objs = os.path.join(work, "floor")
    os.makedirs(objs)
    # the core, the code every binding shares, the unix binding, and the
    # device libraries (not the freestanding targets' C library)
    sources = sorted(glob.glob(os.path.join(rt, "core", "*.c")) +
                     glob.glob(os.path.join(rt, "bindings", "*.c")) +
                     glob.glob(os.path.join(rt, "bindings", "unix", "*.c")) +
                     [c for c in glob.glob(os.path.join(rt, "*", "*.c"))
                      if "/core/" not in c and "/bindings/" not in c
                      and "/libc/" not in c])
    rt_objs = []
    for i, c in enumerate(sources):
        o = os.path.join(objs, f"rt{i}.o")
        subprocess.run(["gcc", *flags, "-c", c, "-o", o], check=True)
        rt_objs.append(o)
    lib = os.path.join(objs, "libmgrt.a")
    subprocess.run(["ar", "rcsD", lib, *rt_objs], check=True)
    main_o = os.path.join(objs, "main.o")
    subprocess.run(["gcc", *flags, "-c", os.path.join(gen, "main.c"), "-o", main_o], check=True)
    user_o = os.path.join(objs, "unikernel.o")
    out = os.path.join(objs, "hello")

    def once():
        """ms to compile the user source as it is now and link it."""
        t0 = time.perf_counter()
        subprocess.run(["gcc", *flags, "-c", os.path.join(proj, "unikernel.c"), "-o", user_o],
                       check=True)
        subprocess.run(["gcc", "-pie", "-Wl,--gc-sections", "-o", out, main_o, user_o, lib],
                       check=True)
        return (time.perf_counter() - t0) * 1000
    return once


if __name__ == "__main__":
    sys.exit(main())
