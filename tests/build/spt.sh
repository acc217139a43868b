#!/usr/bin/env bash
# The spt target (runtime/bindings/spt, the mg-spt tender): every example
# without a network builds for spt and prints what it prints on unix; and
# the tender refuses what it must: an image of another target or ABI, a
# missing or unknown device, a writable and executable segment, a system
# call outside its filter, an spt image started by the host directly; an
# abort ends with the status it has on every target.
# Network devices: the options the tender refuses before any tap is
# touched; then, as root only (a namespace with a tap of its own, deleted
# on exit), what only spt has: --net-mac reaching the host's ARP table, a
# tap that is busy or no tap, and the filter around the taps (read, write
# and ppoll pinned). The ping itself on every target is net.sh's.
# usage: spt.sh MGD MG-SPT EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") spt=$(realpath "$2") examples=$(realpath "$3")
if [ ! -x "$spt" ]; then
  echo "skipped: mg-spt, the spt tender, was not built (libseccomp-dev was missing)" >&2
  exit 77 # CTest's SKIP_RETURN_CODE
fi
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
# started with its standard output closed, the tender keeps fd 1 for the
# console (/dev/null): the disk it opens next never receives what is printed
truncate -s 1M "$work/disk.closed"
"$spt" --block:disk="$work/disk.closed" "$work/block.spt" >&- 2>/dev/null; rc=$?
check "block with stdout closed exits 0 and the console stays out of the disk" \
  bash -c "test $rc -eq 0 && cmp -s '$work/disk.unix' '$work/disk.closed'"
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
# the note's ABI rewritten: to a future one, and to the one before this
# (ABI 1 had no network devices in its boot structure)
python3 - "$work/hello.spt" "$work/abi9.spt" "$work/abi-old.spt" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
abis = re.findall(rb"\nabi ([0-9]+)\n", data)
assert len(abis) == 1 and int(abis[0]) >= 2, abis
old = b"\nabi " + abis[0] + b"\n"
open(sys.argv[2], "wb").write(data.replace(old, b"\nabi 9\n"))
open(sys.argv[3], "wb").write(data.replace(old, b"\nabi %d\n" % (int(abis[0]) - 1)))
PY
run "$work/n2" "$spt" "$work/abi9.spt"; rc=$?
check "an image of another ABI is refused" bash -c "test $rc -eq 125 && grep -q 'ABI 9' '$work/n2'"
run "$work/n2b" "$spt" "$work/abi-old.spt"; rc=$?
check "an image of the previous ABI is refused" bash -c \
  "test $rc -eq 125 && grep -q 'built for spt ABI [0-9]*; this mg-spt runs ABI' '$work/n2b'"
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
# an abort prints its message and ends with MG_EXIT_ABORT, 70, as on unix
build "$(dirname "$0")/abort" "$work/aborts.spt" spt
run "$work/ab" "$mgd" run "$work/aborts.spt"; rc=$?
check "an abort on spt exits 70 after 'abort: MSG'" \
  bash -c "test $rc -eq 70 && grep -qx 'abort: on purpose' '$work/ab'"

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

# network devices: refused before any tap is opened (no root needed)
build "$examples/ping" "$work/ping.spt" spt
check "ping builds for spt" test -s "$work/ping.spt"
run "$work/m1" "$spt" --net:service=tap0 --net:other=tap0 "$work/ping.spt"; rc=$?
check "an unknown network device is refused" bash -c "test $rc -eq 125 && grep -q 'has no network device named other' '$work/m1'"
run "$work/m2" "$spt" --net:service=tap0 --net:service=tap1 "$work/ping.spt"; rc=$?
check "a network device given twice is refused" bash -c "test $rc -eq 125 && grep -q -- '--net:service given twice' '$work/m2'"
run "$work/m3" "$spt" --net:service=tap0 --net-mac:service=02:00:00:00:00 "$work/ping.spt"; rc=$?
check "a malformed --net-mac is refused" bash -c "test $rc -eq 125 && grep -q 'not a MAC address' '$work/m3'"
run "$work/m4" "$spt" --net:service=tap0 --net-mac:service=03:00:00:00:00:01 "$work/ping.spt"; rc=$?
check "a multicast --net-mac is refused" bash -c "test $rc -eq 125 && grep -q 'multicast' '$work/m4'"
run "$work/m5" "$spt" --net:service=mgd-no-such0 "$work/ping.spt"; rc=$?
check "a tap that does not exist is refused, saying how to make it" bash -c \
  "test $rc -eq 125 && grep -q 'no tap interface mgd-no-such0: create it with ip tuntap add mgd-no-such0 mode tap' '$work/m5'"

# network devices with a tap: root only
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
  echo "skip the spt tap checks: they need root, /dev/net/tun and ip (a namespace and a tap)"
  finish
  exit
fi
tap_namespace "mgd-spt-test-$$" tap0 || exit 1

in_ns timeout 60 "$spt" --net:service=tap0 --net-mac:service=02:AB:cd:00:00:07 "$work/ping.spt" -- --count=2 >"$work/t1" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q '^ping: answering' "$work/t1" && break; sleep 0.1; done
check "--net-mac gives the image its address" grep -q '^ping: answering for 10\.0\.0\.2 on service (mac 02:ab:cd:00:00:07, mtu 1500)$' "$work/t1"
run "$work/t2" in_ns "$spt" --net:service=tap0 "$work/ping.spt"; rc=$?
check "a tap in use is refused" bash -c "test $rc -eq 125 && grep -q 'tap0 is in use' '$work/t2'"
run "$work/t3" in_ns ping -n -c 1 -W 5 10.0.0.2
check "the host's ping gets a reply" grep -q '1 packets transmitted, 1 received' "$work/t3"
check "... from the --net-mac address" bash -c "ip netns exec '$ns' ip neigh show 10.0.0.2 | grep -q 'lladdr 02:ab:cd:00:00:07'"
in_ns ping -n -c 1 -W 5 10.0.0.2 >/dev/null
wait "$pid"; rc=$?
check "ping on spt exits 0 after 2 replies" test "$rc" -eq 0
run "$work/t4" in_ns "$spt" --net:service=lo "$work/ping.spt"; rc=$?
check "an interface that is no tap is refused" bash -c "test $rc -eq 125 && grep -q 'lo is not a tap interface' '$work/t4'"
in_ns ip link set tap0 mtu 9000
in_ns timeout 60 "$spt" --net:service=tap0 "$work/ping.spt" -- --ip=10.0.0.3 --count=1 >"$work/t5" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q '^ping: answering' "$work/t5" && break; sleep 0.1; done
in_ns ping -n -c 1 -W 5 10.0.0.3 >/dev/null
wait "$pid"; rc=$?
in_ns ip link set tap0 mtu 1500
check "the image gets the tap's MTU" grep -q '^ping: answering for 10\.0\.0\.3 on service (mac [0-9a-f:]*, mtu 9000)$' "$work/t5"
check "... and answers a ping there, then exits 0" test "$rc" -eq 0

# the filter around the taps: an image with a network device tries calls
mkdir -p "$work/evilnet"
cat >"$work/evilnet/config.json" <<'JSON'
{"mgd": 1, "name": "evilnet",
 "keys": {"mode": {"stage": "runtime", "type": "int", "default": 0, "doc": "the call to try"}},
 "devices": {"main": {"main": "evil_start", "type": "console -> network -> job",
                      "sources": ["unikernel.c"], "runtime_keys": ["mode"]}},
 "jobs": [{"apply": "main", "to": ["default_console", "default_network"]}]}
JSON
cat >"$work/evilnet/unikernel.c" <<'C'
#include "mg/console.h"
#include "mg/network.h"
#include "mg_keys.h"

int evil_start(mg_console *console, mg_network *net);

static long sys4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

int evil_start(mg_console *console, mg_network *net)
{
    struct { int fd; short events, revents; } fds[2] = {{0, 1, 0}, {0, 1, 0}};
    long ts[2] = {0, 1000};
    unsigned long mask = 0;
    char c;
    long mode = (long)mg_key_mode(), r = 0;
    mg_console_printf(console, "before\n");
    if (mode == 1) r = sys4(0, 0, (long)&c, 1, 0);                     /* read(0) */
    if (mode == 2) r = sys4(271, (long)fds, 2, (long)ts, 0);           /* ppoll, 2 > 1 tap */
    if (mode == 3) r = sys4(271, (long)fds, 1, (long)ts, (long)&mask); /* ppoll, a mask */
    if (mode == 4) r = sys4(1, 2, (long)"x", 1, 0);                    /* write(2) */
    if (mode == 5) r = sys4(271, (long)fds, 1, (long)ts, 0);           /* allowed */
    mg_console_printf(console, "after %ld\n", r);
    return 0;
}
C
build "$work/evilnet" "$work/evilnet.spt" spt
for mode in 1 2 3 4; do
  run "$work/e$mode" in_ns "$spt" --net:service=tap0 "$work/evilnet.spt" -- --mode=$mode; rc=$?
  check "with a tap, forbidden call $mode kills the image (159)" bash -c \
    "test $rc -eq 159 && grep -qx before '$work/e$mode' && ! grep -q after '$work/e$mode'"
done
run "$work/e5" in_ns "$spt" --net:service=tap0 "$work/evilnet.spt" -- --mode=5; rc=$?
check "... and ppoll on as many descriptors as taps is allowed" bash -c "test $rc -eq 0 && grep -q '^after ' '$work/e5'"

finish
