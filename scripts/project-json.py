#!/usr/bin/env python3
"""Prints the body of POST /projects for a project directory with inline
sources: {"name": NAME, "config": DIR/config.json, "sources": {path: text}}.

    scripts/project-json.py DIR [NAME]

Every regular file under DIR except config.json and dist/ becomes an inline
source (UTF-8 text; the API carries sources as JSON strings). NAME defaults
to the directory's name. Handy with curl (mgctl project create NAME
--sources DIR does the same): scripts/project-json.py examples/hello | curl --data @- ...
"""
import json
import os
import sys


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = sys.argv[1].rstrip("/")
    name = sys.argv[2] if len(sys.argv) == 3 else os.path.basename(os.path.abspath(root))
    with open(os.path.join(root, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    sources = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not (dirpath == root and d == "dist"))
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root)
            if rel == "config.json" or not os.path.isfile(full) or os.path.islink(full):
                continue
            with open(full, encoding="utf-8") as f:
                sources[rel] = f.read()
    json.dump({"name": name, "config": config, "sources": sources}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
