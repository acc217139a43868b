#!/usr/bin/env python3
"""What mgctl costs a CI job, against a fresh daemon on this machine.

    bench/client/bench_mgctl.py MGD MGCTL

1. One command: the wall time of `mgctl status B` (a process, a request,
   a table), median of 40 runs, next to its floor measured in the same
   run: `curl` asking the same URL (a process and a request, no output).
2. Waiting for a build: `mgctl build P --force --wait` and `--follow`
   (each the median of 10), next to the build's own duration as the daemon
   reports it (duration_ms): the difference is queueing, mgctl's start and
   how fast it learns of the end (the log stream's end event, not polling).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "api"))
import mgd_bench  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples")


def wall(argv, env, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            raise mgd_bench.BenchError("%s: exit %d: %s" % (argv, p.returncode, p.stderr))
    return statistics.median(times)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    mgd, mgctl = (os.path.abspath(a) for a in sys.argv[1:])
    work = tempfile.mkdtemp(prefix="bench-mgctl-")
    d = mgd_bench.Daemon(mgd, work)
    try:
        config, sources = mgd_bench.load_example(EXAMPLES, "hello")
        d.create_project("hello", config, sources)
        first = d.wait_build(d.build("hello")["id"])
        if first["status"] != "succeeded":
            raise mgd_bench.BenchError("the first build %s" % first["status"])
        env = dict(os.environ, MGD_URL=d.url, MGD_TOKEN=d.token)
        bid = str(first["id"])

        print("mgctl, against mgd serve on 127.0.0.1 (medians)")
        status = wall([mgctl, "status", bid], env, 40)
        status_json = wall([mgctl, "status", bid, "--json"], env, 40)
        floor = wall(["curl", "-s", "-o", "/dev/null", "-H", "Authorization: Bearer " + d.token,
                      d.url + "/builds/" + bid], env, 40)
        print("  mgctl status B           %7.1f ms" % status)
        print("  mgctl status B --json    %7.1f ms" % status_json)
        print("  floor: curl GET /builds/B %6.1f ms  (mgctl costs %.1f ms more)"
              % (floor, status - floor))

        rows = []
        for mode in ("--wait", "--follow"):
            walls, durations = [], []
            for _ in range(10):
                t0 = time.perf_counter()
                p = subprocess.run([mgctl, "build", "hello", "--force", mode, "--json"], env=env,
                                   capture_output=True)
                walls.append((time.perf_counter() - t0) * 1000)
                if p.returncode != 0:
                    raise mgd_bench.BenchError("build %s: exit %d: %s"
                                               % (mode, p.returncode, p.stderr[-2000:]))
                durations.append(json.loads(p.stdout)["duration_ms"])
            rows.append((mode, statistics.median(walls), statistics.median(durations)))
        for mode, w, dur in rows:
            print("  mgctl build --force %-9s %7.1f ms; the build itself %5.0f ms; "
                  "queue + client %5.1f ms" % (mode, w, dur, w - dur))
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
