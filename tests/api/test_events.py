#!/usr/bin/env python3
"""GET /events: the changes of builds and projects as server-sent events
(api/sse.c, docs/api.md "Live changes").

- a build's events arrive in order (queued, running with its progress,
  succeeded), each with the Build of GET /builds/:id (the last one equal to
  it), and a project's create is a `project` event with the Project of
  GET /projects;
- a build leaving the queue moves the builds behind it: their events come
  with the new queue_position although nothing else of them changed, also
  for builds queued while no stream was open;
- a build that ends with its own image sends the events of the builds of
  the same inputs whose reproduced_by/differs_from/reproduces it changed;
- `project=` limits a stream to one project; a deleted project is a
  `project-deleted` event;
- a read token may listen, no token is 401, an unknown project 404;
- a client that never reads is cut off once 256 KiB wait for it, while a
  client that reads gets every event; the daemon's memory stays bounded;
- 50 streams that go away leave mgd_event_streams within 2 s."""

import http.client
import json
import socket
import struct
import threading
import time

import harness
import openapi_check
from harness import ApiTest
from test_sse import open_streams, stalled_remote, wait_streams

NOTICE_S = 2.0
CAP = 256 * 1024
STATUS_ORDER = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}


R = {}


def setUpModule():
    R["port"], R["stop_remote"] = stalled_remote()
    d = harness.start_shared(workers=1)
    # its builds run (fetching) without end or CPU, holding the one worker
    url = "http://127.0.0.1:%d/stall.git" % R["port"]
    d.create_project({"name": "ev-stall", "config": harness.printer_config("ev-stall"),
                      "repo": {"url": url}})
    d.create_project(harness.hello_project("ev-hello", config_name="ev-hello"))


def tearDownModule():
    try:
        harness.stop_shared()
    finally:
        R["stop_remote"]()


def stalled_build(d):
    """A build that holds the one worker until it is cancelled."""
    b = d.start_build("ev-stall")
    d.wait_build(b["id"], statuses=("running",), timeout=30)
    return b


def cancel_all(d, builds):
    for b in builds:
        d.post("/builds/%d/cancel" % b["id"], {})  # 409 for those that ended
    for b in builds:
        d.wait_build(b["id"])


def event_streams(d):
    return open_streams(d, "mgd_event_streams")


def wait_event_streams(d, want, timeout):
    """Seconds until mgd_event_streams is `want`; fails past `timeout`."""
    return wait_streams(d, want, timeout, "mgd_event_streams")


class Stream:
    """A GET /events stream read by a thread of its own: `events` is the
    list of (event, id, data parsed) received so far."""

    def __init__(self, d, query="", token=harness.ADMIN, headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
        h = {"Authorization": "Bearer " + (d.admin_token if token is harness.ADMIN else token)}
        h.update(headers or {})
        path = "/events" + query
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        openapi_check.check("GET", path, self.resp.status, self.resp.headers, b"")
        if self.resp.status != 200:
            raise AssertionError("GET %s: %d %r" % (path, self.resp.status, self.resp.read()))
        first = self.resp.readline() + self.resp.readline()
        if first != b"retry: 2000\n\n":
            raise AssertionError("the stream does not begin with retry: %r" % first)
        self.events, self.comments = [], 0
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        fields = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.rstrip(b"\n").decode()
                if line.startswith(":"):
                    self.comments += 1
                elif line:
                    k, _, v = line.partition(": ")
                    fields[k] = v
                elif fields:
                    with self.cond:
                        self.events.append((fields.get("event"), int(fields["id"]),
                                            json.loads(fields["data"])))
                        self.cond.notify_all()
                    fields = {}
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed under it (close())
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait(self, pred, timeout=60, what="an event"):
        """The first event (from the start) for which pred(event, data)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if pred(ev[0], ev[2]):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("no %s within %d s; got %s" % (
                        what, timeout, [(e, i, d.get("id"), d.get("status")) for e, i, d in self.events]))
                self.cond.wait(left)

    def builds(self, build_id):
        with self.cond:
            return [data for ev, _, data in self.events if ev == "build" and data["id"] == build_id]

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.thread.join(5)


def raw_stream(d, rcvbuf=None):
    """A socket whose GET /events answer has begun (headers and retry read)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", d.port))
    s.sendall(("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % d.admin_token).encode())
    got = b""
    while b"retry: 2000" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError("the stream closed at once: %r" % got)
        got += chunk
    if harness.status_of(got) != 200:
        raise AssertionError("not a stream: %r" % got[:300])
    return s


def build_schema():
    return openapi_check.spec().validator("/components/schemas/Build")


def project_schema():
    return openapi_check.spec().validator("/components/schemas/Project")


class Events(ApiTest):
    def test_build_events_in_order(self):
        validator = build_schema()
        st = Stream(self.d)
        try:
            self.d.create_project(harness.slow_project("ev-order", blocks=1))
            _, _, pdata = st.wait(lambda e, d: e == "project" and d["name"] == "ev-order",
                                  what="project event")
            listed = [p for p in self.d.get("/projects?per_page=100").json if p["name"] == "ev-order"]
            self.assertEqual(pdata, listed[0])
            project_schema().validate(pdata)

            b = self.d.start_build("ev-order", {"force": True})
            st.wait(lambda e, d: e == "build" and d["id"] == b["id"] and d["status"] == "succeeded",
                    timeout=180, what="succeeded event")
            final = self.d.build(b["id"])
            seen = st.builds(b["id"])
            for data in seen:
                validator.validate(data)
            statuses = [data["status"] for data in seen]
            self.assertEqual(statuses[0], "queued", statuses)
            self.assertEqual(seen[0]["queue_position"], 1)
            self.assertEqual(statuses[-1], "succeeded", statuses)
            self.assertEqual(statuses, sorted(statuses, key=STATUS_ORDER.get), statuses)
            running = [data for data in seen if data["status"] == "running"]
            self.assertTrue(running, statuses)
            self.assertTrue(all(data["progress"] for data in running), running)
            # the slow compile is seen as a step while it runs
            self.assertIn("compile slow.c", [s for data in running for s in data["progress"]["steps"]])
            self.assertEqual(seen[-1], final)
            ids = [i for _, i, _ in st.events]
            self.assertEqual(ids, sorted(set(ids)), "event ids go up")
        finally:
            st.close()

    def test_queue_positions_move(self):
        """The worker runs A; B and C wait (positions 1 and 2). Cancelling
        B moves C to 1: C's event comes though C itself did not change."""
        a = stalled_build(self.d)
        st = Stream(self.d)
        b = c = None
        try:
            b = self.d.start_build("ev-hello")
            c = self.d.start_build("ev-hello")
            st.wait(lambda e, d: e == "build" and d["id"] == c["id"] and d["queue_position"] == 2,
                    what="C queued at 2")
            self.assertStatus(self.d.post("/builds/%d/cancel" % b["id"], {}), 200)
            st.wait(lambda e, d: e == "build" and d["id"] == c["id"] and d["queue_position"] == 1,
                    timeout=10, what="C moved to 1")
            st.wait(lambda e, d: e == "build" and d["id"] == b["id"] and d["status"] == "cancelled",
                    timeout=10, what="B cancelled")
        finally:
            st.close()
            cancel_all(self.d, [x for x in (a, b, c) if x])

    def test_queue_moves_of_builds_queued_unheard(self):
        """B and C are queued while no stream is open; a stream opens (the
        client loads C at 2), B is cancelled: C's move to 1 is sent, as if
        the stream had seen them queued."""
        wait_event_streams(self.d, 0, timeout=10)
        a = stalled_build(self.d)
        b = self.d.start_build("ev-hello")
        c = self.d.start_build("ev-hello")
        st = Stream(self.d)
        try:
            self.assertEqual(self.d.build(c["id"])["queue_position"], 2)
            self.assertStatus(self.d.post("/builds/%d/cancel" % b["id"], {}), 200)
            st.wait(lambda e, d: e == "build" and d["id"] == c["id"] and d["queue_position"] == 1,
                    timeout=10, what="C moved to 1")
        finally:
            st.close()
            cancel_all(self.d, [a, b, c])

    def test_sibling_lists_change_with_an_event(self):
        """X ran every action; a stream opens (the client loads X); Y, a
        forced build of the same inputs, ends: X's reproduced_by names Y
        now, and an event of X says so (its last event is its state)."""
        self.d.create_project(harness.hello_project("ev-sib", config_name="ev-sib"))
        x = self.d.build_and_wait("ev-sib", {"force": True})
        st = Stream(self.d)
        try:
            self.assertEqual(self.d.build(x["id"])["reproduced_by"], [])
            y = self.d.build_and_wait("ev-sib", {"force": True})
            self.assertEqual(self.d.build(y["id"])["reproduces"], [x["id"]])
            st.wait(lambda e, d: e == "build" and d["id"] == x["id"] and
                    d["reproduced_by"] == [y["id"]], timeout=10, what="X reproduced by Y")
            time.sleep(NOTICE_S)
            self.assertEqual(st.builds(x["id"])[-1], self.d.build(x["id"]))
        finally:
            st.close()

    def test_project_filter_and_delete(self):
        for name in ("ev-one", "ev-two"):
            self.d.create_project(harness.hello_project(name, config_name=name))
        one = self.d.get("/projects/ev-one").json["id"]
        everything = Stream(self.d)
        only = Stream(self.d, "?project=ev-one")
        by_id = Stream(self.d, "?project=%d" % one)
        try:
            builds = []
            for name in ("ev-two", "ev-one"):
                b = self.d.start_build(name)
                self.d.post("/builds/%d/cancel" % b["id"], {})
                self.d.wait_build(b["id"])
                builds.append(b["id"])
            two_build, one_build = builds
            for name in ("ev-two", "ev-one"):
                r = self.d.request("PUT", "/projects/%s/config" % name,
                                   harness.hello_config(name + "-v2"))
                self.assertStatus(r, 201)
            # (changes read after their project is gone are not sent: the
            # project-deleted event says it all; so they are waited for)
            for st in (everything, only, by_id):
                st.wait(lambda e, d: e == "build" and d["id"] == one_build
                        and d["status"] == "cancelled", what="ev-one's build")
                st.wait(lambda e, d: e == "project" and d["name"] == "ev-one"
                        and d["config_version"] == 2, what="ev-one's config")
            everything.wait(lambda e, d: e == "build" and d["id"] == two_build
                            and d["status"] == "cancelled", what="ev-two's build")
            everything.wait(lambda e, d: e == "project" and d["name"] == "ev-two"
                            and d["config_version"] == 2, what="ev-two's config")
            self.assertStatus(self.d.request("DELETE", "/projects/ev-two"), 204)
            self.assertStatus(self.d.request("DELETE", "/projects/ev-one"), 204)
            for st in (everything, only, by_id):
                deleted = st.wait(lambda e, d: e == "project-deleted" and d["name"] == "ev-one",
                                  timeout=30, what="ev-one deleted")
                self.assertEqual(deleted[2], {"id": one, "name": "ev-one"})
            everything.wait(lambda e, d: e == "project-deleted" and d["name"] == "ev-two",
                            what="ev-two deleted")
            for st in (only, by_id):
                with st.cond:
                    others = [(e, d) for e, _, d in st.events
                              if (e == "build" and d["project"]["id"] != one)
                              or (e != "build" and d["id"] != one)]
                self.assertEqual(others, [], "a filtered stream got another project's events")
        finally:
            for st in (everything, only, by_id):
                st.close()

    def test_tokens(self):
        _, read = self.d.create_token("read")
        st = Stream(self.d, token=read, headers={"Last-Event-ID": "5"})
        try:
            time.sleep(0.5)
            self.assertEqual(st.events, [], "no replay")
        finally:
            st.close()
        self.assertError(self.d.get("/events", token=None), 401, "unauthorized")
        self.assertError(self.d.get("/events?project=no-such-project"), 404, "not_found")

    def test_slow_reader_is_cut_off(self):
        """Three clients that never read (a 4 KiB receive buffer) and one
        that does. The worker is held, 120 builds wait; cancelling the
        first of them 12 times, a tick apart, moves the first 100 of the
        others each time: about 1,200 events of 1 KiB, far more than the
        cap and the kernel's buffers. The slow clients are cut off, the
        reader gets every event, the daemon's memory grows by far less
        than what the slow clients were sent. Builds further back than
        100 get no event for a move (docs/api.md)."""
        a = stalled_build(self.d)
        queued = [self.d.start_build("ev-hello") for _ in range(120)]
        wait_event_streams(self.d, 0, NOTICE_S)
        rss0 = harness.rss_kib(self.d.proc.pid)
        slow = [raw_stream(self.d, rcvbuf=4096) for _ in range(3)]
        reader = Stream(self.d)
        try:
            wait_event_streams(self.d, 4, 5)
            for b in queued[:12]:
                self.assertStatus(self.d.post("/builds/%d/cancel" % b["id"], {}), 200)
                time.sleep(0.15)
            last = queued[12 + 99]["id"]
            reader.wait(lambda e, d: e == "build" and d["id"] == last
                        and d["queue_position"] == 100, what="the last move")
            for b in queued[12:112]:
                moves = [d["queue_position"] for d in reader.builds(b["id"])]
                self.assertEqual(moves[-1], queued.index(b) - 11, moves)
            self.assertEqual(reader.builds(queued[-1]["id"]), [], "a move past 100 was sent")
            with reader.cond:
                n = len(reader.events)
                sent = sum(len(json.dumps(d)) for _, _, d in reader.events)
            self.assertGreater(sent, CAP * 3, "the test sent too little to pass the cap")
            took = wait_event_streams(self.d, 1, 10)
            print("slow readers cut off within %.2f s of the last event; %d events, %d KiB"
                  % (took, n, sent // 1024))
            rss1 = harness.rss_kib(self.d.proc.pid)
            print("RSS %d KiB -> %d KiB" % (rss0, rss1))
            self.assertLess(rss1 - rss0, 16 * 1024, "the daemon held what slow clients did not read")
            for s in slow:
                got = 0
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        got += len(chunk)
                except ConnectionResetError:
                    pass
                self.assertLess(got, sent, "a slow reader got everything")
            # the daemon serves on, and new streams work
            self.assertTrue(self.d.health())
            again = Stream(self.d)
            self.d.post("/builds/%d/pin" % a["id"])
            again.wait(lambda e, d: e == "build" and d["id"] == a["id"] and d["pinned"] is True,
                       timeout=10, what="a pin after the cut")
            again.close()
        finally:
            for s in slow:
                s.close()
            reader.close()
            cancel_all(self.d, [a] + queued)

    def test_dropped_streams(self):
        wait_event_streams(self.d, 0, NOTICE_S)
        socks = [raw_stream(self.d) for _ in range(50)]
        wait_event_streams(self.d, 50, 5)
        time.sleep(0.5)  # every stream suspended
        for i, s in enumerate(socks):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        took = wait_event_streams(self.d, 0, NOTICE_S)
        print("50 dropped event streams let go in %.2f s" % took)


if __name__ == "__main__":
    harness.main()
