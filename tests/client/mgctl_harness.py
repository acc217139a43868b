"""What the mgctl tests share (tests/client/test_mgctl_*.py).

They run the real `mgctl` (argv[2] or $MGCTL) against a real `mgd serve`
started by tests/api/harness.py, and a small TCP proxy that can cut log
streams short or damage images on their way, to check that mgctl notices.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "api"))

import harness  # noqa: E402

MGCTL = os.environ.get("MGCTL")
ADMIN = harness.ADMIN
SANITIZER_RE = re.compile(r"runtime error|Sanitizer|LeakSanitizer")


def main():
    """argv: MGD MGCTL [unittest args]."""
    global MGCTL
    if len(sys.argv) >= 3 and not sys.argv[2].startswith("-"):
        MGCTL = os.path.abspath(sys.argv.pop(2))
    if not MGCTL or not os.access(MGCTL, os.X_OK):
        sys.exit("usage: %s MGD MGCTL [unittest args] (or MGD=, MGCTL=)" % sys.argv[0])
    harness.main()


class Result:
    def __init__(self, argv, code, out, err, seconds):
        self.argv, self.code, self.out, self.err, self.seconds = argv, code, out, err, seconds

    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def errtext(self):
        return self.err.decode("utf-8", "replace")

    def __repr__(self):
        return "mgctl %s -> exit %d in %.1f s\nstdout: %r\nstderr: %r" % (
            " ".join(self.argv), self.code, self.seconds, self.out[-2000:], self.err[-2000:])


class MgctlTest(harness.ApiTest):
    """A test that runs mgctl against the file's shared daemon."""

    def env(self, token=ADMIN, url=None):
        e = dict(os.environ)
        e.pop("MGD_URL", None)
        e.pop("MGD_TOKEN", None)
        e["MGD_URL"] = url or self.d.url("")
        if token is ADMIN:
            token = self.d.admin_token
        if token is not None:
            e["MGD_TOKEN"] = token
        return e

    def mgctl(self, *argv, token=ADMIN, url=None, want=0, timeout=240, cwd=None, stdin=None):
        """Runs mgctl to its end; checks its exit status (`want`, None for
        any) and that the sanitizers found nothing."""
        t0 = time.monotonic()
        p = subprocess.run([MGCTL] + list(argv), env=self.env(token, url), capture_output=True,
                           timeout=timeout, cwd=cwd, stdin=stdin if stdin is not None else subprocess.DEVNULL)
        r = Result(list(argv), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        self.assertNotRegex(r.errtext, SANITIZER_RE, repr(r))
        if want is not None:
            self.assertEqual(r.code, want, repr(r))
        return r

    def popen(self, *argv, token=ADMIN, url=None):
        return subprocess.Popen([MGCTL] + list(argv), env=self.env(token, url),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def json_of(self, r):
        import json
        try:
            return json.loads(r.out)
        except ValueError as e:
            self.fail("not JSON (%s): %r" % (e, r))

    def project_dir(self, files, config):
        """A directory with `files` ({path: text}) and config.json."""
        import json
        d = tempfile.mkdtemp(prefix="mgctl-project-")
        self.addCleanup(__import__("shutil").rmtree, d, True)
        for name, text in files.items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f)
        return d

    def create(self, body):
        """Creates a project from a POST /projects body through mgctl."""
        d = self.project_dir(body["sources"], body["config"])
        self.mgctl("project", "create", body["name"], "--sources", d)
        return d


# -- a proxy between mgctl and the daemon -----------------------------------


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of a daemon. With `cut_streams`,
    every log stream (a request that accepts text/event-stream) is cut
    after `cut_after` bytes of answer, mid-event; with `corrupt_images`,
    the first byte of every image answer's body is changed. It counts what
    it did and the plain log requests it saw."""

    def __init__(self, upstream_port, cut_streams=False, cut_after=900, corrupt_images=False):
        self.upstream = ("127.0.0.1", upstream_port)
        self.cut_streams, self.cut_after = cut_streams, cut_after
        self.corrupt_images = corrupt_images
        self.cuts = 0
        self.streams = 0
        self.log_polls = 0
        self.corrupted = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        self.closed = True
        self.sock.close()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, client):
        up = socket.create_connection(self.upstream)
        state = {"mode": None, "sent": 0, "in_body": False}
        done = threading.Event()

        def upward():
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    text = data.decode("latin-1")
                    if "\r\n" in text and text.split(" ", 1)[0] in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                        # a new request on this connection
                        with self.lock:
                            if "text/event-stream" in text:
                                state["mode"] = "stream"
                                self.streams += 1
                            elif re.match(r"GET /builds/\d+/log", text):
                                state["mode"] = None
                                self.log_polls += 1
                            elif re.match(r"GET /builds/\d+/image", text):
                                state["mode"] = "image"
                            else:
                                state["mode"] = None
                            state["sent"] = 0
                            state["in_body"] = False
                            state["headers_done"] = False
                    up.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=upward, daemon=True).start()
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                mode = state["mode"]
                if mode == "stream" and self.cut_streams:
                    room = self.cut_after - state["sent"]
                    if room <= len(data):
                        client.sendall(data[:max(room, 0)])
                        with self.lock:
                            self.cuts += 1
                        break
                    state["sent"] += len(data)
                elif mode == "image" and self.corrupt_images and not state["in_body"]:
                    # the first byte after the headers, in this piece or the next
                    i = None
                    if state.get("headers_done"):
                        i = 0
                    else:
                        at = data.find(b"\r\n\r\n")
                        if at >= 0:
                            state["headers_done"] = True
                            if at + 4 < len(data):
                                i = at + 4
                    if i is not None:
                        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                        state["in_body"] = True
                        state["headers_done"] = False
                        with self.lock:
                            self.corrupted += 1
                client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


class SilentServer:
    """Accepts connections and never answers: a hung daemon."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            c.close()


def free_port():
    """A port on 127.0.0.1 where nothing listens (bound and let go)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
