#!/usr/bin/env python3
"""Ping round trips to the ping example on each target, over a tap.

    bench/net/bench_net.py MGD EXAMPLES

For each target (unix, spt, virtio): the ping example (examples/ping,
answering ICMP echo on raw Ethernet frames) runs under `mgd run --net
service=tap0`, and the host pings it: the median and 99th percentile of
400 round trips of 56-byte echoes sent every 5 ms, then how long 2000
echoes take back to back (ping -f, one in flight at a time). The floor,
measured in the same run: the same pings between two network namespaces
joined by a veth pair, the host's kernel answering itself, with no image
and no tap. virtio runs under QEMU without KVM (TCG), its driver polled:
between the PIT's 1 kHz ticks it sleeps, so an idle echo waits up to a
millisecond for the next tick.

Everything happens in network namespaces made here and deleted at the
end; it needs root (ip netns, tap devices).
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

N_RTT = 400
N_FLOOD = 2000


def sh(*argv, ns=None, check=True, **kw):
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


def pings(ns, addr):
    """(median ms, p99 ms, flood ms): N_RTT timed echoes, then N_FLOOD back to back."""
    # one echo first, untimed: the neighbour's address is resolved (ARP)
    sh("ping", "-n", "-c", "1", "-W", "5", addr, ns=ns)
    out = sh("ping", "-n", "-c", str(N_RTT), "-i", "0.005", "-W", "2",
             addr, ns=ns).stdout
    rtts = sorted(float(m) for m in re.findall(r"time=([0-9.]+) ms", out))
    if len(rtts) < N_RTT * 0.99:
        sys.exit("%s: only %d of %d echoes answered:\n%s" % (addr, len(rtts), N_RTT, out[-800:]))
    p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    flood = sh("ping", "-n", "-q", "-f", "-c", str(N_FLOOD), "-W", "2", addr, ns=ns).stdout
    m = re.search(r"(\d+) received.*time (\d+)ms", flood, re.S)
    if not m or int(m.group(1)) < N_FLOOD * 0.99:
        sys.exit("%s: flood ping lost echoes:\n%s" % (addr, flood[-800:]))
    return statistics.median(rtts), p99, float(m.group(2))


def floor(tag):
    """Kernel to kernel over a veth pair between two namespaces."""
    a, b = tag + "-a", tag + "-b"
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "link", "add", "veth-a", "netns", a, "type", "veth", "peer", "veth-b", "netns", b)
        for ns, dev, addr in ((a, "veth-a", "10.0.9.1/24"), (b, "veth-b", "10.0.9.2/24")):
            sh("ip", "addr", "add", addr, "dev", dev, ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        return pings(a, "10.0.9.2")
    finally:
        sh("ip", "netns", "del", a, check=False)
        sh("ip", "netns", "del", b, check=False)


def target(mgd, examples, work, tag, t):
    image = os.path.join(work, "ping." + t)
    sh(mgd, "build", os.path.join(examples, "ping"), "--target", t, "-o", image)
    ns = tag + "-" + t
    proc = None
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "tuntap", "add", "tap0", "mode", "tap", ns=ns)
        sh("ip", "addr", "add", "10.0.0.1/24", "dev", "tap0", ns=ns)
        sh("ip", "link", "set", "tap0", "up", ns=ns)
        log = open(os.path.join(work, t + ".log"), "w+")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, mgd, "run", image, "--net",
                                 "service=tap0"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while "answering for" not in open(log.name).read():
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("%s: the image did not come up:\n%s" % (t, open(log.name).read()[-800:]))
            time.sleep(0.05)
        return pings(ns, "10.0.0.2")
    finally:
        if proc:
            proc.kill()
            proc.wait()
            # QEMU and the tender run in the namespace: make sure they are gone
            sh("sh", "-c", "ip netns pids %s | xargs -r kill -9" % ns, check=False)
        sh("ip", "netns", "del", ns, check=False)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    if os.geteuid() != 0 or not shutil.which("ping"):
        print("bench/net: skipped (needs root for namespaces and taps, and ping)")
        return
    mgd, examples = (os.path.abspath(a) for a in sys.argv[1:])
    work = tempfile.mkdtemp(prefix="bench-net-")
    tag = "mgdbench%d" % os.getpid()
    try:
        rows = [("floor: kernel to kernel, veth",) + floor(tag)]
        for t in ("unix", "spt", "virtio"):
            rows.append((t + ", tap",) + target(mgd, examples, work, tag, t))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ping round trips, 56-byte echoes (median and p99 of %d; %d back to back)" %
          (N_RTT, N_FLOOD))
    fmed, fp99, fflood = rows[0][1:]
    for name, med, p99, flood in rows:
        extra = "" if name.startswith("floor") else "  (floor + %.3f ms median)" % (med - fmed)
        print("  %-32s %7.3f ms %7.3f ms %8.0f ms%s" % (name, med, p99, flood, extra))


if __name__ == "__main__":
    main()
