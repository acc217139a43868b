#!/usr/bin/env python3
"""mgctl's commands against a live daemon, in human and --json form: what
the server offers, projects and configs, check and graph, the build
records (pins too), help and bash completion (all three shells:
test_completion.py).

    test_mgctl_commands.py MGD MGCTL
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import mgctl_harness as mh
from mgctl_harness import harness


def setUpModule():
    harness.start_shared()


def tearDownModule():
    harness.stop_shared()


def columns(line):
    return line.split()


class ServerInfo(mh.MgctlTest):
    def test_targets(self):
        r = self.mgctl("targets")
        lines = r.text.splitlines()
        self.assertEqual(columns(lines[0]), ["TARGET", "ARCH", "AVAILABLE", "NOTE"])
        unix = [l for l in lines if l.startswith("unix ") and " x86_64 " in l]
        self.assertEqual(len(unix), 1, r)
        self.assertEqual(columns(unix[0])[2], "yes")
        # aligned: the ARCH column starts at the same place on every line
        at = lines[0].index("ARCH")
        for l in lines[1:]:
            self.assertEqual(l[at - 2:at], "  ", l)
            self.assertNotEqual(l[at], " ", l)
        j = self.json_of(self.mgctl("targets", "--json"))
        self.assertEqual(j, self.d.get("/targets").json)

    def test_cross_arches(self):
        """`mgctl targets` says why spt does not build for aarch64 and
        riscv64; `mgctl build --arch` builds a unix/aarch64 image that `mgd
        run` runs under qemu-user; `mgctl build --target spt --arch aarch64`
        is refused with the reason (exit 2)."""
        lines = self.mgctl("targets").text.splitlines()
        for arch in ("aarch64", "riscv64"):
            row = [l for l in lines if columns(l)[:2] == ["spt", arch]]
            self.assertEqual(len(row), 1, lines)
            self.assertEqual(columns(row[0])[2], "no", row)
            self.assertIn("runs on x86_64 hosts only", row[0])
        self.create(harness.hello_project("cli-cross"))
        r = self.mgctl("build", "cli-cross", "--target", "spt", "--arch", "aarch64", want=2)
        self.assertIn("spt/aarch64: not supported: spt's tender", r.errtext)
        unix = {a["name"]: a for t in self.d.get("/targets").json if t["name"] == "unix"
                for a in t["arches"]}
        if not unix["aarch64"]["available"]:
            self.skipTest(unix["aarch64"]["reason"])
        tmp = tempfile.mkdtemp(prefix="mgctl-cross-")
        self.addCleanup(shutil.rmtree, tmp, True)
        img = os.path.join(tmp, "hello")
        self.mgctl("build", "cli-cross", "--arch", "aarch64", "--wait", "-o", img)
        with open(img, "rb") as f:
            self.assertEqual(int.from_bytes(f.read(20)[18:20], "little"), 183)  # EM_AARCH64
        os.chmod(img, 0o755)
        out = subprocess.run([harness.MGD, "run", img, "--", "--count=1"], capture_output=True,
                             timeout=60)
        self.assertEqual((out.returncode, out.stdout), (0, b"Hello World!\n"), out)

    def test_devices(self):
        r = self.mgctl("devices")
        lines = r.text.splitlines()
        self.assertEqual(columns(lines[0]), ["NAME", "TYPE", "KIND", "TARGETS"])
        catalog = self.d.get("/devices").json
        self.assertEqual(len(lines) - 1, len(catalog["entries"]))
        self.assertIn("console", [columns(l)[0] for l in lines[1:]])
        self.assertEqual(self.json_of(self.mgctl("devices", "--json")), catalog)

    def test_version(self):
        r = self.mgctl("version")
        self.assertIn("mgctl ", r.text)
        self.assertIn(self.d.get("/health").json["version"], r.text)
        j = self.json_of(self.mgctl("version", "--json"))
        self.assertEqual(j["server"], self.d.get("/health").json["version"])
        self.assertEqual(self.mgctl("--version").text.split()[0], "mgctl")
        self.assertEqual(self.mgctl("--json", "--version").text.split()[0], "mgctl")

    def test_whoami(self):
        me = self.d.get("/whoami").json
        self.assertEqual(self.mgctl("whoami").text, "token %d, %s, scope admin\n" % (me["id"], me["name"]))
        tid, text = self.d.create_token("worker")
        self.assertEqual(self.mgctl("whoami", token=text).text,
                         "token %d (no name), scope worker\n" % tid)
        j = self.json_of(self.mgctl("whoami", "--json", token=text))
        self.assertEqual((j["id"], j["name"], j["scope"]), (tid, "", "worker"))


class Projects(mh.MgctlTest):
    def test_create_show_list_delete(self):
        body = harness.hello_project("cli-p1")
        d = self.project_dir(body["sources"], body["config"])
        r = self.mgctl("project", "create", "cli-p1", "--sources", d)
        self.assertRegex(r.text, r"^created project \d+ cli-p1 \(inline, 1 file, ")
        p = self.d.get("/projects/cli-p1").json
        self.assertEqual(p["sources"]["files"], 1)  # config.json is not a source

        # --json gives the Project
        body2 = harness.hello_project("cli-p2")
        d2 = self.project_dir(body2["sources"], body2["config"])
        j = self.json_of(self.mgctl("project", "create", "cli-p2", "--sources", d2,
                                    "--config", os.path.join(d2, "config.json"), "--json"))
        self.assertEqual(j["name"], "cli-p2")
        self.assertEqual(j["config_version"], 1)

        lst = self.mgctl("project", "list")
        lines = lst.text.splitlines()
        self.assertEqual(columns(lines[0]), ["ID", "NAME", "CONFIG", "UPDATED", "SOURCES"])
        names = [columns(l)[1] for l in lines[1:]]
        self.assertIn("cli-p1", names)
        self.assertIn("cli-p2", names)
        jl = self.json_of(self.mgctl("project", "list", "--json"))
        self.assertEqual([p["name"] for p in jl],
                         [p["name"] for p in self.d.get("/projects?per_page=100").json])

        show = self.mgctl("project", "show", "cli-p1")
        self.assertRegex(show.text, r"(?m)^project\s+cli-p1 \(id %d\)$" % p["id"])
        self.assertRegex(show.text, r"(?m)^config\s+version 1$")
        js = self.json_of(self.mgctl("project", "show", str(p["id"]), "--json"))
        self.assertEqual(js, self.d.get("/projects/cli-p1").json)

        self.assertEqual(self.mgctl("project", "delete", "cli-p1").text.strip(),
                         "deleted project cli-p1")
        self.assertEqual(self.d.get("/projects/cli-p1").status, 404)
        jd = self.json_of(self.mgctl("project", "delete", "cli-p2", "--json"))
        self.assertEqual(jd, {"deleted": "cli-p2"})
        r = self.mgctl("project", "show", "cli-p1", want=2)
        self.assertIn("not_found", r.errtext)

    def test_create_from_repo(self):
        cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        self.addCleanup(os.unlink, cfg.name)
        json.dump(harness.hello_config("cli-repo"), cfg)
        cfg.close()
        r = self.mgctl("project", "create", "cli-repo", "--config", cfg.name, "--repo",
                       "https://example.invalid/x.git", "--ref", "v1", "--json")
        j = self.json_of(r)
        self.assertEqual(j["repo"], {"url": "https://example.invalid/x.git", "ref": "v1"})
        self.assertIsNone(j["sources"])

    def test_create_mistakes(self):
        body = harness.hello_project("cli-bad")
        d = self.project_dir(body["sources"], body["config"])
        r = self.mgctl("project", "create", "cli-bad", "--sources", d, "--repo", "x", want=2)
        self.assertIn("--repo URL or --sources DIR", r.errtext)
        r = self.mgctl("project", "create", "cli-bad", want=2)
        self.assertIn("--repo URL or --sources DIR", r.errtext)
        # a config that is not JSON: the file is named, nothing is sent
        with open(os.path.join(d, "broken.json"), "w") as f:
            f.write('{"mgd": 1,\n  "name": oops}\n')
        r = self.mgctl("project", "create", "cli-bad", "--sources", d, "--config",
                       os.path.join(d, "broken.json"), want=2)
        self.assertIn("broken.json is not JSON (near line 2)", r.errtext)
        self.assertEqual(self.d.get("/projects/cli-bad").status, 404)
        # a binary file cannot be an inline source
        with open(os.path.join(d, "blob.bin"), "wb") as f:
            f.write(b"\xff\xfe\x00")
        r = self.mgctl("project", "create", "cli-bad", "--sources", d, want=2)
        self.assertIn("blob.bin is not UTF-8 text", r.errtext)
        os.unlink(os.path.join(d, "blob.bin"))
        os.unlink(os.path.join(d, "broken.json"))
        # a config that does not resolve: exit 1, each error with its path
        bad = harness.hello_config("cli-bad")
        bad["jobs"][0]["to"] = ["no_such_device"]
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(bad, f)
        r = self.mgctl("project", "create", "cli-bad", "--sources", d, want=1)
        self.assertIn("mgctl: config_invalid: the config does not resolve (2 errors):", r.errtext)
        self.assertRegex(r.errtext, r"(?m)^  /jobs/0/to/0: .*no_such_device.* \(unknown_name\)$")
        # a name taken: the server's conflict
        self.create(harness.hello_project("cli-taken"))
        r = self.mgctl("project", "create", "cli-taken", "--sources",
                       self.project_dir(body["sources"], body["config"]), want=2)
        self.assertIn("mgctl: conflict: ", r.errtext)
        self.assertNotIn("HTTP", r.errtext)


class Configs(mh.MgctlTest):
    def test_push_and_show(self):
        body = harness.hello_project("cli-cfg")
        d = self.create(body)
        path = os.path.join(d, "config.json")
        r = self.mgctl("config", "push", "cli-cfg", path)
        self.assertEqual(r.text.strip(), "config unchanged: it is version 1 of cli-cfg")
        c2 = harness.hello_config("cli-cfg2")
        with open(path, "w") as f:
            json.dump(c2, f)
        self.assertEqual(self.mgctl("config", "push", "cli-cfg", path).text.strip(),
                         "stored config version 2 of cli-cfg")
        self.assertEqual(self.json_of(self.mgctl("config", "push", "cli-cfg", path, "--json")),
                         {"version": 2})
        # show: people get it indented, programs as stored; both are the document
        human = self.mgctl("config", "show", "cli-cfg")
        self.assertIn("\n", human.text.strip())
        self.assertEqual(json.loads(human.out), c2)
        self.assertEqual(self.json_of(self.mgctl("config", "show", "cli-cfg", "--json")), c2)
        v1 = self.json_of(self.mgctl("config", "show", "cli-cfg", "--version", "1", "--json"))
        self.assertEqual(v1, body["config"])
        r = self.mgctl("config", "show", "cli-cfg", "--version", "9", want=2)
        self.assertIn("not_found", r.errtext)
        # an invalid document is refused with its paths, exit 1, nothing stored
        bad = dict(c2)
        bad["jobs"] = [{"apply": "nope", "to": ["default_console"]}]
        with open(path, "w") as f:
            json.dump(bad, f)
        r = self.mgctl("config", "push", "cli-cfg", path, want=1)
        self.assertRegex(r.errtext, r"(?m)^  /jobs/0/apply: ")
        self.assertEqual(self.d.get("/projects/cli-cfg").json["config_version"], 2)


class Resolving(mh.MgctlTest):
    @classmethod
    def setUpClass(cls):
        harness._shared.create_project(harness.hello_project("cli-res"))

    def test_check(self):
        r = self.mgctl("check", "cli-res")
        self.assertRegex(r.text, r"^hello resolves for unix/x86_64: \d+ devices, 1 jobs\n")
        self.assertIn("DEVICE", r.text)
        self.assertRegex(r.text, r"(?m)^runtime keys: count, hello, logs$")
        j = self.json_of(self.mgctl("check", "cli-res", "--json"))
        self.assertEqual(j, self.d.post("/projects/cli-res/check", {}).json)
        # errors: exit 1, the path and code of each
        r = self.mgctl("check", "cli-res", "--key", "no_such_key=1", want=1)
        self.assertIn("config_invalid", r.errtext)
        self.assertRegex(r.errtext, r"(?m)^  no_such_key: .*\(unknown_key\)$")
        # a request the server refuses outright: exit 2
        r = self.mgctl("check", "cli-res", "--target", "nosuch", want=2)
        self.assertIn("bad_request", r.errtext)
        r = self.mgctl("check", "cli-res", "--key", "novalue", want=2)
        self.assertIn("--key takes NAME=VALUE", r.errtext)

    def test_graph(self):
        dot = self.mgctl("graph", "cli-res")
        self.assertTrue(dot.text.startswith('digraph "hello"'), dot)
        self.assertEqual(dot.out, self.d.get("/projects/cli-res/graph?format=dot").body)
        tmp = tempfile.mkdtemp(prefix="mgctl-graph-")
        self.addCleanup(shutil.rmtree, tmp, True)
        out = os.path.join(tmp, "g.svg")
        self.mgctl("graph", "cli-res", "--format", "svg", "-o", out)
        with open(out, "rb") as f:
            svg = f.read()
        self.assertIn(b"<svg", svg)
        self.assertEqual(os.listdir(tmp), ["g.svg"])  # no temporary file left
        j = self.json_of(self.mgctl("graph", "cli-res", "--json"))
        self.assertEqual(j["name"], "hello")
        self.assertEqual(j, self.d.get("/projects/cli-res/graph?format=json").json)
        r = self.mgctl("graph", "cli-res", "--format", "png", want=2)
        self.assertIn("--format is dot, svg or json", r.errtext)


class BuildRecords(mh.MgctlTest):
    """builds, status, log, image, rebuild on a finished build."""

    @classmethod
    def setUpClass(cls):
        d = harness._shared
        d.create_project(harness.hello_project("cli-rec"))
        cls.build = d.build_and_wait("cli-rec")

    def test_builds(self):
        b = self.build
        r = self.mgctl("builds", "cli-rec")
        lines = r.text.splitlines()
        self.assertEqual(columns(lines[0]),
                         ["ID", "STATUS", "TARGET", "CREATED", "DURATION", "SHA256", "REF"])
        row = [l for l in lines[1:] if columns(l)[0] == str(b["id"])]
        self.assertEqual(len(row), 1, r)
        self.assertEqual(columns(row[0])[1:3], ["succeeded", "unix/x86_64"])
        self.assertIn(b["image"]["sha256"][:12], row[0])
        j = self.json_of(self.mgctl("builds", "cli-rec", "--json"))
        self.assertEqual([x["id"] for x in j],
                         [x["id"] for x in self.d.get("/projects/cli-rec/builds").json])
        self.assertEqual(self.json_of(self.mgctl("builds", "cli-rec", "--json", "--status",
                                                 "failed")), [])
        # --limit across pages: more builds than one page of the request
        for _ in range(2):
            self.d.build_and_wait("cli-rec")
        self.assertEqual(len(self.json_of(self.mgctl("builds", "cli-rec", "--json", "--limit",
                                                     "2"))), 2)
        self.assertGreaterEqual(len(self.json_of(self.mgctl("builds", "cli-rec", "--json"))), 3)
        r = self.mgctl("builds", "cli-rec", "--limit", "zero", want=2)
        self.assertIn("--limit", r.errtext)

    def test_project_show_latest(self):
        r = self.mgctl("project", "show", "cli-rec")
        self.assertIn("TARGET  LATEST", r.text)
        self.assertRegex(r.text, r"(?m)^unix\s+\d+\s+succeeded\s+\S+\s+\d+$")

    def test_status(self):
        b = self.build
        r = self.mgctl("status", str(b["id"]))
        self.assertRegex(r.text, r"(?m)^status\s+succeeded$")
        self.assertRegex(r.text, r"(?m)^image\s+hello, .*sha256 %s$" % b["image"]["sha256"])
        self.assertRegex(r.text, r"(?m)^input hash\s+%s$" % b["input_hash"])
        j = self.json_of(self.mgctl("status", str(b["id"]), "--json"))
        self.assertEqual(j["id"], b["id"])
        self.assertEqual(j["image"], b["image"])
        r = self.mgctl("status", "999999", want=2)
        self.assertIn("not_found", r.errtext)
        r = self.mgctl("status", "seven", want=2)
        self.assertIn("'seven' is not a build id", r.errtext)

    def test_log(self):
        b = self.build
        log = self.d.log(b["id"])
        self.assertEqual(self.mgctl("log", str(b["id"])).text, log)
        j = self.json_of(self.mgctl("log", str(b["id"]), "--json"))
        self.assertEqual(j["log"], log)
        self.assertEqual(j["more_data"], False)
        # following a finished build: its log at once, and its exit status
        self.assertEqual(self.mgctl("log", str(b["id"]), "--follow").text, log)

    def test_image(self):
        b = self.build
        tmp = tempfile.mkdtemp(prefix="mgctl-image-")
        self.addCleanup(shutil.rmtree, tmp, True)
        # default name: the image's, in the current directory
        r = self.mgctl("image", str(b["id"]), cwd=tmp)
        self.assertRegex(r.text, r"^saved hello \(.*sha256 %s verified\)" % b["image"]["sha256"][:12])
        path = os.path.join(tmp, "hello")
        self.assertEqual(harness.sha256_file(path), b["image"]["sha256"])
        self.assertTrue(os.access(path, os.X_OK))
        out = subprocess.run([path, "--count=1"], capture_output=True, timeout=30)
        self.assertEqual(out.stdout.strip(), b"Hello World!")
        j = self.json_of(self.mgctl("image", str(b["id"]), "-o", os.path.join(tmp, "x.img"),
                                    "--json"))
        self.assertEqual(j, {"path": os.path.join(tmp, "x.img"), "size": b["image"]["size"],
                             "sha256": b["image"]["sha256"], "verified": True})
        raw = self.mgctl("image", str(b["id"]), "-o", "-")
        self.assertEqual(hashlib.sha256(raw.out).hexdigest(), b["image"]["sha256"])
        self.assertEqual(sorted(os.listdir(tmp)), ["hello", "x.img"])

    def test_rebuild(self):
        b = self.build
        r = self.mgctl("rebuild", str(b["id"]), "--wait", "--json")
        j = self.json_of(r)
        self.assertEqual(j["rebuild_of"], b["id"])
        self.assertEqual(j["status"], "succeeded")
        self.assertEqual(j["image"]["sha256"], b["image"]["sha256"])  # reproducible
        self.assertIn(b["id"], j["reproduces"])  # the rebuild ran every action
        # without --wait: queued, the id on the line
        r = self.mgctl("rebuild", str(b["id"]))
        self.assertRegex(r.text, r"^build \d+ (queued|running|succeeded)")


    def test_pin(self):
        b = self.build
        r = self.mgctl("pin", str(b["id"]))
        self.assertEqual(r.text, "pinned build %d\n" % b["id"])
        self.assertTrue(self.d.build(b["id"])["pinned"])
        j = self.json_of(self.mgctl("unpin", str(b["id"]), "--json"))
        self.assertEqual(j["id"], b["id"])
        self.assertFalse(j["pinned"])
        self.assertFalse(self.d.build(b["id"])["pinned"])
        r = self.mgctl("pin", "999999", want=2)
        self.assertIn("no build 999999", r.errtext)
        r = self.mgctl("unpin", "nine", want=2)
        self.assertIn("'nine' is not a build id", r.errtext)


class HelpAndCompletion(mh.MgctlTest):
    COMMANDS = ["targets", "devices", "project create", "project list", "project show",
                "project delete", "config push", "config show", "check", "graph", "build",
                "builds", "status", "log", "image", "cancel", "rebuild", "pin", "unpin", "version",
                "whoami", "completion"]

    def test_help_everywhere(self):
        top = self.mgctl("--help", url="http://127.0.0.1:1")
        for c in self.COMMANDS:
            self.assertIn("  " + c, top.text)
            r = self.mgctl(*c.split(), "--help", url="http://127.0.0.1:1")
            self.assertTrue(r.text.startswith("usage: mgctl " + c), r)
            self.assertIn("global options:", r.text)
            self.assertEqual(self.mgctl("help", *c.split()).text, r.text)
        self.assertIn("mgctl project create NAME", self.mgctl("project", "--help").text)
        r = self.mgctl("biuld", want=2)
        self.assertIn("did you mean build?", r.errtext)
        r = self.mgctl("build", "p", "--folow", want=2)
        self.assertIn("did you mean --follow?", r.errtext)
        r = self.mgctl(want=2)
        self.assertIn("which command?", r.errtext)
        r = self.mgctl("build", want=2)
        self.assertIn("missing P", r.errtext)
        r = self.mgctl("status", "1", "2", want=2)
        self.assertIn("unexpected argument '2'", r.errtext)

    def complete(self, line):
        """The candidates bash offers for `line` (its last word is being
        completed) with mgctl's completion script loaded."""
        script = self.mgctl("completion", "bash").text
        words = line.split(" ")
        prog = ("mgctl_dir=%s; PATH=\"$mgctl_dir:$PATH\"; %s\n"
                "COMP_WORDS=(%s); COMP_CWORD=%d; _mgctl; printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
                % (os.path.dirname(mh.MGCTL), script,
                   " ".join("'%s'" % w for w in words), len(words) - 1))
        r = subprocess.run(["bash", "-c", prog], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        return [l for l in r.stdout.decode().splitlines() if l]

    def test_completion(self):
        self.assertEqual(self.complete("mgctl bu"), ["build", "builds"])
        self.assertEqual(self.complete("mgctl project "), ["create", "list", "show", "delete"])
        self.assertEqual(self.complete("mgctl config s"), ["show"])
        self.assertIn("--target", self.complete("mgctl build hello --ta"))
        self.assertEqual(self.complete("mgctl build hello --fo"), ["--force", "--follow"])
        self.assertEqual(self.complete("mgctl graph hello --format "), ["dot", "svg", "json"])
        self.assertEqual(self.complete("mgctl --json builds p --status f"), ["failed"])
        self.assertIn("--url", self.complete("mgctl --"))
        self.assertEqual(self.complete("mgctl completion "), ["bash", "zsh", "fish"])
        r = self.mgctl("completion", "tcsh", want=2)
        self.assertIn("no script for 'tcsh'", r.errtext)


if __name__ == "__main__":
    mh.main()
