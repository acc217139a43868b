#!/usr/bin/env python3
"""bench/scale's figure_worker_claim, one build: how long a queued build
waits for a pull worker that is long-polling the coordinator. Run on the
client's host (bench_scale.sh: the coordinator's); the worker's stderr is a
file on the same machine, so both ends read one clock.

It POSTs /projects/PROJECT/build and then reads the worker's stderr (every
millisecond) until the worker says it got the build ("build ID (...):
started", printed as soon as the claim's answer is parsed). Prints
"ID TOTAL_MS POST_MS": the build's id, the time from sending the POST to
that line, and the time the POST's own answer took (the build queued).
Exit 1 when the POST fails or no line comes within 30 s.

usage: claim_time.py URL ADMIN_TOKEN PROJECT WORKER_STDERR
"""
import http.client
import json
import re
import sys
import time
import urllib.parse


def main(url, token, project, stderr_path):
    u = urllib.parse.urlsplit(url)
    with open(stderr_path, "rb") as f:
        f.seek(0, 2)  # only what the worker says from now on
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.connect()
        t0 = time.monotonic()
        conn.request("POST", "/projects/%s/build" % project, body="{}",
                     headers={"Authorization": "Bearer " + token,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        t_post = time.monotonic()
        if r.status != 202:
            print("POST /projects/%s/build: %d %s" % (project, r.status, body[:200]),
                  file=sys.stderr)
            return 1
        bid = json.loads(body)["id"]
        want = re.compile(rb"build %d \([^)]*\): started" % bid)
        seen = b""
        while time.monotonic() - t0 < 30:
            seen += f.read()
            if want.search(seen):
                t1 = time.monotonic()
                print("%d %.1f %.1f" % (bid, (t1 - t0) * 1000, (t_post - t0) * 1000))
                return 0
            time.sleep(0.001)
    print("build %d: the worker did not take it in 30 s" % bid, file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
