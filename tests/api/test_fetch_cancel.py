#!/usr/bin/env python3
"""A fetch from a remote that never answers: libgit2 calls no callback
meanwhile, so cancelling the build must stop the fetch and free its worker
(daemon/sources.c), and SIGTERM must still stop the daemon."""

import json
import os
import socket
import threading
import time

import harness
from harness import ApiTest

R = {}


git = harness.git


setUpModule, tearDownModule = harness.project_module(R, "revkeys", "mgd-api-fetch-cancel-")


class FetchCancel(ApiTest):
    def test_stalled_fetch(self):
        """A remote that accepts and never answers: cancelling the build
        frees its worker, so the next build (one worker) starts."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        held = []
        stop = threading.Event()

        def serve():
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(srv.accept()[0])  # read nothing, answer nothing
                except socket.timeout:
                    pass
                except OSError:
                    return

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        d = harness.Daemon(workers=1)
        d.start()
        try:
            url = "http://127.0.0.1:%d/stall.git" % srv.getsockname()[1]
            d.create_project({"name": "stall", "config": harness.printer_config("stall"),
                              "repo": {"url": url}})
            d.create_project(harness.hello_project("after"))
            b = d.start_build("stall")
            d.wait_build(b["id"], statuses=("running",) + harness.TERMINAL, timeout=30)
            deadline = time.monotonic() + 10
            while "fetching" not in d.log(b["id"]) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertStatus(d.post("/builds/%d/cancel" % b["id"], {}), (200, 409))
            nxt = d.start_build("after")
            try:
                d.wait_build(nxt["id"], statuses=("running",) + harness.TERMINAL, timeout=20)
            except AssertionError:
                self.fail("the cancelled build's stalled fetch still holds the only worker")
        finally:
            stop.set()
            srv.close()
            t.join(5)
            for c in held:
                c.close()  # lets a stuck fetch fail, so the daemon can stop
            d.finish()


if __name__ == "__main__":
    harness.main()
