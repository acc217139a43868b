#!/usr/bin/env python3
"""Who a token is (GET /whoami, for every scope), the filters and the search
of the lists of builds (arch, reused, config_version, q: hostile text,
literal % and _, totals and Link of filtered lists), graph and check of an
older config version, and the toolchain identity of builds (equal for
builds of one machine, the reused build's for a reuse, kept over a restart).
The migration of a store of an older mgd is tests/daemon/test_store.c's."""

import copy
import json
import re
import urllib.parse

import harness
from harness import ApiTest

HEX64 = re.compile(r"^[0-9a-f]{64}$")
B = {}  # the builds made by setUpModule, by role


def labelled_config(count=4):
    """examples/hello with a configure key `label` (a build's keys show it)."""
    c = harness.hello_config()
    c["keys"]["label"] = {"stage": "configure", "type": "string", "default": "none"}
    c["keys"]["count"]["default"] = count
    return c


def setUpModule():
    d = harness.start_shared()
    for name in ("find_me", "findxme"):
        d.create_project(dict(harness.hello_project(name), config=labelled_config()))
    B["a"] = d.build_and_wait("find_me")
    # the same inputs: a reuse of a
    B["reuse"] = d.build_and_wait("find_me")
    # config version 2 (another default count): new inputs
    r = d.request("PUT", "/projects/find_me/config", labelled_config(count=2))
    if r.status != 201:
        raise AssertionError("PUT config: %r" % r)
    B["v2"] = d.build_and_wait("find_me", {"keys": {"label": "50%_off 'q\" \u00e9"}})
    B["x"] = d.build_and_wait("findxme", {"keys": {"label": "plain"}})
    # another arch, cancelled at once (its row is what the filter sees)
    other = d.start_build("findxme", {"arch": "aarch64"})
    d.post("/builds/%d/cancel" % other["id"], {})
    B["arm"] = d.wait_build(other["id"])


def tearDownModule():
    harness.stop_shared()


def q(params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def matches(b, text):
    """The search as docs/api.md describes it, over a build's JSON."""
    t = text.lower()
    if re.fullmatch(r"#?[0-9]+", text) and int(text.lstrip("#")) == b["id"]:
        return True
    if b["commit"] and b["commit"].lower().startswith(t):
        return True
    if b["ref"] and t in b["ref"].lower():
        return True
    if t in b["project"]["name"].lower():
        return True
    return any(t in ("%s=%s" % kv).lower() for kv in b["keys"].items())


class Whoami(ApiTest):
    def whoami(self, token):
        r = self.d.get("/whoami", token=token)
        self.assertStatus(r, 200)
        return r.json

    def test_every_scope_gets_its_own_token(self):
        listed_before = {t["id"]: t for t in self.d.get("/tokens?per_page=100").json}
        me = self.whoami(harness.ADMIN)
        self.assertEqual(me["scope"], "admin")
        # the token of the admin.token file has a name too
        self.assertEqual(me["name"], "admin (first start)")
        self.assertIn(me["id"], listed_before)
        made = {}
        for scope in ("read", "write", "admin", "worker"):
            tid, text = self.d.create_token(scope, name="who-" + scope)
            made[scope] = (tid, text)
        for scope, (tid, text) in made.items():
            me = self.whoami(text)
            self.assertEqual((me["id"], me["name"], me["scope"]), (tid, "who-" + scope, scope))
            self.assertTime(me["created_at"])
            # as GET /tokens lists it (after the use, so last_used_at is set)
            listed = {t["id"]: t for t in self.d.get("/tokens?per_page=100").json}
            self.assertEqual(me, listed[tid])
            self.assertTime(me["last_used_at"])
        # a worker token reads nothing else
        self.assertError(self.d.get("/builds", token=made["worker"][1]), 403, "forbidden")
        # revoked: not valid any more
        tid, text = made["read"]
        self.assertStatus(self.d.request("DELETE", "/tokens/%d" % tid), 204)
        self.assertError(self.d.get("/whoami", token=text), 401, "unauthorized")

    def test_no_token_or_a_bad_one(self):
        r = self.d.get("/whoami", token=None)
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(r.header("WWW-Authenticate"), 'Bearer realm="mgd"')
        self.assertError(self.d.get("/whoami", token="mgd_" + "A" * 43), 401, "unauthorized")
        self.assertError(
            self.d.get("/whoami", token=None, headers={"Authorization": "Basic eDp5"}),
            401,
            "unauthorized",
        )


class Filters(ApiTest):
    def list(self, path, params, status=200):
        r = self.d.get(path + "?" + q(params))
        self.assertStatus(r, status)
        return r

    def all_builds(self):
        r = self.list("/builds", {"per_page": 100})
        self.assertLessEqual(int(r.header("X-Total-Count")), 100)
        return r.json

    def check(self, params, want_ids, path="/builds"):
        """The filtered list is exactly want_ids (newest first), with its
        total, on one page and one item per page (Link keeps the filters)."""
        r = self.list(path, dict(params, per_page=100))
        self.assertEqual([b["id"] for b in r.json], want_ids, params)
        self.assertEqual(r.header("X-Total-Count"), str(len(want_ids)), params)
        if len(want_ids) >= 2:
            r = self.list(path, dict(params, per_page=1, page=2))
            self.assertEqual([b["id"] for b in r.json], want_ids[1:2])
            self.assertEqual(r.header("X-Total-Count"), str(len(want_ids)))
            links = harness.parse_link(r.header("Link"))
            for rel in ("first", "prev", "last"):
                for k, v in params.items():
                    self.assertEqual(links[rel][1].get(k), str(v), (rel, k))
            self.assertEqual(links["last"][1]["page"], str(len(want_ids)))

    def test_arch_reused_and_config_version(self):
        every = self.all_builds()
        self.assertEqual(B["reuse"]["reused_from"], B["a"]["id"])
        self.check({"reused": "true"}, [b["id"] for b in every if b["reused_from"]])
        self.check({"reused": "false"}, [b["id"] for b in every if not b["reused_from"]])
        self.assertIn(B["reuse"]["id"], [b["id"] for b in every if b["reused_from"]])
        self.assertEqual(B["v2"]["config_version"], 2)
        self.check({"config_version": 2}, [b["id"] for b in every if b["config_version"] == 2])
        self.check({"arch": "aarch64"}, [B["arm"]["id"]])
        self.check({"arch": "x86_64"}, [b["id"] for b in every if b["arch"] == "x86_64"])
        self.check({"arch": "nope"}, [])
        # combined, and under a project's path
        self.check(
            {"config_version": 1, "reused": "false"},
            [b["id"] for b in every if b["config_version"] == 1 and not b["reused_from"]],
        )
        self.check(
            {"reused": "false"},
            [b["id"] for b in every if b["project"]["name"] == "find_me" and not b["reused_from"]],
            path="/projects/find_me/builds",
        )
        self.check({"config_version": 2}, [B["v2"]["id"]], path="/projects/find_me/builds")
        self.check({"config_version": 2}, [], path="/projects/findxme/builds")

    def test_search(self):
        every = self.all_builds()
        ids = lambda text: [b["id"] for b in every if matches(b, text)]  # noqa: E731
        find_me = [b["id"] for b in every if b["project"]["name"] == "find_me"]
        cases = {
            # _ and % are literal: find_me, not findxme; the key's "50%"
            "find_": find_me,
            "FIND": [b["id"] for b in every if b["project"]["name"].startswith("find")],
            "50%": [B["v2"]["id"]],
            "%": [B["v2"]["id"]],
            "_off": [B["v2"]["id"]],
            "label=plain": [B["x"]["id"]],
            "LABEL=PLAIN": [B["x"]["id"]],
            "'q\"": [B["v2"]["id"]],
            "\u00e9": [B["v2"]["id"]],
            "#%d" % B["x"]["id"]: [B["x"]["id"]],
            "'; DROP TABLE builds; --": [],
            '"': [B["v2"]["id"]],
            "\\": [],
            "\u2603 snow": [],
            "x" * 200: [],
        }
        for text, want in cases.items():
            self.assertEqual(want, ids(text), "the test's own oracle for %r" % text)
            self.check({"q": text}, want)
        # an id without "#": that build among others that contain the digits
        got = [b["id"] for b in self.list("/builds", {"q": str(B["x"]["id"])}).json]
        self.assertIn(B["x"]["id"], got)
        self.assertEqual(got, ids(str(B["x"]["id"])))
        # with the other filters and under a project
        self.check({"q": "find_", "reused": "true"}, [B["reuse"]["id"]])
        self.check({"q": "50%"}, [], path="/projects/findxme/builds")
        self.check({"q": "50%"}, [B["v2"]["id"]], path="/projects/find_me/builds")
        # the table is still there after the hostile text
        self.assertEqual(len(self.all_builds()), len(every))

    def test_bad_values_are_400_naming_the_field(self):
        for path in ("/builds", "/projects/find_me/builds"):
            for params, field in (
                ({"reused": "yes"}, "reused"),
                ({"reused": "1"}, "reused"),
                ({"config_version": "abc"}, "config_version"),
                ({"config_version": "0"}, "config_version"),
                ({"config_version": "-1"}, "config_version"),
                ({"q": "x" * 201}, "q"),
                ({"q": "\u00e9" * 101}, "q"),
                ({"status": "done"}, "status"),
            ):
                r = self.list(path, params, status=400)
                e = self.assertError(r, 400, "bad_request")
                self.assertTrue(e["message"].startswith(field + " "), (params, e["message"]))
        self.assertIn("200", self.list("/builds", {"q": "x" * 201}, 400).json["error"]["message"])
        # empty values filter nothing
        self.assertEqual(
            self.list("/builds", {"q": "", "reused": "", "config_version": "", "arch": ""})
            .header("X-Total-Count"),
            str(len(self.all_builds())),
        )


class Versions(ApiTest):
    @classmethod
    def setUpClass(cls):
        d = harness._shared
        d.create_project(harness.hello_project("versions"))
        cls.v1 = d.get("/projects/versions/graph").json
        cls.v1_check = d.post("/projects/versions/check", {}).json
        # version 2: no time device (the graph differs)
        c2 = copy.deepcopy(harness.hello_config())
        c2["devices"]["main"]["type"] = "console -> job"
        c2["jobs"] = [{"apply": "main", "to": ["default_console"]}]
        r = d.request("PUT", "/projects/versions/config", c2)
        if r.status != 201:
            raise AssertionError("PUT config: %r" % r)

    def test_graph_and_check_of_an_older_version(self):
        latest = self.d.get("/projects/versions/graph").json
        self.assertNotEqual(latest, self.v1, "version 2 must have another graph")
        self.assertEqual(self.d.get("/projects/versions/graph?version=1").json, self.v1)
        self.assertEqual(self.d.get("/projects/versions/graph?version=2").json, latest)
        self.assertEqual(
            self.d.post("/projects/versions/check", {"version": 1}).json, self.v1_check
        )
        self.assertEqual(self.d.post("/projects/versions/check", {"version": 2}).json, latest)
        self.assertEqual(self.d.post("/projects/versions/check", {}).json, latest)
        # the other formats take it too
        dot1 = self.d.get("/projects/versions/graph?version=1&format=dot")
        dot2 = self.d.get("/projects/versions/graph?format=dot")
        self.assertStatus(dot1, 200)
        self.assertNotEqual(dot1.body, dot2.body)
        self.assertIn(b"time", dot1.body)

    def test_an_older_version_after_the_sources_changed(self):
        # version 1 names unikernel.c, version 2 u2.c; then unikernel.c
        # leaves the inline sources: version 1's graph does not depend on
        # the files, so it still answers; the latest is still checked
        d = self.d
        p = harness.hello_project("moved")
        src = p["sources"]["unikernel.c"]
        p["sources"]["u2.c"] = src
        d.create_project(p)
        v1 = d.get("/projects/moved/graph").json
        v1_check = d.post("/projects/moved/check", {}).json
        c2 = copy.deepcopy(harness.hello_config())
        c2["devices"]["main"]["sources"] = ["u2.c"]
        self.assertStatus(d.request("PUT", "/projects/moved/config", c2), 201)
        self.assertStatus(d.request("PATCH", "/projects/moved", {"sources": {"u2.c": src}}), 200)
        self.assertEqual(d.get("/projects/moved/graph?version=1").json, v1)
        self.assertEqual(d.post("/projects/moved/check", {"version": 1}).json, v1_check)
        self.assertStatus(d.get("/projects/moved/graph?version=1&format=dot"), 200)
        self.assertStatus(d.get("/projects/moved/graph?version=2"), 200)
        # the latest version is held to today's sources
        self.assertStatus(
            d.request("PATCH", "/projects/moved", {"sources": {"u3.c": src}}), 422
        )

    def test_a_version_that_does_not_exist(self):
        e = self.assertError(
            self.d.get("/projects/versions/graph?version=99"), 404, "not_found"
        )
        self.assertIn("no config version 99", e["message"])
        e = self.assertError(
            self.d.post("/projects/versions/check", {"version": 99}), 404, "not_found"
        )
        self.assertIn("no config version 99", e["message"])
        for bad in ("0", "x", "-2"):
            e = self.assertError(
                self.d.get("/projects/versions/graph?version=" + bad), 400, "bad_request"
            )
            self.assertIn("version", e["message"])
        for bad in (0, "1", 1.5, None):
            e = self.assertError(
                self.d.post("/projects/versions/check", {"version": bad}), 400, "bad_request"
            )
            self.assertIn("version", e["message"])


class Toolchain(ApiTest):
    def test_identity_of_builds_on_one_machine_and_after_a_restart(self):
        a = self.d.build(B["a"]["id"])
        self.assertRegex(a["toolchain"], HEX64)
        for role in ("reuse", "v2", "x"):
            b = self.d.build(B[role]["id"])
            self.assertEqual(b["status"], "succeeded")
            self.assertEqual(b["toolchain"], a["toolchain"], role)
        self.assertNotEqual(self.d.build(B["v2"]["id"])["input_hash"], a["input_hash"])
        # in lists too
        listed = {b["id"]: b for b in self.d.get("/builds?per_page=100").json}
        self.assertEqual(listed[a["id"]]["toolchain"], a["toolchain"])
        # kept over a restart, and a new build has the same
        self.d.stop()
        self.d.start()
        self.assertEqual(self.d.build(a["id"])["toolchain"], a["toolchain"])
        forced = self.d.build_and_wait("findxme", {"force": True, "keys": {"label": "plain"}})
        self.assertIsNone(forced["reused_from"])
        self.assertEqual(forced["toolchain"], a["toolchain"])


if __name__ == "__main__":
    harness.main()
