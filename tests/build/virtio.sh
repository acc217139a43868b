#!/usr/bin/env bash
# The virtio target (runtime/bindings/virtio): the examples boot under QEMU
# (TCG, no KVM) and print what they print on unix, block through
# virtio-blk; their exit statuses come back through isa-debug-exit; a
# missing disk is refused, the host refuses to run the kernel as a
# program, and an abort ends with the status it has on unix.
# usage: virtio.sh MGD EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") examples=$(realpath "$2")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"
# the serial console ends lines with CR LF
run() { local out=$1; shift; "$@" 2>&1 | tr -d '\r' >"$out"; return "${PIPESTATUS[0]}"; }

if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "FAIL qemu-system-x86_64 is not installed (scripts/deps.sh installs qemu-system-x86)"
  exit 1
fi

for ex in hello kv_ro; do
  build "$examples/$ex" "$work/$ex.unix" unix
  build "$examples/$ex" "$work/$ex.virtio" virtio
  check "$ex builds for virtio" test -s "$work/$ex.virtio"
done
run "$work/h.unix" "$mgd" run "$work/hello.unix" -- --count=2 --hello=Bonjour
run "$work/h.virtio" "$mgd" run "$work/hello.virtio" -- --count=2 --hello=Bonjour; rc=$?
check "hello boots under QEMU and exits 0" test "$rc" -eq 0
check "hello prints the same on virtio and unix" same "$work/h.unix" "$work/h.virtio"
# arguments reach the kernel word for word: blanks, quotes, backslashes,
# and from an image whose path has a blank
msg='Bonjour  tout "le" \monde\ '
mkdir -p "$work/a dir"
cp "$work/hello.virtio" "$work/a dir/hello.virtio"
run "$work/w.unix" "$mgd" run "$work/hello.unix" -- --count=1 "--hello=$msg"
run "$work/w.virtio" "$mgd" run "$work/a dir/hello.virtio" -- --count=1 "--hello=$msg"; rc=$?
check "an argument with blanks, quotes and backslashes, from a path with a blank, arrives whole" \
  bash -c "test $rc -eq 0 && grep -qxF -- '$msg' '$work/w.virtio'"
check "... and prints the same as on unix" same "$work/w.unix" "$work/w.virtio"
run "$work/w2" "$mgd" run "$work/hello.virtio" -- --count=1 "--hello=$(head -c 5000 /dev/zero | tr '\0' x)"; rc=$?
check "a command line over 4 KB is refused (2)" bash -c "test $rc -eq 2 && grep -q 'at most about 4 KB' '$work/w2'"
# waiting is sleeping: three seconds of hello --count=4 cost QEMU well under
# a second of CPU (the image halts between the PIT's ticks, not spins)
cpu=$(python3 - "$mgd" "$work/hello.virtio" <<'PY'
import resource, subprocess, sys
subprocess.run([sys.argv[1], "run", sys.argv[2], "--", "--count=4"], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.2f}")
PY
)
check "an idle virtio image sleeps: hello --count=4 (3 s) used ${cpu:-?} s of CPU, under 1.5" \
  python3 -c "import sys; sys.exit(0 if float('${cpu:-99}') < 1.5 else 1)"
size=$(stat -c %s "$work/hello.virtio")
check "hello.virtio is stripped and at most 80 KB ($size bytes)" test "$size" -le 81920
run "$work/k.unix" "$mgd" run "$work/kv_ro.unix"
run "$work/k.virtio" "$mgd" run "$work/kv_ro.virtio"; rc=$?
check "kv_ro (crunch) on virtio exits 0" test "$rc" -eq 0
check "kv_ro prints the same on virtio and unix" same "$work/k.unix" "$work/k.virtio"
build "$examples/clocks" "$work/clocks.virtio" virtio
run "$work/c" "$mgd" run "$work/clocks.virtio"; rc=$?
check "clocks on virtio: a year, a 100 ms sleep on the TSC, SUCCESS" bash -c \
  "test $rc -eq 0 && grep -Eqx 'Wall-clock year: 20[2-9][0-9]' '$work/c' && grep -Eq '^Slept 100 ms: the monotonic clock advanced 1[0-9]{2}\.[0-9]{3} ms$' '$work/c' && grep -qx SUCCESS '$work/c'"
build "$examples/random" "$work/random.virtio" virtio
run "$work/r" "$mgd" run "$work/random.virtio"; rc=$?
check "random on virtio (RDRAND): two different 32-byte lines and SUCCESS" bash -c \
  "test $rc -eq 0 && test \$(grep -Ex '[0-9a-f]{64}' '$work/r' | sort -u | wc -l) -eq 2 && grep -qx SUCCESS '$work/r'"

# exit statuses through isa-debug-exit
run "$work/s1" "$mgd" run "$work/hello.virtio" -- --count=-1; rc=$?
check "a failed job's status 1 comes back" test "$rc" -eq 1
run "$work/s2" "$mgd" run "$work/hello.virtio" -- --count=lots; rc=$?
check "a usage error's status 2 comes back" bash -c "test $rc -eq 2 && grep -q \"bad value 'lots'\" '$work/s2'"

# a disk through virtio-blk: the same output and the same sectors as unix
build "$examples/block" "$work/block.unix" unix
build "$examples/block" "$work/block.virtio" virtio
truncate -s 1M "$work/disk.unix" "$work/disk.virtio"
run "$work/b.unix" "$mgd" run "$work/block.unix" --block disk="$work/disk.unix"
run "$work/b.virtio" "$mgd" run "$work/block.virtio" --block disk="$work/disk.virtio"; rc=$?
check "block on virtio exits 0 with an attached disk" test "$rc" -eq 0
check "block prints the same on virtio and unix" same "$work/b.unix" "$work/b.virtio"
check "... and wrote the same sectors" cmp -s "$work/disk.unix" "$work/disk.virtio"

# QEMU's own failure (exit 1, its message on stderr) is never taken for
# the image's status 0 (abi/vm_exit.h): a stand-in QEMU that fails
mkdir -p "$work/fakebin"
printf '#!/bin/sh\necho "qemu-system-x86_64: could not start" >&2\nexit 1\n' >"$work/fakebin/qemu-system-x86_64"
chmod +x "$work/fakebin/qemu-system-x86_64"
PATH="$work/fakebin:$PATH" "$mgd" run "$work/hello.virtio" >"$work/q1" 2>&1; rc=$?
check "a QEMU that fails to start is a failure (1), not the image's 0" bash -c \
  "test $rc -eq 1 && grep -q 'qemu-system-x86_64 failed before hello ended' '$work/q1'"

# an image of an older ABI is refused, not misread (virtio ABI 1 ended with
# another status encoding, unix ABI 1 ignored read-only disks): the note's
# "abi 2" made "abi 1" in a copy
for t in virtio unix; do
  img="$work/hello.$t"
  python3 - "$img" "$work/old-abi.$t" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
assert data.count(b"\nabi 2\n") == 1, "the note's abi line"
open(sys.argv[2], "wb").write(data.replace(b"\nabi 2\n", b"\nabi 1\n"))
PY
  "$mgd" run "$work/old-abi.$t" -- --count=1 >"$work/oa.$t" 2>&1; rc=$?
  check "a $t image of ABI 1 is refused (2): rebuild it" bash -c \
    "test $rc -eq 2 && grep -q 'is built for $t ABI 1; this mgd runs $t ABI 2: rebuild it' '$work/oa.$t'"
done

# stopping mgd run stops QEMU: SIGTERM is passed on, and QEMU's exit 0
# that follows is a stop by that signal (143), not a guest crash
"$mgd" run "$work/hello.virtio" -- --count=100 >"$work/st" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q 'Hello' "$work/st" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"; wait "$pid"; rc=$?
check "SIGTERM to mgd run stops the image: 143, 'stopped by signal 15'" bash -c \
  "test $rc -eq 143 && grep -q 'hello was stopped by signal 15' '$work/st'"
sleep 0.2
check "... and no QEMU is left behind" bash -c "! pgrep -f '[q]emu-system.*$work/' >/dev/null"

# refusals
run "$work/n0" "$mgd" run "$work/block.virtio"; rc=$?
check "a missing disk is refused before QEMU starts (2)" bash -c \
  "test $rc -eq 2 && grep -q 'needs the block device disk' '$work/n0'"
"$work/hello.virtio" >"$work/n1" 2>&1; rc=$?
check "a virtio kernel run by the host refuses (126)" bash -c "test $rc -eq 126 && grep -q 'virtio unikernel' '$work/n1'"

# an abort prints its message and ends with MG_EXIT_ABORT, 70, on virtio
# (isa-debug-exit, which mgd run translates back) as on unix
for t in unix virtio; do
  build "$(dirname "$0")/abort" "$work/aborts.$t" "$t"
  run "$work/ab.$t" "$mgd" run "$work/aborts.$t"; rc=$?
  check "an abort on $t exits 70 after 'abort: MSG'" \
    bash -c "test $rc -eq 70 && grep -qx 'abort: on purpose' '$work/ab.$t'"
done

finish
