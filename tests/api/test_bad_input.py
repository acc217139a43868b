#!/usr/bin/env python3
"""Bad input never crashes the daemon and gets docs/api.md's answer:
malformed JSON (400), a body over the cap (413; lowered with --max-body to
keep the test fast), a wrong Content-Type (415), unknown fields and wrong
types (400 naming the field), absurd ids (404), path traversal in inline
source names (400), a config with errors (422 with details), raw protocol
garbage, and half requests that must not block other clients. After every
test the daemon still answers GET /health (harness.ApiTest.tearDown)."""

import os
import socket
import threading
import time

import harness
from harness import ApiTest, status_of

MAX_BODY = 64 * 1024


def setUpModule():
    d = harness.start_shared(extra_args=["--max-body", str(MAX_BODY)])
    d.create_project(harness.hello_project("target"))


def tearDownModule():
    harness.stop_shared()


def raw_exchange(d, data, timeout=10, read=True, half_close=True):
    """Sends `data` (bytes) on a new connection, then (with `half_close`,
    shuts down its sending side and) reads until the server closes or
    `timeout`. Returns what came back (bytes). A reset after the server
    answered is fine: the answer is what counts."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return b""
        try:
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
            if not half_close and b"\r\n\r\n" in got:
                break  # the head of an answer is enough
    finally:
        s.close()
    return got


def auth_header(d):
    return ("Authorization: Bearer %s\r\n" % d.admin_token).encode()


class Json(ApiTest):
    def test_malformed(self):
        for body in (b"{", b"", b"[]", b"null", b"42", b'"x"', b'{"name": "x"} trailing',
                     b"{'name': 'x'}", b'{"name": "x",}', b"\xff\xfe{}", b'{"name": "\xff"}',
                     b"{{{"):
            with self.subTest(body=body[:30]):
                r = self.d.post("/projects", body, headers={"Content-Type": "application/json"})
                self.assertError(r, 400, "bad_request")

    def test_deep_nesting(self):
        # far past the nesting limit (64): refused, not a stack overflow
        for n in (65, 100, 20000):
            body = '{"name": "deep", "config": %s, "sources": {}}' % ("[" * n + "]" * n)
            with self.subTest(depth=n):
                r = self.d.post("/projects", body.encode(),
                                headers={"Content-Type": "application/json"})
                self.assertStatus(r, (400, 413, 422))
        cfg = harness.hello_config("deep")
        node = "main"
        for _ in range(80):
            node = {"if": {"key": "target", "equals": "unix"}, "then": node, "else": "main"}
        cfg["jobs"] = [{"apply": node, "to": ["default_console", "default_time"]}]
        r = self.d.post("/projects", {"name": "deep", "config": cfg,
                                      "sources": harness.hello_sources()})
        self.assertStatus(r, (400, 413, 422))

    def test_unknown_fields(self):
        cases = [
            ("POST", "/projects", dict(harness.hello_project("u1"), extra=1), "extra"),
            ("POST", "/projects", dict(harness.hello_project("u2"),
                                       repo=None, sources=None, color="red"), None),
            ("POST", "/projects/target/build", {"targett": "unix"}, "targett"),
            ("POST", "/projects/target/check", {"bogus": True}, "bogus"),
            ("POST", "/tokens", {"scope": "read", "expires": 3}, "expires"),
            ("PATCH", "/projects/target", {"sources": harness.hello_sources(), "zzz": 1}, "zzz"),
            ("PATCH", "/projects/target", {"repo": {"url": "/x.git", "branch": "b"}}, "branch"),
        ]
        for method, path, body, field in cases:
            with self.subTest(path=path, field=field):
                r = self.d.request(method, path, body)
                self.assertError(r, 400, "bad_request", mentions=field)

    def test_wrong_types(self):
        p = harness.hello_project
        cases = [
            ("POST", "/projects", dict(p("t1"), name=5), "name"),
            ("POST", "/projects", dict(p("t2"), config="{}"), "config"),
            ("POST", "/projects", dict(p("t3"), sources=["unikernel.c"]), "sources"),
            ("POST", "/projects", dict(p("t4"), sources={"unikernel.c": 5}), None),
            ("POST", "/projects", {"name": "t5", "config": harness.hello_config(),
                                   "repo": {"url": 7}}, "url"),
            ("POST", "/projects/target/build", {"force": "yes"}, "force"),
            ("POST", "/projects/target/build", {"keys": []}, "keys"),
            ("POST", "/projects/target/build", {"keys": {"k": [1]}}, None),
            ("POST", "/projects/target/build", {"target": 1}, "target"),
            ("POST", "/projects/target/build", {"ref": {}}, "ref"),
            ("POST", "/projects/target/check", {"arch": False}, "arch"),
            ("POST", "/tokens", {"scope": 2}, "scope"),
            ("POST", "/tokens", {"scope": "read", "name": 3}, "name"),
        ]
        for method, path, body, field in cases:
            with self.subTest(path=path, body=str(body)[:60]):
                r = self.d.request(method, path, body)
                self.assertError(r, 400, "bad_request", mentions=field)

    def test_control_characters_in_repo(self):
        """A control character in a repository's URL or ref is refused
        when it arrives (create and patch), 400 naming the field, not
        only later by the fetch; nothing is created or changed."""
        # (NUL is refused in any string of any body: test_malformed)
        for bad in ["\n", "\r", "\t", "\x1b[2J", "\x7f"]:
            for field in ("url", "ref"):
                repo = {"url": "https://example.invalid/r.git", "ref": "main"}
                repo[field] += bad
                with self.subTest(field=field, char=repr(bad)):
                    r = self.d.post("/projects", {"name": "ctl", "config": harness.hello_config("ctl"),
                                                  "repo": repo})
                    self.assertError(r, 400, "bad_request", mentions="repo." + field)
                    self.assertStatus(self.d.get("/projects/ctl"), 404)
                    r = self.d.request("PATCH", "/projects/target", {"repo": repo})
                    self.assertError(r, 400, "bad_request", mentions="repo." + field)
        self.assertIsNone(self.d.get("/projects/target").json["repo"])

    def test_config_with_errors(self):
        cfg = harness.hello_config("broken")
        cfg["devices"]["main"]["type"] = "console -> nosuchtype -> job"
        cfg["jobs"].append("nothing_here")
        rc, want = harness.describe_cli(cfg, harness.hello_sources())
        self.assertEqual(rc, 1)
        r = self.d.post("/projects", {"name": "broken", "config": cfg,
                                      "sources": harness.hello_sources()})
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual(e["details"], want["errors"])
        r = self.d.request("PUT", "/projects/target/config", cfg)
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual(e["details"], want["errors"])
        r = self.d.request("PUT", "/projects/target/config", {"mgd": 2})
        e = self.assertError(r, 422, "config_invalid")
        self.assertTrue(e["details"])


class Transport(ApiTest):
    def test_body_too_large(self):
        big = harness.hello_project("big")
        big["sources"]["pad.txt"] = "x" * (MAX_BODY + 1)
        r = self.d.post("/projects", big)
        self.assertError(r, 413, "payload_too_large")
        self.assertError(self.d.get("/projects/big"), 404, "not_found")

    def test_body_too_large_raw(self):
        # Content-Length over the cap, body sent: 413 whatever the server reads
        n = MAX_BODY * 4
        head = (b"POST /projects HTTP/1.1\r\nHost: x\r\n" + auth_header(self.d)
                + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % n)
        got = raw_exchange(self.d, head + b"{" + b" " * (n - 1))
        self.assertEqual(status_of(got), 413, got[:300])
        # chunked, no length announced
        chunk = b" " * 8192
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // 8192 + 4))
        head = (b"POST /projects HTTP/1.1\r\nHost: x\r\n" + auth_header(self.d)
                + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        got = raw_exchange(self.d, head + b"1\r\n{\r\n" + body + b"0\r\n\r\n")
        self.assertEqual(status_of(got), 413, got[:300])

    def test_just_under_the_cap(self):
        body = harness.hello_project("under")
        body["sources"]["pad.txt"] = "x" * (MAX_BODY - 4096)
        r = self.d.post("/projects", body)
        self.assertStatus(r, 201)

    def test_content_type(self):
        body = b'{"scope": "read"}'
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                      "multipart/form-data; boundary=x", None):
            with self.subTest(ctype=ctype):
                h = {"Content-Type": ctype} if ctype else {}
                r = self.d.post("/tokens", body, headers=h)
                self.assertError(r, 415, "unsupported_media_type")
        r = self.d.post("/tokens", body,
                        headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertStatus(r, 201)
        # an empty body needs no type where nothing is required
        self.assertStatus(self.d.post("/projects/target/build", b""), 202)

    def test_garbage_requests(self):
        for data in (b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"\x00\x01\x02\x03" * 100, b"GET /health HTTP/1.1\r\nHost: x\r\n"
                     + b"X-Big: " + b"a" * 200000 + b"\r\n\r\n",
                     b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999"
                     b"\r\n\r\n",
                     b"POST /projects HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\n"):
            with self.subTest(data=data[:40]):
                got = raw_exchange(self.d, data, timeout=5)
                if got:
                    self.assertGreaterEqual(status_of(got), 400, got[:200])
                self.assertTrue(self.d.health(), "no /health after %r" % data[:40])

    def test_strange_methods(self):
        for m in ("BREW", "TRACE", "OPTIONS"):
            with self.subTest(method=m):
                r = self.d.request(m, "/projects")
                self.assertTrue(400 <= r.status < 500 or r.status == 501, r)

    def test_slowloris(self):
        """Half requests held open do not block other clients."""
        socks = []
        try:
            for i in range(40):
                s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
                if i % 3 == 0:
                    s.sendall(b"POST /projects HTTP/1.1\r\nHost: x\r\n" + auth_header(self.d)
                              + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
                elif i % 3 == 1:
                    s.sendall(b"GET /projects HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                socks.append(s)
            t0 = time.monotonic()
            for _ in range(10):
                self.assertTrue(self.d.health(timeout=5))
                self.assertStatus(self.d.get("/projects", timeout=5), 200)
            self.assertLess(time.monotonic() - t0, 5.0, "requests slowed down by idle clients")
            # a trickle keeps one busy, still no effect on others
            stop = threading.Event()

            def trickle(sock):
                try:
                    while not stop.wait(0.2):
                        sock.sendall(b" ")
                except OSError:
                    pass

            th = threading.Thread(target=trickle, args=(socks[0],))
            th.start()
            try:
                for _ in range(5):
                    self.assertTrue(self.d.health(timeout=5))
            finally:
                stop.set()
                th.join()
        finally:
            for s in socks:
                s.close()

    def test_many_connections(self):
        errors = []

        def worker():
            try:
                for _ in range(10):
                    r = self.d.get("/projects/target")
                    if r.status != 200:
                        errors.append(r)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class Ids(ApiTest):
    def test_absurd_build_ids(self):
        for bid in ("99999999999999999999", "-1", "abc", "0", "1.5", "1e3", "0x10",
                    "9007199254740993", "18446744073709551617", "%20", "+1", "01x", "9" * 5000):
            with self.subTest(id=bid[:30]):
                for suffix in ("", "/log", "/image", "/describe"):
                    self.assertError(self.d.get("/builds/" + bid + suffix), 404, "not_found")
                self.assertError(self.d.post("/builds/" + bid + "/cancel"), 404, "not_found")

    def test_bad_escapes(self):
        # an escaped NUL or a broken escape: not an id (404) or not a path (400)
        for path in ("/builds/%00", "/builds/1%00", "/projects/%00", "/projects/a%00b",
                     "/projects/%zz", "/builds/%", "/projects/%4"):
            with self.subTest(path=path):
                r = self.d.get(path)
                self.assertStatus(r, (400, 404))
                self.assertError(r, r.status, "bad_request" if r.status == 400 else "not_found")

    def test_absurd_project_ids(self):
        for p in ("..", "..%2f..%2fetc%2fpasswd", "%2e%2e", "a%2fb", "UPPER", "x" * 64,
                  "99999999999999999999", "-1", "%ff%fe", "a%0ab", "%27%20OR%201%3d1"):
            with self.subTest(project=p[:30]):
                self.assertError(self.d.get("/projects/" + p), 404, "not_found")
                self.assertError(self.d.get("/projects/%s/builds" % p), 404, "not_found")

    def test_very_long_paths(self):
        r = self.d.get("/projects/" + "a" * 3000)
        self.assertError(r, 404, "not_found")
        r = self.d.get("/" + "x/" * 2000)
        self.assertStatus(r, (404, 414))
        for n in (100000, 1000000):
            line = b"GET /projects/" + b"a" * n + b" HTTP/1.1\r\n"
            got = raw_exchange(self.d, line + b"Host: x\r\n\r\n")
            if got:
                self.assertIn(status_of(got), (400, 404, 413, 414, 431), got[:200])
            self.assertTrue(self.d.health())

    def test_long_query_strings(self):
        """Too many query parameters: an answer (400 or 414) at once, not a
        connection left hanging until its timeout."""
        for n in (100, 600, 1500):
            q = "&".join("a%d=1" % i for i in range(n))
            with self.subTest(params=n, bytes=len(q)):
                t0 = time.monotonic()
                head = b"GET /builds?" + q.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                got = raw_exchange(self.d, head + auth_header(self.d) + b"\r\n", timeout=5,
                                   half_close=False)
                self.assertTrue(got, "no answer (connection closed or silent) after %.1f s"
                                % (time.monotonic() - t0))
                self.assertIn(status_of(got), (400, 414), got[:300])

    def test_query_strings(self):
        for q in ("page=99999999999999999999", "per_page=-1", "per_page=1e2", "page=",
                  "per_page=%00", "per_page=1%00"):
            with self.subTest(query=q):
                self.assertError(self.d.get("/builds?" + q), 400, "bad_request")
        # unknown parameters and odd encodings do not break a list
        for q in ("status=", "zzz=1", "%zz", "&&&", "status=succeeded&status=failed"):
            with self.subTest(query=q):
                r = self.d.get("/builds?" + q)
                self.assertStatus(r, (200, 400))


class Traversal(ApiTest):
    def test_source_names(self):
        # The data directory's parent is the test's own temp dir: nothing may
        # appear there, or anywhere outside the daemon's scratch.
        outside = os.path.dirname(self.d.data)
        before = set(os.listdir(outside))
        for i, name in enumerate(("../evil.c", "../../evil.c", "/tmp/evil.c", "a/../../evil.c",
                                  "a/./b.c", "./a.c", "a//b.c", "", ".", "..", "a/", ".git/config",
                                  "sub/.git/hooks/pre-commit", "a\\..\\evil.c", "a\u0000b.c",
                                  "a\nb.c", "x" * 1100)):
            with self.subTest(name=name[:30]):
                src = harness.hello_sources()
                src[name] = "int evil;\n"
                body = {"name": "trav%d" % i, "config": harness.hello_config(), "sources": src}
                r = self.d.post("/projects", body)
                self.assertError(r, 400, "bad_request")
                r = self.d.request("PATCH", "/projects/target", {"sources": src})
                self.assertError(r, 400, "bad_request")
        # a file that is also a directory of another path
        src = harness.hello_sources()
        src.update({"a": "x", "a/b.c": "y"})
        r = self.d.post("/projects", {"name": "travdir", "config": harness.hello_config(),
                                      "sources": src})
        self.assertError(r, 400, "bad_request")
        self.assertEqual(set(os.listdir(outside)), before)
        self.assertFalse(os.path.exists("/tmp/evil.c"))

    def test_dashboard_paths(self):
        """/ui/ is open: it must never serve a file of the data directory."""
        for path in ("/ui/../admin.token", "/ui/%2e%2e/admin.token", "/ui/..%2fadmin.token",
                     "/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/ui/../../mgd.sqlite3",
                     "/ui//etc/passwd"):
            with self.subTest(path=path):
                r = self.d.get(path, token=None)
                self.assertStatus(r, (400, 404))
                self.assertNotIn(self.d.admin_token.encode(), r.body)
                self.assertNotIn(b"root:", r.body)
                self.assertNotIn(b"SQLite format", r.body)

    def test_config_source_path(self):
        cfg = harness.hello_config("pathy")
        cfg["devices"]["main"]["sources"] = ["../unikernel.c"]
        r = self.d.post("/projects", {"name": "pathy", "config": cfg,
                                      "sources": harness.hello_sources()})
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual([x["code"] for x in e["details"]], ["bad_path"])

    def test_deep_source_tree_builds(self):
        """Nested inline paths are written under the scratch tree and build."""
        src = {"unikernel.c": '#include "inc/deep/greet.h"\n' + harness.printer_source("nested"),
               "inc/deep/greet.h": "/* nothing */\n"}
        self.d.create_project({"name": "nested", "config": harness.printer_config("nested"),
                               "sources": src})
        b = self.d.build_and_wait("nested")
        self.assertEqual(b["status"], "succeeded")


class Values(ApiTest):
    def test_big_integers_as_strings(self):
        """An integer past 2^53 - 1 cannot be a JSON number (it may not be
        the one written): the config's default and the request's keys are
        refused saying to send a string, and the string works."""
        cfg = harness.hello_config("bigint")
        cfg["keys"]["big"] = {"stage": "configure", "type": "int", "default": 9007199254740993}
        r = self.d.post("/projects", {"name": "bigint", "config": cfg,
                                      "sources": harness.hello_sources()})
        e = self.assertError(r, 422, "config_invalid")
        self.assertEqual([x["code"] for x in e["details"]], ["bad_key_value"])
        self.assertEqual(e["details"][0]["path"], "/keys/big/default")
        self.assertIn("as a string", e["details"][0]["message"])
        cfg["keys"]["big"]["default"] = "9007199254740993"
        self.d.create_project({"name": "bigint", "config": cfg,
                               "sources": harness.hello_sources()})
        r = self.d.post("/projects/bigint/check", {})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["keys"]["big"], "9007199254740993")
        r = self.d.post("/projects/bigint/check", {"keys": {"big": -9007199254740993}})
        self.assertError(r, 400, "bad_request", mentions="as a string")
        r = self.d.post("/projects/bigint/check", {"keys": {"big": "-9007199254740993"}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["keys"]["big"], "-9007199254740993")
        r = self.d.post("/projects/bigint/check", {"keys": {"big": 9007199254740991}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["keys"]["big"], 9007199254740991)

    def test_token_name_null(self):
        """A token without a name, null or omitted, has the name "" in the
        reply and in the list alike."""
        for body in ({"scope": "read", "name": None}, {"scope": "read"}):
            with self.subTest(body=body):
                r = self.d.post("/tokens", body)
                self.assertStatus(r, 201)
                self.assertEqual(r.json["name"], "")
                listed, page = None, 1
                while listed is None:
                    got = self.d.get("/tokens?per_page=100&page=%d" % page)
                    self.assertStatus(got, 200)
                    if not got.json:
                        break
                    listed = next((t for t in got.json if t["id"] == r.json["id"]), None)
                    page += 1
                self.assertIsNotNone(listed)
                self.assertEqual(listed["name"], "")
                self.assertStatus(self.d.request("DELETE", "/tokens/%d" % r.json["id"]), 204)


if __name__ == "__main__":
    harness.main()
