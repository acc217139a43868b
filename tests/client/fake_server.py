"""A small fake mgd for mgctl's tests of answers a real daemon does not
give (an unexpected shape or size, a log that never completes, a download
that stalls): an HTTP/1.1 server whose GET and POST answers a test
writes."""

import http.server
import json
import threading

import mgctl_harness as mh


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1 whose GET and POST answers come from
    `answer(handler)`; `send` writes a whole answer."""

    def __init__(self, answer):
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                answer(self)

            def do_POST(self):
                # the body is read first, so that the answer meets a
                # connection in step; `answer` tells the methods apart
                n = int(self.headers.get("Content-Length", "0") or 0)
                self.body = self.rfile.read(n)
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
