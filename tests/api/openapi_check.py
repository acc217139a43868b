"""openapi_check.py - checks an answer of mgd's API against api/openapi.json.

The API tests send every request through harness.Daemon.request, which
hands each answer to check() here: so the document is held to what the
daemon really answers, by every test, and cannot drift from it. An answer
fails when its status is not documented for the operation, when its
Content-Type is not one the operation documents for that status, when a
required header is missing, or when a JSON body does not match the schema.
A path that names no route must be answered with the documented error
(404, or 400 for a bad %-escape); a route with another method, 405 with
`Allow`. The matching follows api/router.c: the path is split at `/`, each
segment %-decoded, `{param}` matches one non-empty segment, and a path item
with `x-mgd-wildcard` matches any rest (as the route `/ui/*` does).

Standard library plus python3-jsonschema (Debian 12 has 4.10, with
RefResolver; newer ones have the `referencing` registry and deprecate it:
both are handled). The document's schemas are JSON Schema 2020-12.

With MGD_OPENAPI_COVERAGE set to a file name, every checked answer appends
"METHOD TEMPLATE STATUS" to that file (test_openapi.py prints the figure).
"""

import json
import os
import re
import urllib.parse
import warnings

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(ROOT, "api", "openapi.json")
DOC_URI = "urn:mgd:openapi"
METHODS = ("get", "put", "post", "delete", "patch")

# api/router.h: longer paths name nothing (404)
MAX_SEGMENTS = 16


class Mismatch(AssertionError):
    """An answer the document does not describe."""


def _pointer(*parts):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def split_path(path):
    """The decoded segments of the path (query dropped), or None when the
    router refuses it as a bad path (an invalid %-escape or an escaped NUL)."""
    raw = path.split("?", 1)[0]
    if not raw.startswith("/"):
        return None
    if raw == "/":
        return []
    segments = []
    for seg in raw[1:].split("/"):
        if re.search(r"%(?![0-9A-Fa-f]{2})", seg):
            return None
        s = urllib.parse.unquote(seg, errors="surrogateescape")
        if "\0" in s:
            return None
        segments.append(s)
    return segments


class Spec:
    def __init__(self, path=DOC_PATH):
        with open(path, "rb") as f:
            self.doc = json.loads(f.read())
        self._validators = {}
        self.templates = []  # (segments of the template, path, wildcard)
        for p, item in self.doc["paths"].items():
            segs = [] if p == "/" else p[1:].split("/")
            self.templates.append((segs, p, bool(item.get("x-mgd-wildcard"))))
        # literal segments before parameters, as a route table lists them
        self.templates.sort(key=lambda t: [s.startswith("{") for s in t[0]])
        try:
            import referencing
            import referencing.jsonschema

            resource = referencing.Resource.from_contents(
                self.doc, default_specification=referencing.jsonschema.DRAFT202012
            )
            self._registry = referencing.Registry().with_resource(DOC_URI, resource)
            self._resolver = None
        except ImportError:
            self._registry = None
            self._resolver = jsonschema.RefResolver(DOC_URI, self.doc, store={DOC_URI: self.doc})

    # -- the document --------------------------------------------------------

    def resolve(self, obj, where):
        """Follows a local $ref: (object, its JSON pointer)."""
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise Mismatch("%s: $ref %s is not local" % (where, ref))
            where = ref[1:]
            obj = self.doc
            for part in where[1:].split("/"):
                obj = obj[part.replace("~1", "/").replace("~0", "~")]
        return obj, where

    def validator(self, pointer):
        """A Draft 2020-12 validator of the schema at `pointer` in the document."""
        v = self._validators.get(pointer)
        if v is None:
            schema = {"$ref": DOC_URI + "#" + pointer}
            if self._registry is not None:
                v = jsonschema.Draft202012Validator(schema, registry=self._registry)
            else:
                v = jsonschema.Draft202012Validator(schema, resolver=self._resolver)
            self._validators[pointer] = v
        return v

    def match(self, path):
        """(template, path item) of the path, ("bad", None) for a path the
        router refuses, or (None, None) when no route has it."""
        segs = split_path(path)
        if segs is None:
            return "bad", None
        if len(segs) > MAX_SEGMENTS:
            return None, None
        for tsegs, template, wildcard in self.templates:
            n = len(tsegs)
            if wildcard:
                # the router's "/x/*": the segments before the last match, any rest
                if len(segs) < n - 1:
                    continue
                fixed = tsegs[:-1]
            else:
                if len(segs) != n:
                    continue
                fixed = tsegs
            if all(t.startswith("{") and s != "" or t == s for t, s in zip(fixed, segs)):
                return template, self.doc["paths"][template]
        return None, None

    # -- answers -------------------------------------------------------------

    def check(self, method, path, status, headers, body):
        """Raises Mismatch when the answer is not what the document says.
        `headers`: a mapping with case-insensitive get() (http.client's
        message), `body`: bytes. Returns the operationId (None for an
        answer to no operation)."""
        method = method.upper()
        head = method == "HEAD"
        want = "get" if head else method.lower()
        what = "%s %s answered %d" % (method, path, status)
        template, item = self.match(path)
        if template == "bad":
            self._check_error(what, status, (400,), headers, body, head)
            return None
        if template is None:
            self._check_error(what, status, (404,), headers, body, head)
            return None
        op = item.get(want) if want in METHODS else None
        if op is None:
            # no such method on a known path: 405 with Allow
            self._check_error(what, status, (405,), headers, body, head)
            if not headers.get("Allow"):
                raise Mismatch("%s without an Allow header" % what)
            return None
        what = "%s (%s %s, %s)" % (what, want.upper(), template, op["operationId"])
        responses = op["responses"]
        if str(status) not in responses:
            raise Mismatch(
                "%s: status %d is not documented (documented: %s); body: %r"
                % (what, status, ", ".join(sorted(responses)), body[:300])
            )
        base = _pointer("paths", template, want, "responses", str(status))
        resp, where = self.resolve(responses[str(status)], base)
        for name, h in (resp.get("headers") or {}).items():
            h, _ = self.resolve(h, where)
            if h.get("required") and headers.get(name) is None:
                raise Mismatch("%s: the required header %s is missing" % (what, name))
        content = resp.get("content")
        ctype = headers.get("Content-Type")
        if not content:
            if body:
                raise Mismatch("%s: documented without a body, but has %d bytes" % (what, len(body)))
            return op["operationId"]
        if ctype is None:
            raise Mismatch("%s: no Content-Type (documented: %s)" % (what, ", ".join(content)))
        media = ctype.split(";", 1)[0].strip().lower()
        key = self._media_key(content, media)
        if key is None:
            raise Mismatch(
                "%s: Content-Type %s is not documented (documented: %s)" % (what, ctype, ", ".join(content))
            )
        if head:
            return op["operationId"]
        if "schema" in content[key] and _is_json(media):
            self._validate(what, body, where + _pointer("content", key, "schema"))
        return op["operationId"]

    @staticmethod
    def _media_key(content, media):
        for key in content:
            k = key.lower()
            if k == media or k == "*/*" or (k.endswith("/*") and media.startswith(k[:-1])):
                return key
        return None

    def _validate(self, what, body, pointer):
        try:
            value = json.loads(body)
        except ValueError as e:
            raise Mismatch("%s: the body is not JSON (%s): %r" % (what, e, body[:300]))
        v = self.validator(pointer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            errors = sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            lines = []
            for e in errors[:5]:
                at = "".join("[%r]" % p for p in e.absolute_path) or "(the body)"
                lines.append(
                    "  at %s: %s (schema %s)"
                    % (at, e.message[:300], "/".join(str(p) for p in e.absolute_schema_path))
                )
            raise Mismatch(
                "%s: the body does not match %s:\n%s\nbody: %s"
                % (what, pointer, "\n".join(lines), body[:500].decode("utf-8", "replace"))
            )

    def _check_error(self, what, status, statuses, headers, body, head):
        """An answer to no operation: one of `statuses`, with the Error object."""
        if status not in statuses:
            raise Mismatch("%s: a path and method of no operation must be answered %s" % (what, statuses))
        ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise Mismatch("%s: the error's Content-Type is %r, not application/json" % (what, ctype))
        if not head:
            self._validate(what, body, "/components/schemas/Error")


def _is_json(media):
    return media == "application/json" or media.endswith("+json")


_spec = None


def spec():
    global _spec
    if _spec is None:
        _spec = Spec()
    return _spec


def check(method, path, status, headers, body):
    """Checks one answer against api/openapi.json (Mismatch when it does not
    match) and counts it for MGD_OPENAPI_COVERAGE."""
    s = spec()
    op = s.check(method, path, status, headers, body)
    out = os.environ.get("MGD_OPENAPI_COVERAGE")
    if out and op:
        with open(out, "a") as f:
            f.write("%s %d\n" % (op, status))
    return op
