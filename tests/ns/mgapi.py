#!/usr/bin/env python3
"""What the shell tests across hosts (tests/ns/workers.sh) and bench/scale
need of the API tests' harness (tests/api/harness.py), from bash: the same
project bodies and local trees that tests/build/workers.py builds, and a
field of a JSON answer (the machine has no jq). The requests themselves go
through curl in the host's namespace.

usage: mgapi.py hello NAME          POST /projects body: examples/hello,
                                    its config named NAME
       mgapi.py slow NAME BLOCKS    a project that compiles for about
                                    2.7 s x BLOCKS (gcc -O2), unique text
       mgapi.py tree NAME DIR       the tree of `hello NAME` in DIR, for a
                                    local mgd build
       mgapi.py get KEY...          reads JSON on stdin, prints the value at
                                    KEY (dotted: image.sha256); an absent
                                    key or null prints nothing; a number an
                                    integer, a list or object JSON
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402


def get(doc, key):
    for part in key.split("."):
        if isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc.get(part)
        else:
            return None
    return doc


def main(argv):
    if len(argv) >= 2 and argv[0] == "hello":
        print(json.dumps(harness.hello_project(argv[1], config_name=argv[1])))
    elif len(argv) == 3 and argv[0] == "slow":
        print(json.dumps(harness.slow_project(argv[1], blocks=int(argv[2]))))
    elif len(argv) == 3 and argv[0] == "tree":
        harness.hello_tree(argv[2], argv[1])
    elif len(argv) >= 2 and argv[0] == "get":
        try:
            doc = json.load(sys.stdin)
        except ValueError:
            return 1
        for key in argv[1:]:
            v = get(doc, key)
            if v is None:
                print("")
            elif isinstance(v, (dict, list)):
                print(json.dumps(v))
            else:
                print(str(v).lower() if isinstance(v, bool) else v)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
