#!/usr/bin/env python3
"""The connection limits of `mgd serve`: connections per client address."""

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


if __name__ == "__main__":
    harness.main()
