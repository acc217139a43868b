#!/usr/bin/env python3
"""The authorization matrix: every endpoint x {no token, bad token, revoked
token, read, write, admin}. No usable token -> 401 (with WWW-Authenticate:
Bearer), a scope below the endpoint's -> 403, enough scope -> the endpoint's
success answer. Scopes (docs/api.md): read for what only reads, write for what
changes state, admin for tokens and project deletion; GET /health and the
dashboard page are open."""

import itertools
import os
import stat

import harness
from harness import ApiTest

SCOPES = ("read", "write", "admin")
RANK = {"read": 0, "write": 1, "admin": 2}

F = {}  # fixtures made in setUpModule
_seq = itertools.count(1)


def setUpModule():
    d = harness.start_shared()
    F["project"] = d.create_project(harness.hello_project("authp"))
    F["build"] = d.build_and_wait("authp")
    F["tokens"] = {s: d.create_token(s, "matrix-" + s)[1] for s in SCOPES}
    tid, revoked = d.create_token("admin", "revoked")
    r = d.request("DELETE", "/tokens/%d" % tid)
    assert r.status == 204, r
    F["revoked"] = revoked
    # a well-formed token that was never issued
    F["bad"] = "mgd_" + "A" * 43


def tearDownModule():
    harness.stop_shared()


def fresh_project(d):
    name = "authx%d" % next(_seq)
    d.create_project(harness.hello_project(name))
    return name


def fresh_token(d):
    return d.create_token("read", "victim")[0]


def queued_build(d):
    return d.start_build("authp")["id"]


# (name, minimum scope or None when open, make(d) -> (method, path, body),
#  statuses that mean success)
def endpoints():
    p = "/projects/%d" % F["project"]["id"]
    b = "/builds/%d" % F["build"]["id"]
    sha = F["build"]["image"]["sha256"]
    cfg = harness.hello_config()

    def const(method, path, body=None):
        return lambda d: (method, path, body)

    return [
        ("GET /health", None, const("GET", "/health"), (200,)),
        ("GET /", None, const("GET", "/"), (200,)),
        # the dashboard's files: open
        ("GET /ui/...", None, const("GET", "/ui/app.js"), (200,)),
        ("GET /metrics", "read", const("GET", "/metrics"), (200,)),
        ("GET /targets", "read", const("GET", "/targets"), (200,)),
        ("GET /devices", "read", const("GET", "/devices"), (200,)),
        ("GET /schema", "read", const("GET", "/schema/config.json"), (200,)),
        ("GET /projects", "read", const("GET", "/projects"), (200,)),
        ("GET /projects/:id", "read", const("GET", p), (200,)),
        ("GET /projects/:name", "read", const("GET", "/projects/authp"), (200,)),
        ("GET config", "read", const("GET", p + "/config"), (200,)),
        ("GET config versions", "read", const("GET", p + "/config/versions"), (200,)),
        ("POST check", "read", const("POST", p + "/check", {}), (200,)),
        ("GET graph", "read", const("GET", p + "/graph?format=dot"), (200,)),
        ("GET project builds", "read", const("GET", p + "/builds"), (200,)),
        ("GET builds/latest", "read", const("GET", p + "/builds/latest"), (200,)),
        ("GET /builds", "read", const("GET", "/builds?status=queued,running"), (200,)),
        ("GET /builds/:id", "read", const("GET", b), (200,)),
        ("GET log", "read", const("GET", b + "/log"), (200,)),
        ("GET image", "read", const("GET", b + "/image"), (200,)),
        ("GET describe", "read", const("GET", b + "/describe"), (200,)),
        ("GET /hash", "read", const("GET", "/hash?sha256=" + sha), (200,)),
        ("POST /projects", "write",
         lambda d: ("POST", "/projects", harness.hello_project("authn%d" % next(_seq))), (201,)),
        ("PATCH project", "write",
         const("PATCH", p, {"sources": harness.hello_sources()}), (200,)),
        ("PUT config", "write", const("PUT", p + "/config", cfg), (200, 201)),
        ("POST build", "write", const("POST", p + "/build", {}), (202,)),
        # a build of hello is reused at once, so cancel may find it finished
        ("POST cancel", "write",
         lambda d: ("POST", "/builds/%d/cancel" % queued_build(d), None), (200, 409)),
        ("POST rebuild", "write", const("POST", b + "/rebuild"), (202,)),
        ("DELETE project", "admin",
         lambda d: ("DELETE", "/projects/" + fresh_project(d), None), (204,)),
        ("POST /tokens", "admin", const("POST", "/tokens", {"scope": "read"}), (201,)),
        ("GET /tokens", "admin", const("GET", "/tokens"), (200,)),
        ("DELETE /tokens/:id", "admin",
         lambda d: ("DELETE", "/tokens/%d" % fresh_token(d), None), (204,)),
    ]


class Matrix(ApiTest):
    def check(self, name, need, make, ok, who, token):
        method, path, body = make(self.d)
        r = self.d.request(method, path, body, token=token)
        with self.subTest(endpoint=name, token=who):
            if need is None:
                # open: a token, good or bad, changes nothing
                if who in ("none", "read", "write", "admin"):
                    self.assertStatus(r, ok)
                else:
                    self.assertStatus(r, ok + (401,))
            elif who in ("none", "bad", "revoked"):
                self.assertError(r, 401, "unauthorized")
                self.assertTrue(r.header("WWW-Authenticate", "").startswith("Bearer"), r)
            elif RANK[who] < RANK[need]:
                self.assertError(r, 403, "forbidden")
            else:
                self.assertStatus(r, ok)

    def test_matrix(self):
        tokens = [("none", None), ("bad", F["bad"]), ("revoked", F["revoked"])]
        tokens += [(s, F["tokens"][s]) for s in SCOPES]
        for name, need, make, ok in endpoints():
            for who, token in tokens:
                self.check(name, need, make, ok, who, token)

    def test_denied_requests_change_nothing(self):
        before = self.d.get("/projects?per_page=100").json
        for who, token in (("none", None), ("read", F["tokens"]["read"])):
            r = self.d.post("/projects", harness.hello_project("sneaky"), token=token)
            self.assertStatus(r, (401, 403))
            r = self.d.request("DELETE", "/projects/authp", token=token)
            self.assertStatus(r, (401, 403))
        r = self.d.request("DELETE", "/projects/authp", token=F["tokens"]["write"])
        self.assertError(r, 403, "forbidden")
        self.assertEqual(self.d.get("/projects?per_page=100").json, before)

    def test_401_before_404(self):
        # no token learns nothing about what exists
        for path in ("/projects/nope", "/builds/99999999", "/projects/authp"):
            self.assertError(self.d.get(path, token=None), 401, "unauthorized")

    def test_malformed_headers(self):
        t = F["tokens"]["admin"]
        for h in ("Bearer", "Bearer ", "Basic " + t, "bearer" + t, t, "Bearer " + t + "x",
                  "Bearer " + t[:-1], "Bearer  " + t + " junk", "Bearer " + "x" * 5000):
            with self.subTest(header=h[:40]):
                r = self.d.get("/projects", token=None, headers={"Authorization": h})
                self.assertError(r, 401, "unauthorized")

    def test_token_scheme_case(self):
        # RFC 7235: the scheme is case-insensitive
        r = self.d.get("/projects", token=None,
                       headers={"Authorization": "bearer " + F["tokens"]["read"]})
        self.assertStatus(r, 200)

    def test_admin_token_file(self):
        path = os.path.join(self.d.data, "admin.token")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertRegex(self.d.admin_token, r"^mgd_[A-Za-z0-9_-]{43}$")
        # the database keeps only hashes
        db = b""
        for name in os.listdir(self.d.data):
            if name.startswith("mgd.sqlite3"):  # with -wal and -shm
                with open(os.path.join(self.d.data, name), "rb") as f:
                    db += f.read()
        for t in [self.d.admin_token] + list(F["tokens"].values()):
            self.assertNotIn(t.encode(), db)
            self.assertNotIn(t[4:].encode(), db)

    def test_mgd_token_cli(self):
        """`mgd token` works on the database of a running daemon: a token it
        creates is accepted with its scope, list shows it, revoke ends it."""
        import json
        import subprocess

        def cli(*args):
            return subprocess.run([harness.MGD, "token", *args, "--data", self.d.data],
                                  capture_output=True, text=True, timeout=60)
        made = cli("create", "--scope", "read", "--name", "from-cli")
        self.assertEqual(made.returncode, 0, made.stderr)
        token = made.stdout.strip()
        self.assertRegex(token, r"^mgd_[A-Za-z0-9_-]{43}$")
        self.assertStatus(self.d.get("/projects", token=token), 200)
        self.assertError(self.d.post("/projects/authp/build", {}, token=token), 403, "forbidden")
        listed = cli("list", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        mine = [t for t in json.loads(listed.stdout) if t["name"] == "from-cli"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["scope"], "read")
        gone = cli("revoke", str(mine[0]["id"]))
        self.assertEqual(gone.returncode, 0, gone.stderr)
        self.assertError(self.d.get("/projects", token=token), 401, "unauthorized")
        again = cli("revoke", str(mine[0]["id"]))
        self.assertEqual(again.returncode, 1)
        bad = cli("create", "--scope", "root")
        self.assertEqual(bad.returncode, 2)


if __name__ == "__main__":
    harness.main()
