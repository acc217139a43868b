#!/usr/bin/env python3
"""The docs stand alone (docs/README.md):

1. every relative link in docs/*.md and README.md names a file or folder
   of the repository, and an anchor (`page.md#section`) names a heading of
   that page, as GitHub spells heading anchors;
2. no file of the repository points at the old external spec in a folder
   next to it (the docs are the project's reference now);
3. docs/architecture.svg was rendered from the docs/architecture.dot that is
   checked in: docs/render.sh records the .dot's sha256 in the SVG.

usage: check.py REPO_ROOT
Prints one line per problem and exits 1 if there is any."""

import hashlib
import os
import re
import sys

# The folder's name is built from pieces, so that this file, which has to
# name it, does not point outside the repository itself.
_OLD_FOLDER = "sha" + "red"
OUTSIDE = re.compile(r"\.\./" + _OLD_FOLDER + r"\b|\b" + _OLD_FOLDER + r"/spec/")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SKIP_DIRS = {".git", "node_modules", "__pycache__"}
TEXT_EXTS = {".c", ".h", ".S", ".ld", ".md", ".txt", ".cmake", ".sh", ".py", ".js", ".mjs",
             ".json", ".html", ".css", ".dot", ".yml", ".yaml", ".in", ".clang-format"}


def strip_code(text):
    """The text with fenced blocks and inline code blanked (keeping lines),
    so that examples of links are not taken for links."""
    out, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"\s*(```+|~~~+)", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            out.append("")
            continue
        if m:
            fence = m.group(1)
            out.append("")
            continue
        out.append(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line))
    return "\n".join(out)


def slug(heading):
    """GitHub's anchor of a heading: lower case, markup and punctuation
    other than - and _ dropped, spaces to -."""
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    s = s.replace("`", "").strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        found, seen = set(), {}
        with open(path, encoding="utf-8") as f:
            text = f.read()
        fence = None
        for line in text.split("\n"):
            m = re.match(r"\s*(```+|~~~+)", line)
            if fence or m:
                if m and (not fence or m.group(1)[0] == fence[0]):
                    fence = None if fence else m.group(1)
                continue
            h = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
            if h:
                base = slug(h.group(1))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else "%s-%d" % (base, n))
        cache[path] = found
    return cache[path]


def check_links(root, problems):
    pages = [os.path.join(root, "README.md")]
    docs = os.path.join(root, "docs")
    pages += sorted(os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md"))
    for page in pages:
        with open(page, encoding="utf-8") as f:
            text = strip_code(f.read())
        rel_page = os.path.relpath(page, root)
        for lineno, line in enumerate(text.split("\n"), 1):
            for m in LINK.finditer(line):
                target = m.group(1)
                if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto:
                path, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                where = "%s:%d: link %s" % (rel_page, lineno, target)
                if os.path.relpath(dest, root).split(os.sep)[0] == "..":
                    problems.append("%s leaves the repository" % where)
                elif not os.path.exists(dest):
                    problems.append("%s: no such file" % where)
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    problems.append("%s: %s has no heading with that anchor"
                                    % (where, os.path.relpath(dest, root)))


def check_outside_refs(root, problems):
    build_dirs = set()
    for dirpath, dirnames, filenames in os.walk(root):
        # CMake build trees (in-source ones included) are not the repository
        if "CMakeCache.txt" in filenames:
            build_dirs.add(dirpath)
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            ext = os.path.splitext(name)[1]
            if ext not in TEXT_EXTS and name not in ("CMakeLists.txt", "Makefile"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = f.read().split("\n")
            except OSError as e:
                problems.append("%s: %s" % (os.path.relpath(path, root), e))
                continue
            for lineno, line in enumerate(lines, 1):
                if OUTSIDE.search(line):
                    problems.append("%s:%d: points outside the repository: %s"
                                    % (os.path.relpath(path, root), lineno, line.strip()[:100]))


def check_drawing(root, problems):
    dot = os.path.join(root, "docs", "architecture.dot")
    svg = os.path.join(root, "docs", "architecture.svg")
    with open(dot, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    with open(svg, encoding="utf-8") as f:
        head = f.read(4096)
    m = re.search(r"rendered from architecture\.dot sha256 ([0-9a-f]{64})", head)
    if not m:
        problems.append("docs/architecture.svg does not say which architecture.dot it was "
                        "rendered from: run docs/render.sh")
    elif m.group(1) != want:
        problems.append("docs/architecture.svg is stale (rendered from a .dot with sha256 %s, "
                        "the .dot now has %s): run docs/render.sh" % (m.group(1)[:12], want[:12]))
    if "<svg" not in head:
        problems.append("docs/architecture.svg is not an SVG")


def main():
    if len(sys.argv) != 2:
        print("usage: check.py REPO_ROOT", file=sys.stderr)
        return 2
    root = os.path.abspath(sys.argv[1])
    problems = []
    check_links(root, problems)
    check_outside_refs(root, problems)
    check_drawing(root, problems)
    for p in problems:
        print(p)
    if problems:
        print("%d problem%s" % (len(problems), "" if len(problems) == 1 else "s"))
        return 1
    print("docs: links, references and drawing are fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
