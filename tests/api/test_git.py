#!/usr/bin/env python3
"""Builds from git: a repository made here with the git CLI (two commits, a
tag; the unikernel prints a different line in each). Builds at the branch,
at the tag and at the first commit's sha record the right `commit`, and the
downloaded image, run as a unix executable, prints the right line. A missing
ref and a bad URL fail their build with a clear log line, and the workers
keep working."""

import os
import shutil
import stat
import subprocess
import tempfile
import time

import harness
from harness import HEX40_RE, ApiTest

R = {}  # the repository: path, sha1, sha2


git = harness.git


def make_repo(path):
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    with open(os.path.join(path, "unikernel.c"), "w") as f:
        f.write(harness.printer_source("git test: one"))
    with open(os.path.join(path, "README"), "w") as f:
        f.write("test repository\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "one")
    git(path, "tag", "v1")
    git(path, "tag", "-a", "-m", "annotated", "v1a")
    sha1 = git(path, "rev-parse", "HEAD")
    with open(os.path.join(path, "unikernel.c"), "w") as f:
        f.write(harness.printer_source("git test: two"))
    git(path, "commit", "-q", "-am", "two")
    sha2 = git(path, "rev-parse", "HEAD")
    return sha1, sha2


def setUpModule():
    d = harness.start_shared()
    R["dir"] = tempfile.mkdtemp(prefix="mgd-api-git-")
    R["repo"] = os.path.join(R["dir"], "repo")
    R["sha1"], R["sha2"] = make_repo(R["repo"])
    d.create_project({"name": "gitp", "config": harness.printer_config("gitp"),
                      "repo": {"url": R["repo"], "ref": "main"}})


def tearDownModule():
    try:
        harness.stop_shared()
    finally:
        shutil.rmtree(R.get("dir", "/nonexistent"), ignore_errors=True)


class Git(ApiTest):
    def run_image(self, build):
        """Downloads the build's image and runs it: its output."""
        r = self.d.get("/builds/%d/image" % build["id"])
        self.assertStatus(r, 200)
        path = os.path.join(R["dir"], "image-%d" % build["id"])
        with open(path, "wb") as f:
            f.write(r.body)
        os.chmod(path, stat.S_IRWXU)
        p = subprocess.run([path], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 0, p)
        return p.stdout

    def build_at(self, ref, want_sha, want_line, **extra):
        body = dict(extra)
        if ref is not None:
            body["ref"] = ref
        b = self.d.build_and_wait("gitp", body)
        self.assertRegex(b["commit"], HEX40_RE)
        self.assertEqual(b["commit"], want_sha, "ref %r" % ref)
        self.assertIsNone(b["sources_sha256"])
        self.assertEqual(self.run_image(b), want_line + "\n")
        return b

    def test_branch(self):
        b = self.build_at("main", R["sha2"], "git test: two")
        self.assertEqual(b["ref"], "main")

    def test_default_ref(self):
        self.build_at(None, R["sha2"], "git test: two")

    def test_tag(self):
        self.build_at("v1", R["sha1"], "git test: one")

    def test_annotated_tag(self):
        self.build_at("v1a", R["sha1"], "git test: one")

    def test_sha(self):
        b = self.build_at(R["sha1"], R["sha1"], "git test: one")
        # at the same commit as the tag: the same input hash, the same image
        t = self.d.build_and_wait("gitp", {"ref": "v1"})
        self.assertEqual(t["input_hash"], b["input_hash"])
        self.assertEqual(t["image"]["sha256"], b["image"]["sha256"])

    def test_new_commit_is_fetched(self):
        repo = os.path.join(R["dir"], "moving")
        make_repo(repo)
        self.d.create_project({"name": "moving", "config": harness.printer_config("moving"),
                               "repo": {"url": repo, "ref": "main"}})
        self.d.build_and_wait("moving")
        with open(os.path.join(repo, "unikernel.c"), "w") as f:
            f.write(harness.printer_source("git test: three"))
        git(repo, "commit", "-q", "-am", "three")
        sha3 = git(repo, "rev-parse", "HEAD")
        b = self.d.build_and_wait("moving")
        self.assertEqual(b["commit"], sha3)
        self.assertEqual(self.run_image(b), "git test: three\n")

    def test_patch_ref(self):
        repo = os.path.join(R["dir"], "patched")
        sha1, _ = make_repo(repo)
        self.d.create_project({"name": "patched", "config": harness.printer_config("patched"),
                               "repo": {"url": repo, "ref": "main"}})
        r = self.d.request("PATCH", "/projects/patched", {"repo": {"ref": "v1"}})
        self.assertStatus(r, 200)
        b = self.d.build_and_wait("patched")
        self.assertEqual(b["commit"], sha1)
        self.assertEqual(b["ref"], "v1")

    def test_missing_ref(self):
        b = self.d.build_and_wait("gitp", {"ref": "no-such-branch"}, want="failed")
        self.assertIsInstance(b["error"], str)
        self.assertIn("no-such-branch", b["error"])
        log = self.d.log(b["id"])
        lines = [l for l in log.splitlines() if "no-such-branch" in l and "not found" in l]
        self.assertTrue(lines, "no clear line in the log:\n" + log)
        self.assertIsNone(b["commit"])
        self.assertIsNone(b["image"])
        self.assertError(self.d.get("/builds/%d/image" % b["id"]), 404, "not_found")
        # the workers keep working: a real build (not a reuse) succeeds
        ok = self.d.build_and_wait("gitp", {"ref": "main", "force": True})
        self.assertIsNone(ok["reused_from"])
        self.assertEqual(ok["commit"], R["sha2"])

    def test_bad_url(self):
        for i, url in enumerate((os.path.join(R["dir"], "does-not-exist"),
                                 os.path.join(R["dir"], "repo", "README"),
                                 "nosuchscheme://x/y.git")):
            with self.subTest(url=url):
                name = "badurl%d" % i
                self.d.create_project({"name": name, "config": harness.printer_config(name),
                                       "repo": {"url": url, "ref": "main"}})
                b = self.d.build_and_wait(name, want="failed", timeout=60)
                self.assertIsInstance(b["error"], str)
                self.assertTrue(b["error"])
                log = self.d.log(b["id"])
                self.assertTrue([l for l in log.splitlines() if url in l],
                                "the log does not name the URL:\n" + log)
        ok = self.d.build_and_wait("gitp", {"ref": "v1"})
        self.assertEqual(ok["commit"], R["sha1"])

    def test_escaping_symlink(self):
        """A symlink leaving the tree fails the build, naming the link; the
        checkout never follows it."""
        repo = os.path.join(R["dir"], "linked")
        make_repo(repo)
        os.symlink("/etc/passwd", os.path.join(repo, "passwd"))
        git(repo, "add", "passwd")
        git(repo, "commit", "-q", "-m", "link")
        self.d.create_project({"name": "linked", "config": harness.printer_config("linked"),
                               "repo": {"url": repo, "ref": "main"}})
        b = self.d.build_and_wait("linked", want="failed")
        self.assertIn("passwd", b["error"])
        self.assertIn("passwd", self.d.log(b["id"]))

    def test_fetch_is_sandboxed(self):
        """The fetch process (libgit2 parsing what a remote sends) sees its
        project's mirror folder and the checkout, not the database, the
        tokens or another project's mirror. Caught while it waits on a
        remote that never answers, through /proc/PID/root, which shows a
        process's own mount namespace."""
        import socket
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        self.d.create_project({"name": "silent", "config": harness.printer_config("silent"),
                               "repo": {"url": "git://127.0.0.1:%d/x.git" % port, "ref": "main"}})
        project_id = self.d.get("/projects/silent").json["id"]
        other = os.path.join(self.d.data, "git", "%d" % self.d.get("/projects/gitp").json["id"])
        self.d.build_and_wait("gitp", {"ref": "main"})  # gitp's mirror exists
        self.assertTrue(os.path.isdir(other))
        b = self.d.start_build("silent")
        try:
            fetch = None
            deadline = time.monotonic() + 30
            while fetch is None and time.monotonic() < deadline:
                for pid, cmd in harness.processes_mentioning("__fetch"):
                    if ":%d/x.git" % port in cmd and not cmd.startswith("/usr/bin/bwrap"):
                        fetch = pid
                time.sleep(0.05)
            self.assertIsNotNone(fetch, "no fetch process seen")
            root = "/proc/%d/root" % fetch
            mine = os.path.join(self.d.data, "git", "%d" % project_id)
            self.assertTrue(os.path.isdir(root + mine), "its own mirror folder is there")
            for hidden in ("mgd.sqlite3", "admin.token", "cache", "logs"):
                self.assertFalse(os.path.exists(root + os.path.join(self.d.data, hidden)),
                                 hidden + " is visible to the fetch")
            self.assertFalse(os.path.exists(root + other), "another project's mirror is visible")
            self.assertTrue(os.path.exists(os.path.join(self.d.data, "mgd.sqlite3")))
        finally:
            self.d.post("/builds/%d/cancel" % b["id"])
            server.close()
        self.assertEqual(self.d.wait_build(b["id"])["status"], "cancelled")

    def test_repository_in_the_data_directory_is_refused(self):
        """Another project's mirror is a git repository too: a local url
        into the daemon's data directory is refused, not fetched."""
        self.d.build_and_wait("gitp", {"ref": "main"})
        gitp = self.d.get("/projects/gitp").json["id"]
        mirror = os.path.join(self.d.data, "git", "%d" % gitp, "mirror.git")
        self.assertTrue(os.path.isdir(mirror))
        self.d.create_project({"name": "thief", "config": harness.printer_config("thief"),
                               "repo": {"url": mirror, "ref": "main"}})
        b = self.d.build_and_wait("thief", want="failed")
        self.assertIn("inside the daemon's data directory", b["error"])
        self.assertIsNone(b["commit"])

    def test_strange_refs(self):
        for ref in ("--upload-pack=touch /tmp/mgd-pwned", "../../etc", "HEAD~1", "main:README",
                    "refs/heads/../../x"):
            with self.subTest(ref=ref):
                r = self.d.post("/projects/gitp/build", {"ref": ref})
                if r.status == 400:
                    self.assertError(r, 400, "bad_request")
                    continue
                self.assertStatus(r, 202)
                b = self.d.wait_build(r.json["id"])
                if ref == "HEAD~1" and b["status"] == "succeeded":
                    self.assertEqual(b["commit"], R["sha1"])
                else:
                    self.assertEqual(b["status"], "failed", b)
        self.assertFalse(os.path.exists("/tmp/mgd-pwned"))

    def test_rebuild_uses_the_commit(self):
        """A rebuild takes the commit of the first build, not its ref."""
        repo = os.path.join(R["dir"], "rebuilt")
        make_repo(repo)
        self.d.create_project({"name": "rebuilt", "config": harness.printer_config("rebuilt"),
                               "repo": {"url": repo, "ref": "main"}})
        first = self.d.build_and_wait("rebuilt")
        with open(os.path.join(repo, "unikernel.c"), "w") as f:
            f.write(harness.printer_source("git test: later"))
        git(repo, "commit", "-q", "-am", "later")
        r = self.d.post("/builds/%d/rebuild" % first["id"])
        self.assertStatus(r, 202)
        again = self.d.wait_build(r.json["id"])
        self.assertEqual(again["status"], "succeeded", self.d.log(again["id"]))
        self.assertEqual(again["commit"], first["commit"])
        self.assertEqual(again["image"]["sha256"], first["image"]["sha256"])


if __name__ == "__main__":
    harness.main()
