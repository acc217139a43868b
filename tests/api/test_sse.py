#!/usr/bin/env python3
"""Followers of a build's log (server-sent events) that go away are noticed
within 2 seconds, not at the next keep-alive 15 s later (api/sse.c): 50
followers of a running build connect, half close their socket (a FIN) and
half reset it (SO_LINGER 0), and the daemon's count of open streams
(mgd_log_streams in GET /metrics) is back to 0 within 2 s. A follower that
only shuts its sending side and still reads keeps its stream to the end.

The build stays running without costing CPU: its repository is a remote
that accepts the connection and never answers (as test_fetch_cancel)."""

import json
import re
import socket
import struct
import threading
import time

import harness
from harness import ApiTest

R = {}
FOLLOWERS = 50
NOTICE_S = 2.0


def stalled_remote():
    """A TCP server that accepts and never answers: (its port, stop())."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    held, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except socket.timeout:
                pass
            except OSError:
                return

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def finish():
        stop.set()
        srv.close()
        t.join(5)
        for c in held:
            c.close()

    return srv.getsockname()[1], finish


def setUpModule():
    R["port"], R["stop_remote"] = stalled_remote()
    d = harness.start_shared(workers=1)
    url = "http://127.0.0.1:%d/stall.git" % R["port"]
    d.create_project({"name": "stall", "config": harness.printer_config("stall"),
                      "repo": {"url": url}})


def tearDownModule():
    try:
        harness.stop_shared()
    finally:
        R["stop_remote"]()


def open_streams(d, gauge="mgd_log_streams"):
    m = re.search(r"(?m)^%s (\d+)$" % gauge, d.get("/metrics").text)
    if not m:
        raise AssertionError("no %s in GET /metrics" % gauge)
    return int(m.group(1))


def follow(d, build_id):
    """A raw connection following the build's log, once its answer has
    begun (the first comment arrived)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(("GET /builds/%d/log HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % (build_id, d.admin_token)).encode())
    got = b""
    while b": log of build" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError("the stream closed at once: %r" % got)
        got += chunk
    if not got.startswith(b"HTTP/1.1 200"):
        raise AssertionError("not a stream: %r" % got[:300])
    return s, got


def wait_streams(d, want, timeout, gauge="mgd_log_streams"):
    """Seconds until `gauge` is `want`; fails past `timeout`."""
    t0 = time.monotonic()
    while True:
        n = open_streams(d, gauge)
        if n == want:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s is %d, not %d, %.1f s on"
                                 % (gauge, n, want, time.monotonic() - t0))
        time.sleep(0.05)


class Sse(ApiTest):
    def running_build(self):
        b = self.d.start_build("stall")
        self.d.wait_build(b["id"], statuses=("running",), timeout=30)
        return b

    def test_dropped_followers(self):
        b = self.running_build()
        try:
            self.assertEqual(open_streams(self.d), 0)
            socks = [follow(self.d, b["id"])[0] for _ in range(FOLLOWERS)]
            wait_streams(self.d, FOLLOWERS, 5)
            time.sleep(0.5)  # every stream suspended, waiting for the log
            for i, s in enumerate(socks):
                if i % 2:
                    # a reset instead of a FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            took = wait_streams(self.d, 0, NOTICE_S)
            print("%d dropped followers let go in %.2f s" % (FOLLOWERS, took))
            # the daemon serves new followers as before
            s, _ = follow(self.d, b["id"])
            wait_streams(self.d, 1, 5)
            s.close()
            wait_streams(self.d, 0, NOTICE_S)
        finally:
            self.d.post("/builds/%d/cancel" % b["id"], {})
            self.d.wait_build(b["id"])

    def test_half_closed_follower_reads_on(self):
        """shutdown(SHUT_WR) after the request: the follower still reads,
        so its stream stays, gets a keep-alive, and ends with the build."""
        b = self.running_build()
        s, got = follow(self.d, b["id"])
        try:
            s.shutdown(socket.SHUT_WR)
            time.sleep(NOTICE_S)
            self.assertEqual(open_streams(self.d), 1, "a half-closed follower was let go")
            self.assertStatus(self.d.post("/builds/%d/cancel" % b["id"], {}), 200)
            s.settimeout(30)
            while b"event: end" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            self.assertIn(b": keep-alive", got)
            self.assertIn(b"event: end", got, got[-500:])
            end = got[got.index(b"event: end"):].split(b"\n")[1]
            self.assertEqual(json.loads(end[len(b"data: "):]), {"status": "cancelled"})
        finally:
            s.close()
            self.d.post("/builds/%d/cancel" % b["id"], {})  # 409 once cancelled
            self.d.wait_build(b["id"])
        wait_streams(self.d, 0, NOTICE_S)

    def test_http10_follower_reads_the_whole_log(self):
        """An HTTP/1.0 follower gets no chunked coding: libmicrohttpd asks
        the stream for a block at a time and closes at its end. Every line
        of a finished build's log comes, in order, then the end."""
        self.d.create_project(harness.hello_project("h10", config_name="h10"))
        b = self.d.build_and_wait("h10", {"force": True})
        plain = self.d.get("/builds/%d/log" % b["id"]).body
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=30)
        try:
            s.sendall(("GET /builds/%d/log HTTP/1.0\r\nAuthorization: Bearer %s\r\n"
                       "Accept: text/event-stream\r\n\r\n" % (b["id"], self.d.admin_token))
                      .encode())
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head)
        self.assertNotIn(b"chunked", head.lower())
        data = [line[len(b"data: "):] for line in body.split(b"\n") if line.startswith(b"data: ")]
        self.assertGreater(len(plain), 8192, "a log longer than a few blocks")
        self.assertEqual(data[:-1], plain.split(b"\n")[:-1])
        self.assertEqual(json.loads(data[-1]), {"status": "succeeded"})


if __name__ == "__main__":
    harness.main()
