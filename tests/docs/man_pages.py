#!/usr/bin/env python3
"""The man pages (docs/man/) against the programs they describe.

- Every page renders with groff without a single warning (-ww: all of
  them), for a terminal and for print, as man(1) would render it.
- mgd.1 has a subsection for every command of `mgd --help`, and names
  every subcommand of each `mgd COMMAND --help`, every option those help
  texts print, and every environment variable they name, in its
  ENVIRONMENT section.
- mgctl.1 the same for `mgctl --help` and `mgctl COMMAND --help`, and every
  shell `mgctl completion` offers, in its shell completion section.
- mgd-config.5 names every member of the config schema
  (graph/config.schema.json, served as GET /schema/config.json): a
  paragraph for each member of the top level, and the members of a key
  declaration, of user code and of a library; every entry of the built-in
  catalog (runtime/*/catalog.json); and every error code of the resolver
  (graph/errors.c).

So an option, a command or a config member added without its line in the
man page fails here. The checks read the rendered text (groff -Tascii
with very long lines, so nothing is hyphenated or broken), as a reader
sees it.

    man_pages.py SOURCE_DIR MGD MGCTL
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def run(argv):
    r = subprocess.run(argv, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def check_warnings(page):
    """groff -ww: every warning, for the terminal (utf8, as man(1)) and the
    default (PostScript) device."""
    for device in (["-Tutf8"], []):
        code, _, err = run(["groff", "-man", "-ww", "-z"] + device + [page])
        if code != 0 or err.strip():
            fail("%s: groff -man -ww %s: exit %d\n%s" % (page, " ".join(device), code, err))


def render(page):
    code, out, err = run(["groff", "-man", "-Tascii", "-P-cbou", "-rLL=3000n", "-rHY=0", page])
    if code != 0:
        fail("%s: groff -Tascii: exit %d\n%s" % (page, code, err))
    return out


def sections(text):
    """The rendered page's sections by name (the lines in column 0)."""
    result, name = {}, ""
    for line in text.splitlines():
        if line and not line[0].isspace():
            name = line.strip()
            result.setdefault(name, "")
        else:
            result[name] = result.get(name, "") + line + "\n"
    return result


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


OPTION_RE = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
ENV_RE = re.compile(r"\$([A-Z][A-Z0-9_]*)|\b(MGD_[A-Z0-9_]+)\b")


def help_of(argv):
    code, out, err = run(argv)
    if code != 0:
        fail("%s: exit %d\n%s" % (" ".join(argv), code, err))
    return out


def check_help(page, text, argv, what):
    """Every option and environment variable `argv` prints appears in the
    page; returns the help text."""
    out = help_of(argv)
    envs = sections(text).get("ENVIRONMENT", "")
    for opt in sorted(set(OPTION_RE.findall(out))):
        if not has_word(text, opt):
            fail("%s: %s prints %s, the page does not name it" % (page, what, opt))
    for m in ENV_RE.finditer(out):
        var = m.group(1) or m.group(2)
        if not has_word(envs, var):
            fail("%s: %s names $%s, its ENVIRONMENT section does not" % (page, what, var))
    return out


def check_mgd(src, mgd):
    page = os.path.join(src, "docs/man/mgd.1")
    text = render(page)
    top = check_help(page, text, [mgd, "--help"], "mgd --help")
    commands = []
    listing = top.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    for line in listing.splitlines():
        word = line.split()[0]
        commands.append(word)
    if len(commands) < 8:
        fail("mgd --help lists %d commands: has its format changed?" % len(commands))
    for cmd in commands:
        # each command heads a subsection of its own (indented by 3)
        if not re.search(r"^   mgd %s(?![\w-])" % re.escape(cmd), text, re.M):
            fail("%s: mgd --help lists %s, the page has no subsection mgd %s" % (page, cmd, cmd))
        out = check_help(page, text, [mgd, cmd, "--help"], "mgd %s --help" % cmd)
        # the usage lines name the subcommands (mgd token create, list, ...)
        for m in re.finditer(r"^(?:usage:)?\s+mgd %s ([a-z]+)\b" % cmd, out, re.M):
            sub = "mgd %s %s" % (cmd, m.group(1))
            if not has_word(text, sub):
                fail("%s: mgd %s --help has %s, the page does not" % (page, cmd, sub))
    for word in ("--version", "--help", "-h"):
        if not has_word(text, word):
            fail("%s: no %s" % (page, word))


def check_mgctl(src, mgctl):
    page = os.path.join(src, "docs/man/mgctl.1")
    text = render(page)
    top = check_help(page, text, [mgctl, "--help"], "mgctl --help")
    commands = []
    listing = top.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    for line in listing.splitlines():
        # the left column (two spaces or more end it): lowercase words,
        # then the positionals in capitals
        words = []
        for w in re.split(r"\s{2,}", line.strip())[0].split():
            if not re.fullmatch(r"[a-z]+", w):
                break
            words.append(w)
        commands.append(" ".join(words))
    if len(commands) < 20:
        fail("mgctl --help lists %d commands: has its format changed?" % len(commands))
    for cmd in commands:
        if not has_word(text, "mgctl " + cmd):
            fail("%s: mgctl --help lists %s, the page does not name mgctl %s" % (page, cmd, cmd))
        check_help(page, text, [mgctl] + cmd.split() + ["--help"], "mgctl %s --help" % cmd)
    # every shell with a completion script, and where a package puts it
    completion = next((body for name, body in sections(text).items()
                       if name == "COMMANDS"), "")
    completion = completion.split("Shell completion", 1)[-1]
    shells = help_of([mgctl, "__complete", "completion", ""]).split()
    if sorted(shells) != ["bash", "fish", "zsh"]:
        fail("mgctl offers completion for %s" % shells)
    for shell in shells:
        if not has_word(completion, shell):
            fail("%s: its Shell completion section does not name %s" % (page, shell))
    files = sections(text).get("FILES", "")
    for path in ("/usr/share/bash-completion/completions/mgctl",
                 "/usr/share/zsh/vendor-completions/_mgctl",
                 "/usr/share/fish/vendor_completions.d/mgctl.fish"):
        if path not in files:
            fail("%s: FILES does not name %s" % (page, path))


def check_config(src):
    page = os.path.join(src, "docs/man/mgd-config.5")
    text = render(page)
    with open(os.path.join(src, "graph/config.schema.json")) as f:
        schema = json.load(f)
    members = [("the top level", list(schema["properties"])),
               ("a key declaration", list(schema["$defs"]["key"]["properties"])),
               ("user code", list(schema["$defs"]["main"]["properties"])),
               ("a library", list(schema["$defs"]["library"]["properties"]))]
    if len(members[0][1]) < 7:
        fail("the schema has %d top-level members: has it changed shape?" % len(members[0][1]))
    top = sections(text).get("TOP LEVEL", "")
    for name in members[0][1]:
        # a paragraph of its own: the tag of a .TP, indented by 7
        if not re.search(r"^ {7}%s(?![\w-])" % re.escape(name), top, re.M):
            fail("%s: the schema's top level has %s, TOP LEVEL does not describe it" %
                 (page, name))
    for what, names in members[1:]:
        for name in names:
            if not has_word(text, name):
                fail("%s: the schema's %s has %s, the page does not" % (page, what, name))
    # every entry of the built-in catalog (runtime/*/catalog.json)
    entries = []
    for path in sorted(glob.glob(os.path.join(src, "runtime/*/catalog.json"))):
        with open(path) as f:
            entries += [d["name"] for d in json.load(f)["devices"]]
    if len(entries) < 30:
        fail("the catalog has %d entries: has its format changed?" % len(entries))
    catalog = sections(text).get("THE CATALOG", "")
    for name in entries:
        if not has_word(catalog, name):
            fail("%s: THE CATALOG does not name the catalog entry %s" % (page, name))
    with open(os.path.join(src, "graph/errors.c")) as f:
        codes = re.findall(r'\[MG_ERR_[A-Z_]+\] = "([a-z_]+)"', f.read())
    if len(codes) < 20:
        fail("graph/errors.c has %d error codes: has its table changed?" % len(codes))
    errors = sections(text).get("ERRORS", "")
    for code in codes:
        if not has_word(errors, code):
            fail("%s: ERRORS does not name the error code %s" % (page, code))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: %s SOURCE_DIR MGD MGCTL" % sys.argv[0])
    src, mgd, mgctl = sys.argv[1:]
    if not shutil.which("groff"):
        sys.exit("FAIL: groff is not installed (scripts/deps.sh installs groff-base)")
    pages = sorted(os.path.join(src, "docs/man", p) for p in os.listdir(os.path.join(src, "docs/man")))
    if [os.path.basename(p) for p in pages] != ["mgctl.1", "mgd-config.5", "mgd.1"]:
        fail("docs/man holds %s; this test knows mgctl.1, mgd-config.5 and mgd.1" %
             [os.path.basename(p) for p in pages])
    for page in pages:
        check_warnings(page)
        # the page's name and section are its file's
        name, section = os.path.basename(page).rsplit(".", 1)
        with open(page) as f:
            th = re.search(r"^\.TH (\S+) (\S+)", f.read(), re.M)
        if not th or th.group(1) != name.upper() or th.group(2) != section:
            fail("%s: its .TH is not %s %s" % (page, name.upper(), section))
    check_mgd(src, mgd)
    check_mgctl(src, mgctl)
    check_config(src)
    if failures:
        sys.exit("%d problem(s) in the man pages" % len(failures))
    print("ok: %d pages" % len(pages))


if __name__ == "__main__":
    main()
