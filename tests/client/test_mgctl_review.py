#!/usr/bin/env python3
"""What a review of mgctl found, one case per defect: answers of the right
status but an unexpected shape or size (from a small fake server), the
log follower fed event ids that do not fit and a log answer that never
completes, the image sent to stdout by `build -o -`, downloads
interrupted by a signal, config files with text after the document.

    test_mgctl_review.py MGD MGCTL
"""

import hashlib
import http.server
import json
import os
import shutil
import signal
import tempfile
import threading
import time

import mgctl_harness as mh
from mgctl_harness import harness


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1 whose GET answers come from
    `answer(handler)`; `send` writes a whole answer."""

    def __init__(self, answer):
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                answer(self)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d" % self.srv.server_port

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def send(h, status, body, ctype="application/json", headers=()):
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def send_json(h, doc):
    send(h, 200, json.dumps(doc).encode())


NOT_FOUND = b'{"error":{"code":"not_found","message":"no such thing","details":[]}}'


class Fake(mh.MgctlTest):
    def serve(self, answer):
        s = FakeServer(answer)
        self.addCleanup(s.close)
        return s.url()


class WrongShapes(Fake):
    def test_status_with_keys_not_an_object(self):
        """A Build whose keys are an array (valid JSON, wrong shape) must
        not crash `status`: array members have no names. Numbers no
        integer holds are left out, not converted (undefined)."""
        def answer(h):
            if h.path == "/builds/1":
                send_json(h, {"id": 1, "status": "succeeded", "target": "unix",
                              "keys": ["a", 1, {"b": 2}], "reproduced_by": [1e300, 7],
                              "log_size": -1e300})
            else:
                send(h, 404, NOT_FOUND)
        r = self.mgctl("status", "1", url=self.serve(answer))
        self.assertRegex(r.text, r"(?m)^status\s+succeeded$")
        self.assertRegex(r.text, r"(?m)^keys\s+-$")
        self.assertRegex(r.text, r"(?m)^reproduced by\s+7$")
        self.assertRegex(r.text, r"(?m)^log\s+0 B$")


class BigAnswers(Fake):
    def test_log_over_4_mib_is_whole(self):
        """`mgctl log B` prints the whole log, not its first 4 MiB with
        exit 0."""
        log = b"".join(b"line %07d of a long build log ..............................\n" % i
                       for i in range(90000))
        self.assertGreater(len(log), 5 << 20)

        def answer(h):
            if h.path.startswith("/builds/1/log"):
                send(h, 200, log, "text/plain; charset=utf-8",
                     [("X-Log-Size", str(len(log))), ("X-More-Data", "false")])
            else:
                send(h, 404, NOT_FOUND)
        url = self.serve(answer)
        r = self.mgctl("log", "1", url=url)
        self.assertEqual(len(r.out), len(log))
        self.assertEqual(r.out, log)
        j = self.json_of(self.mgctl("log", "1", "--json", url=url))
        self.assertEqual(j["log_size"], len(log))
        self.assertEqual(j["log"].encode(), log)


LOG = b"first line\nsecond line\nthird\n"


def log_server(stream):
    """Answers GET /builds/1 (succeeded), the log by offset with its
    headers, and the event stream as `stream` (bytes) then closes it."""
    def answer(h):
        if h.path == "/builds/1":
            send_json(h, {"id": 1, "status": "succeeded"})
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


class ImageToStdout(mh.MgctlTest):
    def test_build_dash_o_writes_only_the_image(self):
        """`build P -o -` (and `rebuild B -o -`): stdout is the image,
        byte for byte; the notes about the build go to stderr."""
        self.d.create_project(harness.hello_project("rv-stdout"))
        r = self.mgctl("build", "rv-stdout", "-o", "-")
        b = self.d.get("/projects/rv-stdout/builds").json[0]
        self.assertEqual(b["status"], "succeeded")
        self.assertEqual(hashlib.sha256(r.out).hexdigest(), b["image"]["sha256"], r.out[:200])
        self.assertIn("build %d succeeded" % b["id"], r.errtext)
        r = self.mgctl("rebuild", str(b["id"]), "-o", "-")
        self.assertEqual(hashlib.sha256(r.out).hexdigest(), b["image"]["sha256"], r.out[:200])


class InterruptedDownload(Fake):
    def test_signal_leaves_no_temporary_file(self):
        """SIGTERM or SIGINT (a CI job cancelled, ^C) in the middle of a
        download: neither the file nor its temporary file stays."""
        release = threading.Event()
        self.addCleanup(release.set)

        def answer(h):
            if h.path == "/builds/1":
                send_json(h, {"id": 1, "status": "succeeded",
                              "image": {"name": "x.img", "size": 1 << 20, "sha256": "0" * 64}})
            elif h.path == "/builds/1/image":
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(1 << 20))
                h.end_headers()
                h.wfile.write(b"\x7fELF" + b"\0" * 100000)
                h.wfile.flush()
                release.wait(60)
                h.close_connection = True
            else:
                send(h, 404, NOT_FOUND)
        url = self.serve(answer)
        for sig in (signal.SIGTERM, signal.SIGINT):
            tmp = tempfile.mkdtemp(prefix="mgctl-sig-")
            self.addCleanup(shutil.rmtree, tmp, True)
            p = self.popen("image", "1", "-o", os.path.join(tmp, "x.img"), url=url)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                names = os.listdir(tmp)
                if names and os.path.getsize(os.path.join(tmp, names[0])) > 0:
                    break
                time.sleep(0.05)
            self.assertTrue(os.listdir(tmp), "no temporary file appeared")
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
            self.assertNotRegex(err.decode("utf-8", "replace"), mh.SANITIZER_RE)
            self.assertEqual(p.returncode, -sig, err)
            self.assertEqual(os.listdir(tmp), [])


class ConfigFiles(mh.MgctlTest):
    def test_text_after_the_document(self):
        """A config file with text after its JSON object is not JSON: an
        error naming the file, before anything is sent (it used to be
        spliced into the request body as it was)."""
        body = harness.hello_project("rv-trailing")
        d = tempfile.mkdtemp(prefix="mgctl-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        for name, text in body["sources"].items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        cfg = os.path.join(d, "config.json")
        with open(cfg, "w") as f:
            f.write(json.dumps(body["config"]) + "\n}\n")
        r = self.mgctl("project", "create", "rv-trailing", "--sources", d, want=2)
        self.assertIn("%s is not JSON" % cfg, r.errtext)
        self.assertEqual(self.d.get("/projects/rv-trailing").status, 404)
        self.d.create_project(body)
        r = self.mgctl("config", "push", "rv-trailing", cfg, want=2)
        self.assertIn("%s is not JSON" % cfg, r.errtext)


if __name__ == "__main__":
    mh.main()
