#!/usr/bin/env bash
# Keeps the catalog honest: every entry that claims unix is used by the
# test unikernel allunix/, which must build and pass its checks; and a
# build for a target no entry claims yet is refused as unsupported_target.
# usage: catalog.sh MGD CATALOG_ENTRIES
set -uo pipefail
mgd=$(realpath "$1") entries=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

cp -r "$here/allunix" "$work/p"
"$mgd" describe "$work/p/config.json" >"$work/describe.json"
check "allunix resolves" test -s "$work/describe.json"
python3 - "$work/describe.json" "$entries" <<'PY' >"$work/missing"
import json, subprocess, sys
used = {d["impl"] for d in json.load(open(sys.argv[1]))["devices"]}
claims = subprocess.run([sys.argv[2], "unix"], capture_output=True, text=True, check=True).stdout.split()
for name in claims:
    if name not in used:
        print(name)
PY
check "allunix uses every entry that claims unix ($(tr '\n' ' ' <"$work/missing"))" test ! -s "$work/missing"

"$mgd" build "$work/p" -o "$work/p/allunix" >"$work/out" 2>"$work/err"
check "allunix builds" test -x "$work/p/allunix"
(cd "$work/p" && truncate -s 1M disk && mkdir -p t && printf 'from tar\n' >t/t.txt &&
  tar --format=ustar -C t -cf archive.tar t.txt && truncate -s 64K archive.tar)
(cd "$work/p" && ./allunix >"$work/run" 2>&1); rc=$?
cat "$work/run"
check "allunix exits 0" test "$rc" -eq 0
check "allunix passes every check" grep -qx 'ALL OK' "$work/run"
check "allunix has no failed check" bash -c "! grep -q '^FAIL' '$work/run'"
check "all 15 checks ran" test "$(grep -c "^ok" "$work/run")" -eq 15

for t in spt virtio; do
  "$mgd" build "$work/p" --target $t -o "$work/x" >"$work/o-$t" 2>"$work/e-$t"; rc=$?
  check "build --target $t is refused (exit 1)" test "$rc" -eq 1
  check "build --target $t says unsupported_target" grep -q 'unsupported_target' "$work/e-$t"
  "$mgd" describe "$work/p/config.json" --target $t >"$work/d-$t" 2>/dev/null; rc=$?
  check "describe --target $t is refused as unsupported_target" \
    bash -c "test $rc -eq 1 && grep -q unsupported_target '$work/d-$t'"
done
echo "$fails failed"
exit $((fails > 0))
