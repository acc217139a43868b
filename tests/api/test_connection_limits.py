#!/usr/bin/env python3
"""The connection limits of `mgd serve`: connections per client address, and
connections that fit the open files limit (log streams do not starve the
builds of descriptors)."""

import json
import os
import socket
import threading
import time

import harness
from harness import ApiTest

R = {}


git = harness.git


setUpModule, tearDownModule = harness.project_module(R, "revkeys", "mgd-api-connection-limits-")


class ConnectionLimits(ApiTest):
    def test_per_ip_connection_limit(self):
        """--per-ip N: the N+1st open connection from one address is turned
        away while N stay open, and served again once one closes."""
        import socket
        d = harness.Daemon(extra_args=["--per-ip", "3"])
        d.start()
        try:
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(3)]
            extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                got = extra.recv(4096)
            except (ConnectionResetError, socket.timeout):
                got = b""
            self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:80])
            extra.close()
            held[0].close()
            time.sleep(0.5)
            self.assertEqual(d.get("/health", token=None).status, 200)
            for s in held[1:]:
                s.close()
        finally:
            d.finish()

    def test_open_files_limit(self):
        """Under a hard limit of 600 open files, --max-connections 1024 is
        cut to what fits beside the builds' reserve, said on stderr: 300
        followers of a build's log then cannot starve the build of
        descriptors (it would fail with "Too many open files")."""
        limit = 600

        class Limited(harness.Daemon):
            def argv(self):
                return ["prlimit", "--nofile=%d:%d" % (limit, limit), "--"] + super().argv()

        d = Limited(extra_args=["--max-connections", "1024"], workers=1)
        d.start()
        followers = []
        try:
            self.assertIn("600 open files at most (ulimit -n): serving 172 connections, not "
                          "1024", d.stderr_text())
            d.create_project(harness.hello_project("nofile", config_name="nofile"))
            b = d.start_build("nofile", {"force": True})
            request = ("GET /builds/%d/log HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Accept: text/event-stream\r\n\r\n" % (b["id"], d.admin_token)).encode()
            for _ in range(300):
                try:
                    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                    s.sendall(request)
                    followers.append(s)
                except OSError:
                    pass  # turned away: the limit at work
            # Near its connection limit the daemon may answer a new
            # connection 503 (Retry-After: 1, documented in api.md): the
            # poll waits and asks again, as a client should.
            deadline = time.monotonic() + 180
            while True:
                r = d.get("/builds/%d" % b["id"])
                if r.status == 200 and r.json["status"] in harness.TERMINAL:
                    break
                self.assertIn(r.status, (200, 503), r)
                self.assertLess(time.monotonic(), deadline, "the build did not end")
                time.sleep(1 if r.status == 503 else 0.2)
            for s in followers:
                s.close()
            followers = []
            done = d.build(b["id"])
            self.assertEqual(done["status"], "succeeded", d.log(b["id"])[-2000:])
            self.assertNotIn("Too many open files", d.log(b["id"]))
        finally:
            for s in followers:
                s.close()
            d.finish()


if __name__ == "__main__":
    harness.main()
