#!/usr/bin/env bash
# The spt target (runtime/platform/spt, the mg-spt tender): every example
# without a network builds for spt and prints what it prints on unix; and
# the tender refuses what it must: an image of another target or ABI, a
# missing or unknown device, a writable and executable segment, a system
# call outside its filter, an spt image started by the host directly.
# usage: spt.sh MGD MG-SPT EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") spt=$(realpath "$2") examples=$(realpath "$3")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"
run() { local out=$1; shift; "$@" >"$out" 2>&1; }

# the same output on both targets
for ex in hello kv_ro block; do
  build "$examples/$ex" "$work/$ex.unix" unix
  build "$examples/$ex" "$work/$ex.spt" spt
  check "$ex builds for spt" test -s "$work/$ex.spt"
done
check "hello.spt is an spt image" bash -c "'$mgd' run '$work/hello.spt' -- --count=0"
run "$work/h.unix" "$mgd" run "$work/hello.unix" -- --count=2 --hello=Bonjour
run "$work/h.spt" "$mgd" run "$work/hello.spt" -- --count=2 --hello=Bonjour; rc=$?
check "hello on spt exits 0" test "$rc" -eq 0
check "hello prints the same on spt and unix" same "$work/h.unix" "$work/h.spt"
size=$(stat -c %s "$work/hello.spt")
check "hello.spt is stripped and at most 22 KB ($size bytes)" test "$size" -le 22528
(cd "$work" && run "$work/k.unix" "$mgd" run "$work/kv_ro.unix")
(cd "$work" && run "$work/k.spt" "$mgd" run "$work/kv_ro.spt"); rc=$?
check "kv_ro (crunch) on spt exits 0" test "$rc" -eq 0
check "kv_ro prints the same on spt and unix" same "$work/k.unix" "$work/k.spt"
truncate -s 1M "$work/disk.unix" "$work/disk.spt"
run "$work/b.unix" "$mgd" run "$work/block.unix" --block disk="$work/disk.unix"
run "$work/b.spt" "$mgd" run "$work/block.spt" --block disk="$work/disk.spt"; rc=$?
check "block on spt exits 0 with an attached disk" test "$rc" -eq 0
check "block prints the same on spt and unix" same "$work/b.unix" "$work/b.spt"
check "... and wrote the same sectors" cmp -s "$work/disk.unix" "$work/disk.spt"
# clocks and random print other numbers each time: the same lines otherwise
build "$examples/clocks" "$work/clocks.spt" spt
run "$work/c.spt" "$mgd" run "$work/clocks.spt"; rc=$?
check "clocks on spt exits 0" test "$rc" -eq 0
check "clocks on spt: a year and a 100 ms sleep" bash -c \
  "grep -Eqx 'Wall-clock year: 20[2-9][0-9]' '$work/c.spt' && grep -Eq '^Slept 100 ms: the monotonic clock advanced 1[0-9]{2}\.[0-9]{3} ms$' '$work/c.spt' && grep -qx SUCCESS '$work/c.spt'"
build "$examples/random" "$work/random.spt" spt
run "$work/r.spt" "$mgd" run "$work/random.spt"; rc=$?
check "random on spt: two different 32-byte lines and SUCCESS" bash -c \
  "test $rc -eq 0 && test \$(grep -Ex '[0-9a-f]{64}' '$work/r.spt' | sort -u | wc -l) -eq 2 && grep -qx SUCCESS '$work/r.spt'"

# what the tender refuses
run "$work/n1" "$spt" "$work/hello.unix"; rc=$?
check "a unix image given to mg-spt is refused (125)" test "$rc" -eq 125
check "... saying it is a unix image" grep -q 'is a unix image, not an spt one' "$work/n1"
python3 - "$work/hello.spt" "$work/abi9.spt" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
assert data.count(b"\nabi 1\n") == 1
open(sys.argv[2], "wb").write(data.replace(b"\nabi 1\n", b"\nabi 9\n"))
PY
run "$work/n2" "$spt" "$work/abi9.spt"; rc=$?
check "an image of another ABI is refused" bash -c "test $rc -eq 125 && grep -q 'ABI 9' '$work/n2'"
run "$work/n3" "$spt" "$work/block.spt"; rc=$?
check "a missing device is refused" bash -c "test $rc -eq 125 && grep -q 'needs the block device disk' '$work/n3'"
run "$work/n4" "$spt" --block:disk="$work/disk.spt" --block:other="$work/disk.spt" "$work/block.spt"; rc=$?
check "an unknown device is refused" bash -c "test $rc -eq 125 && grep -q 'no block device named other' '$work/n4'"
python3 - "$work/hello.spt" "$work/wx.spt" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
for i in range(phnum):
    off = phoff + i * phentsize
    ptype, flags = struct.unpack_from("<II", data, off)
    if ptype == 1 and flags & 1:  # PT_LOAD, PF_X
        struct.pack_into("<I", data, off + 4, flags | 2)  # PF_W too
        break
open(sys.argv[2], "wb").write(data)
PY
run "$work/n5" "$spt" "$work/wx.spt"; rc=$?
check "a writable and executable segment is refused" bash -c "test $rc -eq 125 && grep -q 'W^X' '$work/n5'"
run "$work/n6" "$work/hello.spt"; rc=$?
check "an spt image run by the host refuses (126)" bash -c "test $rc -eq 126 && grep -q 'runs under its tender' '$work/n6'"

# a system call outside the filter kills the image, and mgd run says why
mkdir -p "$work/evil"
cat >"$work/evil/config.json" <<'JSON'
{"mgd": 1, "name": "evil",
 "devices": {"main": {"main": "evil_start", "type": "console -> job", "sources": ["unikernel.c"]}},
 "jobs": [{"apply": "main", "to": ["default_console"]}]}
JSON
cat >"$work/evil/unikernel.c" <<'C'
#include "mg/console.h"

int evil_start(mg_console *console);

int evil_start(mg_console *console)
{
    mg_console_printf(console, "before\n");
    long r;
    /* getpid: allowed on unix, not in the spt sandbox */
    __asm__ volatile("syscall" : "=a"(r) : "a"(39L) : "rcx", "r11", "memory");
    mg_console_printf(console, "after %ld\n", r);
    return 0;
}
C
build "$work/evil" "$work/evil.spt" spt
run "$work/n7" "$mgd" run "$work/evil.spt"; rc=$?
check "a forbidden system call kills the image (128 + SIGSYS)" test "$rc" -eq 159
check "... after its first line, before its second" bash -c "grep -qx before '$work/n7' && ! grep -q after '$work/n7'"
check "... and mgd run says the sandbox killed it" grep -q 'killed by its sandbox' "$work/n7"

finish
