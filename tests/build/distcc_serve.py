"""mgd serve --distcc (tests/build/distcc.sh runs it, with its distccd
daemons): a daemon with an empty cache of its own probes the hosts, then
builds examples/hello with force through them; the image's sha256 is the
local build's, /metrics counts the remote compiles, the build log names the
hosts and ends with the distcc line.
usage: distcc_serve.py MGD HOSTS CACHE_DIR LOCAL_SHA256"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402

harness.MGD, hosts, cache, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
d = harness.Daemon(extra_args=["--distcc", hosts], cache=cache)
d.start(timeout=120)  # the probe compiles for every target and arch first
fails = 0
try:
    d.create_project(harness.hello_project("hello"))
    b = d.build_and_wait("hello", {"force": True})
    log = d.log(b["id"])
    got = (b.get("image") or {}).get("sha256")
    metrics = d.get("/metrics").text
    m = re.search(r"^mgd_distcc_remote_total (\d+)$", metrics, re.M)
    remote = int(m.group(1)) if m else -1
    m = re.search(r"^mgd_distcc_fallbacks_total (\d+)$", metrics, re.M)
    fallbacks = int(m.group(1)) if m else -1
    line = re.search(r"distcc: (\d+) compiles ran on distcc hosts, (\d+) fallbacks", log)
    on_hosts = len(re.findall(r"\] compile .*: ran in \d+ ms on 127\.0\.0\.1:\d+", log))
    stderr = d.stderr_text()
    print("daemon build %d: %s/%s, sha256 %s, %d compiles on hosts (/metrics %d, %d fallbacks)"
          % (b["id"], b.get("target"), b.get("arch"), (got or "")[:16], on_hosts, remote,
             fallbacks))
    checks = [
        ("daemon: the probe kept both hosts", "distcc: 2 hosts: 127.0.0.1:" in stderr),
        ("daemon: the image's sha256 is the local build's", got == want),
        ("daemon: /metrics mgd_distcc_remote_total > 0", remote > 0),
        ("daemon: /metrics counts every compile the log shows on a host", remote == on_hosts),
        ("daemon: no fallback", fallbacks == 0),
        ("daemon: the build log's distcc line",
         bool(line) and int(line.group(1)) == remote and line.group(2) == "0"),
    ]
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
        fails += 0 if ok else 1
    if fails:
        print("daemon stderr:\n" + stderr + "\nbuild log:\n" + log)
finally:
    d.stop()
    d.cleanup()
sys.exit(1 if fails else 0)
