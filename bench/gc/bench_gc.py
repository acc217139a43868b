#!/usr/bin/env python3
"""bench/gc: what gc frees on a store with 500 builds.

usage: bench_gc.py MGD [--projects N] [--builds N] [--keep N] [--workers N]
                       [--seed-cache DIR]

Starts `MGD serve --keep-builds KEEP --gc-interval 0` on a fresh data
directory (its cache seeded from --seed-cache when given, else cold), makes
5 projects of the printer program with inline sources and runs 500 builds
over them, each of new sources (so each compiles its own code and links
its own image; one in ten does not compile and fails), waits for them all,
then POSTs /gc once.

Prints the builds before and after, what gc reported (builds, logs, blobs
and mirrors deleted, bytes freed, its duration) and the size of the data
directory's logs/ and cache/ before and after (du: what the disk got
back, images still named by the action cache included).

Checks (exit status 1 when one fails): every build ended; gc deleted
exactly the builds retention does not keep (per project: the builds past
the last KEEP, but the newest succeeded one); every remaining succeeded
build's image downloads with its sha256; every deleted build answers 404;
after the daemon stopped, PRAGMA quick_check is ok and nothing is left
pending.
"""
import argparse
import hashlib
import os
import shutil
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from mgd_bench import BenchError, run_with_daemon  # noqa: E402

PRINTER_C = """#include "mg/console.h"

int app_start(mg_console *console);

int app_start(mg_console *console)
{
    mg_console_printf(console, "%s\\n");
    return 0;
}
"""


def config(name):
    return {"mgd": 1, "name": name,
            "devices": {"main": {"main": "app_start", "type": "console -> job",
                                 "sources": ["unikernel.c"]}},
            "jobs": [{"apply": "main", "to": ["default_console"]}]}


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def mib(n):
    return "%.2f MiB" % (n / 1048576)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mgd")
    ap.add_argument("--projects", type=int, default=5)
    ap.add_argument("--builds", type=int, default=500)
    ap.add_argument("--keep", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed-cache", help="an action cache to start from (copied)")
    args = ap.parse_args()
    return run_with_daemon("bench_gc", args.mgd, args.workers, run, args,
                           ["--keep-builds", str(args.keep), "--gc-interval", "0"])


def run(d, args):
    if args.seed_cache:
        # the daemon has started: copy under its cache, which it reads per build
        for sub in ("blobs", "records", "runtime"):
            src = os.path.join(args.seed_cache, sub)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(d.data, "cache", sub), dirs_exist_ok=True)
    names = ["gc%d" % i for i in range(args.projects)]
    for n in names:
        d.create_project(n, config(n), {"unikernel.c": PRINTER_C % (n + " 0")})
    t0 = time.monotonic()
    builds = {n: [] for n in names}
    for i in range(args.builds):
        n = names[i % len(names)]
        text = ("this does not compile %d;\n" % i) if i % 10 == 9 else PRINTER_C % ("%s %d" % (n, i))
        d.expect(200, "PATCH", "/projects/" + n, {"sources": {"unikernel.c": text}})
        b = d.build(n)
        builds[n].append(d.wait_build(b["id"]))
    build_s = time.monotonic() - t0
    statuses = {}
    for bs in builds.values():
        for b in bs:
            statuses[b["status"]] = statuses.get(b["status"], 0) + 1
    logs_before, cache_before = du(os.path.join(d.data, "logs")), du(os.path.join(d.data, "cache"))

    # what retention keeps, per project (one target and arch each)
    want_deleted = set()
    for bs in builds.values():
        kept = {b["id"] for b in bs[-args.keep:]} if args.keep else {b["id"] for b in bs}
        ok = [b for b in bs if b["status"] == "succeeded"]
        if ok:
            kept.add(ok[-1]["id"])
        want_deleted |= {b["id"] for b in bs} - kept

    rep = d.expect(200, "POST", "/gc")
    logs_after, cache_after = du(os.path.join(d.data, "logs")), du(os.path.join(d.data, "cache"))
    if rep["builds"]["deleted"] != len(want_deleted):
        raise BenchError("gc deleted %d builds, retention says %d: %s"
                         % (rep["builds"]["deleted"], len(want_deleted), rep))
    for bs in builds.values():
        for b in bs:
            status, _, payload = d.request("GET", "/builds/%d/image" % b["id"], raw=True)
            if b["id"] in want_deleted:
                if status != 404:
                    raise BenchError("deleted build %d answers %d" % (b["id"], status))
            elif b["status"] == "succeeded":
                if status != 200 or hashlib.sha256(payload).hexdigest() != b["image"]["sha256"]:
                    raise BenchError("kept build %d: image %d, not its sha256" % (b["id"], status))
    d.stop()
    db = sqlite3.connect(os.path.join(d.data, "mgd.sqlite3"))
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    pending = db.execute("SELECT count(*) FROM gc_pending").fetchone()[0]
    db.close()
    if check != "ok" or pending:
        raise BenchError("after gc: quick_check %s, %d blobs pending" % (check, pending))

    total = sum(len(bs) for bs in builds.values())
    print("bench_gc: %d builds on %d projects in %.0f s (%s), --keep-builds %d"
          % (total, len(names), build_s,
             ", ".join("%d %s" % (v, k) for k, v in sorted(statuses.items())), args.keep))
    print("gc: deleted %d builds (%d kept), %d logs (%s), %d blobs (%s; %d images still named "
          "by the action cache), %d mirrors; %s freed in %d ms"
          % (rep["builds"]["deleted"], rep["builds"]["kept"], rep["logs"]["deleted"],
             mib(rep["logs"]["bytes"]), rep["blobs"]["deleted"], mib(rep["blobs"]["bytes"]),
             rep["blobs"]["shared"], rep["mirrors"]["deleted"], mib(rep["bytes_freed"]),
             rep["duration_ms"]))
    print("disk: logs %s -> %s, cache %s -> %s"
          % (mib(logs_before), mib(logs_after), mib(cache_before), mib(cache_after)))
    print("checks: images of kept builds verified, deleted ones 404, quick_check ok, "
          "nothing pending")
    return 0


if __name__ == "__main__":
    sys.exit(main())
