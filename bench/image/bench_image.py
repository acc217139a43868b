#!/usr/bin/env python3
"""Image size and boot-to-exit time of `hello --count=1` on each target.

    bench/image/bench_image.py MGD EXAMPLES

For each target mgd builds here: the stripped image's size, and the wall
time from starting it (as `mgd run` would: directly on unix, under the
mg-spt tender on spt) to its exit, median of 20 runs. The floor, measured in
the same run: a static program of a few instructions that writes one line
and exits (the host's own cost of starting and ending a process). virtio
images boot under QEMU without KVM (TCG), through `mgd run`. Goals
(issue 7, Solo5's test_hello on this class of machine): spt at most 22 KB
and 6 ms; virtio at most 80 KB and 250 ms under QEMU TCG.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GOALS = {"spt": (22 * 1024, 6.0), "virtio": (80 * 1024, 250.0)}

FLOOR_C = r"""
void _start(void)
{
    static const char msg[] = "Hello World!\n";
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"(1L), "S"(msg), "d"(sizeof msg - 1)
                     : "rcx", "r11", "memory");
    __asm__ volatile("syscall" : : "a"(231L), "D"(0L));
    for (;;) {
    }
}
"""


def median_ms(argv, runs=20):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0 or b"Hello World!" not in p.stdout:  # noqa: E501
            sys.exit("%s: exit %d: %r" % (argv, p.returncode, p.stderr[-500:]))
    return statistics.median(times)


def tender_of(mgd, target):
    """The program that runs `target`'s images, next to mgd."""
    return {"spt": os.path.join(os.path.dirname(mgd), "mg-spt")}.get(target)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    mgd, examples = (os.path.abspath(a) for a in sys.argv[1:])
    work = tempfile.mkdtemp(prefix="bench-image-")
    try:
        floor_c = os.path.join(work, "floor.c")
        with open(floor_c, "w") as f:
            f.write(FLOOR_C)
        floor = os.path.join(work, "floor")
        subprocess.run(["gcc", "-O2", "-static", "-nostdlib", "-fno-stack-protector", "-s", "-o",
                        floor, floor_c], check=True)
        floor_ms = median_ms([floor])
        print("image of hello --count=1 (stripped size; boot to exit, median of 20)")
        print("  floor: a static 'write and exit' program   %6d B  %6.2f ms"
              % (os.path.getsize(floor), floor_ms))
        cache = os.path.join(work, "cache")
        for target in ("unix", "spt", "virtio"):
            out = os.path.join(work, "hello." + target)
            p = subprocess.run([mgd, "build", os.path.join(examples, "hello"), "--target", target,
                                "-o", out, "--cache", cache], capture_output=True, text=True)
            if p.returncode != 0:
                why = (p.stderr.strip().splitlines() or ["failed"])[-1]
                print("  %-7s not built here: %s" % (target, why[:100]))
                continue
            size = os.path.getsize(out)
            tender = tender_of(mgd, target)
            if target == "virtio":
                # booted by QEMU (TCG, no KVM) through mgd run, as users do
                argv = [mgd, "run", out, "--", "--count=1"]
            else:
                argv = ([tender] if tender else []) + [out] + (["--"] if tender else []) + ["--count=1"]
            ms = median_ms(argv)
            line = "  %-7s %31s %6d B  %6.2f ms (floor + %.2f ms)" % (target, "", size, ms,
                                                                   ms - floor_ms)
            if target in GOALS:
                gs, gt = GOALS[target]
                line += "  goal <= %d B, <= %.0f ms: %s" % (
                    gs, gt, "met" if size <= gs and ms <= gt else "NOT met")
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
