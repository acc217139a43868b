#!/usr/bin/env python3
"""The TCP clients of the network stack tests (net_stack.sh), which curl
and ping cannot be:

  net_client.py bulk HOST PORT BYTES
      sends BYTES random bytes to an echo server while reading its reply on
      the same connection (one selector loop, so neither side's buffers can
      deadlock the other), and checks that the reply is the same bytes.
  net_client.py many HOST PORT N
      opens N connections at once; once all N are established (every one
      open at the same time), each sends its own message, and each must get
      exactly that message back.
  net_client.py http-raw HOST PORT REQUEST_FILE
      sends the bytes of REQUEST_FILE as they are and prints the status
      line of the answer (curl rewrites what it sends; an oversized request
      line or header block must reach the server whole).

Prints one line saying what it measured; exits 0 when every check held, 1
otherwise, with the reason. Gives up after a deadline (--timeout, default
60 s) rather than hang.
"""
import argparse
import errno
import os
import resource
import selectors
import socket
import sys
import time


def fail(msg):
    print("net_client: " + msg, flush=True)
    sys.exit(1)


def bulk(host, port, size, deadline):
    data = os.urandom(size)
    s = socket.create_connection((host, port), timeout=10)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, got, start = 0, bytearray(), time.monotonic()
    while len(got) < size:
        if time.monotonic() > deadline:
            fail("bulk: %d of %d bytes sent, %d back by the deadline" % (sent, size, len(got)))
        for _, ev in sel.select(1):
            if ev & selectors.EVENT_WRITE and sent < size:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
                if sent == size:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                except ConnectionError as e:
                    fail("bulk: connection lost after %d bytes back: %s" % (len(got), e))
                if not chunk:
                    fail("bulk: the server ended the stream after %d of %d bytes" % (len(got), size))
                got += chunk
    s.close()
    if bytes(got) != data:
        i = next(i for i in range(size) if got[i] != data[i])
        fail("bulk: the reply differs from what was sent at byte %d" % i)
    print("bulk: %d bytes returned byte-identical in %.3f s" % (size, time.monotonic() - start))


def many(host, port, n, deadline):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    sel = selectors.DefaultSelector()
    conns = {}  # socket -> [index, state, bytes to send, bytes back]
    start = time.monotonic()
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            fail("many: connection %d: %s" % (i, os.strerror(err)))
        conns[s] = [i, "connecting", b"", bytearray()]
        sel.register(s, selectors.EVENT_WRITE)
    # every connection is established before any message is sent, so
    # that all n are open at once on the server
    pending = n
    while pending:
        if time.monotonic() > deadline:
            fail("many: %d of %d connections established by the deadline" % (n - pending, n))
        for key, _ in sel.select(1):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                fail("many: connection %d failed: %s" % (conns[s][0], os.strerror(err)))
            sel.unregister(s)
            pending -= 1
    est = time.monotonic() - start
    for s, c in conns.items():
        c[1], c[2] = "echo", b"message %d of %d to the echo server\n" % (c[0], n)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    left = n
    while left:
        if time.monotonic() > deadline:
            fail("many: %d of %d connections got their message back by the deadline" % (n - left, n))
        for key, ev in sel.select(1):
            s = key.fileobj
            c = conns[s]
            want = b"message %d of %d to the echo server\n" % (c[0], n)
            if ev & selectors.EVENT_WRITE and c[2]:
                try:
                    c[2] = c[2][s.send(c[2]):]
                except BlockingIOError:
                    pass
                if not c[2]:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    chunk = s.recv(4096)
                except BlockingIOError:
                    continue
                except ConnectionError as e:
                    fail("many: connection %d lost: %s" % (c[0], e))
                if not chunk:
                    fail("many: connection %d ended with %r back" % (c[0], bytes(c[3])))
                c[3] += chunk
                if len(c[3]) >= len(want):
                    if bytes(c[3]) != want:
                        fail("many: connection %d got %r back" % (c[0], bytes(c[3])))
                    sel.unregister(s)
                    left -= 1
    for s in conns:
        s.close()
    print("many: %d connections open at once (established in %.2f s), each got its message back, "
          "%.2f s in all" % (n, est, time.monotonic() - start))


def http_raw(host, port, path, deadline):
    req = open(path, "rb").read()
    s = socket.create_connection((host, port), timeout=max(1, deadline - time.monotonic()))
    try:
        s.sendall(req)
    except ConnectionError:
        pass  # a server may answer and close before reading everything: read its answer
    got = b""
    try:
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except ConnectionError:
        pass
    s.close()
    line = got.split(b"\r\n")[0].decode("latin-1")
    if not line:
        fail("http-raw: no answer to a %d-byte request" % len(req))
    print(line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", choices=["bulk", "many", "http-raw"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("arg")
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    deadline = time.monotonic() + a.timeout
    if a.mode == "bulk":
        bulk(a.host, a.port, int(a.arg), deadline)
    elif a.mode == "many":
        many(a.host, a.port, int(a.arg), deadline)
    else:
        http_raw(a.host, a.port, a.arg, deadline)


if __name__ == "__main__":
    main()
