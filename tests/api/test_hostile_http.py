#!/usr/bin/env python3
"""Clients that would hold the daemon up or mislead it (api/server.c):

- declared lengths: every Content-Length is answered from the head when the
  body would not be taken (401, 413, 400), at once when it is too long to
  read on, and memory for bodies is bounded per request and in total (503
  with Retry-After past --max-body-total);
- slowloris: a head trickling in a byte a second is closed after
  --header-timeout (408) while GET /health stays fast, a kept-alive
  connection's next head has the same deadline, an idle one does not; near
  --max-connections the connections waiting longest are closed for room;
- HEAD of a log stream sends headers only, and the connection goes on;
- framing: conflicting lengths, Content-Length with Transfer-Encoding, a
  NUL or control byte in the head are 400 at once, a transfer coding other
  than chunked is 501 at once (it used to hang);
- Accept: text/event-stream;q=0 does not stream.

Connections come from several loopback addresses (127.0.0.2 to .9), as a
crowd of clients would. Everything is small and bounded in time."""

import http.client
import json
import socket
import threading
import time

import harness
from harness import ApiTest, rss_kib, status_of

KIB, MIB = 1 << 10, 1 << 20
MAX_BODY = 1 * MIB  # --max-body
BODY_TOTAL = 4 * MIB  # --max-body-total: three bodies of MAX_BODY + 1 fit
HEADER_TIMEOUT = 3  # --header-timeout, seconds
BODY_TIMEOUT = 4  # --body-timeout, seconds
REAPER_TICK = 0.25  # api/server.c: REAPER_TICK_MS
N = 200  # connections in the crowd tests
N_SLOW = 500  # trickling heads in the slowloris test
HEALTH_MS = 100  # GET /health must answer within this while they are open

F = {}  # fixtures made in setUpModule


def setUpModule():
    d = harness.start_shared(extra_args=[
        "--max-body", str(MAX_BODY), "--max-body-total", str(BODY_TOTAL),
        "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)])
    F["read"] = d.create_token("read", "hostile-read")[1]


def tearDownModule():
    harness.stop_shared()


def connect(d, i=0, timeout=10):
    """A connection to the daemon from 127.0.0.(2 + i % 8)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))
    s.connect(("127.0.0.1", d.port))
    return s


def read_until_closed(s, timeout):
    """What arrives until the daemon closes (True) or `timeout` (False)."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, False
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return got, False
        except ConnectionResetError:
            return got, True
        if not chunk:
            return got, True
        got += chunk


def split_answer(raw):
    """(status, headers dict with lower-case names, body) of one answer
    with a Content-Length, and what follows it."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    n = int(headers.get("content-length", "0"))
    return status_of(raw), headers, rest[:n], rest[n:]


def read_answer(s, timeout):
    """One whole answer with a Content-Length (more may follow it)."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        head, sep, rest = got.partition(b"\r\n\r\n")
        if sep:
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(rest) >= n:
                return got
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no whole answer in %d s: %r" % (timeout, got[:300]))
        s.settimeout(left)
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("closed before a whole answer: %r" % got[:300])
        got += chunk


def health_ms(d):
    """GET /health on a fresh connection: milliseconds to the whole answer."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
    try:
        conn.request("GET", "/health")
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    ms = (time.monotonic() - t0) * 1000
    if r.status != 200 or json.loads(body)["status"] != "ok":
        raise AssertionError("GET /health: %d %r" % (r.status, body))
    return ms


def json_body(size):
    """A JSON object of exactly `size` bytes (size >= 16)."""
    head = b'{"pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def post_head(path, length, token=None, extra=b""):
    auth = b"Authorization: Bearer %s\r\n" % token.encode() if token else b""
    return (b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
            b"Content-Length: %s\r\n%s\r\n" % (path.encode(), auth, length, extra))


class DeclaredLengths(ApiTest):
    def test_huge_lengths_answered_at_once(self):
        """N connections each declare a length the daemon will not take
        and send nothing more: each gets its answer at once and is closed,
        and the daemon's memory does not grow with what was declared."""
        admin = self.d.admin_token
        cases = [
            (b"%d" % (1 << 40), None, 401),  # no token: refused before the length
            (b"%d" % (1 << 40), admin, 413),
            (b"%d" % (MAX_BODY + 4 * MIB + 1), admin, 413),  # past what would be read on
            (b"9223372036854775808", admin, 413),  # 2^63: over INT64_MAX, fits 64 bits
            (b"18446744073709551615", admin, 413),  # 2^64 - 1
            # libmicrohttpd's own answers, before the daemon sees the request
            (b"18446744073709551616", admin, 413),  # 2^64: not 64 bits
            (b"99999999999999999999999999", None, 413),
            (b"12x", admin, 400),
            (b"-1", None, 400),
        ]
        pid = self.d.proc.pid
        health_ms(self.d)
        before = rss_kib(pid)
        socks = []
        try:
            t0 = time.monotonic()
            for i in range(N):
                length, token, want = cases[i % len(cases)]
                s = connect(self.d, i)
                s.sendall(post_head("/projects", length, token))
                socks.append((s, length, want))
            peak = rss_kib(pid)
            for s, length, want in socks:
                got, closed = read_until_closed(s, 10)
                with self.subTest(length=length, want=want):
                    self.assertTrue(got, "no answer to Content-Length: %s" % length.decode())
                    self.assertEqual(status_of(got), want, got[:300])
                    self.assertTrue(closed, "the connection stayed open: %r" % got[:300])
            elapsed = time.monotonic() - t0
        finally:
            for s, _, _ in socks:
                s.close()
        after = rss_kib(pid)
        # the bound: what N connections cost, nothing of what they declared
        self.assertLess(max(peak, after) - before, 16 * 1024,
                        "VmRSS %d KiB before, %d with %d connections open, %d after"
                        % (before, peak, N, after))
        self.assertLess(elapsed, 10, "%d answers took %.1f s" % (N, elapsed))
        print("\n  %d declared lengths answered in %.2f s; VmRSS %d -> %d -> %d KiB"
              % (N, elapsed, before, peak, after))

    def test_body_budget(self):
        """N bodies of --max-body each, half sent and held: only as many
        as fit --max-body-total are kept, the others are read and dropped;
        when the bodies are complete, the kept ones are handled (400: the
        pad field is unknown) and the others get 503 with Retry-After."""
        pid = self.d.proc.pid
        body = json_body(MAX_BODY)
        half = len(body) // 2
        admin = self.d.admin_token
        health_ms(self.d)
        before = rss_kib(pid)
        socks = []
        try:
            for i in range(N):
                s = connect(self.d, i, timeout=30)
                s.sendall(post_head("/tokens", b"%d" % len(body), admin) + body[:half])
                socks.append(s)
            time.sleep(0.5)  # the daemon reads what was sent
            held = rss_kib(pid)
            # a chunked body while the budget is taken: the room left (less
            # than MAX_BODY) is too little for 600 KiB, whose buffer grows
            # by doubling to 1 MiB: read, dropped, 503
            conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
            try:
                conn.request("POST", "/tokens", body=iter([json_body(600 * KIB)]),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer " + admin,
                                      "Transfer-Encoding": "chunked"}, encode_chunked=True)
                resp = conn.getresponse()
                r = harness.Response("POST", "/tokens", resp.status, resp.headers, resp.read())
            finally:
                conn.close()
            self.assertError(r, 503, "unavailable")
            self.assertEqual(r.header("Retry-After"), "1", r)
            for s in socks:
                s.sendall(body[half:])
            statuses = {}
            for s in socks:
                got = read_answer(s, 30)
                status, headers, payload, _ = split_answer(got)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 503:
                    self.assertEqual(headers.get("retry-after"), "1", got[:300])
                    self.assertEqual(json.loads(payload)["error"]["code"], "unavailable")
        finally:
            for s in socks:
                s.close()
        fits = BODY_TOTAL // (MAX_BODY + 1)
        self.assertEqual(sum(statuses.values()), N, statuses)
        self.assertTrue(1 <= statuses.get(400, 0) <= fits, statuses)
        self.assertEqual(statuses.get(503, 0), N - statuses.get(400, 0), statuses)
        # without the budget, the half bodies alone would be N x 512 KiB
        self.assertLess(held - before, (BODY_TOTAL + 16 * MIB) // KIB,
                        "VmRSS %d KiB before, %d with %d half bodies held" % (before, held, N))
        # the budget is free again
        r = self.d.post("/tokens", body, headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "bad_request")
        print("\n  %d bodies of %d KiB: %s; VmRSS %d -> %d KiB while half sent"
              % (N, MAX_BODY // KIB, statuses, before, held))


class Slowloris(ApiTest):
    def test_trickling_heads(self):
        """N heads sent a byte a second: GET /health answers within
        HEALTH_MS all the while, and each slow connection is closed with a
        408 once --header-timeout has passed since its first byte (however
        many bytes it sent since: libmicrohttpd's own timeout would count
        from the last one)."""
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
        socks, opened = [], []
        stop = threading.Event()
        sent = [0]

        def trickle():
            # one byte a second to each connection, until they are closed
            k = 0
            while not stop.wait(1.0):
                k += 1
                for s in socks:
                    try:
                        s.send(head[k:k + 1])
                    except OSError:
                        pass
                sent[0] = k

        try:
            for i in range(N_SLOW):
                s = connect(self.d, i)
                s.send(head[:1])
                socks.append(s)
                opened.append(time.monotonic())
            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            latencies = []
            while time.monotonic() - opened[0] < HEADER_TIMEOUT - 0.5:
                latencies.append(health_ms(self.d))
                time.sleep(0.1)
            closed_at = []
            for s in socks:
                got, closed = read_until_closed(s, HEADER_TIMEOUT + 3)
                closed_at.append(time.monotonic())
                self.assertTrue(closed, "a trickling head was still open after %.1f s"
                                % (time.monotonic() - opened[0]))
                if got:
                    self.assertEqual(status_of(got), 408, got[:300])
                    self.assertEqual(json.loads(split_answer(got)[2])["error"]["code"],
                                     "request_timeout")
        finally:
            stop.set()
            for s in socks:
                s.close()
        ages = [c - o for c, o in zip(closed_at, opened)]
        self.assertGreater(sent[0], 1, "the test sent no bytes after the first")
        self.assertGreaterEqual(min(ages), HEADER_TIMEOUT - 0.1, ages[:5])
        # each was seen closed while reading them in turn: the last ones
        # later than they were closed
        self.assertLess(ages[0], HEADER_TIMEOUT + 2 * REAPER_TICK + 0.5, ages[:5])
        self.assertTrue(latencies)
        self.assertLess(max(latencies), HEALTH_MS,
                        "GET /health took %s ms with %d trickling heads open"
                        % (sorted(int(x) for x in latencies)[-5:], N_SLOW))
        print("\n  GET /health with %d trickling heads: %d requests, median %.1f ms, max %.1f ms;"
              " heads closed %.2f to %.2f s after they began"
              % (N_SLOW, len(latencies), sorted(latencies)[len(latencies) // 2], max(latencies),
                 min(ages), max(ages)))

    def trickle_bodies(self, n, head, first, grace):
        """n connections send `head`, then `first` bytes of the body at
        once, then a byte a second: returns when each was closed, seconds
        after its head, and the answers it got (closed within `grace`)."""
        socks, opened = [], []
        stop = threading.Event()

        def trickle():
            while not stop.wait(1.0):
                for s in socks:
                    try:
                        s.send(b"x")
                    except OSError:
                        pass

        try:
            for i in range(n):
                s = connect(self.d, i)
                s.send(head + b"x" * first)
                socks.append(s)
                opened.append(time.monotonic())
            threading.Thread(target=trickle, daemon=True).start()
            ages, answers = [], []
            for s, t0 in zip(socks, opened):
                got, closed = read_until_closed(s, grace)
                self.assertTrue(closed, "a trickling body was still open after %.1f s"
                                % (time.monotonic() - t0))
                ages.append(time.monotonic() - t0)
                answers.append(got)
            return ages, answers
        finally:
            stop.set()
            for s in socks:
                s.close()

    def test_trickling_dropped_bodies(self):
        """A body read only to be dropped (no token: 401 before the body)
        shares the head's deadline, so no client without a token holds a
        connection by sending its body a byte at a time."""
        head = (b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 4000000\r\n\r\n")
        ages, answers = self.trickle_bodies(50, head, 100, HEADER_TIMEOUT + 4)
        self.assertLess(max(ages), HEADER_TIMEOUT + 2 * REAPER_TICK + 1.5, ages[:5])
        for got in answers:
            if got:
                self.assertEqual(status_of(got), 408, got[:300])
        self.assertLess(health_ms(self.d), 1000)

    def test_trickling_bodies(self):
        """A body the request would use must arrive within --body-timeout
        of its head: then 408 and closed, the memory held for it freed."""
        token = self.d.admin_token
        head = (b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + token.encode() +
                b"\r\nContent-Length: 100000\r\n\r\n")
        ages, answers = self.trickle_bodies(20, head, 1000, BODY_TIMEOUT + 4)
        self.assertGreaterEqual(min(ages), BODY_TIMEOUT - 0.2, ages[:5])
        self.assertLess(max(ages), BODY_TIMEOUT + 2 * REAPER_TICK + 1.5, ages[:5])
        for got in answers:
            if got:
                self.assertEqual(status_of(got), 408, got[:300])
                self.assertIn(b"body did not arrive", got)
        self.assertLess(health_ms(self.d), 1000)

    def test_deadline_of_the_next_head(self):
        """On a kept-alive connection, the next head has the same deadline
        from its first byte; an idle connection (nothing sent) is left to
        the idle timeout."""
        slow = connect(self.d, 1)
        idle = connect(self.d, 2)
        try:
            for s in (slow, idle):
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(status_of(read_answer(s, 5)), 200)
            time.sleep(1.0)  # idle for a while first: the deadline is not from here
            t0 = time.monotonic()
            slow.sendall(b"GET /health HTTP/1.1\r\n")
            while time.monotonic() - t0 < HEADER_TIMEOUT + 2:
                try:
                    slow.sendall(b"X")
                except OSError:
                    break
                got, closed = read_until_closed(slow, 0.5)
                if closed:
                    break
            age = time.monotonic() - t0
            self.assertTrue(closed, "the next head was still open after %.1f s" % age)
            self.assertGreaterEqual(age, HEADER_TIMEOUT - REAPER_TICK - 0.1)
            self.assertLess(age, HEADER_TIMEOUT + 1.5)
            if got:
                self.assertEqual(status_of(got), 408, got[:300])
            # the idle one, idle for HEADER_TIMEOUT + 2 s now, still serves
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status_of(read_answer(idle, 5)), 200)
        finally:
            slow.close()
            idle.close()

    def test_room_near_the_limit(self):
        """A daemon of 40 connections at most, 100 heads left waiting: the
        ones waiting longest are closed (503) to keep an eighth free, and
        GET /health still gets in at once. Heads with a long deadline
        here, so that only the limit closes them."""
        limit = 40
        d = harness.Daemon(extra_args=["--max-connections", str(limit),
                                       "--header-timeout", "60"]).start()
        socks = []
        try:
            for i in range(100):
                s = connect(d, i)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
                time.sleep(0.005)  # one after the other: an order of age
            time.sleep(4 * REAPER_TICK)
            latencies = [health_ms(d) for _ in range(10)]
            open_ones, answered = [], 0
            for i, s in enumerate(socks):
                got, closed = read_until_closed(s, 0.05)
                if not closed:
                    open_ones.append(i)
                elif got:
                    self.assertEqual(status_of(got), 503, got[:300])
                    self.assertEqual(split_answer(got)[1].get("retry-after"), "1")
                    answered += 1
            self.assertLessEqual(len(open_ones), limit - limit // 8, open_ones)
            self.assertGreater(len(open_ones), limit // 2, open_ones)
            # the newest stay: the closed ones are the oldest (give or take
            # a few accepted in another order than they connected)
            self.assertGreaterEqual(min(open_ones), 100 - len(open_ones) - 5, open_ones)
            self.assertGreater(answered, 0)
            self.assertLess(max(latencies), HEALTH_MS, latencies)
            self.assertTrue(d.health())
        finally:
            for s in socks:
                s.close()
            d.finish()


class Framing(ApiTest):
    def assertAtOnce(self, raw, status, code=None, i=0):
        """`raw` sent whole: the answer comes at once, the connection is
        closed (where the body ends is in doubt)."""
        s = connect(self.d, i)
        try:
            s.sendall(raw)
            t0 = time.monotonic()
            got, closed = read_until_closed(s, 5)
        finally:
            s.close()
        self.assertTrue(got, "no answer in %.1f s to %r" % (time.monotonic() - t0, raw[:200]))
        self.assertEqual(status_of(got), status, got[:300])
        self.assertTrue(closed, "the connection stayed open: %r" % got[:300])
        if code:
            _, headers, payload, _ = split_answer(got)
            self.assertEqual(json.loads(payload)["error"]["code"], code, payload)
        return got

    def post(self, headers, body=b'{"scope": "read"}'):
        return (b"POST /tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                b"Content-Type: application/json\r\n%s\r\n%s"
                % (self.d.admin_token.encode(), headers, body))

    def test_lengths(self):
        self.assertAtOnce(self.post(b"Content-Length: 17\r\nContent-Length: 18\r\n"), 400,
                          "bad_request")
        self.assertAtOnce(self.post(b"Content-Length: 17\r\nContent-Length: x\r\n"), 400)
        self.assertAtOnce(self.post(b"Content-Length: 17\r\nTransfer-Encoding: chunked\r\n"),
                          400, "bad_request")
        self.assertAtOnce(self.post(b"Transfer-Encoding: chunked\r\nContent-Length: 17\r\n"),
                          400, "bad_request")
        # the same length twice is one length
        s = connect(self.d)
        try:
            s.sendall(self.post(b"Content-Length: 17\r\nContent-Length: 17\r\n"))
            self.assertEqual(status_of(read_answer(s, 5)), 201)
        finally:
            s.close()

    def test_transfer_codings(self):
        """Anything but chunked: 501 at once (libmicrohttpd would read such
        a body until the client closes)."""
        for te in (b"gzip", b"identity", b"gzip, chunked", b"chunked, gzip", b"chunked "):
            with self.subTest(te=te):
                self.assertAtOnce(self.post(b"Transfer-Encoding: %s\r\n" % te), 501,
                                  "not_implemented")
        self.assertAtOnce(self.post(b"Transfer-Encoding: chunked\r\n"
                                    b"Transfer-Encoding: chunked\r\n"), 501)
        # chunked, in any case, is read
        s = connect(self.d)
        try:
            s.sendall(self.post(b"Transfer-Encoding: Chunked\r\n",
                                b"11\r\n{\"scope\": \"read\"}\r\n0\r\n\r\n"))
            self.assertEqual(status_of(read_answer(s, 5)), 201)
        finally:
            s.close()

    def test_bytes_in_the_head(self):
        token = self.d.admin_token.encode()
        bad = [
            # a valid token, then a NUL and more: the token must not pass
            b"GET /projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\x00junk\r\n\r\n"
            % token,
            b"GET /projects HTTP/1.1\r\nAuthorization: Bearer %s\x00junk\r\nHost: x\r\n\r\n"
            % token,
            b"GET /projects HTTP/1.1\r\nAuthorization: Bearer %s\x00\r\nHost: x\r\n\r\n" % token,
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00\r\n\r\n",
            b"GET /health\x00/../projects HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x1b[2J\r\n\r\n",
            # obs-fold (RFC 9112 5.2: refuse, or join)
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
        ]
        for i, raw in enumerate(bad):
            with self.subTest(raw=raw.replace(token, b"TOKEN")):
                self.assertAtOnce(raw, 400, "bad_request", i)
        # a tab is fine, and so are bytes over 0x7f (obs-text)
        s = connect(self.d)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xe9\r\n\r\n"
                      b"GET /health HTTP/1.1\nHost: x\nX-B: c\n\n")
            first = read_answer(s, 5)
            self.assertEqual(status_of(first), 200)
            rest = split_answer(first)[3]
            self.assertEqual(status_of(rest or read_answer(s, 5)), 200)
        finally:
            s.close()


class Streams(ApiTest):
    @classmethod
    def setUpClass(cls):
        d = harness._shared
        d.create_project({"name": "hostile", "config": harness.printer_config("hostile"),
                          "sources": {"unikernel.c": harness.printer_source("hostile")}})
        cls.build = d.start_build("hostile")["id"]

    @classmethod
    def tearDownClass(cls):
        d = harness._shared
        d.post("/builds/%d/cancel" % cls.build)
        d.wait_build(cls.build, timeout=60)

    def test_head_of_a_stream(self):
        """HEAD with Accept: text/event-stream: the stream's headers, no
        body, and the connection serves the next request."""
        path = "/builds/%d/log" % self.build
        s = connect(self.d)
        try:
            for _ in range(2):
                s.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                          b"Accept: text/event-stream\r\n\r\n"
                          b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                          % (path.encode(), self.d.admin_token.encode()))
                got = b""
                deadline = time.monotonic() + 5
                while got.count(b"HTTP/1.1 ") < 2 or not got.endswith(b"}"):
                    self.assertLess(time.monotonic(), deadline, got)
                    s.settimeout(5)
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "closed: %r" % got)
                    got += chunk
                head, _, rest = got.partition(b"\r\n\r\n")
                self.assertEqual(status_of(head), 200, got)
                self.assertIn(b"Content-Type: text/event-stream", head)
                self.assertNotIn(b"Transfer-Encoding: chunked", head)
                # what follows the head is the next answer, not a body
                self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"), got)
                self.assertIn(b'"status":"ok"', rest)
        finally:
            s.close()
        # other HEAD answers have their length and no body either
        s = connect(self.d)
        try:
            s.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                      b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                      % (path.encode(), self.d.admin_token.encode()))
            got = b""
            while not got.endswith(b"}"):
                chunk = s.recv(65536)
                self.assertTrue(chunk, "closed: %r" % got)
                got += chunk
            answers = got.split(b"HTTP/1.1 ")[1:]
            self.assertEqual(len(answers), 3, got)
            for a in answers[:2]:
                self.assertTrue(a.startswith(b"200 ") and a.endswith(b"\r\n\r\n"), got)
        finally:
            s.close()
        # http.client reads a HEAD answer by the book
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        try:
            h = {"Authorization": "Bearer " + self.d.admin_token,
                 "Accept": "text/event-stream"}
            conn.request("HEAD", path, headers=h)
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (200, b""))
            conn.request("GET", "/health")
            r = conn.getresponse()
            self.assertEqual(json.loads(r.read())["status"], "ok")
        finally:
            conn.close()

    def test_accept_q0(self):
        """q=0 says "not acceptable": the plain log, not a stream."""
        path = "/builds/%d/log" % self.build
        for accept, stream in (("text/event-stream;q=0", False),
                               ("text/event-stream; q=0.000, text/plain", False),
                               ("text/plain, text/event-stream;q=0.5", True)):
            with self.subTest(accept=accept):
                conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
                try:
                    conn.request("GET", path, headers={
                        "Authorization": "Bearer " + self.d.admin_token, "Accept": accept})
                    r = conn.getresponse()
                    self.assertEqual(r.status, 200)
                    ctype = r.getheader("Content-Type", "")
                    self.assertEqual(ctype.startswith("text/event-stream"), stream, ctype)
                    if not stream:
                        self.assertTrue(ctype.startswith("text/plain"), ctype)
                        r.read()
                finally:
                    conn.close()


if __name__ == "__main__":
    harness.main()
