#!/usr/bin/env python3
"""bench/build: how fast `mgd build` is, against the floor of plain gcc.

usage: bench_build.py MGD [EXAMPLES_DIR]

Measured in one run, on the `hello` example:
  cold       first build with an empty cache (the runtime compiled too)
  new        a new project (new user code) with the runtime already cached
  one change rebuild after changing the one user source
  no-op      rebuild with nothing changed
  floor      plain gcc on the same user source: compile it and link it with
             main.o and the runtime archive (what a rebuild must redo)
  size       the stripped hello image
Each figure is the median of several runs (cold: 3 fresh caches). Goals:
one change <= 1.5x floor; no-op < 20 ms; stripped hello < 100 KB.
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv, env=None, cwd=None):
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000


def median(xs):
    return statistics.median(xs)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    mgd = os.path.abspath(sys.argv[1])
    examples = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                               os.path.join(os.path.dirname(__file__), "../../examples"))
    work = tempfile.mkdtemp(prefix="bench-build-")
    try:
        return run(mgd, examples, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(mgd, examples, work):
    env = dict(os.environ)
    proj = os.path.join(work, "hello")
    shutil.copytree(os.path.join(examples, "hello"), proj)
    image = os.path.join(work, "hello.img")

    def build(cache, project=proj, out=image):
        e = dict(env, MGD_CACHE=cache)
        return timed([mgd, "build", project, "-o", out], env=e)

    cold = [build(os.path.join(work, f"cold{i}")) for i in range(3)]
    cache = os.path.join(work, "cold0")

    new = []
    for i in range(5):
        p = os.path.join(work, f"new{i}")
        shutil.copytree(proj, p)
        with open(os.path.join(p, "unikernel.c"), "a") as f:
            f.write(f"\nint new_project_{i}(void);\nint new_project_{i}(void) {{ return {i}; }}\n")
        new.append(build(cache, p, os.path.join(work, f"new{i}.img")))

    src = os.path.join(proj, "unikernel.c")
    change = []
    for i in range(7):
        with open(src, "a") as f:
            f.write(f"\nint changed_{i}(void);\nint changed_{i}(void) {{ return {i}; }}\n")
        change.append(build(cache))

    noop = [build(cache) for _ in range(15)]
    size = os.path.getsize(image)

    floor = measure_floor(mgd, proj, cache, work)

    rows = [("cold build (empty cache)", median(cold)),
            ("new project, runtime cached", median(new)),
            ("rebuild after one change", median(change)),
            ("no-op rebuild", median(noop)),
            ("floor: gcc compile + link", floor)]
    print("bench/build: mgd build of examples/hello (median of runs, ms)")
    for name, ms in rows:
        print(f"  {name:<30} {ms:9.1f}")
    print(f"  {'stripped image size':<30} {size:9d} bytes")
    ratio = median(change) / floor
    goals = [("rebuild after one change <= 1.5x floor", ratio <= 1.5, f"{ratio:.2f}x"),
             ("no-op rebuild < 20 ms", median(noop) < 20, f"{median(noop):.1f} ms"),
             ("stripped hello < 100 KB", size < 100 * 1024, f"{size} bytes")]
    for name, ok, fig in goals:
        print(f"  goal {name:<40} {'met' if ok else 'MISSED':<7} ({fig})")
    return 0


def measure_floor(mgd, proj, cache, work):
    """gcc by hand on the same user source, with the target's flags: compile
    unikernel.c, link it with main.o and an archive of the runtime."""
    gen = os.path.join(work, "gen")
    subprocess.run([mgd, "describe", os.path.join(proj, "config.json"), "--generate", gen],
                   check=True, stdout=subprocess.DEVNULL)
    rt = glob.glob(os.path.join(cache, "runtime", "*", "runtime"))[0]
    flags = ["-std=gnu11", "-O2", "-fno-ident", "-ffunction-sections", "-fdata-sections",
             "-fno-common", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE",
             "-I" + gen, "-I" + os.path.join(rt, "include")]
    objs = os.path.join(work, "floor")
    os.makedirs(objs)
    sources = sorted(glob.glob(os.path.join(rt, "core", "*.c")) +
                     glob.glob(os.path.join(rt, "platform", "unix", "*.c")) +
                     [c for c in glob.glob(os.path.join(rt, "*", "*.c"))
                      if "/core/" not in c and "/platform/" not in c
                      and "/libc/" not in c])  # the freestanding targets' C library
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
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run(["gcc", *flags, "-c", os.path.join(proj, "unikernel.c"), "-o", user_o],
                       check=True)
        subprocess.run(["gcc", "-pie", "-Wl,--gc-sections", "-o", out, main_o, user_o, lib],
                       check=True)
        runs.append((time.perf_counter() - t0) * 1000)
    return median(runs)


if __name__ == "__main__":
    sys.exit(main())
