#!/usr/bin/env bash
# functoria's test unikernel, `main "App.Make" (job @-> job) $ noop`, as a
# config document (job_arg/): user code that takes a job. It resolves and
# builds with `mgd build` for every target, and runs on unix: main.c starts
# the noop job, then calls app_start with its start status (0). Where the
# spt tender or QEMU is at hand the spt and virtio images run too and print
# the same. (The order of starts is checked by run.sh against the runtime
# test double, which logs each connect.)
# usage: job_arg.sh MGD
set -uo pipefail
mgd=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else
        echo "FAIL $name"
        fails=$((fails + 1))
        return 1
    fi
}
want='app_start: the noop job started with status 0'

for t in unix spt virtio; do
    "$mgd" describe "$here/job_arg/config.json" --target "$t" >"$work/describe.$t" 2>&1
    check "resolves for $t: main takes the noop job" python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
main = next(d for d in g["devices"] if d["impl"] == "main")
noop = next(d for d in g["devices"] if d["impl"] == "noop")
assert main["symbol"] == "app_start" and main["deps"] == [noop["id"]], main
assert g["jobs"] == [main["id"]], g["jobs"]
' "$work/describe.$t" || cat "$work/describe.$t"
    "$mgd" build "$here/job_arg" --target "$t" -o "$work/img.$t" >"$work/build.$t" 2>&1
    check "builds for $t" test -s "$work/img.$t" || cat "$work/build.$t"
done

"$work/img.unix" >"$work/run.unix" 2>&1
rc=$?
check "runs on unix: exit 0" test "$rc" -eq 0
check "runs on unix: app_start gets the noop job's status 0" \
    test "$(cat "$work/run.unix")" = "$want"

if [ -x "$(dirname "$mgd")/mg-spt" ] || command -v mg-spt >/dev/null; then
    timeout 60 "$mgd" run "$work/img.spt" >"$work/run.spt" 2>&1
    rc=$?
    check "runs on spt: exit 0, the same output" \
        test "$rc" -eq 0 -a "$(cat "$work/run.spt")" = "$want"
else
    echo "skip running on spt: no mg-spt (libseccomp-dev was missing)"
fi
if command -v qemu-system-x86_64 >/dev/null; then
    timeout 120 "$mgd" run "$work/img.virtio" 2>&1 | tr -d '\r' >"$work/run.virtio"
    rc=${PIPESTATUS[0]}
    check "runs on virtio: exit 0, the same output" \
        test "$rc" -eq 0 -a "$(cat "$work/run.virtio")" = "$want"
else
    echo "skip running on virtio: no qemu-system-x86_64"
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
