#!/usr/bin/env python3
"""The build sandbox against hostile projects, sent through the API with a
token of scope `write`: sources that #include or .incbin the daemon's admin
token (by absolute path, through `../`, through a git symlink), read
/dev/zero, /dev/urandom or /proc, write a 2 GiB object, recurse in their
headers, or give cflags that would run a shell.

For each: the build ends `failed` within a bound, naming the limit it hit
where there is one; the admin token's text is nowhere in the build's log,
error or image; the daemon's data directory is not named in the log (but
where the attacker's own source line names it, as gcc quotes it); the
daemon still answers; and no process of the build is left afterwards,
neither among the daemon's descendants nor reparented elsewhere (this test
process is made a child subreaper, so an orphan of the daemon's tree lands
here instead of at init). A hello project builds `succeeded` on the same
daemon, so the checks do not pass merely because everything fails.

Then, on a daemon of its own, kill -9 while a slow compile runs: the
bwrap, gcc and cc1 processes of the build are gone within 2 s.

The daemon runs with --limit-memory 1G and --limit-file-size 64M so that
the limits are reached quickly."""

import ctypes
import os
import shutil
import tempfile
import time
import unittest

import harness
from harness import ApiTest, descendants, proc_table

MEMORY = "memory limit of 1 GiB"
FILE_SIZE = "file size limit of 64 MiB"
BOUND_MS = 45000  # a failing build ends well within this (duration_ms)
# programs of a build, by the base name of a word of a command line
TOOLS = {"bwrap", "prlimit", "gcc", "cc", "cc1", "as", "ld", "collect2", "strip", "ar"}

F = {}  # fixtures: write token, build ids, attack literals, git dir
PR_SET_CHILD_SUBREAPER = 36


# -- processes ---------------------------------------------------------------


def ancestors_cmdlines(pid, table):
    """The command lines of pid and its ancestors, nearest first."""
    cmds = []
    while pid in table and len(cmds) < 64:
        cmds.append(table[pid][3])
        pid = table[pid][0]
    return cmds


def is_tool(cmd):
    for word in cmd.split():
        base = os.path.basename(word)
        if base in TOOLS or base.endswith("-gcc") or base.startswith("cc1"):
            return True
    return False


def orphans(table, exclude=()):
    """[(pid, cmdline)] of live processes running a build tool that were
    reparented to this process (their parent died), with what they run."""
    found = []
    for pid, p in table.items():
        if p.ppid == os.getpid() and pid not in exclude and p.state != "Z" and is_tool(p.cmd):
            found.append((pid, p.cmd))
            found.extend((p, table[p][3]) for p in descendants(pid, table) if table[p][1] != "Z")
    return found


def reap_orphans(keep=()):
    """Reaps zombies reparented to this process (the subreaper), but for the
    pids in `keep` and the shared daemon (harness waits for them itself)."""
    keep = set(keep) | set(harness._shared.pids() if harness._shared else ())
    for pid, p in proc_table().items():
        if p.ppid == os.getpid() and p.state == "Z" and pid not in keep:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def build_processes(d, build_id=None):
    """[(pid, cmdline)] of live processes of daemon `d`'s builds (of build
    `build_id`: those with an ancestor mentioning its scratch folder, which
    bwrap's binds name) and of orphans of its tree reparented here that run
    a tool of the build (bwrap, prlimit, gcc, cc1, as, ld...)."""
    reap_orphans(d.pids())
    table = proc_table()
    scratch = os.path.join(d.data, "scratch", str(build_id)) + "/" if build_id else None
    found = []
    for root in d.pids():
        for pid in descendants(root, table):
            state, cmd = table[pid].state, table[pid].cmd
            if state == "Z":
                continue
            chain = ancestors_cmdlines(pid, table)
            if scratch is not None and not any(scratch in c for c in chain):
                continue
            if is_tool(cmd) or "unikernel.c" in cmd or d.data in cmd:
                found.append((pid, cmd))
    # orphans of a dead parent land here: a build process has no business
    # being one, whatever build it belongs to
    return found + orphans(table, d.pids())


def wait_build_processes_gone(d, build_id=None, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        left = build_processes(d, build_id)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# -- projects ------------------------------------------------------------------


# Makes each run's sources new to the shared action cache, so that the
# compiles run (in the sandbox) instead of being answered from the cache.
NONCE = "/* test_sandbox %f %d */" % (time.time(), os.getpid())


def hello_with(line, extra=None):
    """examples/hello with one more line at the end of unikernel.c."""
    body = harness.hello_project("x", config_name="hello")
    body["sources"]["unikernel.c"] += "\n" + NONCE + "\n" + line + "\n"
    body["sources"].update(extra or {})
    return body


git = harness.git


def symlink_repo(path, links):
    """A git repository of hello whose unikernel.c includes token.h, a
    symbolic link; one branch per entry of `links` ({branch: target})."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    with open(os.path.join(path, "unikernel.c"), "w") as f:
        f.write(harness.hello_sources()["unikernel.c"] + '\n#include "token.h"\n')
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "hello")
    for branch, target in links.items():
        git(path, "checkout", "-q", "-b", branch, "main")
        os.symlink(target, os.path.join(path, "token.h"))
        git(path, "add", "token.h")
        git(path, "commit", "-q", "-m", "link to " + target)
        os.unlink(os.path.join(path, "token.h"))
    git(path, "checkout", "-q", "main")


def attacks(data):
    """{name: (POST /projects body without its name, limit the error names
    or None, the attacker's own strings naming the data dir)}."""
    token = os.path.join(data, "admin.token")
    up = "../" * 12
    inc = '#include "%s"'
    return {
        "abs_include": (hello_with(inc % token), None, [token]),
        # from the host's copy of the sources, DATA/scratch/ID/src/
        "rel_include": (hello_with(inc % "../../../admin.token"), None, []),
        "deep_rel_include": (hello_with(inc % (up + token.lstrip("/"))), None,
                             [up + token.lstrip("/")]),
        # in a section the link keeps (R: SHF_GNU_RETAIN), so that the
        # token would be in the image if it were read
        "incbin": (hello_with('__asm__(".pushsection .rodata.stolen,\\"aR\\"\\n'
                              '.incbin \\"%s\\"\\n.popsection");' % token), None, [token]),
        "dev_zero": (hello_with(inc % "/dev/zero"), MEMORY, []),
        "dev_urandom": (hello_with(inc % "/dev/urandom"), "", []),
        "proc_environ": (hello_with(inc % "/proc/self/environ"), None, []),
        "proc_cmdline": (hello_with(inc % "/proc/1/cmdline"), None, []),
        "big_object": (hello_with("static const char big[1u << 31] = {1}; const char *p = big;"),
                       FILE_SIZE, []),
        "include_loop": (hello_with(inc % "loop.h", {"loop.h": inc % "loop.h" + "\n"}),
                         None, []),
    }


def setUpModule():
    # orphans of the daemon's tree become children of this process, where
    # build_processes() finds them, instead of vanishing under init
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    d = harness.start_shared(
        extra_args=["--limit-memory", "1G", "--limit-file-size", "64M"], workers=2, jobs=2)
    assert d.admin_token.startswith("mgd_") and len(d.admin_token) > 20, d.admin_token
    F["write"] = d.create_token("write", "sandbox-attacker")[1]
    F["builds"], F["literals"] = {}, {}
    # every build is queued at once; the tests wait for theirs
    queue = [("hello", harness.hello_project("x", config_name="hello"), None, [])]
    queue += [(n,) + a for n, a in attacks(d.data).items()]
    F["dir"] = tempfile.mkdtemp(prefix="mgd-api-sandbox-")
    repo = os.path.join(F["dir"], "repo")
    symlink_repo(repo, {"abs": os.path.join(d.data, "admin.token"),
                        "rel": "../../../admin.token"})
    for branch, literals in (("abs", [os.path.join(d.data, "admin.token")]), ("rel", [])):
        queue.append(("git_symlink_" + branch,
                      {"config": harness.hello_config("hello"),
                       "repo": {"url": repo, "ref": branch}}, None, literals))
    for name, body, limit, literals in queue:
        body = dict(body, name=name)
        r = d.post("/projects", body, token=F["write"])
        assert r.status == 201, r
        F["builds"][name] = (d.start_build(name, token=F["write"])["id"], limit)
        F["literals"][name] = literals


def tearDownModule():
    try:
        d = harness._shared
        if d is not None and d.alive():
            harness.kill_pids(build_processes(d))
        harness.stop_shared()
    finally:
        reap_orphans()
        shutil.rmtree(F.get("dir", "/nonexistent"), ignore_errors=True)


class Attacks(ApiTest):
    def assertNoSecrets(self, text, what, literals=()):
        """The admin token is not in `text`; nor the data directory, once
        the attacker's own strings are taken out."""
        token = self.d.admin_token
        self.assertTrue(token.startswith("mgd_") and len(token) > 20, token)
        self.assertNotIn(token, text, "the admin token shows in the " + what)
        for lit in literals:
            text = text.replace(lit, "<attacker's path>")
        self.assertNotIn(self.d.data, text, "the data directory shows in the " + what)

    def finished(self, name):
        """Waits for the build of project `name`; checks what every build
        must satisfy; returns (build, log)."""
        build_id, _ = F["builds"][name]
        d = self.d
        b = d.wait_build(build_id, timeout=120)
        r = d.get("/builds/%d/log" % build_id, token=F["write"])
        self.assertStatus(r, 200)
        log = r.text
        # the log was read: it has the compile of the user's source (not
        # for a checkout that was refused), which ran, naming the source by
        # its workspace path (hello's may come from the cache)
        self.assertTrue(log.strip(), "empty log of build %d" % build_id)
        if name == "hello":
            self.assertIn("compile unikernel.c", log)
        elif not name.startswith("git_"):
            self.assertIn("compile unikernel.c: ran", log)
            self.assertIn("src/unikernel.c", log)
        literals = F["literals"][name]
        self.assertNoSecrets(log, "log of %s:\n%s" % (name, log[-3000:]), literals)
        self.assertNoSecrets(b["error"] or "", "error of %s: %r" % (name, b["error"]), literals)
        if b["image"]:
            img = d.get("/builds/%d/image" % build_id, token=F["write"])
            self.assertStatus(img, 200)
            self.assertGreater(len(img.body), 1000)
            self.assertNotIn(d.admin_token.encode(), img.body, "the admin token is in the image")
            self.assertNotIn(d.data.encode(), img.body, "the data directory is in the image")
        else:
            self.assertEqual(d.get("/builds/%d/image" % build_id).status, 404)
        self.assertIsNotNone(b["duration_ms"], b)
        self.assertLess(b["duration_ms"], BOUND_MS, b)
        # the daemon answers the attacker's token
        self.assertStatus(d.get("/projects", token=F["write"]), 200)
        left = wait_build_processes_gone(d, build_id)
        harness.kill_pids(left)
        self.assertEqual(left, [], "processes of build %d are left" % build_id)
        return b, log

    def attack(self, name):
        b, log = self.finished(name)
        _, limit = F["builds"][name]
        self.assertEqual(b["status"], "failed", "%s\n%s" % (b, log[-3000:]))
        self.assertIsInstance(b["error"], str)
        self.assertTrue(b["error"].strip(), b)
        self.assertIsNone(b["image"])
        if limit:
            self.assertIn(limit + " exceeded", b["error"])
            self.assertIn(limit + " exceeded", log)
        return b, log

    # -- the positive control ----------------------------------------------

    def test_hello_succeeds(self):
        b, log = self.finished("hello")
        self.assertEqual(b["status"], "succeeded", "%s\n%s" % (b, log[-3000:]))
        self.assertIsNone(b["error"])
        self.assertTrue(b["image"])

    # -- reading the daemon's secrets --------------------------------------

    def test_include_token_by_absolute_path(self):
        b, _ = self.attack("abs_include")
        self.assertIn("admin.token", b["error"])

    def test_include_token_through_dotdot(self):
        self.attack("rel_include")

    def test_include_token_through_many_dotdots(self):
        self.attack("deep_rel_include")

    def test_incbin_token(self):
        b, _ = self.attack("incbin")
        self.assertIn("admin.token", b["error"])

    def test_git_symlink_to_token(self):
        for branch in ("abs", "rel"):
            with self.subTest(link=branch):
                b, _ = self.attack("git_symlink_" + branch)
                self.assertIn("token.h", b["error"])

    def test_proc(self):
        for name in ("proc_environ", "proc_cmdline"):
            with self.subTest(name=name):
                self.attack(name)

    # -- exhausting resources ----------------------------------------------

    def test_dev_zero_hits_the_memory_limit(self):
        self.attack("dev_zero")

    def test_dev_urandom_fails(self):
        b, _ = self.attack("dev_urandom")
        # the memory limit, or any other clean failure of the compile
        self.assertIn("unikernel.c", b["error"])

    def test_big_object_hits_the_file_size_limit(self):
        self.attack("big_object")

    def test_include_loop_fails(self):
        b, _ = self.attack("include_loop")
        self.assertIn("loop.h", b["error"])

    # -- flags ---------------------------------------------------------------

    def test_escaping_cflags(self):
        """Flags that run a program or read a file: refused with the config,
        or, if some were accepted, a build that shows no token."""
        token = os.path.join(self.d.data, "admin.token")
        tries = [
            ["-wrapper", "/bin/sh,-c,cat %s; exit 1" % token],
            ["-Wp,-include,%s" % token],
            ["-Wa,@%s" % token],
            ["@" + token],
            ["-include", token],
            ["-imacros", token],
            ["-fplugin=" + token],
            ["-specs=" + token],
            ["-B/tmp", "-Wl,--version"],
            ['-DX=1\n#include "%s"' % token],
        ]
        for i, flags in enumerate(tries):
            with self.subTest(cflags=flags):
                name = "cflags%d" % i
                body = dict(hello_with(""), name=name)
                body["config"]["devices"]["main"]["cflags"] = flags
                r = self.d.post("/projects", body, token=F["write"])
                self.assertNotIn(self.d.admin_token, r.text)
                if r.status == 422:
                    self.assertError(r, 422, "config_invalid")
                    self.assertIn("cflags", r.text)
                    continue
                self.assertStatus(r, 201)
                bid = self.d.start_build(name, token=F["write"])["id"]
                F["builds"][name], F["literals"][name] = (bid, None), [token]
                b, _ = self.finished(name)
                self.assertIn(b["status"], ("failed", "succeeded"), b)

    # -- last: nothing of any build is left ---------------------------------

    def test_zz_no_build_process_left(self):
        d = self.d
        for build_id, _ in F["builds"].values():
            d.wait_build(build_id, timeout=120)
        left = wait_build_processes_gone(d)
        harness.kill_pids(left)
        self.assertEqual(left, [], "build processes outlive their builds")
        self.assertStatus(d.get("/projects", token=F["write"]), 200)


class Kill9(unittest.TestCase):
    """kill -9 of the daemon while a build compiles: what bwrap started
    dies with it (--die-with-parent), within 2 s."""

    def test_kill9_leaves_no_build_process(self):
        d = harness.Daemon(cache=None, workers=1, jobs=2)
        try:
            d.seed_cache()
            d.start()
            d.create_project(harness.slow_project("slowkill"))
            build_id = d.start_build("slowkill")["id"]
            # the build's processes, by identity (pid and start time), once
            # cc1 compiles slow.c and no other action is starting (a kill
            # within the first milliseconds of a bwrap is another matter)
            deadline = time.monotonic() + 120
            while True:
                table = proc_table()
                procs = {p: table[p] for p in descendants(d.proc.pid, table)
                         if table[p][1] != "Z" and is_tool(table[p][3])}
                cmds = " | ".join(v[3] for v in procs.values())
                busy = [c for c in cmds.split(" | ") if "cc1" in c and "slow.c" in c]
                others = [p for p, v in table.items() if v[0] == d.proc.pid and v[1] != "Z"
                          and "slow.c" not in v[3]]
                if (busy and not others) or time.monotonic() > deadline:
                    break
                self.assertNotIn(d.build(build_id)["status"], harness.TERMINAL,
                                 "the slow build ended before it was caught compiling")
                time.sleep(0.05)
            self.assertIn("bwrap", cmds, "no bwrap running under the daemon")
            self.assertIn("cc1", cmds, "no cc1 running under the daemon")
            # what the checks after each attack look for is seen while it runs
            found = " | ".join(c for _, c in build_processes(d, build_id))
            self.assertIn("cc1", found)
            self.assertIn("slow.c", found)
            self.assertEqual(build_processes(d, build_id + 1), [])
            d.kill9()
            t0 = time.monotonic()
            while True:
                reap_orphans()
                table = proc_table()
                left = [(p, v[3]) for p, v in procs.items()
                        if p in table and table[p][2] == v[2] and table[p][1] != "Z"]
                shared = harness._shared.pids() if harness._shared else ()
                left += [o for o in orphans(table, shared) if o not in left]
                if not left or time.monotonic() - t0 > 2.0:
                    break
                time.sleep(0.05)
            harness.kill_pids(left)
            self.assertEqual(left, [], "build processes outlive the daemon's kill -9")
        finally:
            if d.proc is not None:
                d.kill9()
            harness.kill_pids(harness.processes_mentioning(d.data))
            reap_orphans()
            d.cleanup()


if __name__ == "__main__":
    harness.main()
