#!/usr/bin/env bash
# The JSON Schema of config documents (graph/config.schema.json) against the
# metaschema, the repository's documents, and the resolver itself: every
# document below is fed to both the schema and `mgd describe`, and the two
# must agree (a mistake the schema refuses is refused by the resolver with
# the expected code; an edge case it accepts resolves on unix). So the
# schema can neither drift stricter than mgd nor miss what it claims to see.
# usage: schema.sh MGD SOURCE_DIR
# Needs python3 with the jsonschema module (Debian: python3-jsonschema).
set -euo pipefail
mgd=$(realpath "$1")
src=$(realpath "$2")

# The python3 first in PATH may lack jsonschema where Debian's has it.
py=
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$cand" ] && "$cand" -c 'import jsonschema' 2>/dev/null; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "FAIL: no python3 with the jsonschema module (apt-get install python3-jsonschema)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

exec "$py" - "$mgd" "$src" "$work" <<'PY'
import glob, json, os, re, subprocess, sys

import jsonschema

mgd, src, work = sys.argv[1:4]
schema = json.load(open(os.path.join(src, "graph/config.schema.json")))
fails = 0


def check(name, ok, *details):
    global fails
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        fails += 1
        for d in details:
            print("    " + str(d))


# --- the schema itself -------------------------------------------------------
try:
    jsonschema.Draft202012Validator.check_schema(schema)
    check("schema is a valid draft 2020-12 schema", True)
except jsonschema.SchemaError as e:
    check("schema is a valid draft 2020-12 schema", False, e.message)
    sys.exit(1)
check("schema declares draft 2020-12 and an $id",
      schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
      and schema.get("$id", "").startswith("https://"))


def patterns(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern":
                yield v
            yield from patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from patterns(v)


bad_patterns = []
for p in patterns(schema):
    try:
        re.compile(p)
    except re.error as e:
        bad_patterns.append(f"{p}: {e}")
    # Python-only syntax would break other validators (ECMA-262 regexes).
    if re.search(r"\(\?P|\(\?<[^=!]|\\[AZz]|\(\?[aiLmsux]", p):
        bad_patterns.append(f"{p}: not ECMA-262")
check("every pattern compiles and is ECMA-262", not bad_patterns, *bad_patterns)

validator = jsonschema.Draft202012Validator(schema)


def schema_errors(doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))


def describe(doc, name):
    """Runs mgd describe on doc; returns (exit status, [error codes])."""
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "config.json")
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    r = subprocess.run([mgd, "describe", path], capture_output=True, text=True)
    codes = []
    if r.returncode == 1:
        try:
            codes = [e["code"] for e in json.loads(r.stdout)["errors"]]
        except (ValueError, KeyError):
            pass
    return r.returncode, codes, r.stderr


# --- the repository's documents: valid, for the schema and the resolver ----
docs = sorted(glob.glob(os.path.join(src, "examples/*/config.json")) +
              glob.glob(os.path.join(src, "tests/build/*/config.json")) +
              glob.glob(os.path.join(src, "tests/codegen/*/config.json")) +
              glob.glob(os.path.join(src, "tests/fuzz/seeds/*.json")))
check("found the repository's documents", len(docs) >= 8, docs)
for f in docs:
    rel = os.path.relpath(f, src)
    errs = schema_errors(json.load(open(f)))
    check(f"valid: {rel}", not errs, *[f"{list(e.absolute_path)}: {e.message}" for e in errs])

# --- edge cases the resolver accepts: the schema must accept them too -------
APP = {"main": "start", "type": "console -> job"}
JOB = {"apply": "app", "to": ["default_console"]}


def doc(**kw):
    d = {"mgd": 1, "name": "t", "jobs": ["noop"]}
    d.update(kw)
    return d


def app_doc(**fields):
    app = dict(APP)
    app.update(fields)
    return doc(devices={"app": app}, jobs=[JOB])


good = {
    "minimal": doc(),
    "name with dash and digits": doc(name="a-1_b"),
    "name of 63 characters": doc(name="a" * 63),
    "allowed cflags": app_doc(cflags=[
        "-O2", "-Os", "-O", "-Ofast", "-g", "-g3", "-ggdb", "-ggdb1", "-DX=1", "-D_X", "-UY",
        "-fPIC", "-fno-common", "-fvisibility=hidden", "-fstack-protector-strong",
        "-fmax-errors=3", "-Wall", "-W", "-Wno-unused", "-std=c11"]),
    "symbols": doc(devices={"a": {"main": "rc", "type": "job"},
                            "b": {"main": "Start_it2", "type": "job"},
                            "c": {"main": "s" * 128, "type": "job"},
                            "d": {"main": "mgx", "type": "job"},
                            "e": {"main": "tally", "type": "job"}},
                   jobs=["a", "b", "c", "d", "e"]),
    "type with free whitespace": app_doc(type=" console\t->\n  job "),
    "type without spaces": app_doc(type="console->job"),
    "paths": app_doc(sources=["a.c", ".b.c", "sub/c.c", "a..b.c", "...", "x-y/z.c"],
                     include_dirs=["inc", "."]),
    "runtime keys and libraries": doc(
        keys={"port": {"stage": "runtime", "type": "int", "default": 80, "doc": "Port."},
              "ip": {"stage": "runtime", "type": "ipv4"}},
        devices={"app": dict(APP, runtime_keys=["port", "ip"],
                             libraries=[{"name": "mg-console", "min": "0001",
                                         "max": "4294967295.1"}])},
        jobs=[JOB], libraries=[{"name": "mg-console"}]),
    "every key type": doc(keys={
        "b": {"stage": "configure", "type": "bool", "default": False},
        "i": {"stage": "configure", "type": "int", "default": -9007199254740991},
        "j": {"stage": "configure", "type": "int", "default": "-9223372036854775808"},
        "k": {"stage": "runtime", "type": "int",
              "default": {"by_target": {"unix": "9007199254740993", "*": 9007199254740991}}},
        "f": {"stage": "configure", "type": "int", "default": 3.0},
        "s": {"stage": "configure", "type": "string", "default": ""},
        "e": {"stage": "configure", "type": "enum", "values": ["x", "y"], "default": "y"},
        "a": {"stage": "configure", "type": "ipv4", "default": "0.0.0.0"},
        "p": {"stage": "configure", "type": "ipv4_prefix", "default": "255.255.255.255/32"},
        "q": {"stage": "configure", "type": "ipv4_prefix", "default": "10.0.0.0/0"},
        "t": {"stage": "configure", "type": "string",
              "default": {"by_target": {"unix": "u", "*": "other"}}},
        "u": {"stage": "configure", "type": "bool", "default": {"by_target": {"*": True}}},
        "v": {"stage": "runtime", "type": "bool", "default": {"by_target": {}}}},
        jobs=["noop"]),
    "key named like a device": doc(keys={"con": {"stage": "configure", "type": "bool",
                                                 "default": True}},
                                   devices={"con": "default_console"}),
    "match with only a default": doc(keys={"n": {"stage": "configure", "type": "int",
                                                 "default": 1}},
                                     jobs=[{"match": "n", "cases": {}, "default": "noop"}]),
    "match covering an enum": doc(
        keys={"e": {"stage": "configure", "type": "enum", "values": ["x", "y"], "default": "x"}},
        jobs=[{"match": "e", "cases": {"x": "noop", "y": "noop"}}]),
    "if on built-in keys": doc(jobs=[{"if": {"key": "target", "equals": "unix"},
                                      "then": "noop", "else": "noop"}]),
    "call with scalar, key and impl args": doc(
        keys={"label": {"stage": "configure", "type": "string", "default": "x"},
              "disk": {"stage": "configure", "type": "enum", "values": ["file", "ramdisk"],
                       "default": "ramdisk"}},
        devices={"c": {"device": "custom_console", "args": {"name": {"key": "label"}}},
                 "r": {"device": "ramdisk", "args": {"name": "r", "size": 4096}},
                 "k": {"device": "tar_kv_ro", "args": {"block": {
                     "if": {"key": "disk", "equals": "ramdisk"}, "then": "r",
                     "else": {"device": "ramdisk", "args": {"name": "s", "size": 512}}}}},
                 "app": {"main": "start", "type": "console -> kv_ro -> job"}},
        jobs=[{"apply": "app", "to": ["c", "k"]}]),
    "partial application": doc(
        devices={"app": {"main": "start", "type": "console -> time -> job"},
                 "half": {"apply": "app", "to": ["default_console"]}},
        jobs=[{"apply": "half", "to": ["default_time"]}]),
    "reporter": doc(reporter="no_reporter"),
    "job as a parameter (functoria's job @-> job)": doc(
        devices={"app": {"main": "start", "type": "job -> job"},
                 "two": {"main": "two", "type": "job -> console -> job -> job"}},
        jobs=[{"apply": "app", "to": ["noop"]},
              {"apply": "two", "to": [{"apply": "app", "to": ["noop"]}, "default_console",
                                      {"device": "noop"}]}]),
    "1000 named devices": doc(devices={f"d{i}": "default_console" for i in range(1000)}),
}
for name, d in good.items():
    errs = schema_errors(d)
    status, codes, stderr = describe(d, "good")
    check(f"accepted by both: {name}", not errs and status == 0,
          *[f"schema {list(e.absolute_path)}: {e.message[:200]}" for e in errs],
          f"mgd describe exit {status} {codes} {stderr[:300]}")

# --- mistakes: refused by the schema and by the resolver, with its code -----
S = "schema"
bad = [
    ("not an object", ["noop"], S),
    ("unknown top-level field", doc(devcies={}), S),
    ("missing mgd", {"name": "t", "jobs": ["noop"]}, S),
    ("mgd 2", doc(mgd=2), "unsupported_version"),
    ("mgd a string", doc(mgd="1"), "unsupported_version"),
    ("missing name", {"mgd": 1, "jobs": ["noop"]}, S),
    ("name a number", doc(name=5), S),
    ("name with a space", doc(name="Hello World"), S),
    ("name of 64 characters", doc(name="a" * 64), S),
    ("missing jobs", {"mgd": 1, "name": "t"}, S),
    ("jobs a string", doc(jobs="noop"), S),
    ("jobs empty", doc(jobs=[]), S),
    ("keys an array", doc(keys=[]), S),
    ("devices an array", doc(devices=["noop"]), S),
    ("libraries an object", doc(libraries={"name": "mg-kv"}), S),
    ("device name with a capital", doc(devices={"Disk": "default_console"}), S),
    ("device name with a dash", doc(devices={"a-b": "default_console"}), S),
    ("1001 devices", doc(devices={f"d{i}": "default_console" for i in range(1001)}), "limit"),
    # key declarations
    ("unknown field in a key", doc(keys={"k": {"stage": "configure", "type": "bool",
                                             "default": False, "dco": "typo"}}), S),
    ("key doc a number", doc(keys={"k": {"stage": "configure", "type": "bool", "doc": 5}}), S),
    ("key stage unknown", doc(keys={"k": {"stage": "boot", "type": "bool"}}), S),
    ("key without stage", doc(keys={"k": {"type": "bool"}}), S),
    ("key without type", doc(keys={"k": {"stage": "configure"}}), S),
    ("key type unknown", doc(keys={"k": {"stage": "configure", "type": "float"}}), S),
    ("key a string", doc(keys={"k": "bool"}), S),
    ("enum without values", doc(keys={"k": {"stage": "configure", "type": "enum"}}), S),
    ("enum with no values", doc(keys={"k": {"stage": "configure", "type": "enum",
                                            "values": []}}), S),
    ("enum value twice", doc(keys={"k": {"stage": "configure", "type": "enum",
                                         "values": ["a", "b", "a"]}}), S),
    ("enum value a number", doc(keys={"k": {"stage": "configure", "type": "enum",
                                            "values": ["a", 1]}}), S),
    ("values on a string key", doc(keys={"k": {"stage": "configure", "type": "string",
                                               "values": ["a"]}}), S),
    ("key named help", doc(keys={"help": {"stage": "runtime", "type": "bool"}}), S),
    ("key named Port", doc(keys={"Port": {"stage": "runtime", "type": "int"}}), S),
    ("key named target", doc(keys={"target": {"stage": "configure", "type": "string"}}),
     "duplicate_name"),
    ("bool default a string", doc(keys={"k": {"stage": "configure", "type": "bool",
                                              "default": "yes"}}), "bad_key_value"),
    ("int default 1.5", doc(keys={"k": {"stage": "configure", "type": "int",
                                        "default": 1.5}}), "bad_key_value"),
    ("int default beyond 2^53", doc(keys={"k": {"stage": "configure", "type": "int",
                                                "default": 2 ** 60}}), "bad_key_value"),
    ("int default 2^53", doc(keys={"k": {"stage": "configure", "type": "int",
                                         "default": 2 ** 53}}), "bad_key_value"),
    ("int default -(2^53)", doc(keys={"k": {"stage": "runtime", "type": "int",
                                            "default": -2 ** 53}}), "bad_key_value"),
    ("int default a string of letters", doc(keys={"k": {"stage": "configure", "type": "int",
                                                        "default": "12a"}}), "bad_key_value"),
    ("int default a string with a plus", doc(keys={"k": {"stage": "configure", "type": "int",
                                                         "default": "+12"}}), "bad_key_value"),
    ("string default a number", doc(keys={"k": {"stage": "runtime", "type": "string",
                                                "default": 5}}), "bad_key_value"),
    ("ipv4 default out of range", doc(keys={"k": {"stage": "runtime", "type": "ipv4",
                                                  "default": "10.0.0.256"}}), "bad_key_value"),
    ("ipv4 default with a leading zero", doc(keys={"k": {"stage": "runtime", "type": "ipv4",
                                                         "default": "10.0.0.01"}}),
     "bad_key_value"),
    ("ipv4_prefix default /33", doc(keys={"k": {"stage": "runtime", "type": "ipv4_prefix",
                                                "default": "10.0.0.0/33"}}), "bad_key_value"),
    ("ipv4_prefix without a length", doc(keys={"k": {"stage": "runtime", "type": "ipv4_prefix",
                                                     "default": "10.0.0.0"}}), "bad_key_value"),
    ("by_target value of the wrong type",
     doc(keys={"k": {"stage": "configure", "type": "int",
                     "default": {"by_target": {"unix": 1, "*": "two"}}}}), "bad_key_value"),
    ("default object without by_target",
     doc(keys={"k": {"stage": "configure", "type": "bool", "default": {"unix": True}}}), S),
    ("by_target beside another field",
     doc(keys={"k": {"stage": "configure", "type": "bool",
                     "default": {"by_target": {"*": True}, "x": 1}}}), S),
    # impl expressions
    ("impl a number", doc(jobs=[5]), S),
    ("impl null", doc(jobs=[None]), S),
    ("impl object of nothing known", doc(jobs=[{"foo": 1}]), S),
    ("catalog-only param reference", doc(jobs=[{"param": "x"}]), S),
    ("key reference as an impl", doc(jobs=[{"key": "target"}]), S),
    ("call and apply at once", doc(jobs=[{"device": "noop", "apply": "noop", "to": []}]), S),
    ("unknown field in a call", doc(jobs=[{"device": "noop", "args": {}, "agrs": {}}]), S),
    ("call device a number", doc(jobs=[{"device": 1}]), S),
    ("call args an array", doc(jobs=[{"device": "noop", "args": []}]), S),
    ("call arg null", doc(devices={"c": {"device": "custom_console", "args": {"name": None}}}),
     S),
    ("call arg an array", doc(devices={"c": {"device": "custom_console",
                                             "args": {"name": ["a"]}}}), S),
    ("call arg key not a string", doc(devices={"c": {"device": "custom_console",
                                                     "args": {"name": {"key": 5}}}}), S),
    ("apply without to", doc(jobs=[{"apply": "noop"}]), S),
    ("apply to nothing", doc(jobs=[{"apply": "noop", "to": []}]), S),
    ("apply to a string", doc(jobs=[{"apply": "noop", "to": "noop"}]), S),
    ("if without else", doc(jobs=[{"if": "k", "then": "noop"}]), S),
    ("if on a number", doc(jobs=[{"if": 1, "then": "noop", "else": "noop"}]), S),
    ("if on a key without equals", doc(jobs=[{"if": {"key": "target"}, "then": "noop",
                                              "else": "noop"}]), S),
    ("if condition with an extra field", doc(jobs=[{"if": {"key": "target", "equals": "unix",
                                                           "x": 1},
                                                    "then": "noop", "else": "noop"}]), S),
    ("if with an extra field", doc(jobs=[{"if": {"key": "target", "equals": "unix"},
                                          "then": "noop", "else": "noop", "elif": "noop"}]), S),
    ("match without cases", doc(jobs=[{"match": "target", "default": "noop"}]), S),
    ("match with no case and no default", doc(jobs=[{"match": "target", "cases": {}}]), S),
    ("match on a number", doc(jobs=[{"match": 1, "cases": {"a": "noop"}, "default": "noop"}]),
     S),
    ("match cases an array", doc(jobs=[{"match": "target", "cases": ["noop"],
                                        "default": "noop"}]), S),
    ("reporter a number", doc(reporter=5), S),
    # user code
    ("user code without type", doc(devices={"app": {"main": "start"}}, jobs=["app"]), S),
    ("unknown field in user code", app_doc(source=["a.c"]), S),
    ("sources a string", app_doc(sources="app.c"), S),
    ("source a number", app_doc(sources=[1]), S),
    ("runtime_keys item a number", app_doc(runtime_keys=[5]), S),
    ("type not ending in job", doc(devices={"app": {"main": "start",
                                                    "type": "console -> kv_ro"}},
                                   jobs=[{"apply": "app", "to": ["default_console"]}]),
     "type_mismatch"),
    ("type with a dangling arrow", app_doc(type="console ->"), "unknown_type"),
    ("type with parentheses", app_doc(type="(console -> job) -> job"), "unknown_type"),
    ("type a list", app_doc(type=["console", "job"]), S),
    ("library without name", app_doc(libraries=[{"min": "1.0"}]), S),
    ("library name with a capital", doc(libraries=[{"name": "Mg-kv"}]), S),
    ("library version with a letter", doc(libraries=[{"name": "mg-kv", "min": "1.x"}]), S),
    ("library version of 9 parts", doc(libraries=[{"name": "mg-kv",
                                                   "max": "1.2.3.4.5.6.7.8.9"}]), S),
    ("library version part of 2^32", doc(libraries=[{"name": "mg-kv",
                                                     "max": "4294967296"}]), S),
    ("library version a number", doc(libraries=[{"name": "mg-kv", "min": 1}]), S),
    ("unknown field in a library", doc(libraries=[{"name": "mg-kv", "version": "1"}]), S),
]
for flag in ["-fplugin=x.so", "-fprofile-use=d", "-gsplit-dwarf", "-ffile-prefix-map=a=b",
             "-Wl,-T,x", "-Wa,x", "-o", "-D", "-O9", "-flto", "-fsanitize=address",
             "-fdebug-prefix-map=a=b", "-fuse-ld=gold", "-I/usr", "-include", "x", ""]:
    bad.append((f"cflag {flag!r}", app_doc(cflags=["-O2", flag]), S))
for sym in ["strcmp", "int", "_start", "size_t", "MG_X", "mg_y", "bool", "INT64_C", "UINTX",
            "9lives", "a-b", "", "s" * 129]:
    bad.append((f"symbol {sym[:20]!r}", doc(devices={"m": {"main": sym, "type": "job"}},
                                            jobs=["m"]), S))
for path in ["../x.c", "a/../x.c", "..", "/abs.c", "a//b.c", "a/", "", "-x.c", "a/-b.c",
             "a\\b.c", "a\tb.c", "a\x7fb.c"]:
    bad.append((f"source {path!r}", app_doc(sources=[path]), "bad_path"))
bad.append(("include dir ..", app_doc(include_dirs=[".."]), "bad_path"))
for path in ["./b.c", "a/./b.c", "."]:
    bad.append((f"source {path!r} (a . component)", app_doc(sources=[path]), "bad_path"))

for name, d, code in bad:
    errs = schema_errors(d)
    status, codes, stderr = describe(d, "bad")
    check(f"refused by both: {name}", errs and status == 1 and code in codes,
          "schema accepted it" if not errs else f"schema: {errs[0].message[:200]}",
          f"mgd describe exit {status}, codes {codes} (expected {code}) {stderr[:300]}")

print(f"{fails} failure(s)")
sys.exit(1 if fails else 0)
PY
