#!/usr/bin/env bash
# CPU faults end every image the same way (runtime/include/abi/fault.h):
# each case of tests/build/faults (Solo5's test_zeropage, test_exception,
# test_wnox, test_xnow, test_notls, plus a stack overflow; on virtio also
# a read below the image and a software `int $14`) prints
# "abort: CPU exception N (...)" and exits with MG_EXIT_ABORT, 70, on unix,
# spt and virtio, without a hang or a QEMU left behind; a virtio guest
# whose CPU cannot even take its handler (an empty IDT) is reported as a
# crash, not as a clean exit.
# The same cases run on virtio/aarch64 and virtio/riscv64 (issue 17),
# where there is no x86 vector: the line names what happened in x86_64's
# words where they apply ("page fault: writing an unmapped page", "invalid
# opcode", "breakpoint"), each arch's row below saying which. Arches whose
# cross compiler or QEMU is missing fail (scripts/deps.sh installs them);
# VIRTIO_ARCHES picks them
# (default: aarch64 riscv64). On aarch64, an image's semihosting call is
# an undefined instruction that creates no host file, and a run whose exit
# device is missing ends all the same.
# usage: faults.sh MGD
set -uo pipefail
mgd=$(realpath "$1")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"
src="$(dirname "$0")/faults"

# case, then the vector each target must report ("-": not a fault there:
# unix keeps the host's thread pointer; only a virtio guest runs in ring
# 0, where it may load an empty IDT or raise a fault's vector itself; and
# only virtio promises the first 1 MiB unmapped)
cases=(
  "null_read       14 14 14"
  "null_write      14 14 14"
  "null_call       14 14 14"
  "ud2             6  6  6"
  "int3            3  3  3"
  "divide_by_zero  0  0  0"
  "unmapped_write  14 14 14"
  "write_code      14 14 14"
  "write_rodata    14 14 14"
  "exec_data       14 14 14"
  "exec_stack      14 14 14"
  "exec_heap       14 14 14"
  "tls_read        -  14 14"
  "stack_overflow  14 14 14"
  "low_read        -  -  14"
  "int14           -  -  14"
)
# virtio on the other arches: case, then what the line says in place of
# a vector ("-": not a fault there: only x86_64 traps a division by zero,
# and int14 and no_handler are x86_64's own)
# (the same words on both boards)
virt_cases=(
  "null_read       page fault: reading an unmapped page"
  "null_write      page fault: writing an unmapped page"
  "null_call       page fault: executing an unmapped page"
  "ud2             invalid opcode"
  "int3            breakpoint"
  "unmapped_write  page fault: writing an unmapped page"
  "write_code      page fault: writing a protected page"
  "write_rodata    page fault: writing a protected page"
  "exec_data       page fault: executing a protected page"
  "exec_stack      page fault: executing a protected page"
  "exec_heap       page fault: executing a protected page"
  "tls_read        page fault: reading an unmapped page"
  "stack_overflow  page fault: writing an unmapped page"
  "low_read        page fault: reading an unmapped page"
)
# aarch64 also checks that semihosting is off (its hlt is no call)
aarch64_cases=("${virt_cases[@]}" "semihosting     invalid opcode")
riscv64_cases=("${virt_cases[@]}")
declare -A qemu=([aarch64]=qemu-system-aarch64 [riscv64]=qemu-system-riscv64)

# the runs: a target, or virtio-ARCH for virtio on another arch
targets=(unix spt virtio)
arches=()
for a in ${VIRTIO_ARCHES:-aarch64 riscv64}; do
  if command -v "$a-linux-gnu-gcc" >/dev/null && command -v "${qemu[$a]}" >/dev/null; then
    arches+=("$a")
  else
    # scripts/deps.sh installs them: missing, the set-up is broken
    check "virtio-$a: $a-linux-gnu-gcc and ${qemu[$a]} are installed (scripts/deps.sh)" false
  fi
done
runs=("${targets[@]}")
for a in "${arches[@]}"; do runs+=("virtio-$a"); done
for t in "${runs[@]}"; do
  case $t in
    virtio-*) build "$src" "$work/faults.$t" virtio --arch "${t#virtio-}" ;;
    *) build "$src" "$work/faults.$t" "$t" ;;
  esac || { check "faults builds for $t" false; continue; }
  timeout 60 "$mgd" run "$work/faults.$t" 2>&1 | tr -d '\r' >"$work/none.$t"
  check "$t: without a fault the image exits 0" grep -qx 'no fault' "$work/none.$t"
done

# one run: status 70, the committing line, an abort line whose words
# after "abort: CPU exception " match WHAT (an extended regular
# expression), and never the line that says the fault was let through
expect_fault() { # RUN CASE WHAT
  local t=$1 c=$2 v=$3 out="$work/$1.$2" rc
  timeout 60 "$mgd" run "$work/faults.$t" -- "--fault=$c" 2>&1 | tr -d '\r' >"$out"
  rc=${PIPESTATUS[0]}
  if test "$rc" -eq 70 && grep -qx "committing $c" "$out" &&
    grep -Eq "^abort: CPU exception $v at ip 0x[0-9a-f]+" "$out" &&
    ! grep -q "^survived" "$out"; then
    return 0
  fi
  echo "  status $rc, output:"; sed 's/^/  | /' "$out" | head -8
  return 1
}
# a case the image does not have on the run's arch: it says so, and its
# job fails (status 1) instead of committing something else
no_case() { # RUN CASE
  local out="$work/$1.$2"
  timeout 60 "$mgd" run "$work/faults.$1" -- "--fault=$2" 2>&1 | tr -d '\r' >"$out"
  test "${PIPESTATUS[0]}" -eq 1 && grep -qx "faults: no fault named $2" "$out"
}
for row in "${cases[@]}"; do
  read -r c unix spt virtio <<<"$row"
  declare -A want=([unix]=$unix [spt]=$spt [virtio]=$virtio)
  for t in "${targets[@]}"; do
    test "${want[$t]}" = - && continue
    check "$t: $c ends with CPU exception ${want[$t]} and status 70" \
      expect_fault "$t" "$c" "${want[$t]} \([^)]+\)"
  done
done
for a in "${arches[@]}"; do
  declare -n arch_cases="${a}_cases"
  for row in "${arch_cases[@]}"; do
    read -r c what <<<"$row"
    check "virtio-$a: $c ends with CPU exception ($what) and status 70" \
      expect_fault "virtio-$a" "$c" "\($what\)"
  done
  # the x86_64-only cases are no fault on the other arches
  for c in divide_by_zero int14 no_handler; do
    check "virtio-$a: $c is no case here (a failed job, 1)" no_case "virtio-$a" "$c"
  done
  check "virtio-$a: mgd run says the image aborted" grep -q '^mgd run: faults aborted (status 70)' "$work/virtio-$a.ud2"
done
# aarch64: QEMU runs without semihosting (a hostile image would otherwise
# open, write and delete the host's files, or run its commands): the
# image's SYS_OPEN of a file in this scratch directory is an undefined
# instruction (above), and the file was never created
if [[ " ${arches[*]} " == *" aarch64 "* ]]; then
  rm -f "$work/semihosting.out"
  timeout 60 "$mgd" run "$work/faults.virtio-aarch64" -- --fault=semihosting \
    "--path=$work/semihosting.out" 2>&1 | tr -d '\r' >"$work/virtio-aarch64.semihosting.path"
  rc=${PIPESTATUS[0]}
  check "virtio-aarch64: a semihosting SYS_OPEN faults (70) and creates no host file" \
    bash -c "test $rc -eq 70 && grep -q '(invalid opcode)' '$work/virtio-aarch64.semihosting.path' && test ! -e '$work/semihosting.out'" ||
    { sed 's/^/  | /' "$work/virtio-aarch64.semihosting.path" | head -5; ls -l "$work/semihosting.out" 2>&1 | sed 's/^/  | /'; }
fi
# virtio: the software int $14 pushed no error code, and the handler says so
check "virtio: int14 (no error code pushed) is reported without one, nor an address" \
  grep -Eqx 'abort: CPU exception 14 \(page fault\) at ip 0x[0-9a-f]+' "$work/virtio.int14"
# where the fault was: a NULL access names address 0, a NULL call ip 0
for t in "${runs[@]}"; do
  check "$t: null_read reports address 0x0" grep -q 'reading an unmapped page) at ip 0x[0-9a-f]*, address 0x0' "$work/$t.null_read"
  check "$t: null_write reports writing address 0x0" grep -q 'writing an unmapped page) at ip 0x[0-9a-f]*, address 0x0' "$work/$t.null_write"
  check "$t: null_call reports ip 0x0" grep -q 'executing an unmapped page) at ip 0x0, address 0x0' "$work/$t.null_call"
  check "$t: write_code is a write to a protected page" grep -q 'writing a protected page' "$work/$t.write_code"
  check "$t: exec_data is an execution of a protected page" grep -q 'executing a protected page' "$work/$t.exec_data"
done

# aarch64: the exit's console missing (QEMU run by hand, without the
# testdev console targets/virtio.json adds), or on a chardev that does not
# end QEMU (null), a fault still ends the run, never a hang: the fault's
# line, then PSCI's SYSTEM_OFF, so QEMU exits 0 (which mgd run would call
# a crash), within the exit's one-second wait
if [[ " ${arches[*]} " == *" aarch64 "* ]]; then
  for how in absent null; do
    extra=()
    test $how = null && extra=(-chardev null,id=c0 -device virtio-serial-device,bus=virtio-mmio-bus.31
      -device virtconsole,chardev=c0)
    timeout 30 qemu-system-aarch64 -M virt,gic-version=2 -cpu max -m 128 -nodefaults -no-reboot \
      -display none -serial stdio "${extra[@]}" -kernel "$work/faults.virtio-aarch64" \
      -append --fault=null_read </dev/null 2>&1 | tr -d '\r' >"$work/noexit.$how"
    rc=${PIPESTATUS[0]}
    check "virtio-aarch64: with the exit's console $how, a fault powers off (QEMU exits 0), not a hang" \
      bash -c "test $rc -eq 0 && grep -q '^abort: CPU exception (page fault: reading an unmapped page)' '$work/noexit.$how'" ||
      sed 's/^/  | /' "$work/noexit.$how" | head -5
  done
fi

# mgd run adds that the image aborted, where it runs the image (a unix
# image is exec'ed: its own line is the report)
for t in spt virtio; do
  check "$t: mgd run says the image aborted" grep -q '^mgd run: faults aborted (status 70)' "$work/$t.ud2"
done

# the CPU takes no handler at all: QEMU resets, mgd run says the guest
# crashed and ends with 70, within seconds
timeout 60 "$mgd" run "$work/faults.virtio" -- --fault=no_handler >"$work/nh" 2>&1; rc=$?
check "virtio: a guest that cannot take its fault handler is a crash (70), not a hang" \
  bash -c "test $rc -eq 70 && grep -q 'crashed' '$work/nh'" || sed 's/^/  | /' "$work/nh"
# ([q]: the pattern must not match the command line of the bash running it)
# (only this run's: the pattern names its own scratch directory)
check "no QEMU is left behind" bash -c "! pgrep -f '[q]emu-system.*$work/' >/dev/null"

finish
