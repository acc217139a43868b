#!/usr/bin/env python3
"""What DELETE /projects/:id leaves behind: nothing; its git mirror
(DATA/git/<id>/) is removed and the pins of the blobs only it used are
dropped."""

import json
import os
import socket
import threading
import time

import harness
from harness import ApiTest

R = {}


git = harness.git


setUpModule, tearDownModule = harness.project_module(R, "revkeys", "mgd-api-delete-cleanup-")


class DeleteCleanup(ApiTest):
    def test_delete_leaves_mirror(self):
        """A deleted project's bare mirror goes with it."""
        repo = os.path.join(R["dir"], "repo")
        os.makedirs(repo)
        git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "unikernel.c"), "w") as f:
            f.write(harness.printer_source("review"))
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "one")
        p = self.d.create_project({"name": "revgit", "config": harness.printer_config("revgit"),
                                   "repo": {"url": repo, "ref": "main"}})
        b = self.d.start_build("revgit")
        self.d.wait_build(b["id"])
        mirror = os.path.join(self.d.data, "git", "%d" % p["id"])
        self.assertTrue(os.path.isdir(mirror), "the build made no mirror at %s" % mirror)
        r = self.d.request("DELETE", "/projects/revgit")
        self.assertStatus(r, 204)
        self.assertFalse(os.path.exists(mirror), "%s outlives its project" % mirror)

    def test_delete_drops_pins(self):
        """Deleting a project drops the records that keep its image and its
        inline-source snapshot in the cache (gc may then reclaim them)."""
        import hashlib
        name = "revpins"
        proj = harness.hello_project(name)
        proj["sources"]["unikernel.c"] += "\nint revpins_marker = 7; /* an image of its own */\n"
        self.d.create_project(proj)
        b = self.d.build_and_wait(name)
        self.assertEqual(b["status"], "succeeded", b)
        cache = self.d.cache or os.path.join(self.d.data, "cache")

        def record(kind, sha):
            key = hashlib.sha256(("mgd %s\n%s" % (kind, sha)).encode()).hexdigest()
            return os.path.join(cache, "records", key[:2], key)
        pins = [record("artifact", b["image"]["sha256"]), record("sources", b["sources_sha256"])]
        for p in pins:
            self.assertTrue(os.path.exists(p), p)
        self.assertStatus(self.d.request("DELETE", "/projects/" + name), 204)
        for p in pins:
            self.assertFalse(os.path.exists(p), "still pinned: " + p)


if __name__ == "__main__":
    harness.main()
