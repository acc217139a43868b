#!/usr/bin/env bash
# The echo example (examples/echo) as a client sees it: built with `mgd
# build`, started with `mgd run` on a free port, it says it listens; 1 MB
# sent by a Python client comes back byte-identical (the echo pauses and
# resumes under back-pressure while the client sends and reads at once);
# 1,000 connections open at the same time each get their own message back;
# a port in use and a bad port are refused with a message and status 1.
#
# One function per configuration (row_NAME): today unix with the socket
# stack, which needs no privileges. The rows for unix over a tap (direct
# stack), spt and virtio go beside it: build with --target T (and --key
# net=direct on unix), start the image in a namespace with a tap as net.sh
# does (tap_namespace, in_ns; mgd run IMAGE --net service=tap0) and call
# echo_checks with the image's address 10.0.0.2 and the prefix that runs a
# command in the namespace. ECHO_ROWS picks the rows (default: all).
# usage: echo.sh MGD EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") examples=$(realpath "$2")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"
run() { local out=$1; shift; "$@" >"$out" 2>&1; }

# the client opens 1,000 sockets and the image as many: more descriptors
# than the usual soft limit of 1024, within the hard one
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# waits up to $2 seconds for file $1 to hold line pattern $3, while
# process $4 lives
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    grep -Eq "$3" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# a TCP port nobody listens on now
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cat >"$work/client.py" <<'PY'
"""Echo clients: `bulk HOST PORT SIZE` sends SIZE random bytes (reading
from a second on), ends its stream, and checks that exactly those bytes came back
before the server's end; `many HOST PORT N` opens N connections, waits
until all are established (so all are open at once), then sends each its
own message and checks each answer."""
import os, selectors, socket, sys, threading, time

def bulk(host, port, size):
    data = os.urandom(size)
    s = socket.create_connection((host, port), timeout=30)
    got = bytearray()
    def reader():
        while True:
            b = s.recv(65536)
            if not b:
                return
            got.extend(b)
    # reading starts a second late: meanwhile the echo's writes come up
    # short and it must pause reading and hold the rest
    t = threading.Timer(1.0, reader)
    t.daemon = True
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(60)
    if t.is_alive():
        sys.exit("no end of stream from the server after 60 s (%d bytes back)" % len(got))
    if bytes(got) != data:
        first = next((i for i, (a, b) in enumerate(zip(got, data)) if a != b), min(len(got), len(data)))
        sys.exit("%d bytes back of %d, first difference at %d" % (len(got), len(data), first))
    print("%d bytes back, byte-identical" % size)

def many(host, port, n):
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + 60
    conns = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        c = {"s": s, "msg": ("client %04d says hello %s\n" % (i, "x" * (i % 97))).encode(),
             "sent": 0, "got": b""}
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE, c)
    # every connection established before any message goes
    pending = n
    while pending:
        if time.monotonic() > deadline:
            sys.exit("only %d of %d connections established in 60 s" % (n - pending, n))
        for key, _ in sel.select(1):
            c = key.data
            err = c["s"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                sys.exit("connect: %s" % os.strerror(err))
            sel.unregister(c["s"])
            pending -= 1
    for c in conns:
        sel.register(c["s"], selectors.EVENT_WRITE | selectors.EVENT_READ, c)
    left = n
    while left:
        if time.monotonic() > deadline:
            sys.exit("only %d of %d echoes in 60 s" % (n - left, n))
        for key, ev in sel.select(1):
            c = key.data
            s = c["s"]
            if ev & selectors.EVENT_WRITE and c["sent"] < len(c["msg"]):
                c["sent"] += s.send(c["msg"][c["sent"]:])
                if c["sent"] == len(c["msg"]):
                    sel.modify(s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                b = s.recv(4096)
                if not b:
                    sys.exit("the server ended a connection before echoing")
                c["got"] += b
                if len(c["got"]) >= len(c["msg"]):
                    if c["got"] != c["msg"]:
                        sys.exit("a connection got %r for %r" % (c["got"], c["msg"]))
                    sel.unregister(s)
                    left -= 1
    for c in conns:
        c["s"].close()
    print("%d connections open at once, each echoed" % n)

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "bulk":
    bulk(host, port, int(sys.argv[4]))
else:
    many(host, port, int(sys.argv[4]))
PY

# echo_checks NAME HOST PORT PREFIX... -- CMD...: starts the image with CMD
# (its output in $work/run.NAME), checks what a client sees through
# HOST:PORT (the client runs under PREFIX, e.g. in_ns), and stops it.
echo_checks() {
  local name=$1 host=$2 port=$3; shift 3
  local prefix=()
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  local out=$work/run.${name//\//-}
  "$@" >"$out" 2>&1 &
  local pid=$!
  if ! wait_for "$out" 30 "^echo: listening on port $port$" "$pid"; then
    check "$name: says it listens" false
    cat "$out"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return
  fi
  check "$name: says it listens" true
  run "$out.bulk" "${prefix[@]}" python3 "$work/client.py" bulk "$host" "$port" $((1 << 20))
  check "$name: 1 MiB comes back byte-identical" grep -q 'byte-identical' "$out.bulk" ||
    cat "$out.bulk"
  # more than the host's socket buffers hold (up to 4 MiB each way on
  # loopback): the echo's writes must come up short, and nothing be lost
  run "$out.big" "${prefix[@]}" python3 "$work/client.py" bulk "$host" "$port" $((16 << 20))
  check "$name: 16 MiB with a slow reader come back byte-identical" \
    grep -q 'byte-identical' "$out.big" || cat "$out.big"
  run "$out.many" "${prefix[@]}" python3 "$work/client.py" many "$host" "$port" 1000
  check "$name: 1,000 concurrent connections each echo" grep -q '^1000 connections' "$out.many" ||
    cat "$out.many"
  check "$name: the image still serves after them" kill -0 "$pid"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  check "$name: printed nothing but its line" test "$(wc -l <"$out")" -eq 1 || cat "$out"
}

row_unix_socket() {
  build "$examples/echo" "$work/echo.unix" unix || { check "echo builds for unix" false; return; }
  local port
  port=$(free_port)
  echo_checks unix/socket 127.0.0.1 "$port" -- "$mgd" run "$work/echo.unix" -- --port="$port"

  # what is refused: a port in use (held here by Python), a bad port
  port=$(free_port)
  run "$work/inuse" python3 -c '
import socket, subprocess, sys
s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen()
r = subprocess.run(sys.argv[1:2] + ["run", sys.argv[3], "--", "--port=" + sys.argv[2]])
sys.exit(r.returncode)' "$mgd" "$port" "$work/echo.unix"
  local rc=$?
  check "unix/socket: a port in use fails the job (1)" test "$rc" -eq 1
  check "... saying so" grep -q "^echo: cannot listen on port $port: address already in use$" \
    "$work/inuse"
  run "$work/badport" "$mgd" run "$work/echo.unix" -- --port=70000
  rc=$?
  check "unix/socket: --port=70000 fails the job (1)" test "$rc" -eq 1
  check "... saying so" grep -q '^echo: --port=70000 is not a TCP port' "$work/badport"
}

for row in ${ECHO_ROWS:-unix_socket}; do "row_$row"; done
finish
