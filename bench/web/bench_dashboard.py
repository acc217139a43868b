#!/usr/bin/env python3
"""What the dashboard's pages cost the daemon, on this machine.

    bench/web/bench_dashboard.py MGD

1. The device graph as SVG: GET /projects/P/graph?format=svg, drawn by
   Graphviz's dot in a child process, for 10 projects like examples/hello
   (4 devices) and 10 of 100 block devices: the first request of each
   (drawn) and the next ones (from the daemon's cache of drawings), next to
   their floor in the same run: format=dot (the same resolve and describe,
   no drawing).
2. The dashboard's own files: GET / and /ui/app.js (embedded in mgd),
   median of 200, and with If-None-Match (304, what a browser asks after
   the first visit).
"""
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "api"))
import mgd_bench  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples")


def timed(url, headers, runs):
    times = []
    for _ in range(runs):
        req = urllib.request.Request(url, headers=headers)
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        times.append((time.perf_counter() - t0) * 1000)
        if status not in (200, 304):
            raise mgd_bench.BenchError("%s: %d" % (url, status))
    return statistics.median(times), status


def wide_config(name, n):
    """One job applied to each of n block devices: n + a few devices."""
    devices = {"main": {"main": "app_start", "type": "block -> job", "sources": ["unikernel.c"]}}
    for i in range(n):
        devices["disk%d" % i] = {"device": "block_of_file", "args": {"name": "disk%d" % i}}
    jobs = [{"apply": "main", "to": ["disk%d" % i]} for i in range(n)]
    return {"mgd": 1, "name": name, "devices": devices, "jobs": jobs}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    mgd = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="bench-dashboard-")
    d = mgd_bench.Daemon(mgd, work)
    try:
        auth = {"Authorization": "Bearer " + d.token}
        config, sources = mgd_bench.load_example(EXAMPLES, "hello")
        print("dashboard, against mgd serve on 127.0.0.1 (medians)")
        # distinct graphs (the config's name is in the drawing), so that
        # each first request draws and the second comes from the cache
        kinds = [("hello, 4 devices", lambda i: dict(config, name="hello%d" % i), sources)]
        kinds.append(("100 block devices", lambda i: wide_config("wide%d" % i, 100),
                      {"unikernel.c": "int x;\n"}))
        for label, make, srcs in kinds:
            names = []
            for i in range(10):
                name = "%s-%d" % (label.split(",")[0].split()[0], i)
                d.create_project(name, make(i), srcs)
                names.append(name)
            first, again, floor = [], [], []
            for name in names:
                base = d.url + "/projects/" + name + "/graph?format="
                first.append(timed(base + "svg", auth, 1)[0])
                again.append(timed(base + "svg", auth, 5)[0])
                floor.append(timed(base + "dot", auth, 5)[0])
            _, hdrs, _ = d.request("GET", "/projects/%s/graph?format=svg" % names[0], raw=True)
            f, a, fl = (statistics.median(x) for x in (first, again, floor))
            print("  graph svg, %-18s drawn %7.1f ms, again (cached) %5.1f ms; floor format=dot %5.1f ms"
                  " [%s]" % (label, f, a, fl, hdrs.get("X-Graph-Renderer")))
        for path in ("/", "/ui/app.js"):
            full, _ = timed(d.url + path, {}, 200)
            _, hdrs, _ = d.request("GET", path, auth=False, raw=True)
            cond, st = timed(d.url + path, {"If-None-Match": hdrs.get("ETag")}, 200)
            print("  GET %-12s %5.2f ms; revalidated (%d) %5.2f ms" % (path, full, st, cond))
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
