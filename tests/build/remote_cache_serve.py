"""mgd serve --remote-cache (tests/build/remote_cache.sh runs it): a daemon
with an empty local cache builds examples/hello from the remote cache that
the shell test filled; the build record and /metrics show the remote's part.
usage: remote_cache_serve.py MGD URL CACHE_DIR"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402

harness.MGD, url, cache = sys.argv[1], sys.argv[2], sys.argv[3]
d = harness.Daemon(extra_args=["--remote-cache", url], cache=cache)
d.start()
fails = 0
try:
    d.create_project(harness.hello_project("hello"))
    b = d.build_and_wait("hello")
    remote = b["cache"]["remote"]
    print("daemon build: cache", b["cache"])
    checks = [
        ("daemon: every action cached", b["cache"]["hits"] == b["cache"]["actions"] > 0),
        ("daemon: every action a remote hit", remote["hits"] == b["cache"]["actions"]),
        ("daemon: bytes came down", remote["bytes_down"] > 0),
        ("daemon: no errors", remote["errors"] == 0),
    ]
    metrics = d.get("/metrics").text
    want = "mgd_remote_cache_hits_total %d" % remote["hits"]
    checks.append(("daemon: /metrics counts the remote hits", want in metrics))
    checks.append(("daemon: /metrics counts bytes down",
                   'mgd_remote_cache_bytes_total{direction="down"} %d' % remote["bytes_down"]
                   in metrics))
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
        fails += 0 if ok else 1
finally:
    d.stop()
    d.cleanup()
sys.exit(1 if fails else 0)
