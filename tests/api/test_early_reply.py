#!/usr/bin/env python3
"""Answers the daemon knows before reading the body (401, 403, 404, 405,
413 by Content-Length, 415) reach clients that send the whole body without
`Expect: 100-continue`, as Python's http.client and urllib and Node's fetch
do: the body is read on and dropped, then the answer is sent, instead of
the connection being closed under a client still sending (a broken pipe or
a reset, never the answer). A client that sends `Expect: 100-continue` gets
the answer at once, before any body; so does a Content-Length too long to
read on (the connection is then closed). Dropped bodies are not kept: the
daemon's memory does not grow with them.

The bodies are 1 MiB or more on purpose: smaller ones fit in the sockets'
buffers on loopback, so the client's send finishes before the daemon closes
and a connection closed under the client goes unnoticed."""

import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import harness
from harness import ApiTest, rss_kib, status_of

MIB = 1 << 20
MAX_BODY = 2 * MIB  # --max-body
DISCARD_EXTRA = 4 * MIB  # api/server.c: how far past the limit a body is read
BOUND = MAX_BODY + DISCARD_EXTRA

F = {}  # fixtures made in setUpModule


def setUpModule():
    d = harness.start_shared(extra_args=["--max-body", str(MAX_BODY)])
    F["read"] = d.create_token("read", "early-read")[1]


def tearDownModule():
    harness.stop_shared()


def json_body(size):
    """A JSON object of exactly `size` bytes (size >= 16)."""
    head = b'{"pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def auth_header(token):
    return ("Authorization: Bearer %s\r\n" % token).encode() if token else b""


def head_only(d, head, timeout=5):
    """Sends a request's head and no body, then reads until the daemon
    closes or `timeout`: (what came back, whether the daemon closed)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    got, closed = b"", False
    try:
        s.sendall(head)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
    finally:
        s.close()
    return got, closed


class BodySentWhole(ApiTest):
    """http.client and urllib send the head and then the body, without
    waiting for an answer: they must read the answer, not an exception."""

    def test_401_without_token(self):
        """1 MiB fits the sockets' buffers now and then (then even a
        closed connection looked fine), 4 MiB never."""
        for size in (MIB, 4 * MIB):
            for i in range(3):
                with self.subTest(size=size, i=i):
                    r = self.d.post("/projects", json_body(size), token=None,
                                    headers={"Content-Type": "application/json"})
                    self.assertError(r, 401, "unauthorized")
                    self.assertTrue(r.header("WWW-Authenticate", "").startswith("Bearer"), r)
        # the same through urllib, which raises HTTPError for a 4xx
        req = urllib.request.Request(self.d.url("/projects"), data=json_body(4 * MIB),
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(cm.exception.code, 401)
        self.assertEqual(json.loads(cm.exception.read())["error"]["code"], "unauthorized")

    def test_413_body_over_limit(self):
        """One byte over --max-body, announced and sent: 413, and the
        connection is still in step for the next request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        try:
            conn.request("POST", "/projects", body=json_body(MAX_BODY + 1),
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + self.d.admin_token})
            resp = conn.getresponse()
            r = harness.Response("POST", "/projects", resp.status, resp.headers, resp.read())
            self.assertError(r, 413, "payload_too_large")
            conn.request("GET", "/health")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read())["status"], "ok")
        finally:
            conn.close()

    def test_415_wrong_type(self):
        """A body under the limit, not JSON: 415. The small one shows the
        answer; the one of 1.5 MiB is one the client is still sending when
        the daemon has decided."""
        for size in (16 << 10, 3 * MIB // 2):
            for ctype in ("text/plain", "application/x-www-form-urlencoded"):
                with self.subTest(size=size, ctype=ctype):
                    r = self.d.post("/tokens", json_body(size), headers={"Content-Type": ctype})
                    self.assertError(r, 415, "unsupported_media_type")

    def test_other_early_answers(self):
        body = json_body(3 * MIB)  # over the limit: these come before the 413
        json_h = {"Content-Type": "application/json"}
        cases = [
            ("POST", "/projects", F["read"], 403, "forbidden"),
            ("POST", "/no/such/endpoint", harness.ADMIN, 404, "not_found"),
            ("DELETE", "/projects", harness.ADMIN, 405, "method_not_allowed"),
            ("POST", "/projects", "mgd_" + "A" * 43, 401, "unauthorized"),
        ]
        for method, path, token, status, code in cases:
            with self.subTest(method=method, path=path, status=status):
                for _ in range(3):
                    r = self.d.request(method, path, body, token=token, headers=json_h)
                    self.assertError(r, status, code)

    def test_chunked(self):
        """A chunked body has no length to judge: read on and dropped, the
        answer after it; past the limit plus DISCARD_EXTRA the daemon stops
        reading and closes, whatever the client still sends."""
        piece = b" " * (64 << 10)

        def chunks(n):
            yield b"{"
            for _ in range(n):
                yield piece
            yield b"}"

        for i in range(3):
            with self.subTest(i=i):
                conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
                try:
                    conn.request("POST", "/projects", body=chunks(MIB // len(piece)),
                                 headers={"Content-Type": "application/json",
                                          "Transfer-Encoding": "chunked"},
                                 encode_chunked=True)
                    resp = conn.getresponse()
                    r = harness.Response("POST", "/projects", resp.status, resp.headers,
                                         resp.read())
                    self.assertError(r, 401, "unauthorized")
                finally:
                    conn.close()
        # an endless chunked body: the daemon stops it near the bound
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        sent, stopped = 0, False
        try:
            s.sendall(b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
            while sent < 4 * BOUND:
                try:
                    s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    stopped = True
                    break
                except socket.timeout:
                    break
                sent += len(piece)
        finally:
            s.close()
        self.assertTrue(stopped, "the daemon read %d bytes of a chunked body, its bound is %d"
                        % (sent, BOUND))


class AnsweredAtOnce(ApiTest):
    """Where the body is not coming, or is too long to read on, the answer
    comes before any body is sent, and the connection is closed."""

    def assertAnswerAtOnce(self, head, status):
        t0 = time.monotonic()
        got, closed = head_only(self.d, head)
        self.assertTrue(got, "no answer in %.1f s to a head without its body"
                        % (time.monotonic() - t0))
        self.assertEqual(status_of(got), status, got[:300])
        self.assertTrue(closed, "the connection stayed open: %r" % got[:300])
        return got

    def test_expect_100_continue(self):
        """The client waits for "100 Continue" before sending: it gets the
        error instead, and never sends the body."""
        for token, length, status in ((None, MIB, 401),
                                      (self.d.admin_token, MAX_BODY + 1, 413),
                                      (F["read"], MIB, 403)):
            with self.subTest(status=status):
                head = (b"POST /projects HTTP/1.1\r\nHost: x\r\n" + auth_header(token)
                        + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                        + b"Content-Length: %d\r\n\r\n" % length)
                got = self.assertAnswerAtOnce(head, status)
                self.assertNotIn(b"100 Continue", got)

    def test_length_past_the_bound(self):
        """A Content-Length the daemon would not read to its end."""
        for token, status in ((None, 401), (self.d.admin_token, 413)):
            with self.subTest(status=status):
                head = (b"POST /projects HTTP/1.1\r\nHost: x\r\n" + auth_header(token)
                        + b"Content-Type: application/json\r\n"
                        + b"Content-Length: %d\r\n\r\n" % (BOUND + 1))
                self.assertAnswerAtOnce(head, status)

    def test_length_over_int64(self):
        """A Content-Length libmicrohttpd takes (it fits 64 bits unsigned)
        but the daemon cannot read as a length: too long, not drained."""
        for n in (1 << 63, (1 << 64) - 2):
            with self.subTest(length=n):
                head = (b"POST /projects HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % n)
                self.assertAnswerAtOnce(head, 401)


class Memory(ApiTest):
    def test_rss_after_rejected_bodies(self):
        """Twenty 4 MiB bodies refused (401 and 413) and read to their end:
        each answer read, and the daemon's RSS grows by less than 4 MiB."""
        pid = self.d.proc.pid
        body = json_body(4 * MIB)
        json_h = {"Content-Type": "application/json"}

        def reject(i):
            token = None if i % 2 else harness.ADMIN
            r = self.d.post("/projects", body, token=token, headers=json_h)
            self.assertError(r, 401 if i % 2 else 413,
                             "unauthorized" if i % 2 else "payload_too_large")

        for i in range(4):  # warm up: every pool thread, the allocator
            reject(i)
        before = rss_kib(pid)
        for i in range(20):
            with self.subTest(i=i):
                reject(i)
        after = rss_kib(pid)
        self.assertLess(after - before, 4 * 1024,
                        "VmRSS grew from %d to %d KiB" % (before, after))
        t0 = time.monotonic()
        self.assertTrue(self.d.health(timeout=5))
        self.assertLess(time.monotonic() - t0, 1.0, "GET /health was slow")


if __name__ == "__main__":
    harness.main()
