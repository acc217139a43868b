#!/usr/bin/env python3
"""Every endpoint of the REST API (docs/api.md)
with its success answer and its error answers: 404 for unknown projects and
builds, 409 for a taken name or the cancel of a finished build, 422 with the
resolver's error objects, pagination (per_page, page, Link, X-Total-Count),
filters, the reference endpoints (/targets, /devices, /schema, /metrics),
tokens, project PATCH/DELETE and config versions."""

import hashlib
import json
import os
import subprocess
import re

import harness
from harness import HEX64_RE, ApiTest

# A config with two resolver errors that do not depend on source files.
BAD_CONFIG = {
    "mgd": 1,
    "name": "bad",
    "devices": {
        "main": {"main": "app_start", "type": "console -> job", "sources": ["unikernel.c"]}
    },
    "jobs": [
        {"apply": "main", "to": ["no_such_device"]},
        {"apply": "main", "to": ["default_time"]},
    ],
}

HELLO = None  # the project made in setUpModule
BUILD = None  # its first build, succeeded


def setUpModule():
    global HELLO, BUILD
    d = harness.start_shared()
    HELLO = d.create_project(harness.hello_project("hello"))
    BUILD = d.build_and_wait("hello")


def tearDownModule():
    harness.stop_shared()


def expected_errors(config):
    rc, out = harness.describe_cli(config, harness.hello_sources())
    assert rc == 1 and out.get("errors"), (rc, out)
    return out["errors"]


class Reference(ApiTest):
    def test_health(self):
        r = self.d.get("/health", token=None)
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("application/json"))
        self.assertEqual(r.json, {"status": "ok", "version": "0.1.0"})

    def test_root_page(self):
        r = self.d.get("/", token=None)
        self.assertStatus(r, 200)
        self.assertIn("text/html", r.header("Content-Type", ""))
        self.assertIn(b"<html", r.body.lower())
        # the dashboard: its files from mgd itself, the page held to this daemon
        self.assertIn(b'src="/ui/app.js"', r.body)
        csp = r.header("Content-Security-Policy", "")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("connect-src 'self'", csp)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        with open(os.path.join(harness.SOURCE_DIR, "web", "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read())
        etag = r.header("ETag")
        self.assertRegex(etag, r'^"[0-9a-f]{64}"$')
        self.assertStatus(self.d.get("/", token=None, headers={"If-None-Match": etag}), 304)
        for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
            r = self.d.get("/ui/" + name, token=None)
            self.assertStatus(r, 200)
            self.assertTrue(r.header("Content-Type", "").startswith(ctype), r)
            with open(os.path.join(harness.SOURCE_DIR, "web", name), "rb") as f:
                self.assertEqual(r.body, f.read())
        for path in ("/ui/nope.js", "/ui/", "/ui/a/app.js", "/ui/..%2Fapi%2Fweb.c"):
            self.assertError(self.d.get(path, token=None), 404, "not_found")

    def test_unknown_path(self):
        self.assertError(self.d.get("/nothing/here"), 404, "not_found")

    def test_method_not_allowed(self):
        r = self.d.request("DELETE", "/builds/%d" % BUILD["id"])
        self.assertError(r, 405, "method_not_allowed")
        self.assertIn("GET", r.header("Allow", ""))
        r = self.d.request("PUT", "/projects")
        self.assertError(r, 405, "method_not_allowed")
        allow = [m.strip() for m in r.header("Allow", "").split(",")]
        self.assertIn("GET", allow)
        self.assertIn("POST", allow)

    def test_targets(self):
        r = self.d.get("/targets")
        self.assertStatus(r, 200)
        targets = {t["name"]: t for t in r.json}
        self.assertIn("unix", targets)
        arches = {a["name"]: a for a in targets["unix"]["arches"]}
        host = BUILD["arch"]
        self.assertIn(host, arches)
        self.assertIs(arches[host]["available"], True)
        for a in arches.values():
            self.assertIsInstance(a["available"], bool)
            if not a["available"]:
                self.assertIsInstance(a.get("reason"), str, a)
                self.assertTrue(a["reason"], a)

    def test_devices(self):
        r = self.d.get("/devices")
        self.assertStatus(r, 200)
        cat = r.json
        entries = cat
        if isinstance(cat, dict):
            entries = cat.get("entries", cat)
        if isinstance(entries, dict):
            entries = [dict(v, name=v.get("name", k)) for k, v in entries.items()]
        by_name = {e["name"]: e for e in entries}
        for name in ("default_console", "default_time", "generic_kv_ro"):
            self.assertIn(name, by_name)
        console = by_name["default_console"]
        for field in ("type", "params", "keys", "targets", "doc"):
            self.assertIn(field, console, console)
        self.assertIn("unix", console["targets"])
        self.assertEqual(console["type"], "console")
        # concrete entries say whether this mgd carries their code: every
        # one does here (make test fetches lwIP before building mgd)
        for e in entries:
            if e["kind"] == "concrete":
                self.assertIs(e["available"], True, e)
                self.assertNotIn("unavailable_reason", e)
            else:
                self.assertNotIn("available", e)
        self.assertIn("direct_stackv4v6", by_name)

    def test_schema(self):
        r = self.d.get("/schema/config.json")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith(("application/json",
                                                                   "application/schema+json")))
        s = r.json
        self.assertIn("2020-12", s.get("$schema", ""))
        self.assertIn("mgd", json.dumps(s))

    def test_metrics(self):
        r = self.d.get("/metrics")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/plain"), r)
        text = r.text
        for name in (
            "mgd_builds",
            "mgd_queue_length",
            "mgd_cache_hits_total",
            "mgd_cache_misses_total",
            "mgd_action_duration_seconds_bucket",
            "mgd_build_duration_seconds_bucket",
            "mgd_http_requests_total",
            "mgd_http_request_duration_seconds_bucket",
        ):
            self.assertRegex(text, r"(?m)^%s[{ ]" % name, "metric %s missing" % name)
        m = re.search(r'(?m)^mgd_builds\{status="succeeded"\} (\d+(\.\d+)?)$', text)
        self.assertTrue(m, text)
        self.assertGreaterEqual(float(m.group(1)), 1)
        self.assertRegex(text, r'mgd_http_requests_total\{[^}]*method="GET"')


def metric_values(text):
    """{"name{labels}": value} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class Metrics(ApiTest):
    def test_metrics_follow_builds(self):
        self.d.create_project(harness.hello_project("metr", config_name="metr"))
        before = metric_values(self.d.get("/metrics").text)
        b = self.d.build_and_wait("metr")
        after = metric_values(self.d.get("/metrics").text)

        def delta(name):
            return after.get(name, 0) - before.get(name, 0)

        self.assertGreater(b["cache"]["misses"], 0)
        self.assertEqual(delta("mgd_cache_hits_total"), b["cache"]["hits"])
        self.assertEqual(delta("mgd_cache_misses_total"), b["cache"]["misses"])
        self.assertEqual(delta("mgd_action_duration_seconds_count"), b["cache"]["misses"])
        self.assertEqual(delta("mgd_build_duration_seconds_count"), 1)
        self.assertEqual(delta('mgd_builds{status="succeeded"}'), 1)
        self.assertEqual(after["mgd_queue_length"], 0)
        self.assertGreaterEqual(delta('mgd_http_requests_total{method="POST",code="202"}'), 1)
        self.assertGreaterEqual(delta('mgd_http_requests_total{method="GET",code="200"}'), 1)


class Projects(ApiTest):
    def test_create_shape(self):
        body = harness.hello_project("shape")
        r = self.d.post("/projects", body)
        self.assertStatus(r, 201)
        p = r.json
        self.assertEqual(r.header("Location"), "/projects/%d" % p["id"])
        self.assertIsInstance(p["id"], int)
        self.assertEqual(p["name"], "shape")
        self.assertIsNone(p["repo"])
        content = body["sources"]["unikernel.c"].encode()
        self.assertEqual(p["sources"]["files"], 1)
        self.assertEqual(p["sources"]["bytes"], len(content))
        self.assertRegex(p["sources"]["sha256"], HEX64_RE)
        self.assertEqual(p["config_version"], 1)
        self.assertTime(p["created_at"])
        self.assertTime(p["updated_at"])

    def test_create_repo_project(self):
        body = {"name": "withrepo", "config": harness.hello_config(),
                "repo": {"url": "/nonexistent/repo.git", "ref": "main"}}
        r = self.d.post("/projects", body)
        self.assertStatus(r, 201)
        self.assertEqual(r.json["repo"], {"url": "/nonexistent/repo.git", "ref": "main"})
        self.assertIsNone(r.json["sources"])

    def test_name_taken(self):
        self.assertError(self.d.post("/projects", harness.hello_project("hello")), 409,
                         "conflict")

    def test_bad_names(self):
        for name in ("Hello", "12345", "", "-x", "a" * 64, "a/b", "a b"):
            with self.subTest(name=name):
                self.assertError(self.d.post("/projects", harness.hello_project(name)), 400,
                                 "bad_request")

    def test_repo_and_sources(self):
        both = harness.hello_project("both")
        both["repo"] = {"url": "/x.git"}
        self.assertError(self.d.post("/projects", both), 400, "bad_request")
        neither = harness.hello_project("neither")
        del neither["sources"]
        self.assertError(self.d.post("/projects", neither), 400, "bad_request")

    def test_config_errors(self):
        body = {"name": "badcfg", "config": BAD_CONFIG, "sources": harness.hello_sources()}
        r = self.d.post("/projects", body)
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual(e["details"], expected_errors(BAD_CONFIG))
        self.assertError(self.d.get("/projects/badcfg"), 404, "not_found")

    def test_show_by_id_and_name(self):
        a = self.d.get("/projects/%d" % HELLO["id"])
        b = self.d.get("/projects/hello")
        self.assertStatus(a, 200)
        self.assertStatus(b, 200)
        self.assertEqual(a.json["id"], HELLO["id"])
        self.assertEqual(a.json["name"], "hello")
        self.assertEqual(b.json["id"], HELLO["id"])
        latest = a.json["latest_builds"]["unix"]
        self.assertEqual(latest["project"], {"id": HELLO["id"], "name": "hello"})
        self.assertEqual(a.json["latest_succeeded"]["unix"]["status"], "succeeded")

    def test_unknown_project(self):
        for p in ("nope", "999999", "0"):
            with self.subTest(project=p):
                self.assertError(self.d.get("/projects/" + p), 404, "not_found")
                self.assertError(self.d.post("/projects/%s/build" % p, {}), 404, "not_found")
                self.assertError(self.d.get("/projects/%s/builds" % p), 404, "not_found")
                self.assertError(self.d.get("/projects/%s/config" % p), 404, "not_found")
                self.assertError(self.d.request("DELETE", "/projects/" + p), 404, "not_found")
                self.assertError(self.d.request("PATCH", "/projects/" + p,
                                                {"sources": harness.hello_sources()}),
                                 404, "not_found")

    def test_list_and_pages(self):
        for i in range(5):
            self.d.create_project(harness.hello_project("page%d" % i))
        r = self.d.get("/projects?per_page=100")
        self.assertStatus(r, 200)
        total = int(r.header("X-Total-Count"))
        self.assertEqual(total, len(r.json))
        ids = [p["id"] for p in r.json]
        self.assertEqual(ids, sorted(ids), "projects are listed by id")
        self.assertGreaterEqual(total, 6)

        r = self.d.get("/projects?per_page=2&page=2")
        self.assertStatus(r, 200)
        self.assertEqual([p["id"] for p in r.json], ids[2:4])
        self.assertEqual(int(r.header("X-Total-Count")), total)
        links = harness.parse_link(r.header("Link"))
        last = (total + 1) // 2
        for rel, page in (("first", 1), ("prev", 1), ("next", 3), ("last", last)):
            self.assertIn(rel, links, r.header("Link"))
            path, q = links[rel]
            self.assertEqual(path, "/projects")
            self.assertEqual(q, {"page": str(page), "per_page": "2"}, rel)

        r = self.d.get("/projects?per_page=2&page=1")
        self.assertNotIn("prev", harness.parse_link(r.header("Link")))
        r = self.d.get("/projects?per_page=2&page=%d" % last)
        self.assertNotIn("next", harness.parse_link(r.header("Link")))
        self.assertEqual([p["id"] for p in r.json], ids[2 * (last - 1):])
        r = self.d.get("/projects?per_page=2&page=%d" % (last + 5))
        self.assertStatus(r, 200)
        self.assertEqual(r.json, [])

        r = self.d.get("/projects?per_page=100")
        self.assertEqual(len(r.json), total)
        for q in ("per_page=0", "per_page=101", "page=0", "page=-1", "per_page=x", "page=1.5"):
            with self.subTest(query=q):
                self.assertError(self.d.get("/projects?" + q), 400, "bad_request")

    def test_default_per_page(self):
        for i in range(22 - len(self.d.get("/projects?per_page=100").json)):
            self.d.create_project(harness.hello_project("many%d" % i))
        r = self.d.get("/projects")
        self.assertEqual(len(r.json), 20)
        self.assertGreaterEqual(int(r.header("X-Total-Count")), 22)

    def test_patch(self):
        p = self.d.create_project(harness.hello_project("patchme"))
        src = harness.hello_sources()
        src["unikernel.c"] += "\n/* changed */\n"
        r = self.d.request("PATCH", "/projects/patchme", {"sources": src})
        self.assertStatus(r, 200)
        self.assertNotEqual(r.json["sources"]["sha256"], p["sources"]["sha256"])
        self.assertEqual(r.json["sources"]["bytes"], len(src["unikernel.c"].encode()))
        self.assertEqual(self.d.get("/projects/patchme").json["sources"], r.json["sources"])

        r = self.d.request("PATCH", "/projects/%d" % p["id"],
                           {"repo": {"url": "/some/repo.git", "ref": "dev"}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["repo"], {"url": "/some/repo.git", "ref": "dev"})
        self.assertIsNone(r.json["sources"])
        r = self.d.request("PATCH", "/projects/patchme", {"repo": {"ref": "v2"}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["repo"], {"url": "/some/repo.git", "ref": "v2"})

        self.assertError(self.d.request("PATCH", "/projects/patchme", {"name": "other"}), 400,
                         "bad_request")
        self.assertError(self.d.request("PATCH", "/projects/patchme", {"repo": None}), 400,
                         "bad_request")
        self.assertError(self.d.request("PATCH", "/projects/patchme", {"sources": None}), 400,
                         "bad_request")
        self.assertEqual(self.d.get("/projects/patchme").json["name"], "patchme")

    def test_delete_removes_builds(self):
        p = self.d.create_project(harness.hello_project("deleteme"))
        b = self.d.build_and_wait("deleteme")
        r = self.d.request("DELETE", "/projects/deleteme")
        self.assertStatus(r, 204)
        self.assertEqual(r.body, b"")
        self.assertError(self.d.get("/projects/deleteme"), 404, "not_found")
        self.assertError(self.d.get("/projects/%d" % p["id"]), 404, "not_found")
        self.assertError(self.d.get("/builds/%d" % b["id"]), 404, "not_found")
        self.assertError(self.d.get("/builds/%d/log" % b["id"]), 404, "not_found")
        ids = [x["id"] for x in self.d.get("/builds?per_page=100").json]
        self.assertNotIn(b["id"], ids)
        self.assertError(self.d.request("DELETE", "/projects/deleteme"), 404, "not_found")
        log = os.path.join(self.d.data, "logs", "%d.log" % b["id"])
        self.assertFalse(os.path.exists(log), "the deleted build's log is left: " + log)
        # The image blob is shared with other builds of hello: theirs still download.
        img = self.d.get("/builds/%d/image" % BUILD["id"])
        self.assertStatus(img, 200)
        self.assertEqual(hashlib.sha256(img.body).hexdigest(), BUILD["image"]["sha256"])
        # the name is free again
        self.d.create_project(harness.hello_project("deleteme"))


    def test_ids_not_reused_after_delete(self):
        """A deleted project's or build's URL never names another one later
        (/projects/:id/builds/latest is a stable URL for CI)."""
        p = self.d.create_project(harness.hello_project("gone1"))
        b = self.d.build_and_wait("gone1")
        self.assertStatus(self.d.request("DELETE", "/projects/gone1"), 204)
        p2 = self.d.create_project(harness.hello_project("gone2"))
        b2 = self.d.build_and_wait("gone2")
        self.assertGreater(p2["id"], p["id"], "project id %d reused" % p["id"])
        self.assertGreater(b2["id"], b["id"], "build id %d reused" % b["id"])
        self.assertError(self.d.get("/projects/%d" % p["id"]), 404, "not_found")
        self.assertError(self.d.get("/builds/%d" % b["id"]), 404, "not_found")


class Config(ApiTest):
    def test_versions(self):
        self.d.create_project(harness.hello_project("cfg"))
        r = self.d.get("/projects/cfg/config")
        self.assertStatus(r, 200)
        self.assertEqual(r.header("X-Config-Version"), "1")
        self.assertEqual(r.json, harness.hello_config())

        c2 = harness.hello_config()
        c2["keys"]["hello"]["default"] = "Bonjour"
        r = self.d.request("PUT", "/projects/cfg/config", c2)
        self.assertStatus(r, 201)
        self.assertEqual(r.json, {"version": 2})
        r = self.d.request("PUT", "/projects/cfg/config", c2)
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"version": 2})
        self.assertEqual(self.d.get("/projects/cfg").json["config_version"], 2)

        r = self.d.request("PUT", "/projects/cfg/config", BAD_CONFIG)
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual(e["details"], expected_errors(BAD_CONFIG))
        self.assertEqual(self.d.get("/projects/cfg").json["config_version"], 2)

        r = self.d.get("/projects/cfg/config")
        self.assertEqual(r.header("X-Config-Version"), "2")
        self.assertEqual(r.json, c2)
        # stored canonical: cJSON's unformatted print
        self.assertNotIn(b"\n", r.body)
        r = self.d.get("/projects/cfg/config?version=1")
        self.assertEqual(r.header("X-Config-Version"), "1")
        self.assertEqual(r.json, harness.hello_config())
        self.assertError(self.d.get("/projects/cfg/config?version=3"), 404, "not_found")
        self.assertError(self.d.get("/projects/cfg/config?version=x"), 400, "bad_request")

        r = self.d.get("/projects/cfg/config/versions")
        self.assertStatus(r, 200)
        self.assertEqual(r.header("X-Total-Count"), "2")
        self.assertEqual([v["version"] for v in r.json], [2, 1])
        for v in r.json:
            self.assertRegex(v["sha256"], HEX64_RE)
            self.assertTime(v["created_at"])
        self.assertNotEqual(r.json[0]["sha256"], r.json[1]["sha256"])
        r = self.d.get("/projects/cfg/config/versions?per_page=1&page=2")
        self.assertEqual([v["version"] for v in r.json], [1])

        # a build uses the latest version
        b = self.d.build_and_wait("cfg")
        self.assertEqual(b["config_version"], 2)

    def test_check(self):
        r = self.d.post("/projects/hello/check", {})
        self.assertStatus(r, 200)
        rc, want = harness.describe_cli(harness.hello_config(), harness.hello_sources())
        self.assertEqual(rc, 0)
        self.assertEqual(r.json, want)
        r = self.d.post("/projects/hello/check", {"target": "unix", "arch": BUILD["arch"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["target"], "unix")

        r = self.d.post("/projects/hello/check", {"keys": {"nope": "1"}})
        e = self.assertError(r, 422, "config_invalid")
        self.assertIn("unknown_key", [x["code"] for x in e["details"]])
        # runtime keys cannot be set at build time either
        r = self.d.post("/projects/hello/check", {"keys": {"count": 3}})
        e = self.assertError(r, 422, "config_invalid")
        self.assertIn("unknown_key", [x["code"] for x in e["details"]])
        self.assertError(self.d.post("/projects/nope/check", {}), 404, "not_found")

    def test_check_missing_inline_source(self):
        cfg = harness.printer_config("missing", extra_sources=["other.c"])
        body = {"name": "missingsrc", "config": cfg,
                "sources": {"unikernel.c": harness.printer_source("x")}}
        r = self.d.post("/projects", body)
        e = self.assertError(r, 422, "config_invalid")
        self.assertIn("bad_path", [x["code"] for x in e["details"]], e)

    def test_graph(self):
        r = self.d.get("/projects/hello/graph?target=unix&format=json")
        self.assertStatus(r, 200)
        _, want = harness.describe_cli(harness.hello_config(), harness.hello_sources())
        self.assertEqual(r.json, want)
        r = self.d.get("/projects/hello/graph")
        self.assertEqual(r.json, want)

        r = self.d.get("/projects/hello/graph?format=dot")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/vnd.graphviz"), r)
        self.assertTrue(r.text.lstrip().startswith("digraph"), r)
        self.assertIn("main3", r.text)

        r = self.d.get("/projects/hello/graph?format=svg")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("image/svg+xml"), r)
        self.assertIn("<svg", r.text)
        self.assertIn("main3", r.text)
        # drawn by Graphviz (scripts/deps.sh installs it): device id and
        # implementation on each node, an edge per dependency
        self.assertEqual(r.header("X-Graph-Renderer"), "graphviz", r)
        self.assertIn("Generated by graphviz", r.text)
        self.assertIn(">console1</text>", r.text)
        self.assertIn(">console</text>", r.text)
        self.assertIn("<title>main3&#45;&gt;console1</title>", r.text)

        self.assertError(self.d.get("/projects/hello/graph?format=png"), 400, "bad_request")
        r = self.d.get("/projects/hello/graph?key=nope=1")
        e = self.assertError(r, 422, "config_invalid")
        self.assertIn("unknown_key", [x["code"] for x in e["details"]])
        self.assertError(self.d.get("/projects/nope/graph"), 404, "not_found")


class Builds(ApiTest):
    def test_build_shape(self):
        b = BUILD
        self.assertEqual(b["status"], "succeeded")
        self.assertEqual(b["project"], {"id": HELLO["id"], "name": "hello"})
        self.assertEqual(b["target"], "unix")
        self.assertIsInstance(b["arch"], str)
        self.assertEqual(b["keys"], {})
        self.assertEqual(b["config_version"], 1)
        self.assertIsNone(b["commit"])
        self.assertRegex(b["sources_sha256"], HEX64_RE)
        self.assertRegex(b["input_hash"], HEX64_RE)
        self.assertIs(b["force"], False)
        self.assertIsNone(b["rebuild_of"])
        self.assertIsNone(b["reused_from"])
        for t in ("created_at", "started_at", "finished_at"):
            self.assertTime(b[t])
        self.assertIsInstance(b["duration_ms"], int)
        self.assertGreaterEqual(b["duration_ms"], 0)
        self.assertEqual(set(b["cache"]), {"actions", "hits", "misses", "remote"})
        # no remote cache configured: its part is there, all zero
        self.assertEqual(b["cache"]["remote"], {"hits": 0, "misses": 0, "errors": 0,
                                                "bytes_down": 0, "bytes_up": 0})
        self.assertEqual(b["cache"]["actions"], b["cache"]["hits"] + b["cache"]["misses"])
        self.assertGreater(b["cache"]["actions"], 0)
        self.assertEqual(b["image"]["name"], "hello")
        self.assertRegex(b["image"]["sha256"], HEX64_RE)
        self.assertGreater(b["image"]["size"], 0)
        self.assertIsNone(b["error"])
        self.assertIsInstance(b["reproduced_by"], list)
        self.assertIsInstance(b["differs_from"], list)
        self.assertGreater(b["log_size"], 0)

    def test_spt_build(self):
        """The daemon builds for spt too: the image is an spt one, and
        `mgd run` starts it under mg-spt with the same output as on unix."""
        targets = {t["name"]: t for t in self.d.get("/targets").json}
        self.assertIn("spt", targets)
        x86 = [a for a in targets["spt"]["arches"] if a["name"] == "x86_64"][0]
        self.assertIs(x86["available"], True, x86)
        virtio = {t["name"]: t for t in self.d.get("/targets").json}["virtio"]["arches"]
        self.assertIs([a for a in virtio if a["name"] == "x86_64"][0]["available"], True)
        b = self.d.build_and_wait("hello", {"target": "spt"})
        self.assertEqual((b["target"], b["status"]), ("spt", "succeeded"), self.d.log(b["id"]))
        self.assertLess(b["image"]["size"], 22 * 1024)
        img = os.path.join(self.d.tmp, "hello.spt")
        with open(img, "wb") as f:
            f.write(self.d.get("/builds/%d/image" % b["id"]).body)
        out = subprocess.run([harness.MGD, "run", img, "--", "--count=2"], capture_output=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out)
        self.assertEqual(out.stdout, b"Hello World!\nHello World!\n")
        # run by the host directly, an spt image refuses
        os.chmod(img, 0o755)
        out = subprocess.run([img], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 126)

    def test_virtio_build(self):
        """The daemon builds a virtio kernel; with QEMU installed the target
        is runnable (no run_reason), and `mgd run` boots the downloaded
        image with the same output as on unix."""
        virtio = {t["name"]: t for t in self.d.get("/targets").json}["virtio"]["arches"]
        x86 = [a for a in virtio if a["name"] == "x86_64"][0]
        self.assertEqual((x86["available"], x86["runnable"]), (True, True), x86)
        self.assertNotIn("run_reason", x86)
        b = self.d.build_and_wait("hello", {"target": "virtio"})
        self.assertEqual((b["target"], b["status"]), ("virtio", "succeeded"), self.d.log(b["id"]))
        self.assertEqual(b["image"]["name"], "hello.virtio")
        self.assertLess(b["image"]["size"], 80 * 1024)
        img = os.path.join(self.d.tmp, "hello.virtio")
        with open(img, "wb") as f:
            f.write(self.d.get("/builds/%d/image" % b["id"]).body)
        out = subprocess.run([harness.MGD, "run", img, "--", "--count=2", "--hello=Bonjour"],
                             capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out)
        self.assertEqual(out.stdout.replace(b"\r", b""), b"Bonjour\nBonjour\n")

    def test_start(self):
        r = self.d.post("/projects/hello/build", {})
        self.assertStatus(r, 202)
        b = r.json
        self.assertEqual(r.header("Location"), "/builds/%d" % b["id"])
        # docs/api.md says "the Build (queued)"; the handler answers with the row
        # as it is after waking the workers, so a worker may have taken it.
        self.assertIn(b["status"], ("queued", "running", "succeeded"))
        if b["status"] != "succeeded":
            self.assertIsNone(b["finished_at"])
            self.assertIsNone(b["duration_ms"])
            self.assertIsNone(b["image"])
        done = self.d.wait_build(b["id"])
        self.assertEqual(done["status"], "succeeded")
        # no body at all is "all defaults" too
        r = self.d.request("POST", "/projects/hello/build")
        self.assertStatus(r, 202)
        self.d.wait_build(r.json["id"])

    def test_start_errors(self):
        self.assertError(self.d.post("/projects/hello/build", {"target": "nosuch"}), 400,
                         "bad_request")
        r = self.d.post("/projects/hello/build", {"keys": {"nope": "x"}})
        e = self.assertError(r, 422, "config_invalid")
        self.assertIn("unknown_key", [x["code"] for x in e["details"]])

    def test_show_errors(self):
        self.assertError(self.d.get("/builds/99999999"), 404, "not_found")
        self.assertError(self.d.get("/builds/99999999/log"), 404, "not_found")
        self.assertError(self.d.get("/builds/99999999/image"), 404, "not_found")
        self.assertError(self.d.get("/builds/99999999/describe"), 404, "not_found")
        self.assertError(self.d.post("/builds/99999999/cancel"), 404, "not_found")
        self.assertError(self.d.post("/builds/99999999/rebuild"), 404, "not_found")

    def test_cancel_finished(self):
        self.assertError(self.d.post("/builds/%d/cancel" % BUILD["id"]), 409, "conflict")
        self.assertEqual(self.d.build(BUILD["id"])["status"], "succeeded")

    def test_describe_log_image(self):
        r = self.d.get("/builds/%d/describe" % BUILD["id"])
        self.assertStatus(r, 200)
        _, want = harness.describe_cli(harness.hello_config(), harness.hello_sources())
        self.assertEqual(r.json, want)
        r = self.d.get("/builds/%d/log" % BUILD["id"])
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/plain"), r)
        self.assertGreater(len(r.body), 0)
        r = self.d.get("/builds/%d/image" % BUILD["id"])
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body), BUILD["image"]["size"])
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), BUILD["image"]["sha256"])

    def test_failed_build(self):
        body = {"name": "broken", "config": harness.printer_config("broken"),
                "sources": {"unikernel.c": "int app_start(void) { return syntax error; }\n"}}
        self.d.create_project(body)
        b = self.d.build_and_wait("broken", want="failed")
        self.assertIsInstance(b["error"], str)
        self.assertTrue(b["error"])
        self.assertIsNone(b["image"])
        self.assertIn("error", self.d.log(b["id"]))
        self.assertError(self.d.get("/builds/%d/image" % b["id"]), 404, "not_found")
        self.assertError(self.d.post("/builds/%d/cancel" % b["id"]), 409, "conflict")

        r = self.d.get("/projects/broken/builds?status=failed")
        self.assertEqual([x["id"] for x in r.json], [b["id"]])
        self.assertEqual(self.d.get("/projects/broken/builds?status=succeeded").json, [])
        self.assertError(self.d.get("/projects/broken/builds/latest"), 404, "not_found")
        r = self.d.get("/projects/broken/builds/latest?status=failed")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["id"], b["id"])
        r = self.d.get("/builds?status=failed")
        self.assertIn(b["id"], [x["id"] for x in r.json])
        self.assertTrue(all(x["status"] == "failed" for x in r.json))
        r = self.d.get("/projects/broken")
        self.assertEqual(r.json["latest_builds"]["unix"]["id"], b["id"])
        self.assertNotIn("unix", r.json.get("latest_succeeded") or {})

    def test_project_builds_list(self):
        self.d.create_project(harness.hello_project("listed"))
        ids = [self.d.build_and_wait("listed")["id"] for _ in range(3)]
        r = self.d.get("/projects/listed/builds")
        self.assertStatus(r, 200)
        self.assertEqual([b["id"] for b in r.json], ids[::-1], "newest first")
        self.assertEqual(r.header("X-Total-Count"), "3")
        r = self.d.get("/projects/listed/builds?per_page=1&page=2&status=succeeded")
        self.assertEqual([b["id"] for b in r.json], [ids[1]])
        links = harness.parse_link(r.header("Link"))
        self.assertEqual(links["next"][1],
                         {"per_page": "1", "page": "3", "status": "succeeded"})
        self.assertEqual(links["last"][1]["page"], "3")
        self.assertEqual(len(self.d.get("/projects/listed/builds?target=unix").json), 3)
        self.assertEqual(self.d.get("/projects/listed/builds?status=running,queued").json, [])
        self.assertError(self.d.get("/projects/listed/builds?status=bogus"), 400, "bad_request")

        r = self.d.get("/projects/listed/builds/latest?target=unix")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["id"], ids[-1])
        r = self.d.get("/projects/listed/builds/latest")
        self.assertEqual(r.json["id"], ids[-1])

        r = self.d.get("/builds?project=listed")
        self.assertEqual([b["id"] for b in r.json], ids[::-1])
        r = self.d.get("/builds?status=queued,running")
        self.assertStatus(r, 200)
        self.assertTrue(all(b["status"] in ("queued", "running") for b in r.json), r.json)
        r = self.d.get("/builds?status=succeeded&target=unix&per_page=100")
        got = [b["id"] for b in r.json]
        self.assertEqual(got, sorted(got, reverse=True))
        for i in ids:
            self.assertIn(i, got)

    def test_hash(self):
        sha = BUILD["image"]["sha256"]
        r = self.d.get("/hash?sha256=" + sha)
        self.assertStatus(r, 200)
        self.assertIn(BUILD["id"], [b["id"] for b in r.json])
        self.assertTrue(all(b["image"]["sha256"] == sha for b in r.json))
        self.assertEqual(self.d.get("/hash?sha256=" + "0" * 64).json, [])
        for bad in ("", "xyz", "0" * 63, "g" * 64, sha.upper() + "0"):
            with self.subTest(sha=bad):
                self.assertError(self.d.get("/hash?sha256=" + bad), 400, "bad_request")
        self.assertError(self.d.get("/hash"), 400, "bad_request")


class Tokens(ApiTest):
    def test_lifecycle(self):
        r = self.d.post("/tokens", {"scope": "read", "name": "ci"})
        self.assertStatus(r, 201)
        t = r.json
        self.assertRegex(t["token"], r"^mgd_[A-Za-z0-9_-]{43}$")
        self.assertEqual(t["scope"], "read")
        self.assertEqual(t["name"], "ci")
        self.assertTime(t["created_at"])

        r = self.d.get("/tokens")
        self.assertStatus(r, 200)
        listed = {x["id"]: x for x in r.json}
        self.assertIn(t["id"], listed)
        self.assertNotIn("token", listed[t["id"]])
        self.assertNotIn(t["token"], r.text)
        self.assertIsNone(listed[t["id"]]["last_used_at"])
        self.assertEqual(int(r.header("X-Total-Count")), len(r.json))

        self.assertStatus(self.d.get("/projects", token=t["token"]), 200)
        r = self.d.get("/tokens")
        self.assertTime({x["id"]: x for x in r.json}[t["id"]]["last_used_at"])

        r = self.d.request("DELETE", "/tokens/%d" % t["id"])
        self.assertStatus(r, 204)
        self.assertError(self.d.get("/projects", token=t["token"]), 401, "unauthorized")
        self.assertNotIn(t["id"], [x["id"] for x in self.d.get("/tokens").json])
        self.assertError(self.d.request("DELETE", "/tokens/%d" % t["id"]), 404, "not_found")

    def test_tokens_are_distinct(self):
        seen = {self.d.create_token("write")[1] for _ in range(5)}
        self.assertEqual(len(seen), 5)

    def test_bad_requests(self):
        self.assertError(self.d.post("/tokens", {"scope": "root"}), 400, "bad_request")
        self.assertError(self.d.post("/tokens", {}), 400, "bad_request")
        self.assertError(self.d.request("DELETE", "/tokens/999999"), 404, "not_found")
        self.assertError(self.d.request("DELETE", "/tokens/abc"), 404, "not_found")


if __name__ == "__main__":
    harness.main()
