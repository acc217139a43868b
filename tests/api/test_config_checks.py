#!/usr/bin/env python3
"""Config documents and build keys as the API checks them: a body of many
distinct keys is checked in linear time (POST .../check needs only a read
token), a config keeps integers up to 2^53 exactly, and PATCH refuses an
inline tree that lacks what the current config names (as PUT .../config
would)."""

import json
import os
import socket
import threading
import time

import harness
from harness import ApiTest

R = {}


git = harness.git


setUpModule, tearDownModule = harness.project_module(R, "revkeys", "mgd-api-config-checks-")


class ConfigChecks(ApiTest):
    def test_keys_quadratic(self):
        """~300k distinct keys in a body under 4 MiB: the answer (any 4xx)
        must come in seconds, not after minutes of strcmp."""
        _, read = self.d.create_token("read")
        keys = {"k%06d" % i: 1 for i in range(300000)}
        body = json.dumps({"keys": keys}, separators=(",", ":")).encode()
        self.assertLess(len(body), 4 << 20)
        t0 = time.monotonic()
        try:
            r = self.d.request("POST", "/projects/revkeys/check", body=body, token=read,
                               headers={"Content-Type": "application/json"}, timeout=20)
        except Exception as e:  # the socket timed out
            self.fail("no answer within 20 s to a body of %d keys (%s)" % (len(keys), e))
        took = time.monotonic() - t0
        self.assertLess(took, 10, "POST /check with %d keys took %.1f s" % (len(keys), took))
        self.assertIn(r.status, (200, 400, 413, 422), repr(r))

    def test_config_big_int(self):
        """An integer key default within +-2^53 comes back as it was sent."""
        cfg = harness.hello_config("revbig")
        cfg["keys"]["count"]["default"] = 9007199254740991
        r = self.d.request("PUT", "/projects/revkeys/config", cfg)
        self.assertStatus(r, (200, 201))
        r = self.d.get("/projects/revkeys/config")
        self.assertStatus(r, 200)
        got = json.loads(r.body)["keys"]["count"]["default"]
        self.assertEqual(got, 9007199254740991, "stored as %r" % (got,))

    def test_patch_sources_breaks_config(self):
        """An inline tree without the config's files is refused (422), as
        PUT .../config refuses a config naming files the tree lacks."""
        self.d.create_project(harness.hello_project("revpatch"))
        r = self.d.request("PATCH", "/projects/revpatch", {"sources": {"other.c": "int x;\n"}})
        self.assertStatus(r, 422)


if __name__ == "__main__":
    harness.main()
