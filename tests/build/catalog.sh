#!/usr/bin/env bash
# Keeps the catalog honest: every entry that claims a target is used by a
# test unikernel that builds for that target and passes its checks there
# (tests/build/everything/):
#  - allunix (unix.json: portable.c and unix_only.c) uses every entry that
#    claims unix, and runs on unix;
#  - allfree (freestanding.json: portable.c) uses every entry that claims
#    spt or virtio, and runs on both, through mgd run.
# Their network devices are taps with the host at 10.0.0.1, in a namespace
# made here and deleted on exit (so this test needs root). A build of
# allunix for a target its unix-only entries lack is refused as
# unsupported_target.
# usage: catalog.sh MGD CATALOG_ENTRIES
set -uo pipefail
mgd=$(realpath "$1") entries=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=target_lib.sh
source "$here/target_lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
  echo "skipped: the catalog test needs root and /dev/net/tun (its unikernels have network devices)" >&2
  exit 77 # CTest's SKIP_RETURN_CODE: reported as skipped, not passed
fi

cp -r "$here/everything" "$work/p"
(cd "$work/p" && truncate -s 1M disk && mkdir -p t && printf 'from tar\n' >t/t.txt &&
  tar --format=ustar -C t -cf archive.tar t.txt && truncate -s 64K archive.tar)

# uses CONFIG TARGET...: the entries some TARGET claims that CONFIG leaves out
uses() {
  local config=$1; shift
  for t in "$@"; do
    "$mgd" describe "$work/p/$config" --target "$t" >"$work/describe.json" || return 1
    python3 - "$work/describe.json" "$entries" "$t" <<'PY'
import json, subprocess, sys
used = {d["impl"] for d in json.load(open(sys.argv[1]))["devices"]}
claims = subprocess.run([sys.argv[2], sys.argv[3]], capture_output=True, text=True, check=True).stdout.split()
for name in claims:
    if name not in used:
        print(sys.argv[3] + ":" + name)
PY
  done
}
uses unix.json unix >"$work/missing"
check "allunix uses every entry that claims unix ($(tr '\n' ' ' <"$work/missing"))" test ! -s "$work/missing"
uses freestanding.json spt virtio >"$work/missing"
check "allfree uses every entry that claims spt or virtio ($(tr '\n' ' ' <"$work/missing"))" test ! -s "$work/missing"

tap_namespace "mgd-catalog-test-$$" lan svc0
check "a namespace with two taps" test "$?" -eq 0

# ran NAME OUT COUNT STATUS: the checks of a run
ran() {
  local name=$1 out=$2 count=$3 rc=$4
  cat "$out"
  check "$name exits 0" test "$rc" -eq 0
  check "$name passes every check" grep -qx 'ALL OK' "$out"
  check "$name has no failed check" bash -c "! grep -q '^FAIL' '$out'"
  check "$name: all $count checks ran" test "$(grep -c "^ok" "$out")" -eq "$count"
}

build "$work/p" "$work/p/allunix" unix --config "$work/p/unix.json"
check "allunix builds" test -x "$work/p/allunix"
# lan is found by its name, service through MG_NET_service
(cd "$work/p" && in_ns env MG_NET_service=svc0 timeout 60 ./allunix >"$work/run" 2>&1)
ran allunix "$work/run" 19 $?

for t in spt virtio; do
  build "$work/p" "$work/allfree.$t" "$t" --config "$work/p/freestanding.json"
  check "allfree builds for $t" test -s "$work/allfree.$t"
  cp "$work/p/disk" "$work/disk.$t"
  in_ns timeout 120 "$mgd" run "$work/allfree.$t" --block disk="$work/disk.$t" \
    --block archive.tar="$work/p/archive.tar" --net lan=lan --net service=svc0 2>&1 |
    tr -d '\r' >"$work/run.$t" # virtio's serial console ends lines with CR LF
  ran "allfree on $t" "$work/run.$t" 17 "${PIPESTATUS[0]}"
done

for t in spt virtio; do
  "$mgd" build "$work/p" --config "$work/p/unix.json" --target $t -o "$work/x" >"$work/o-$t" 2>"$work/e-$t"; rc=$?
  check "allunix: build --target $t is refused (exit 1)" test "$rc" -eq 1
  check "... saying unsupported_target" grep -q 'unsupported_target' "$work/e-$t"
  "$mgd" describe "$work/p/unix.json" --target $t >"$work/d-$t" 2>/dev/null; rc=$?
  check "allunix: describe --target $t is refused as unsupported_target" \
    bash -c "test $rc -eq 1 && grep -q unsupported_target '$work/d-$t'"
done
finish
