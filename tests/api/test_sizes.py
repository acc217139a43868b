#!/usr/bin/env python3
"""GET /builds/:id/sizes: a built image by section and by module (issue 21).

- examples/hello on unix: the sections are the image's allocated sections
  as readelf reads them in the downloaded image (names and sizes), the
  groups and the unattributed bytes add up to them, the user's code is the
  "app" group (implementing the job's device, holding hello_start), the
  console is a "device" group implementing the graph's console device.
- A reused build answers with the breakdown of the image it reused.
- 404 for no build, 409 no_image for a failed build.
- 409 sizes_unavailable when the link's outputs in the cache are not
  usable (a corrupt ELF, as a cache someone else wrote may hold) or gone
  (the record evicted), on a daemon with a cache of its own."""

import hashlib
import os
import re
import subprocess
import tempfile
import time

import harness
from harness import ApiTest

OWN = []


def setUpModule():
    d = harness.start_shared()
    d.create_project(unique_hello("hello"))


def unique_hello(name):
    """hello saying something of its own: an image no earlier run made, so
    its build (not an earlier one sharing the cache) must record its link."""
    p = harness.hello_project(name)
    p["config"]["keys"]["hello"]["default"] = "%s %f %d" % (name, time.time(), os.getpid())
    return p


def tearDownModule():
    try:
        harness.finish_daemons(OWN)
    finally:
        harness.stop_shared()


def allocated_sections(image):
    """{name: size} of the ELF file's SHF_ALLOC sections, by readelf."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(image)
        f.flush()
        out = subprocess.run(
            ["readelf", "-SW", f.name], check=True, capture_output=True, text=True
        ).stdout
    sections = {}
    row = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)")
    for line in out.splitlines():
        m = row.match(line)
        if m and "A" in m.group(3):
            sections[m.group(1)] = int(m.group(2), 16)
    return sections


def check_adds_up(test, s):
    total = sum(x["size"] for x in s["sections"])
    test.assertEqual(sum(g["size"] for g in s["groups"]) + s["unattributed"], total)
    return total


def group(s, name):
    found = [g for g in s["groups"] if g["name"] == name]
    return found[0] if found else None


class Sizes(ApiTest):
    def test_hello_by_section_and_module(self):
        b = self.d.build_and_wait("hello")
        r = self.d.get("/builds/%d/sizes" % b["id"])
        self.assertEqual(r.status, 200, r.text)
        s = r.json
        self.assertEqual(s["build"], b["id"])
        self.assertEqual(s["image"], {k: b["image"][k] for k in ("name", "size", "sha256")})

        # the sections are the image's own, as readelf reads the image
        image = self.d.get("/builds/%d/image" % b["id"]).body
        want = allocated_sections(image)
        self.assertIn(".text", want)
        self.assertEqual({x["name"]: x["size"] for x in s["sections"]}, want)
        total = check_adds_up(self, s)
        self.assertEqual(total, sum(want.values()))
        # only alignment padding is nobody's
        self.assertLess(s["unattributed"], total // 20, s["unattributed"])

        describe = self.d.get("/builds/%d/describe" % b["id"]).json
        ids = {dev["impl"]: dev["id"] for dev in describe["devices"]}
        app = group(s, "app")
        self.assertIsNotNone(app, [g["name"] for g in s["groups"]])
        self.assertEqual(app["kind"], "app")
        self.assertEqual(app["devices"], [ids["main"]])
        self.assertIn("hello_start", [x["name"] for x in app["symbols"]])
        console = group(s, "console")
        self.assertIsNotNone(console)
        self.assertEqual(console["kind"], "device")
        self.assertIn(ids["console"], console["devices"])
        self.assertGreater(console["size"], 0)
        kinds = {g["name"]: g["kind"] for g in s["groups"]}
        self.assertEqual(kinds.get("generated"), "generated")
        self.assertEqual(kinds.get("core"), "runtime")
        for g in s["groups"]:
            sizes = [x["size"] for x in g["symbols"]]
            self.assertEqual(sizes, sorted(sizes, reverse=True), g["name"])
            for x in g["symbols"]:
                self.assertIn(x["section"], want)
        sizes = [g["size"] for g in s["groups"]]
        self.assertEqual(sizes, sorted(sizes, reverse=True))

        # a reused build: the same image, the same breakdown
        again = self.d.build_and_wait("hello")
        self.assertEqual(again["reused_from"], b["id"])
        r2 = self.d.get("/builds/%d/sizes" % again["id"])
        self.assertEqual(r2.status, 200, r2.text)
        self.assertEqual(r2.json["build"], again["id"])
        self.assertEqual({k: v for k, v in r2.json.items() if k != "build"},
                         {k: v for k, v in s.items() if k != "build"})

    def test_no_build_no_image(self):
        r = self.d.get("/builds/999999/sizes")
        self.assertEqual(r.status, 404)
        self.d.create_project({"name": "broken", "config": harness.hello_config("broken"),
                               "sources": {"unikernel.c": "this is not C;\n"}})
        b = self.d.build_and_wait("broken", want="failed")
        r = self.d.get("/builds/%d/sizes" % b["id"])
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json["error"]["code"], "no_image")
        self.assertIn("failed", r.json["error"]["message"])


class Unavailable(ApiTest):
    def test_link_outputs_corrupt_or_gone(self):
        d = harness.Daemon(cache=None)
        OWN.append(d)
        d.seed_cache()
        d.start()
        d.create_project(unique_hello("own"))
        b = d.build_and_wait("own")
        self.assertEqual(d.get("/builds/%d/sizes" % b["id"]).status, 200)
        cache = os.path.join(d.data, "cache")
        key = hashlib.sha256(("mgd sizes v1\n" + b["image"]["sha256"]).encode()).hexdigest()
        record = os.path.join(cache, "records", key[:2], key)
        with open(record) as f:
            blobs = [line.strip() for line in f.read().splitlines()[1:3]]
        # the ELF's blob replaced by garbage: refused, not trusted
        elf = os.path.join(cache, "blobs", blobs[0][:2], blobs[0])
        os.chmod(elf, 0o644)
        with open(elf, "wb") as f:
            f.write(b"\x7fELF\x02\x01" + b"\xff" * 200)
        r = d.get("/builds/%d/sizes" % b["id"])
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json["error"]["code"], "sizes_unavailable")
        self.assertIn("cannot be used", r.json["error"]["message"])
        # the record gone (evicted): unavailable
        os.unlink(record)
        r = d.get("/builds/%d/sizes" % b["id"])
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json["error"]["code"], "sizes_unavailable")
        self.assertIn("not in the daemon's cache", r.json["error"]["message"])


if __name__ == "__main__":
    harness.main()
