#!/usr/bin/env bash
# `mgd describe` as a user sees it (docs/cli.md): exit statuses, JSON on stdout,
# readable errors on stderr, DOT, keys, targets, symlinks leaving the root.
# usage: describe.sh MGD EXAMPLES_DIR
set -euo pipefail
mgd=$1
examples=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fails=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; shift; printf '    %s\n' "$@"; fails=$((fails + 1)); }

run() { # run OUT ERR CMD... ; sets $status
    local out=$1 err=$2
    shift 2
    status=0
    "$@" >"$out" 2>"$err" || status=$?
}

# Every example resolves on unix, twice to the same bytes.
for cfg in "$examples"/*/config.json; do
    name=$(basename "$(dirname "$cfg")")
    run "$work/a" "$work/e" "$mgd" describe "$cfg"
    run "$work/b" "$work/e2" "$mgd" describe "$cfg"
    if [ "$status" = 0 ] && cmp -s "$work/a" "$work/b" && python3 -m json.tool "$work/a" >/dev/null &&
        grep -q "\"name\": \"$name\"" "$work/a"; then ok "example $name"
    else bad "example $name" "exit $status" "$(cat "$work/e")"; fi
done

# kv_ro picks crunch by default, direct_kv_ro with the key, and falls back
# to crunch on targets without host directories (every target but unix).
run "$work/o" "$work/e" "$mgd" describe "$examples/kv_ro/config.json"
grep -q '"impl": "crunch"' "$work/o" && ok "kv_ro default crunch" || bad "kv_ro default crunch" "$(cat "$work/o")"
run "$work/o" "$work/e" "$mgd" describe "$examples/kv_ro/config.json" --key kv_ro=direct
grep -q '"impl": "direct_kv_ro"' "$work/o" && grep -q '"kv_ro": "direct"' "$work/o" &&
    ok "kv_ro=direct" || bad "kv_ro=direct" "$(cat "$work/o")"

# Errors: exit 1, {"errors": [...]} on stdout, "path: code: message" on stderr.
cat >"$work/bad.json" <<'JSON'
{"mgd": 1, "name": "bad", "devices": {"x": {"device": "nosuch"}}, "jobs": ["noop", "y"]}
JSON
run "$work/o" "$work/e" "$mgd" describe "$work/bad.json"
if [ "$status" = 1 ] && python3 - "$work/o" <<'PY'
import json, sys
errs = json.load(open(sys.argv[1]))["errors"]
codes = sorted((e["code"], e["path"]) for e in errs)
assert codes == [("unknown_device", "/devices/x/device"), ("unknown_name", "/jobs/1")], codes
assert all(set(e) == {"code", "path", "message"} for e in errs)
PY
then
    grep -q '^/jobs/1: unknown_name: ' "$work/e" && ok "errors: exit 1, json, stderr" ||
        bad "errors stderr" "$(cat "$work/e")"
else bad "errors: exit 1, json" "exit $status" "$(cat "$work/o")"; fi

# parse errors carry line and column
printf '{"mgd": 1,\n  "name": "x",\n  "jobs": [noop]}\n' >"$work/parse.json"
run "$work/o" "$work/e" "$mgd" describe "$work/parse.json"
[ "$status" = 1 ] && grep -q 'parse_error.*line 3, column 12' "$work/o" && ok "parse error position" ||
    bad "parse error position" "exit $status" "$(cat "$work/o")"

# build-time key problems name the key
run "$work/o" "$work/e" "$mgd" describe "$examples/kv_ro/config.json" --key kv_ro=tape --key nope=1
[ "$status" = 1 ] && grep -q '"code": "bad_key_value", "path": "kv_ro"' "$work/o" &&
    grep -q '"code": "unknown_key", "path": "nope"' "$work/o" && ok "key errors" ||
    bad "key errors" "$(cat "$work/o")"

# every device a target has no implementation of is named, each at the
# place it is used (direct_kv_rw inside an if, and inline in a job), and
# only where the configure keys pick it
mkdir -p "$work/unixonly"
cat >"$work/unixonly/config.json" <<'EOF2'
{
  "mgd": 1,
  "name": "unixonly",
  "keys": { "store": { "stage": "configure", "type": "enum", "values": ["host", "memory"], "default": "host" } },
  "devices": {
    "rw": { "if": { "key": "store", "equals": "host" },
            "then": { "device": "direct_kv_rw", "args": { "dir": "x" } },
            "else": { "device": "kv_rw_mem" } },
    "app": { "main": "f", "type": "kv_rw -> kv_rw -> job", "sources": ["user.c"] }
  },
  "jobs": [ { "apply": "app", "to": ["rw", { "device": "direct_kv_rw", "args": { "dir": "y" } }] } ]
}
EOF2
run "$work/o" "$work/e" "$mgd" describe "$work/unixonly/config.json" --target virtio
n=$(grep -c '"code": "unsupported_target"' "$work/o" || true)
[ "$status" = 1 ] && [ "$n" = 2 ] && grep -q '"path": "/devices/rw/then"' "$work/o" &&
    grep -q '"path": "/jobs/0/to/1"' "$work/o" &&
    ok "virtio: every missing device" || bad "virtio: every missing device" "$(cat "$work/o")"
run "$work/o" "$work/e" "$mgd" describe "$work/unixonly/config.json" --target virtio --key store=memory
n=$(grep -c '"code": "unsupported_target"' "$work/o" || true)
[ "$status" = 1 ] && [ "$n" = 1 ] && grep -q '"path": "/jobs/0/to/1"' "$work/o" &&
    ok "virtio: only the devices the keys pick" || bad "virtio: only the devices the keys pick" "$(cat "$work/o")"
run "$work/o" "$work/e" "$mgd" describe "$examples/hello/config.json" --target vax
[ "$status" = 1 ] && grep -q '"path": "target"' "$work/o" && ok "unknown target" ||
    bad "unknown target" "$(cat "$work/o")"

# DOT: one node line per device and one edge per dep
run "$work/o" "$work/e" "$mgd" describe "$examples/hello/config.json" --format dot
[ "$status" = 0 ] && head -1 "$work/o" | grep -q '^digraph "hello" {' &&
    [ "$(grep -c -- ' -> ' "$work/o")" = 2 ] && grep -q '"main3" -> "console1";' "$work/o" &&
    ok "dot" || bad "dot" "$(cat "$work/o")"

# a symlinked source that leaves the project is bad_path
mkdir -p "$work/proj"
ln -s /etc/passwd "$work/proj/evil.c"
cat >"$work/proj/config.json" <<'JSON'
{"mgd": 1, "name": "p", "devices": {"m": {"main": "f", "type": "job", "sources": ["evil.c", "later.c"]}},
 "jobs": ["m"]}
JSON
run "$work/o" "$work/e" "$mgd" describe "$work/proj/config.json"
[ "$status" = 1 ] && grep -q '"code": "bad_path", "path": "/devices/m/sources/0"' "$work/o" &&
    ! grep -q 'sources/1' "$work/o" && ok "symlink leaving root" || bad "symlink leaving root" "$(cat "$work/o")"

# --generate makes its directory
run "$work/o" "$work/e" "$mgd" describe "$examples/hello/config.json" --generate "$work/gen"
[ "$status" = 0 ] && [ -s "$work/gen/main.c" ] && [ -s "$work/gen/mg_keys.h" ] &&
    grep -q 'mg_key_hello(void)' "$work/gen/mg_keys.h" && ok "--generate" ||
    bad "--generate" "exit $status" "$(cat "$work/e")"

# usage errors exit 2; --help exits 0
run "$work/o" "$work/e" "$mgd" describe
[ "$status" = 2 ] && ok "no config: usage" || bad "no config: usage" "exit $status"
run "$work/o" "$work/e" "$mgd" describe "$examples/hello/config.json" --format svg
[ "$status" = 2 ] && ok "bad format: usage" || bad "bad format" "exit $status"
run "$work/o" "$work/e" "$mgd" describe "$examples/hello/config.json" --key novalue
[ "$status" = 2 ] && ok "bad --key: usage" || bad "bad --key" "exit $status"
run "$work/o" "$work/e" "$mgd" describe --help
[ "$status" = 0 ] && grep -q 'usage: mgd describe' "$work/o" && ok "--help" || bad "--help" "exit $status"
run "$work/o" "$work/e" "$mgd" serve --listen nowhere --data "$work/var"
[ "$status" = 2 ] && grep -q 'listen takes HOST:PORT' "$work/e" && ok "serve: bad --listen is a usage error" ||
    bad "serve: bad --listen" "exit $status" "$(cat "$work/e")"
run "$work/o" "$work/e" "$mgd" serve --workers 0 --data "$work/var"
[ "$status" = 2 ] && ok "serve: --workers 0 is a usage error" || bad "serve --workers 0" "exit $status"
run "$work/o" "$work/e" "$mgd" token create --data "$work/var"
[ "$status" = 2 ] && grep -q 'scope' "$work/e" && ok "token create without --scope" ||
    bad "token create without --scope" "exit $status" "$(cat "$work/e")"
mkdir -p "$work/alone" && cp "$mgd" "$work/alone/mgd"
run "$work/o" "$work/e" "$work/alone/mgd" serve --data "$work/var"
[ "$status" = 1 ] && grep -q "mgd-serve.so, is neither next to this program nor in ../lib/mgd" "$work/e" && ok "serve without mgd-serve.so" ||
    bad "serve without mgd-serve.so" "exit $status" "$(cat "$work/e")"
run "$work/o" "$work/e" "$work/alone/mgd" describe "$examples/hello/config.json"
[ "$status" = 0 ] && ok "describe needs no mgd-serve.so" || bad "describe alone" "exit $status"
run "$work/o" "$work/e" "$mgd" token list --data "$work/nodata"
[ "$status" = 1 ] && grep -q 'no database' "$work/e" && ok "token list without a database" ||
    bad "token list without a database" "exit $status" "$(cat "$work/e")"
run "$work/o" "$work/e" "$mgd" build
[ "$status" = 2 ] && grep -q 'usage: mgd build' "$work/e" && ok "build without DIR is a usage error" ||
    bad "build without DIR is a usage error" "exit $status" "$(cat "$work/e")"
run "$work/o" "$work/e" "$mgd" describe "$work/missing.json"
[ "$status" = 1 ] && grep -q 'cannot read' "$work/e" && ok "missing file" || bad "missing file" "exit $status"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
