#!/usr/bin/env python3
"""mgctl's log follower against a fake server: event ids that do not fit,
a log answer that never completes, and the exit status of each way a
build ends (interrupted included, which a live daemon never shows).

    test_mgctl_follow.py MGD MGCTL
"""

import json

import mgctl_harness as mh
from fake_server import NOT_FOUND, Fake, send, send_json
from mgctl_harness import harness


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


LOG = b"first line\nsecond line\nthird\n"


def log_server(stream, status="succeeded"):
    """Answers GET /builds/1 (`status`), the log by offset with its
    headers, and the event stream as `stream` (bytes) then closes it;
    POST /projects/p/build queues build 1."""
    def answer(h):
        if h.command == "POST" and h.path == "/projects/p/build":
            send(h, 202, json.dumps({"id": 1, "status": "queued", "log_size": 0}).encode())
        elif h.command == "POST":
            send(h, 404, NOT_FOUND)
        elif h.path == "/builds/1":
            send_json(h, {"id": 1, "status": status})
        elif h.path.startswith("/builds/1/log") and "event-stream" in h.headers.get("Accept", ""):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(stream)
            h.wfile.flush()
            h.close_connection = True
        elif h.path.startswith("/builds/1/log"):
            off = int(h.path.split("offset=")[1]) if "offset=" in h.path else 0
            send(h, 200, LOG[off:], "text/plain",
                 [("X-Log-Size", str(len(LOG))), ("X-More-Data", "false")])
        else:
            send(h, 404, NOT_FOUND)
    return answer


STREAM = b"id: 11\ndata: first line\n\nid: 23\ndata: second line\n\nid: 29\ndata: third\n\n" \
    b"event: end\ndata: {}\n\n"


class ExitStatus(Fake):
    def test_exit_status_follows_the_outcome(self):
        """The exit status is how the build ended, for `log --follow` and
        `build --wait` alike: 0 succeeded, 1 failed, 3 cancelled and 3
        interrupted (a build the daemon's stop cut short is no failure of
        the code, and no usage error either: CI retries it). A live daemon
        never shows an interrupted build to a client that waits, so only a
        fake server can."""
        for status, want in (("succeeded", 0), ("failed", 1), ("cancelled", 3),
                             ("interrupted", 3)):
            with self.subTest(status=status):
                url = self.serve(log_server(STREAM, status))
                r = self.mgctl("log", "1", "--follow", url=url, want=want, timeout=60)
                self.assertEqual(r.out, LOG)
                r = self.mgctl("build", "p", "--wait", url=url, want=want, timeout=60)
                if status == "interrupted":
                    self.assertIn("build 1 was interrupted", r.text)


class Follower(Fake):
    def test_negative_event_id(self):
        """An id far below the offset is a stream that does not fit
        (polling takes over), not an integer overflow."""
        url = self.serve(log_server(
            b"id: 11\ndata: first line\n\nid: -9223372036854775808\ndata: second line\n\n"))
        r = self.mgctl("log", "1", "--follow", url=url, timeout=60)
        self.assertEqual(r.out, LOG)

    def test_event_id_too_long_is_not_cut(self):
        """An id longer than the parser keeps must not be read as its
        first 63 bytes (here 62 zeros and "1" of "...15"): that wrote a
        newline for the first byte, then the rest again."""
        url = self.serve(log_server(
            b"id: " + b"0" * 62 + b"15\ndata: \n\nid: 23\ndata: second line\n\n"))
        r = self.mgctl("log", "1", "--follow", url=url, timeout=60)
        self.assertEqual(r.out, LOG)

    def test_complete_log_that_never_arrives(self):
        """A log answer that says the build is over (X-More-Data: false)
        and that the log is longer than what it brings, again and again:
        mgctl gives up after --timeout instead of asking forever."""
        def answer(h):
            if h.path == "/builds/1":
                send_json(h, {"id": 1, "status": "succeeded"})
            elif h.path.startswith("/builds/1/log"):
                send(h, 200, b"", "text/plain", [("X-Log-Size", "100"), ("X-More-Data", "false")])
            else:
                send(h, 404, NOT_FOUND)
        url = self.serve(answer)
        r = self.mgctl("log", "1", "--follow", "--timeout", "2", url=url, want=2, timeout=30)
        self.assertLess(r.seconds, 20, r)
        self.assertIn("mgctl: following build 1: ", r.errtext)
        self.assertEqual(r.out, b"")


if __name__ == "__main__":
    mh.main()
