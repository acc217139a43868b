#!/usr/bin/env bash
# The static_website example end to end on unix with the socket stack
# (examples/static_website: http_server over socket_stackv4v6, htdocs/ in
# a crunch store): built with mgd build, run with mgd run on a free port
# (--port=N), and asked by curl and by a raw socket client:
#  - each file of htdocs/ with its bytes, length and Content-Type; / is
#    index.html; a missing file is 404; HEAD has the length and no body;
#  - two URLs in one curl call share one connection (keep-alive);
#  - ETag and If-None-Match give 304; POST gives 405 with Allow;
#  - a request line over 8 KiB is refused with 414, headers over 16 KiB
#    with 431, each closing the connection;
#  - pipelined requests, sent in one write, are answered in order;
#  - lwIP's licence is in the spt image (direct stack), its build log and
#    its graph, and in none of them for the unix one (socket stack).
# The image and its clients run in a network namespace of their own
# (unshare -rn: a user namespace, so no root is needed), whose loopback
# is the only interface: nothing listens on the host's addresses. Without
# user namespaces the test reports skipped (77).
# usage: static_website.sh MGD EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") examples=$(realpath "$2")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"

if ! unshare -rn true 2>/dev/null; then
  echo "skipped: no user and network namespaces here (unshare -rn), where the website would run" >&2
  exit 77
fi
command -v curl >/dev/null || { echo "curl is missing (Debian package curl)"; exit 1; }

build "$examples/static_website" "$work/site" unix
check "static_website builds for unix" test -x "$work/site"

# The client side, in Python: it starts the image, waits for it to
# listen, and prints one "ok"/"FAIL" line per check.
cat >"$work/client.py" <<'PY'
import os, re, socket, subprocess, sys, time

mgd, image, htdocs, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
fails = 0

def check(name, cond, detail=""):
    global fails
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f" ({detail})"), flush=True)
    if not cond:
        fails += 1

def curl(*args):
    return subprocess.run(["curl", "-s", "--max-time", "10", *args], capture_output=True)

def raw(data, timeout=10):
    """Sends data in one write, returns everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out

def responses(data, heads=()):
    """Splits a byte stream into (status, headers, body); `heads` are the
    indices of responses to HEAD requests (no body)."""
    out, i = [], 0
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError(f"a head without its end: {data[:80]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:])}
        n = 0 if i in heads or status == 304 else int(headers.get("content-length", 0))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
        i += 1
    return out

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
log = open(os.path.join(os.path.dirname(image), "site.out"), "w+")
proc = subprocess.Popen([mgd, "run", image, "--", f"--port={port}"], stdout=log, stderr=subprocess.STDOUT)
try:
    up = False
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            up = True
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    log.seek(0)
    check("the site listens on the port it was given", up, log.read())
    if not up:
        sys.exit(1)

    types = {"index.html": "text/html; charset=utf-8", "style.css": "text/css; charset=utf-8",
             "logo.png": "image/png"}
    for name, ctype in types.items():
        want = open(os.path.join(htdocs, name), "rb").read()
        r = curl("-o", "-", "-w", "\n%{http_code} %{content_type} %{size_download}", f"{base}/{name}")
        body, _, meta = r.stdout.rpartition(b"\n")
        code, _, rest = meta.decode().partition(" ")
        got_type, _, size = rest.rpartition(" ")
        check(f"GET /{name}: 200", code == "200", meta)
        check(f"GET /{name}: Content-Type {ctype}", got_type == ctype, got_type)
        check(f"GET /{name}: {len(want)} bytes, the file's", int(size) == len(want) and body == want, size)

    index = open(os.path.join(htdocs, "index.html"), "rb").read()
    r = curl("-o", "-", f"{base}/")
    check("GET / is index.html", r.stdout == index)
    r = curl("-o", "/dev/null", "-w", "%{http_code}", f"{base}/missing.html")
    check("a missing file is 404", r.stdout == b"404", r.stdout)
    r = curl("-o", "/dev/null", "-w", "%{http_code}", f"{base}/../../etc/passwd", "--path-as-is")
    check("a path above the root is 400", r.stdout == b"400", r.stdout)

    r = curl("-I", f"{base}/style.css")
    head = r.stdout.decode()
    size = os.path.getsize(os.path.join(htdocs, "style.css"))
    check("HEAD: 200 with the file's Content-Length", head.startswith("HTTP/1.1 200")
          and f"Content-Length: {size}\r\n" in head, head)
    out = raw(b"HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    rs = responses(out, heads=(0,))
    check("HEAD has no body: the next response follows its head",
          [s for s, _, _ in rs] == [200, 404], out[:200])

    r = curl("-v", "-o", "/dev/null", "-o", "/dev/null", f"{base}/index.html", f"{base}/style.css")
    err = r.stderr.decode()
    check("keep-alive: curl re-uses the connection for its second URL",
          re.search(r"Re-using existing connection", err) is not None
          and err.count("Connected to") == 1, err[-600:])

    r = curl("-D", "-", "-o", "/dev/null", f"{base}/logo.png")
    m = re.search(r"(?im)^etag: (.*?)\r$", r.stdout.decode())
    check("GET has an ETag", m is not None, r.stdout)
    if m:
        r = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", f"If-None-Match: {m.group(1)}",
                 f"{base}/logo.png")
        check("If-None-Match with the ETag: 304", r.stdout == b"304", r.stdout)
    r = curl("-D", "-", "-o", "/dev/null", "-X", "POST", "-d", "x=1", f"{base}/index.html")
    hdrs = r.stdout.decode()
    check("POST: 405 with Allow: GET, HEAD", hdrs.startswith("HTTP/1.1 405")
          and "Allow: GET, HEAD\r\n" in hdrs, hdrs)

    out = raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    check("a request line over 8 KiB: 414, and the connection closes",
          out.startswith(b"HTTP/1.1 414 ") and b"Connection: close\r\n" in out, out[:120])
    out = raw(b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-Filler: " + b"v" * 20000 + b"\r\n\r\n")
    check("headers over 16 KiB: 431, and the connection closes",
          out.startswith(b"HTTP/1.1 431 ") and b"Connection: close\r\n" in out, out[:120])

    css = open(os.path.join(htdocs, "style.css"), "rb").read()
    png = open(os.path.join(htdocs, "logo.png"), "rb").read()
    out = raw(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /logo.png HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    rs = responses(out)
    check("pipelined requests are answered in order",
          [(s, b) for s, _, b in rs] == [(200, css), (404, b"404 Not Found\n"), (200, png), (200, index)],
          [(s, len(b)) for s, _, b in rs])
finally:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.seek(0)
    output = log.read()
check("the image logged where it listens", f"listening on port {port}" in output, output)
check("the image printed no error", "ERROR" not in output and "Sanitizer" not in output, output)
sys.exit(1 if fails else 0)
PY

# a port the kernel calls free (inside the namespace every port is)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
unshare -rn python3 "$work/client.py" "$mgd" "$work/site" "$examples/static_website/htdocs" "$port" \
  >"$work/client.out" 2>&1
rc=$?
cat "$work/client.out"
fails=$((fails + $(grep -c '^FAIL' "$work/client.out")))
check "the client ran all its checks" test "$rc" -eq 0 -o "$(grep -c '^FAIL' "$work/client.out")" -gt 0

# lwIP's licence travels with every image that links it (docs/network.md,
# "Licence"): the spt image (the direct stack) carries COPYING in its
# .mg_notices section, its build log says so and its graph lists it; the
# unix image (the host's sockets, no lwIP) has none of the three.
build "$examples/static_website" "$work/site.spt" spt --verbose
check "static_website builds for spt" test -s "$work/site.spt"
objcopy -O binary --only-section=.mg_notices "$work/site.spt" "$work/notices.spt"
check "the spt image carries lwIP's licence" \
  grep -q 'Swedish Institute of Computer Science' "$work/notices.spt"
check "... and its build log says so" \
  grep -q 'notice: the image carries runtime/tcpip/lwip/COPYING' "$work/site.spt.log"
"$mgd" describe "$examples/static_website/config.json" --target spt >"$work/spt.json"
check "... and its graph lists it" python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["notices"] == ["runtime/tcpip/lwip/COPYING"]' "$work/spt.json"
objcopy -O binary --only-section=.mg_notices "$work/site" "$work/notices.unix"
check "the unix image (socket stack) carries no notice" test ! -s "$work/notices.unix"
build "$examples/static_website" "$work/site.again" unix --verbose
check "... and its log names none" bash -c "grep -q 'link:' '$work/site.again.log' && ! grep -q 'notice:' '$work/site.again.log'"
finish
