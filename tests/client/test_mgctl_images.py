#!/usr/bin/env python3
"""Images mgctl downloads: `build -o -` sends only the image to stdout, and
a download interrupted by a signal leaves no file behind.

    test_mgctl_images.py MGD MGCTL
"""

import hashlib
import os
import shutil
import signal
import tempfile
import threading
import time

import mgctl_harness as mh
from fake_server import NOT_FOUND, Fake, send, send_json
from mgctl_harness import harness


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


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


if __name__ == "__main__":
    mh.main()
