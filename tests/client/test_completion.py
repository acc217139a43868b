#!/usr/bin/env python3
"""mgctl's shell completion, in the real shells (docs/mgctl.md, "Shell
completion"): the scripts of `mgctl completion bash|zsh|fish` are loaded
into bash, zsh and fish, which are asked what they offer for a command
line: commands, a group's subcommands, a command's options, the fixed
values of an option, shells, paths where a file goes. All three must offer
the same commands, and those must be the commands `mgctl --help` lists.

bash: the completion function is called with COMP_WORDS set, as bash's
programmable completion calls it. zsh: an interactive zsh on a
pseudo-terminal gets the line and a TAB (zsh_complete.zsh). fish:
`complete -C LINE`, fish's own query of its completions, which must print
nothing on stderr (fish shows that on the terminal).

The command may be typed as a path (~/bin/mgctl, $HOME/bin/mgctl: the
scripts run that one, expanded) or as a word that names no program (the
mgctl on PATH), and a path to complete may be quoted or have backslashes.

    python3 test_completion.py MGCTL [unittest args]

No daemon: completion runs offline.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MGCTL = None


class Completion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for shell in ("bash", "zsh", "fish"):
            if not shutil.which(shell):
                raise AssertionError("%s is not installed (scripts/deps.sh installs it)" % shell)
        cls.tmp = tempfile.TemporaryDirectory(prefix="mgctl-completion-")
        d = cls.tmp.name
        # the scripts complete the command named mgctl: put it on PATH
        os.mkdir(os.path.join(d, "bin"))
        os.symlink(MGCTL, os.path.join(d, "bin", "mgctl"))
        cls.env = dict(os.environ, PATH=os.path.join(d, "bin") + ":" + os.environ["PATH"],
                       HOME=d, XDG_CONFIG_HOME=os.path.join(d, "config"),
                       XDG_DATA_HOME=os.path.join(d, "data"))
        cls.scripts = {}
        for shell, name in (("bash", "mgctl.bash"), ("zsh", "_mgctl"), ("fish", "mgctl.fish")):
            r = subprocess.run([MGCTL, "completion", shell], capture_output=True, timeout=30)
            assert r.returncode == 0, r
            os.makedirs(os.path.join(d, shell), exist_ok=True)
            path = os.path.join(d, shell, name)
            with open(path, "wb") as f:
                f.write(r.stdout)
            cls.scripts[shell] = path
        # files to complete
        cls.files = os.path.join(d, "files")
        os.makedirs(os.path.join(cls.files, "srcdir"))
        os.makedirs(os.path.join(cls.files, "my dir"))
        with open(os.path.join(cls.files, "config.json"), "w") as f:
            f.write("{}\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_shell(self, argv, env=None, quiet=False):
        """The shell's output; with `quiet`, it must write nothing on stderr."""
        r = subprocess.run(argv, capture_output=True, timeout=60, env=env or self.env,
                           cwd=self.files)
        self.assertEqual(r.returncode, 0, r)
        if quiet:
            self.assertEqual(r.stderr.decode(), "", argv)
        return r.stdout.decode()

    def env_without_mgctl(self):
        """The environment with no mgctl on PATH: only a command typed as a
        path can run."""
        return dict(self.env, PATH="/usr/bin:/bin")

    # Each of these takes command lines (the last word is the one being
    # completed) and gives, for each, the words the shell offers.

    def bash(self, lines):
        prog = ('source "$1"; COMP_WORDS=("${@:2}"); COMP_CWORD=$(($# - 2)); _mgctl; '
                'printf "%s\\n" "${COMPREPLY[@]}"')
        return [[w for w in self.run_shell(["bash", "-c", prog, "bash", self.scripts["bash"]] +
                                           line.split(" ")).splitlines() if w]
                for line in lines]

    def zsh(self, lines, env=None):
        out = self.run_shell(["zsh", "-f", os.path.join(HERE, "zsh_complete.zsh"),
                              os.path.dirname(self.scripts["zsh"])] + lines, env=env)
        # one block per line, each ended by <<end>>; zsh may add a
        # directory twice
        blocks = [[w for w in b.split("\n") if w] for b in out.split("<<end>>\n")]
        self.assertEqual(len(blocks), len(lines) + 1, out)
        return [list(dict.fromkeys(b)) for b in blocks[:-1]]

    def fish(self, lines, described=False, env=None):
        result = []
        for line in lines:
            out = self.run_shell(["fish", "--no-config", "-c",
                                  "source $argv[1]; complete -C $argv[2]",
                                  self.scripts["fish"], line], env=env, quiet=True)
            words = [w for w in out.splitlines() if w]
            result.append(words if described else [w.split("\t")[0] for w in words])
        return result

    def check(self, cases, shells=("bash", "zsh", "fish")):
        """Every shell offers the expected words (in any order) for each
        line of `cases` (a list of (line, words))."""
        lines = [line for line, _ in cases]
        got = {}
        for shell in shells:
            got[shell] = getattr(self, shell)(lines)
            for (line, want), words in zip(cases, got[shell]):
                self.assertEqual(sorted(words), sorted(want), "%s: %r" % (shell, line))
        return got

    def help_commands(self):
        """The first words of the commands `mgctl --help` lists, and help."""
        out = subprocess.run([MGCTL, "--help"], capture_output=True, timeout=30).stdout.decode()
        lines = out.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        return sorted(set(l.split()[0] for l in lines)) + ["help"]

    def test_commands(self):
        want = self.help_commands()
        self.assertIn("project", want)
        self.assertIn("completion", want)
        got = self.check([("mgctl ", want), ("mgctl bu", ["build", "builds"]),
                          ("mgctl pro", ["project"]), ("mgctl --json ver", ["version"])])
        # the same list, in the same order, from the same table
        self.assertEqual(got["bash"][0], got["zsh"][0])
        self.assertEqual(sorted(got["zsh"][0]), sorted(got["fish"][0]))

    def test_subcommands(self):
        self.check([("mgctl project ", ["create", "list", "show", "delete"]),
                    ("mgctl config s", ["show"]),
                    ("mgctl --json config ", ["push", "show"]),
                    ("mgctl project create x ", []),
                    ("mgctl help pro", ["project"]),
                    ("mgctl help project c", ["create"])])

    def test_options(self):
        got = self.check([("mgctl build hello --fo", ["--force", "--follow"]),
                          ("mgctl --con", ["--connect-timeout"]),
                          ("mgctl log 7 --f", ["--follow"])])
        for shell in ("bash", "zsh", "fish"):
            opts, graph = getattr(self, shell)(["mgctl build hello --", "mgctl graph hello --"])
            for o in ("--target", "--arch", "--key", "--wait", "--output", "--ref", "--url",
                      "--token", "--json", "--timeout", "--help"):
                self.assertIn(o, opts, shell)
            self.assertNotIn("--format", opts, shell)
            self.assertIn("--format", graph, shell)

    def test_values(self):
        self.check([("mgctl graph hello --format ", ["dot", "svg", "json"]),
                    ("mgctl --json builds p --status f", ["failed"]),
                    ("mgctl completion ", ["bash", "zsh", "fish"])])
        # a value joined to its option: one word in zsh and fish
        self.check([("mgctl graph hello --format=s", ["--format=svg"])], shells=("zsh", "fish"))

    def test_paths(self):
        # bash completes paths itself (compopt -o default), out of a test's
        # reach without a terminal; zsh shows the last part, fish the word
        self.check([("mgctl config push p con", ["config.json"]),
                    ("mgctl graph p -o con", ["config.json"]),
                    ("mgctl status con", [])], shells=("zsh", "fish"))
        self.assertEqual(self.zsh(["mgctl project create x --sources s"]), [["srcdir"]])
        self.assertEqual(self.fish(["mgctl project create x --sources s",
                                    "mgctl graph p --output=con"]),
                         [["srcdir/"], ["--output=config.json"]])
        self.assertEqual(self.bash(["mgctl status con"]), [[]])

    def test_quoted_paths(self):
        # the word being completed, with a backslash before its space or in
        # an open quote, is the path "my d" (fish hands the raw word to the
        # script, which must unquote it; zsh shows "my dir", quoted as typed)
        lines = ["mgctl project create x --config my\\ d",
                 "mgctl project create x --config 'my d",
                 'mgctl project create x --config "my d',
                 "mgctl config push p 'my d"]
        self.assertEqual(self.fish(lines), [["my dir/"]] * 4)
        self.assertEqual([[w.replace("\\", "") for w in ws] for ws in self.zsh(lines)],
                         [["my dir"]] * 4)

    def test_command_paths(self):
        # mgctl typed by its path, ~ or $HOME unexpanded on the line: the
        # scripts expand them (no mgctl on PATH to fall back to)
        lines = ["~/bin/mgctl bu", "$HOME/bin/mgctl bu", "~/bin/mgctl project create x --sources s"]
        env = self.env_without_mgctl()
        self.assertEqual(self.fish(lines, env=env), [["build", "builds"], ["build", "builds"],
                                                     ["srcdir/"]])
        self.assertEqual(self.zsh(lines, env=env), [["build", "builds"], ["build", "builds"],
                                                    ["srcdir"]])
        # a path that is no program: the mgctl on PATH, or nothing (and fish
        # says nothing either: run_shell checks its stderr)
        self.check([("/nowhere/mgctl bu", ["build", "builds"])], shells=("zsh", "fish"))
        self.assertEqual(self.fish(["/nowhere/mgctl bu", "~/nowhere/mgctl bu"], env=env), [[], []])
        self.assertEqual(self.zsh(["/nowhere/mgctl bu"], env=env), [[]])

    def test_descriptions(self):
        build, force, project = self.fish(["mgctl bui", "mgctl build p --forc", "mgctl pro"],
                                          described=True)
        self.assertIn("build\tqueue a build; wait, follow its log, download its image", build)
        self.assertIn("--force\tbuild even if an identical build succeeded before", force)
        self.assertIn("project\tsubcommands: create list show delete", project)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: %s MGCTL [unittest args]" % sys.argv[0])
    MGCTL = os.path.abspath(sys.argv.pop(1))
    unittest.main()
