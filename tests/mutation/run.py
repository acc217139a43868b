#!/usr/bin/env python3
"""The mutation pass: plants each hand-chosen bug of mutants.txt in the
sources, one at a time, and checks that the tests named for it fail.

Why by hand and not a tool: each mutant is a bug a reviewer could plausibly
miss (a bound off by one, a flipped comparison, a dropped check, a missed
hash input, a scope that lets one more through), so a survivor points at a
real gap in the tests rather than at noise.

For each mutant the source file is changed in place, the build targets its
tests run are rebuilt in the given build directory (a Release build with the
tests on), the named tests run, and the original bytes are written back in a
`finally` block whatever happens (an exception, Ctrl-C, SIGTERM). In case
the process is killed outright (SIGKILL), the original is first written to a
journal in the build directory, and the next run restores it before
anything else. A mutant is
  killed         the tests failed (or ran past the time limit),
  survived       they passed,
  equivalent     it survived, and mutants.txt argues (field `equivalent`)
                 why it is no bug: no test can tell it from the original
                 (left out of the score, listed with the argument),
  not compiling  the build failed (left out of the score),
  bad            its snippet is not found exactly once, or its tests fail
                 without it too (a broken baseline; left out of the score).
score = killed / (killed + survived).

usage: run.py [--build DIR] [--mutants FILE] [--only ID,ID] [--jobs N]
              [--timeout SECONDS] [--goal PERCENT] [--no-baseline] [--list]
Exits 0 when the score reaches the goal (default 90) and no mutant is bad,
1 otherwise, 2 on a usage error.
"""

import argparse
import base64
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIELDS = ("id", "file", "find", "replace", "tests", "why")
OPTIONAL = ("equivalent",)


class Interrupted(Exception):
    """Raised from a signal handler, so that `finally` restores the file."""


def on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


def unescape(text):
    """A snippet's text: \\n is a newline, \\t a tab, \\\\ a backslash, so
    that a snippet spanning lines fits on one line of mutants.txt."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def load_mutants(path):
    """Blocks of `field: value` lines separated by blank lines; # starts a
    comment line."""
    mutants, cur, problems = [], {}, []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines + [""], 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                missing = [k for k in FIELDS if k not in cur]
                if missing:
                    problems.append("%s: mutant ending at line %d lacks %s" %
                                    (path, no, ", ".join(missing)))
                else:
                    mutants.append(cur)
                cur = {}
            continue
        m = re.match(r"(\w+): ?(.*)$", line)
        if not m or m.group(1) not in FIELDS + OPTIONAL:
            problems.append("%s:%d: expected one of %s" %
                            (path, no, ", ".join(FIELDS + OPTIONAL)))
            continue
        value = m.group(2)
        cur[m.group(1)] = unescape(value) if m.group(1) in ("find", "replace") else value
    ids = [m["id"] for m in mutants]
    for i in sorted(set(i for i in ids if ids.count(i) > 1)):
        problems.append("%s: id %s is used twice" % (path, i))
    return mutants, problems


def journal_path(build):
    return os.path.join(build, "mutation-restore.json")


def restore_from_journal(build):
    """Puts back a file a killed run left mutated."""
    jp = journal_path(build)
    if not os.path.exists(jp):
        return
    with open(jp, encoding="utf-8") as f:
        j = json.load(f)
    with open(j["path"], "wb") as f:
        f.write(base64.b64decode(j["original"]))
    os.unlink(jp)
    print("restored %s, left mutated by a run that was killed" % j["path"])


def write_journal(build, path, original):
    tmp = journal_path(build) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"path": path, "original": base64.b64encode(original).decode()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, journal_path(build))


def test_targets(build, regex, cache={}):
    """The build targets the tests matching `regex` run: every executable
    of the build directory named in their commands (a test binary, mgd,
    mgctl, a replay-* program); CMake names an executable after its
    target."""
    if "tests" not in cache:
        out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build, check=True,
                             capture_output=True, text=True).stdout
        cache["tests"] = json.loads(out)["tests"]
    names, targets = [], set()
    build_abs = os.path.realpath(build)
    for t in cache["tests"]:
        if not re.search(regex, t["name"]):
            continue
        names.append(t["name"])
        for arg in t.get("command", []):
            p = os.path.realpath(arg)
            if (p.startswith(build_abs + os.sep) and os.path.isfile(p) and os.access(p, os.X_OK)):
                targets.add(os.path.basename(p))
    return names, sorted(targets)


def build_targets(build, targets, jobs, log):
    if not targets:
        return True
    r = subprocess.run(["cmake", "--build", build, "-j", str(jobs), "--target"] + targets,
                       stdout=log, stderr=subprocess.STDOUT)
    return r.returncode == 0


def run_tests(build, regex, timeout, log):
    """'passed', 'failed' or 'timeout'. ctest runs in a process group of
    its own, so that a timeout ends everything it started."""
    p = subprocess.Popen(["ctest", "-R", regex, "--output-on-failure", "--timeout",
                          str(timeout)], cwd=build, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        rc = p.wait(timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return "timeout"
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return "passed" if rc == 0 else "failed"


def apply_and_test(args, m, log):
    """Plants mutant m, builds, runs its tests, and always restores."""
    path = os.path.join(ROOT, m["file"])
    with open(path, "rb") as f:
        original = f.read()
    text = original.decode("utf-8")
    count = text.count(m["find"])
    if count != 1:
        return "bad", "the snippet occurs %d times in %s" % (count, m["file"])
    names, targets = test_targets(args.build, m["tests"])
    if not names:
        return "bad", "no test matches %s" % m["tests"]
    write_journal(args.build, path, original)
    try:
        with open(path, "wb") as f:
            f.write(text.replace(m["find"], m["replace"]).encode("utf-8"))
        if not build_targets(args.build, targets, args.jobs, log):
            return "not compiling", "the build failed"
        outcome = run_tests(args.build, m["tests"], args.timeout, log)
        if outcome == "passed" and m.get("equivalent"):
            return "equivalent", "%s passed; %s" % (", ".join(names), m["equivalent"])
        if outcome == "passed":
            return "survived", "%s passed" % ", ".join(names)
        return "killed", "%s %s" % (", ".join(names), outcome)
    finally:
        with open(path, "wb") as f:
            f.write(original)
        os.unlink(journal_path(args.build))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release-tests"),
                    help="a configured build directory with the tests on")
    ap.add_argument("--mutants", default=os.path.join(HERE, "mutants.txt"))
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per test run")
    ap.add_argument("--goal", type=float, default=90.0, help="the score to reach, in percent")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip running each test set on the unchanged sources first")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = ap.parse_args()

    mutants, problems = load_mutants(args.mutants)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 2
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {m["id"] for m in mutants}
        if unknown:
            print("no mutant %s" % ", ".join(sorted(unknown)), file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m["id"] in want]
    if args.list:
        for m in mutants:
            print("%-4s %-28s %s" % (m["id"], m["file"], m["why"]))
        return 0
    cache = os.path.join(args.build, "CMakeCache.txt")
    if not os.path.exists(cache):
        print("%s is not a configured build directory" % args.build, file=sys.stderr)
        return 2
    with open(cache, encoding="utf-8") as f:
        home = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", f.read(), re.M)
    if not home or os.path.realpath(home.group(1)) != os.path.realpath(ROOT):
        print("%s was configured from another source tree" % args.build, file=sys.stderr)
        return 2

    # two runs on one build directory would plant two mutants at once and
    # could restore each other's: the second one stops here
    lock = open(os.path.join(args.build, "mutation.lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("another mutation run is using %s" % args.build, file=sys.stderr)
        return 2
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)
    restore_from_journal(args.build)
    log_path = os.path.join(args.build, "mutation.log")
    started = time.monotonic()
    results = []
    with open(log_path, "w", encoding="utf-8") as log:
        # the build must be current before anything is planted
        all_targets = sorted({t for m in mutants for t in test_targets(args.build, m["tests"])[1]})
        if not build_targets(args.build, all_targets, args.jobs, log):
            print("the unchanged sources do not build; see %s" % log_path, file=sys.stderr)
            return 1
        broken = set()
        if not args.no_baseline:
            for regex in sorted({m["tests"] for m in mutants}):
                log.write("\n=== baseline %s\n" % regex)
                log.flush()
                if run_tests(args.build, regex, args.timeout, log) != "passed":
                    broken.add(regex)
                    print("baseline: %s fails without any mutant" % regex)
        try:
            for m in mutants:
                t0 = time.monotonic()
                log.write("\n=== %s %s: %s\n" % (m["id"], m["file"], m["why"]))
                log.flush()
                if m["tests"] in broken:
                    status, detail = "bad", "its tests fail without the mutant"
                else:
                    status, detail = apply_and_test(args, m, log)
                secs = time.monotonic() - t0
                results.append((m, status, detail, secs))
                print("%-4s %-13s %5.0fs  %-26s %s" % (m["id"], status, secs, m["file"],
                                                        m["why"]), flush=True)
        except Interrupted as ex:
            print("stopped by %s: every file is restored" % ex, file=sys.stderr)
            return 1
        finally:
            # the objects in the build directory are the unchanged sources' again
            build_targets(args.build, all_targets, args.jobs, log)

    count = {s: sum(1 for r in results if r[1] == s)
             for s in ("killed", "survived", "equivalent", "not compiling", "bad")}
    scored = count["killed"] + count["survived"]
    score = 100.0 * count["killed"] / scored if scored else 0.0
    print()
    print("| id | file | result | seconds | the bug |")
    print("|---|---|---|---|---|")
    for m, status, detail, secs in results:
        print("| %s | %s | %s | %.0f | %s |" % (m["id"], m["file"], status, secs, m["why"]))
    print()
    for m, status, detail, _ in results:
        if status != "killed":
            print("%s %s: %s" % (m["id"], status, detail))
    print("total %d, killed %d, survived %d, equivalent %d, not compiling %d, bad %d; "
          "score %.1f %% (goal %.0f %%); %.0f s; log %s" %
          (len(results), count["killed"], count["survived"], count["equivalent"],
           count["not compiling"], count["bad"], score, args.goal,
           time.monotonic() - started, log_path))
    return 0 if score >= args.goal and not count["bad"] else 1


if __name__ == "__main__":
    sys.exit(main())
