#!/usr/bin/env bash
# Builds every example with `mgd build` and runs it, checking what the
# table of docs/examples.md says each one does.
# usage: examples.sh MGD EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") examples=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
build() { # EXAMPLE OUT [args]
  local ex=$1 out=$2; shift 2
  "$mgd" build "$examples/$ex" -o "$out" "$@" >"$out.sha" 2>"$out.log" ||
    { cat "$out.log"; return 1; }
}
# run OUTFILE CMD...: runs, keeps stdout+stderr, returns the exit status
run() { local out=$1; shift; "$@" >"$out" 2>&1; }

# hello
build hello "$work/hello"
check "hello builds" test -x "$work/hello"
size=$(stat -c %s "$work/hello")
check "hello is stripped and under 100 KB ($size bytes)" test "$size" -lt 102400
start=$(date +%s%N)
run "$work/h1" "$mgd" run "$work/hello"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "hello exits 0" test "$rc" -eq 0
check "hello prints Hello World! 4 times" test "$(grep -cx 'Hello World!' "$work/h1")" -eq 4
check "hello prints nothing else" test "$(wc -l <"$work/h1")" -eq 4
check "hello takes about 3 s, one second apart ($ms ms)" test "$ms" -ge 2900 -a "$ms" -lt 10000
run "$work/h2" "$mgd" run "$work/hello" -- --hello=Bonjour --count=2
check "--hello=Bonjour --count=2" test "$(cat "$work/h2")" = "$(printf 'Bonjour\nBonjour')"
run "$work/h3" "$work/hello" --help; rc=$?
check "--help exits 0" test "$rc" -eq 0
check "--help lists the keys" bash -c "grep -q -- '--hello' '$work/h3' && grep -q -- '--count' '$work/h3'"
run "$work/h4" "$work/hello" --count=lots; rc=$?
check "a bad key value is a usage error (2)" test "$rc" -eq 2
run "$work/h5" "$work/hello" --count=-1; rc=$?
check "a negative count fails the job (1)" test "$rc" -eq 1
run "$work/h6" "$work/hello" --count=0; rc=$?
check "--count=0 prints nothing and exits 0" test "$rc" -eq 0 -a ! -s "$work/h6"

# clocks
build clocks "$work/clocks"
run "$work/c1" "$mgd" run "$work/clocks"; rc=$?
cat "$work/c1"
year=$(sed -n 's/^Wall-clock year: \([0-9]*\)$/\1/p' "$work/c1")
check "clocks exits 0" test "$rc" -eq 0
check "clocks prints a year >= 2024 ($year)" test "${year:-0}" -ge 2024
check "clocks: 100 ms sleep measured in 100-200 ms" grep -Eq '^Slept 100 ms: the monotonic clock advanced 1[0-9]{2}\.[0-9]{3} ms$' "$work/c1"
check "clocks prints SUCCESS" grep -qx SUCCESS "$work/c1"

# random
build random "$work/random"
run "$work/r1" "$mgd" run "$work/random"; rc=$?
check "random exits 0" test "$rc" -eq 0
check "random prints two 32-byte hex lines" test "$(grep -Ecx '[0-9a-f]{64}' "$work/r1")" -eq 2
check "the two differ" test "$(grep -Ex '[0-9a-f]{64}' "$work/r1" | sort -u | wc -l)" -eq 2
check "random prints SUCCESS" grep -qx SUCCESS "$work/r1"
run "$work/r2" "$work/random"
check "another run gives other bytes" bash -c "! cmp -s <(head -1 '$work/r1') <(head -1 '$work/r2')"

# kv_ro, with both values of its key
expected=$(printf '%s\n' 'a.txt: 17 bytes' 'Hello from a.txt' 'sub/b.txt: 41 bytes' \
  'First line of b.txt' 'Second line of b.txt' 'missing.txt: not found')
build kv_ro "$work/kv_crunch"
(cd "$work" && run "$work/k1" "$mgd" run "$work/kv_crunch"); rc=$?
check "kv_ro (crunch) exits 0" test "$rc" -eq 0
check "kv_ro (crunch) output" test "$(cat "$work/k1")" = "$expected"
build kv_ro "$work/kv_direct" --key kv_ro=direct
(cd "$examples/kv_ro" && run "$work/k2" "$mgd" run "$work/kv_direct"); rc=$?
check "kv_ro (direct) exits 0" test "$rc" -eq 0
check "kv_ro (direct) output is the same" test "$(cat "$work/k2")" = "$expected"
check "crunch and direct are different images" bash -c "! cmp -s '$work/kv_crunch' '$work/kv_direct'"
(cd "$work" && run "$work/k3" "$mgd" run "$work/kv_direct"); rc=$?
check "kv_ro (direct) without its directory fails to connect (1)" test "$rc" -eq 1
check "... naming the device" grep -q 'cannot connect device' "$work/k3"

# crunch refuses a tree nested deeper than 64 directories, and links
cp -r "$examples/kv_ro" "$work/kv_deep"
deep="$work/kv_deep/data"; for i in $(seq 70); do deep="$deep/d"; done
mkdir -p "$deep" && echo x >"$deep/f.txt"
"$mgd" build "$work/kv_deep" -o "$work/kv_deep.img" >/dev/null 2>"$work/kd"; rc=$?
check "crunch: a tree 70 directories deep is refused" bash -c "test $rc -eq 1 && grep -q 'nested deeper than 64' '$work/kd'"
cp -r "$examples/kv_ro" "$work/kv_link"
ln -s /etc/passwd "$work/kv_link/data/passwd"
"$mgd" build "$work/kv_link" -o "$work/kv_link.img" >/dev/null 2>"$work/kl"; rc=$?
check "crunch: a symbolic link is refused" bash -c "test $rc -eq 1 && grep -q 'symbolic link' '$work/kl'"

# block, with its disk attached by mgd run
build block "$work/block"
truncate -s 1M "$work/disk.img"
run "$work/b1" "$mgd" run "$work/block" --block disk="$work/disk.img"; rc=$?
cat "$work/b1"
check "block exits 0" test "$rc" -eq 0
check "block prints SUCCESS" grep -qx SUCCESS "$work/b1"
check "block wrote the disk" test "$(tr -d '\0' <"$work/disk.img" | wc -c)" -gt 0
# started directly with its standard output closed, the image keeps its
# disk off fd 1: what it prints never lands in the disk
truncate -s 1M "$work/disk.closed"
MG_BLOCK_disk="$work/disk.closed" "$work/block" >&- 2>/dev/null; rc=$?
check "block with stdout closed exits 0 and writes only its sectors" \
  bash -c "test $rc -eq 0 && cmp -s '$work/disk.img' '$work/disk.closed'"
(cd "$work" && run "$work/b2" "$work/block"); rc=$?
check "block without a disk fails to connect (1)" test "$rc" -eq 1
check "... naming the device and its config path" grep -q 'cannot connect device .*/devices/disk' "$work/b2"
run "$work/b3" "$mgd" run "$work/block" --block nope="$work/disk.img"; rc=$?
check "mgd run --block with an undeclared name is a usage error" test "$rc" -eq 2
check "... saying so" grep -q 'no block device named nope' "$work/b3"

# mgd run refuses what is not an image
run "$work/n1" "$mgd" run /bin/true; rc=$?
check "mgd run of a plain ELF: exit 1" test "$rc" -eq 1
check "... not an mgd image" grep -q 'not an mgd image' "$work/n1"
run "$work/n2" "$mgd" run "$examples/hello/config.json"; rc=$?
check "mgd run of a text file: not an mgd image" bash -c "test $rc -eq 1 && grep -q 'not an mgd image' '$work/n2'"
run "$work/n3" "$mgd" run "$work/hello" --net service=tap0; rc=$?
check "mgd run --net of a device hello does not have: usage error (2)" bash -c "test $rc -eq 2 && grep -q 'hello has no network device named service' '$work/n3'"

echo "$fails failed"
exit $((fails > 0))
