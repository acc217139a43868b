#!/usr/bin/env python3
"""The OpenAPI document itself (api/openapi.json): OpenAPI 3.1.0, every
$ref resolves, every schema is a valid JSON Schema 2020-12, operationIds
are unique, every path template's parameters are declared, and the
operations are exactly the route table of api/server.c (parsed from the
source, so a route added without documentation fails here) with the scopes
of its R_/W_/A_/K_/T_ columns. A running daemon serves the very document at
GET /openapi.json, without a token.

That the answers match the document is checked by every API test
(harness.request, openapi_check.py). With MGD_OPENAPI_COVERAGE naming the
file the suite appended to, this test prints how many operations got at
least one checked answer: a figure, never a failure."""

import collections
import json
import os
import re
import warnings

import jsonschema

import harness
import openapi_check
from harness import ApiTest

SERVER_C = os.path.join(harness.SOURCE_DIR, "api", "server.c")
SCOPES = {"0": "none", "R_": "read", "W_": "write", "A_": "admin", "K_": "worker", "T_": "any"}
METHODS = {"GET": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "delete"}


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


def route_table(source):
    """{(method, OpenAPI path): scope} of `routes[]` in api/server.c."""
    text = source[source.index("static const mg_route routes[] = {"):]
    text = text[: text.index("};")]
    out = {}
    for m in re.finditer(r'\{MG_HTTP_(\w+),\s*"([^"]+)",\s*(\w+),\s*(\w+),', text):
        method, pattern, scope = m.group(1), m.group(2), m.group(3)
        path = re.sub(r":(\w+)", r"{\1}", pattern)
        key = (METHODS[method], path)
        if key in out:
            raise AssertionError("route %s %s twice in api/server.c" % key)
        out[key] = SCOPES[scope]
    return out


def walk(obj, where=""):
    """Every (JSON pointer, dict) in the document."""
    if isinstance(obj, dict):
        yield where, obj
        for k, v in obj.items():
            yield from walk(v, where + "/" + str(k).replace("~", "~0").replace("/", "~1"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, "%s/%d" % (where, i))


class Document(ApiTest):
    @classmethod
    def setUpClass(cls):
        with open(openapi_check.DOC_PATH, "rb") as f:
            cls.raw = f.read()
        cls.doc = json.loads(cls.raw)
        cls.spec = openapi_check.Spec()
        with open(SERVER_C) as f:
            cls.routes = route_table(f.read())

    def operations(self):
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in METHODS.values():
                    yield method, path, op

    def test_version(self):
        self.assertEqual(self.doc["openapi"], "3.1.0")
        self.assertEqual(self.doc["jsonSchemaDialect"], "https://json-schema.org/draft/2020-12/schema")

    def test_refs_resolve(self):
        n = 0
        for where, obj in walk(self.doc):
            ref = obj.get("$ref")
            if isinstance(ref, str):
                n += 1
                try:
                    self.spec.resolve(obj, where)
                except (KeyError, IndexError, TypeError, openapi_check.Mismatch) as e:
                    self.fail("%s: $ref %s does not resolve (%r)" % (where, ref, e))
        self.assertGreater(n, 50)

    def test_schemas_are_valid(self):
        """Every schema of the document (components, parameters, bodies,
        answers, headers) passes the 2020-12 metaschema, and compiles with
        the document as its registry."""
        n = 0
        for where, obj in walk(self.doc):
            if "schema" in obj and isinstance(obj["schema"], dict) and "/example" not in where:
                schemas = [(where + "/schema", obj["schema"])]
            elif where == "/components/schemas":
                schemas = [(where + "/" + k, v) for k, v in obj.items()]
            else:
                continue
            for at, s in schemas:
                n += 1
                try:
                    jsonschema.Draft202012Validator.check_schema(s)
                except jsonschema.SchemaError as e:
                    self.fail("%s is not a valid JSON Schema 2020-12: %s" % (at, e.message))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    # compiles, and its $refs resolve in the document
                    self.spec.validator(at).is_valid(None)
        self.assertGreater(n, 80)

    def test_operation_ids_unique(self):
        ids = collections.Counter(op["operationId"] for _, _, op in self.operations())
        twice = [i for i, n in ids.items() if n > 1]
        self.assertEqual(twice, [], "operationIds used twice")

    def test_path_parameters_declared(self):
        for method, path, op in self.operations():
            declared = set()
            for p in op.get("parameters", []) + self.doc["paths"][path].get("parameters", []):
                p, _ = self.spec.resolve(p, path)
                if p["in"] == "path":
                    self.assertTrue(p.get("required"), "%s %s: path parameter %s" % (method, path, p["name"]))
                    declared.add(p["name"])
            self.assertEqual(
                set(re.findall(r"\{(\w+)\}", path)), declared, "%s %s: path parameters" % (method, path)
            )

    def test_every_response_has_a_description(self):
        for method, path, op in self.operations():
            self.assertTrue(op.get("summary"), "%s %s: no summary" % (method, path))
            self.assertTrue(op["responses"], "%s %s: no responses" % (method, path))
            for status, resp in op["responses"].items():
                self.assertRegex(status, r"^[1-5][0-9][0-9]$", "%s %s" % (method, path))
                resp, _ = self.spec.resolve(resp, path)
                self.assertTrue(resp.get("description"), "%s %s %s" % (method, path, status))

    def test_operations_are_the_route_table(self):
        """Each route of api/server.c documented, nothing else, with its
        scope: the x-mgd-scope and the security requirement."""
        self.assertGreaterEqual(len(self.routes), 42)
        documented = {}
        for method, path, op in self.operations():
            # the router's "/ui/*" is a path item with x-mgd-wildcard
            p = path
            if self.doc["paths"][path].get("x-mgd-wildcard"):
                p = re.sub(r"\{\w+\}$", "*", path)
            documented[(method, p)] = op
        missing = sorted(set(self.routes) - set(documented))
        extra = sorted(set(documented) - set(self.routes))
        self.assertEqual(missing, [], "routes of api/server.c the document lacks")
        self.assertEqual(extra, [], "operations of the document api/server.c lacks")
        for key, scope in sorted(self.routes.items()):
            op = documented[key]
            self.assertEqual(op.get("x-mgd-scope"), scope, "x-mgd-scope of %s %s" % key)
            # any valid token: the bearer scheme with no role named
            want = {"none": [], "any": [{"bearer": []}]}.get(scope, [{"bearer": [scope]}])
            self.assertEqual(op.get("security"), want, "security of %s %s" % key)
            if scope != "none":
                self.assertIn("401", op["responses"], "%s %s needs a token" % key)
            if scope not in ("none", "any"):
                self.assertIn("403", op["responses"], "%s %s needs a scope" % key)

    def test_served_without_token(self):
        r = self.d.request("GET", "/openapi.json", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        # not assertEqual: the diff of two 100 KB documents says nothing
        self.assertTrue(json.loads(r.body) == self.doc, "the daemon serves another document")
        self.assertTrue(r.body == self.raw, "the daemon serves other bytes than api/openapi.json")
        # the scope is none: a bad token is not even looked at
        self.assertStatus(self.d.request("GET", "/openapi.json", token="mgd_nope"), 200)

    def test_checker_refuses_drift(self):
        """The checker the suite relies on fails what the document does not
        say: a wrong type, a missing field, an undocumented status, another
        Content-Type, an unknown path answered with something else than the
        error object."""
        build = self.d.request("GET", "/builds?per_page=1")
        self.assertStatus(build, 200)
        hdr = {"Content-Type": "application/json", "X-Total-Count": "0", "Link": "<x>"}
        check = self.spec.check
        health = {"status": "ok", "version": "1"}
        self.assertEqual(check("GET", "/health", 200, hdr, json.dumps(health).encode()), "getHealth")
        bad = [
            ("GET", "/health", 200, hdr, json.dumps({"status": "ok", "version": 1})),
            ("GET", "/health", 200, hdr, json.dumps({"status": "ok"})),
            ("GET", "/health", 200, hdr, json.dumps(dict(health, extra=1))),
            ("GET", "/health", 201, hdr, json.dumps(health)),
            ("GET", "/health", 200, {"Content-Type": "text/plain"}, json.dumps(health)),
            ("GET", "/nowhere", 200, hdr, json.dumps(health)),
            ("GET", "/nowhere", 404, hdr, json.dumps({"error": "no"})),
            ("DELETE", "/health", 405, hdr, json.dumps({"error": {"code": "method_not_allowed",
                                                                  "message": "m", "details": []}})),
            ("GET", "/builds", 200, {"Content-Type": "application/json"}, "[]"),
            ("GET", "/builds", 200, hdr, json.dumps([{"id": 1}])),
        ]
        for method, path, status, headers, body in bad:
            with self.assertRaises(openapi_check.Mismatch, msg="%s %s %d %s" % (method, path, status, body)):
                check(method, path, status, headers, body.encode())

    def test_coverage(self):
        """Prints the operations the suite's answers covered (a figure, not
        a check: which tests ran decides it)."""
        out = os.environ.get("MGD_OPENAPI_COVERAGE")
        if not out or not os.path.exists(out):
            self.skipTest("MGD_OPENAPI_COVERAGE names no file")
        with open(out) as f:
            answers = [tuple(line.split()) for line in f if line.strip()]
        seen = {a[0] for a in answers}
        ops = {op["operationId"] for _, _, op in self.operations()}
        print("\nOpenAPI coverage: %d answers checked, %d (operation, status) pairs; "
              "%d of %d operations got a checked answer; none: %s"
              % (len(answers), len(set(answers)), len(seen & ops), len(ops),
                 ", ".join(sorted(ops - seen)) or "-"))


if __name__ == "__main__":
    harness.main()
