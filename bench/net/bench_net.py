#!/usr/bin/env python3
"""bench/net: the network path of images against the host's kernel, side
by side in one run.

    bench/net/bench_net.py MGD EXAMPLES [--quick] [--only PARTS]

PARTS (comma-separated, default all): ping, wrk, iperf, size.

ping: round trips to the ping example (raw Ethernet frames, no stack) on
  unix, spt and virtio over a tap: median and 99th percentile of 400
  56-byte echoes sent every 5 ms, then 2000 back to back (ping -f). Floor:
  the same pings between two namespaces over a veth pair, the kernel
  answering itself.
wrk: requests per second that `wrk` (-t1 -c10, keep-alive) gets from
  static_website's index.html on unix/socket (the host's sockets, on a
  veth), unix/tap (the direct stack, lwIP, on a tap), spt and virtio
  (QEMU under TCG: recorded, no goal), and from nginx (Debian's nginx, one
  worker process, as the image has one thread, started here with its own
  configuration, serving the same htdocs on the same veth and port). Each
  is run 3 x 5 s: the median, the spread ((max - min) / median; over 10 %
  is flagged), the ratio to nginx. Goals: unix/socket >= 70 % of nginx,
  spt >= 50 %.
iperf: TCP throughput with iperf 2 into the echo example. If echo has a
  runtime key `discard` (read and drop), iperf sends one way to
  `--discard=true`; else --full-duplex: iperf reads back what echo
  returns, so echo's reply cannot stall the sender (a plain iperf client
  never reads, its receive buffer fills, echo stops reading and the
  transfer collapses), and both directions are printed. Floor: the kernel
  to kernel, iperf's own server in one namespace and the client in another
  over the same veth, same options. 3 x 5 s each. Goal: >= 1 Gbit/s sent
  into echo on spt.
size: the stripped spt images: echo <= 80 KB; static_website <= 128 KB +
  its htdocs.

The client always runs in one namespace; the servers are one hop away:
on a tap there (the direct stack: 10.0.0.2) or in a second namespace
joined by a veth pair (the socket stack and the host's servers: 10.0.1.2).
Everything happens in namespaces made here and deleted at the end; it needs
root. A goal missed prints MISS and does not fail; something that does not
run (a build, a server that never answers, a tool missing) exits 1.
--quick: one 1-second run of each, for a check that the bench still runs.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

N_RTT = 400
N_FLOOD = 2000
WRK_THREADS, WRK_CONNS = 1, 10
SPREAD_FLAG = 0.10
GOAL_WRK = {"unix/socket": 0.70, "spt": 0.50}
GOAL_IPERF_SPT = 1000.0  # Mbit/s
GOAL_ECHO_SPT = 80 * 1024
GOAL_WEB_SPT = 128 * 1024  # plus htdocs
# configuration: (target, build keys, server namespace "c"lient or
# "s"erver, address, mgd run options)
CONFIGS = {
    "unix/socket": ("unix", ["--key", "net=socket"], "s", "10.0.1.2", []),
    "unix/tap": ("unix", ["--key", "net=direct"], "c", "10.0.0.2", ["--net", "service=tap0"]),
    "spt": ("spt", [], "c", "10.0.0.2", ["--net", "service=tap0"]),
    "virtio": ("virtio", [], "c", "10.0.0.2", ["--net", "service=tap0"]),
}


def die(msg):
    sys.exit("bench/net: " + msg)


def sh(*argv, ns=None, check=True, **kw):
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and p.returncode != 0:
        die("%s failed (%d):\n%s" % (" ".join(argv), p.returncode, p.stdout[-1500:]))
    return p


def spread(xs):
    med = statistics.median(xs)
    return (max(xs) - min(xs)) / med if med else 0.0


class Net:
    """The two namespaces (client with the tap and one end of the veth;
    server with the other end) and the processes started in them."""

    def __init__(self, tag, work):
        self.c, self.s, self.work = tag + "-c", tag + "-s", work
        self.procs = []
        sh("ip", "netns", "add", self.c)
        sh("ip", "netns", "add", self.s)
        for ns in (self.c, self.s):
            sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "tuntap", "add", "tap0", "mode", "tap", ns=self.c)
        sh("ip", "addr", "add", "10.0.0.1/24", "dev", "tap0", ns=self.c)
        sh("ip", "link", "set", "tap0", "up", ns=self.c)
        sh("ip", "link", "add", "veth-c", "netns", self.c, "type", "veth", "peer", "veth-s",
           "netns", self.s)
        sh("ip", "addr", "add", "10.0.1.1/24", "dev", "veth-c", ns=self.c)
        sh("ip", "link", "set", "veth-c", "up", ns=self.c)
        sh("ip", "addr", "add", "10.0.1.2/24", "dev", "veth-s", ns=self.s)
        sh("ip", "link", "set", "veth-s", "up", ns=self.s)

    def ns(self, where):
        return self.c if where == "c" else self.s

    def start(self, where, name, argv):
        """Starts argv in a namespace, in a session of its own (QEMU and
        mg-spt end with it); returns (process, log path)."""
        log = os.path.join(self.work, name.replace("/", "-") + ".log")
        sh("ip", "neigh", "flush", "dev", "tap0", ns=self.c, check=False)
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(where)] + argv,
                             stdout=open(log, "w"), stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p, log

    def stop(self, p):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.remove(p)

    def wait_port(self, p, log, addr, port, what, secs=60):
        """Until addr:port accepts a connection from the client namespace."""
        deadline = time.time() + secs
        while time.time() < deadline:
            if p.poll() is not None:
                break
            if sh("timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/%s/%d" % (addr, port),
                  ns=self.c, check=False).returncode == 0:
                return
            time.sleep(0.2)
        out = open(log, errors="replace").read().replace("\r", "")[-1500:]
        die("%s never answered on %s:%d:\n%s" % (what, addr, port, out))

    def close(self):
        for p in list(self.procs):
            try:
                self.stop(p)
            except ProcessLookupError:
                pass
        for ns in (self.c, self.s):
            sh("sh", "-c", "ip netns pids %s | xargs -r kill -9" % ns, check=False)
            sh("ip", "netns", "del", ns, check=False)


# ---- ping ----

def pings(ns, addr):
    """(median ms, p99 ms, flood ms): N_RTT timed echoes, then N_FLOOD back to back."""
    # one echo first, untimed: the neighbour's address is resolved (ARP)
    sh("ping", "-n", "-c", "1", "-W", "5", addr, ns=ns)
    out = sh("ping", "-n", "-c", str(N_RTT), "-i", "0.005", "-W", "2", addr, ns=ns).stdout
    rtts = sorted(float(m) for m in re.findall(r"time=([0-9.]+) ms", out))
    if len(rtts) < N_RTT * 0.99:
        die("%s: only %d of %d echoes answered:\n%s" % (addr, len(rtts), N_RTT, out[-800:]))
    p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    flood = sh("ping", "-n", "-q", "-f", "-c", str(N_FLOOD), "-W", "2", addr, ns=ns).stdout
    m = re.search(r"(\d+) received.*time (\d+)ms", flood, re.S)
    if not m or int(m.group(1)) < N_FLOOD * 0.99:
        die("%s: flood ping lost echoes:\n%s" % (addr, flood[-800:]))
    return statistics.median(rtts), p99, float(m.group(2))


def bench_ping(net, mgd, examples, work):
    rows = [("floor: kernel to kernel, veth",) + pings(net.c, "10.0.1.2")]
    for t in ("unix", "spt", "virtio"):
        image = os.path.join(work, "ping." + t)
        sh(mgd, "build", os.path.join(examples, "ping"), "--target", t, "-o", image)
        p, log = net.start("c", "ping-" + t, [mgd, "run", image, "--net", "service=tap0"])
        deadline = time.time() + 60
        while "answering for" not in open(log).read():
            if time.time() > deadline or p.poll() is not None:
                die("ping on %s did not come up:\n%s" % (t, open(log).read()[-800:]))
            time.sleep(0.05)
        rows.append((t + ", tap",) + pings(net.c, "10.0.0.2"))
        net.stop(p)
    print("ping round trips, 56-byte echoes (median and p99 of %d; %d back to back)" %
          (N_RTT, N_FLOOD))
    fmed = rows[0][1]
    for name, med, p99, flood in rows:
        extra = "" if name.startswith("floor") else "  (floor + %.3f ms median)" % (med - fmed)
        print("  %-32s %7.3f ms %7.3f ms %8.0f ms%s" % (name, med, p99, flood, extra))


# ---- images ----

def build(mgd, examples, work, example, cfg, extra=()):
    target, keys = CONFIGS[cfg][:2]
    if not os.path.isfile(os.path.join(examples, example, "config.json")):
        die("examples/%s does not exist (issue 16: it is not merged yet)" % example)
    out = os.path.join(work, "%s.%s" % (example, cfg.replace("/", "-")))
    p = subprocess.run([mgd, "build", os.path.join(examples, example), "--target", target,
                        "-o", out] + keys + list(extra), capture_output=True, text=True)
    if p.returncode != 0:
        die("%s does not build for %s:\n%s" % (example, cfg, p.stderr[-1500:]))
    return out


def start_image(net, mgd, image, cfg, name, port, args=()):
    _, _, where, addr, opts = CONFIGS[cfg]
    p, log = net.start(where, name, [mgd, "run", image] + opts + ["--"] + list(args))
    net.wait_port(p, log, addr, port, name)
    return p, addr


# ---- wrk ----

def wrk(net, url, runs, secs):
    """Requests/s of each run, after a 1-second warm-up."""
    base = ["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNS]
    sh(*base, "-d1s", url, ns=net.c)
    out = []
    for _ in range(runs):
        r = sh(*base, "-d%ds" % secs, url, ns=net.c).stdout
        m = re.search(r"Requests/sec:\s+([0-9.]+)", r)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r)
        if not m or bad or float(m.group(1)) == 0:
            die("wrk %s did not run cleanly:\n%s" % (url, r[-1500:]))
        out.append(float(m.group(1)))
    return out


def nginx(net, htdocs, work):
    d = os.path.join(work, "nginx")
    os.makedirs(d)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""# bench/net: nginx serving static_website's htdocs, one worker as the image has one thread
user root;
worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    # what a production configuration of static files keeps: no open,
    # fstat and close per request
    open_file_cache max=1000 inactive=60s;
    keepalive_requests 1000000;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    server {
        listen 10.0.1.2:80;
        root %(h)s;
    }
}
""" % {"d": d, "h": htdocs})
    return net.start("s", "nginx", ["nginx", "-c", conf, "-p", d])


def bench_wrk(net, mgd, examples, work, cfgs, runs, secs):
    htdocs = os.path.join(examples, "static_website", "htdocs")
    rows = []
    p, log = nginx(net, htdocs, work)
    net.wait_port(p, log, "10.0.1.2", 80, "nginx")
    rows.append(("nginx, veth", wrk(net, "http://10.0.1.2/", runs, secs)))
    net.stop(p)
    for cfg in cfgs:
        img = build(mgd, examples, work, "static_website", cfg)
        p, addr = start_image(net, mgd, img, cfg, "web-" + cfg, 80)
        rows.append((cfg, wrk(net, "http://%s/" % addr, runs, secs)))
        net.stop(p)
    print("wrk -t%d -c%d, GET / (static_website's index.html), %d x %d s: requests/s" %
          (WRK_THREADS, WRK_CONNS, runs, secs))
    ref = statistics.median(rows[0][1])
    for name, xs in rows:
        med, sp = statistics.median(xs), spread(xs)
        line = "  %-14s %10.0f req/s  spread %4.1f %%%s  %5.1f %% of nginx" % (
            name, med, sp * 100, " (over 10 %: FLAG)" if sp > SPREAD_FLAG else "", med / ref * 100)
        if name in GOAL_WRK:
            line += "  goal >= %.0f %%: %s" % (GOAL_WRK[name] * 100,
                                               "PASS" if med / ref >= GOAL_WRK[name] else "MISS")
        elif name == "virtio":
            line += "  (QEMU TCG: recorded)"
        print(line)


# ---- iperf ----

def iperf(net, addr, port, runs, secs, duplex=True):
    """[(Mbit/s sent, Mbit/s received or 0)] of each run, --full-duplex
    unless told otherwise, after a 1-second warm-up (the first run would
    otherwise also measure ARP, the first window growth and a cold
    cache)."""
    out = []
    for i in range(runs + 1):
        r = sh("timeout", str(secs + 30), "iperf", "-c", addr, "-p", str(port),
               "-t", str(secs if i else 1), "-f", "m", *(["--full-duplex"] if duplex else []),
               ns=net.c).stdout
        sent = re.search(r"^\[\s*1\] .*?([0-9.]+) Mbits/sec", r, re.M)
        back = re.search(r"^\[ \*1\] .*?([0-9.]+) Mbits/sec", r, re.M)
        if not sent or (duplex and not back) or float(sent.group(1)) == 0:
            die("iperf to %s:%d did not run cleanly:\n%s" % (addr, port, r[-1500:]))
        if i:
            out.append((float(sent.group(1)), float(back.group(1)) if duplex else 0.0))
    return out


def echo_discards(examples):
    """Whether the echo example has a runtime key `discard` (read and drop
    instead of returning): then iperf measures one direction, as the
    floor's iperf server does, instead of --full-duplex."""
    import json
    with open(os.path.join(examples, "echo", "config.json")) as f:
        return "discard" in json.load(f).get("keys", {})


def bench_iperf(net, mgd, examples, work, cfgs, runs, secs):
    discard = echo_discards(examples)
    p, log = net.start("s", "iperf-server", ["iperf", "-s", "-p", "5001"])
    net.wait_port(p, log, "10.0.1.2", 5001, "iperf -s")
    rows = [("floor: kernel, veth", iperf(net, "10.0.1.2", 5001, runs, secs, not discard))]
    net.stop(p)
    for cfg in cfgs:
        img = build(mgd, examples, work, "echo", cfg)
        p, addr = start_image(net, mgd, img, cfg, "echo-" + cfg, 7,
                              ["--discard=true"] if discard else [])
        rows.append((cfg + " echo", iperf(net, addr, 7, runs, secs, not discard)))
        net.stop(p)
    if discard:
        print("iperf 2 into echo --discard=true, %d x %d s: Mbit/s" % (runs, secs))
    else:
        print("iperf 2 --full-duplex into echo (no discard key), %d x %d s: Mbit/s sent "
              "(and returned)" % (runs, secs))
    ref = statistics.median(s for s, _ in rows[0][1])
    for name, xs in rows:
        sent = [s for s, _ in xs]
        med, back, sp = statistics.median(sent), statistics.median(b for _, b in xs), spread(sent)
        line = "  %-20s %9.0f Mbit/s%s  spread %4.1f %%%s  %5.1f %% of the floor" % (
            name, med, " (%9.0f back)" % back if not discard else "", sp * 100, " (over 10 %: FLAG)" if sp > SPREAD_FLAG else "",
            med / ref * 100)
        if name == "spt echo":
            line += "  goal >= %.0f: %s" % (GOAL_IPERF_SPT, "PASS" if med >= GOAL_IPERF_SPT else "MISS")
        print(line)


# ---- sizes ----

def stripped(path, work):
    out = os.path.join(work, os.path.basename(path) + ".stripped")
    sh("strip", "-o", out, path)
    return os.path.getsize(out)


def bench_size(mgd, examples, work):
    echo = stripped(build(mgd, examples, work, "echo", "spt"), work)
    web = stripped(build(mgd, examples, work, "static_website", "spt"), work)
    htdocs = sum(os.path.getsize(os.path.join(d, f))
                 for d, _, fs in os.walk(os.path.join(examples, "static_website", "htdocs"))
                 for f in fs)
    print("stripped spt images")
    print("  echo            %7d B  goal <= %d B: %s" % (echo, GOAL_ECHO_SPT,
                                                         "PASS" if echo <= GOAL_ECHO_SPT else "MISS"))
    print("  static_website  %7d B  goal <= %d B + htdocs %d B = %d B: %s" % (
        web, GOAL_WEB_SPT, htdocs, GOAL_WEB_SPT + htdocs,
        "PASS" if web <= GOAL_WEB_SPT + htdocs else "MISS"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mgd")
    ap.add_argument("examples")
    ap.add_argument("--quick", action="store_true", help="one 1-second run of each")
    ap.add_argument("--only", default="ping,wrk,iperf,size")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="the image configurations of wrk and iperf (default: all four)")
    a = ap.parse_args()
    parts = a.only.split(",")
    for part in parts:
        if part not in ("ping", "wrk", "iperf", "size"):
            die("unknown part %s (ping, wrk, iperf, size)" % part)
    cfgs = a.configs.split(",")
    for c in cfgs:
        if c not in CONFIGS:
            die("unknown configuration %s (%s)" % (c, ", ".join(CONFIGS)))
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        print("bench/net: skipped (needs root for namespaces and taps, and /dev/net/tun)")
        return
    need = {"ping": ["ping"], "wrk": ["wrk", "nginx"], "iperf": ["iperf"], "size": ["strip"]}
    for part in parts:
        for tool in need.get(part, []):
            if not shutil.which(tool):
                die("%s is not installed (scripts/deps.sh installs it)" % tool)
    mgd, examples = os.path.abspath(a.mgd), os.path.abspath(a.examples)
    # the examples each part needs, checked before anything is measured
    uses = {"ping": ["ping"], "wrk": ["static_website"], "iperf": ["echo"],
            "size": ["echo", "static_website"]}
    for part in parts:
        for ex in uses.get(part, []):
            if not os.path.isfile(os.path.join(examples, ex, "config.json")):
                die("examples/%s does not exist (issue 16: it is not merged yet)" % ex)
    runs, secs = (1, 1) if a.quick else (3, 5)
    work = tempfile.mkdtemp(prefix="bench-net-")
    net = None
    try:
        net = Net("mgdbench%d" % os.getpid(), work)
        if "ping" in parts:
            bench_ping(net, mgd, examples, work)
        if "wrk" in parts:
            bench_wrk(net, mgd, examples, work, cfgs, runs, secs)
        if "iperf" in parts:
            bench_iperf(net, mgd, examples, work, cfgs, runs, secs)
        if "size" in parts:
            bench_size(mgd, examples, work)
    finally:
        if net:
            net.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
