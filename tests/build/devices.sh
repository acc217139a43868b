#!/usr/bin/env bash
# Disks and device limits, the same on unix, spt and virtio (issue 22; on
# virtio/aarch64 and virtio/riscv64 too, issue 17),
# through the test unikernel in tests/build/devices (disk_check), which
# prints what its disk looks like to the library and to the platform:
#  - a disk file of 1,636 bytes (not a whole number of sectors) shows 3
#    sectors everywhere; after a run that writes the last one, the file
#    still has 1,636 bytes and its last 100 bytes are untouched;
#  - a file under 512 bytes is refused before the image starts, naming
#    the file and why (mgd run: 2; mg-spt: 125), and left as it was;
#  - a read-only disk (--block NAME=FILE:ro, or a file the host refuses
#    writing: chattr +i, since the tests run as root) is read-only to the
#    library and the platform, writes are refused with MG_EACCES, and no
#    byte of the file changes; a file whose name ends in ":ro" is given as
#    FILE:ro:rw and is written;
#  - an image declaring 17 block or 17 network devices is refused before
#    it starts, naming the limit of 16 (mgd run: 2, mg-spt: 125); the unix
#    binding run directly refuses the 17th disk it is asked for;
#  - virtio/riscv64, whose QEMU board has 8 virtio-mmio transports, takes
#    8 devices in all: 8 disks all connect, a 9th device is refused before
#    QEMU starts, naming that limit (mgd run: 2);
#  - virtio/aarch64, whose board has 32 and gives the last to the exit's
#    console, takes 31 in all: 16 disks connect and the run ends with its
#    status, 16 disks and 16 network devices are refused (mgd run: 2).
# usage: devices.sh MGD MG-SPT
set -uo pipefail
mgd=$(realpath "$1") spt=$(realpath "$2")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"
src="$(dirname "$0")/devices"
# an immutable file cannot be removed: unset it before $work goes
trap 'chattr -i "$work"/* 2>/dev/null; rm -rf "$work"' EXIT
run() { local out=$1; shift; "$@" 2>&1 | tr -d '\r' >"$out"; return "${PIPESTATUS[0]}"; }

targets="unix spt virtio"
[ -x "$spt" ] || { targets="unix virtio"; echo "skip spt: mg-spt was not built (no libseccomp-dev)"; }
command -v qemu-system-x86_64 >/dev/null || { targets=${targets/ virtio/}; echo "skip virtio: no QEMU"; }
# virtio on the other arches too (issue 17), as virtio-ARCH; DEVICES_ARCHES
# picks them (default: aarch64 riscv64), each a failure without its cross
# compiler or QEMU, which scripts/deps.sh installs
declare -A qemu=([aarch64]=qemu-system-aarch64 [riscv64]=qemu-system-riscv64)
for a in ${DEVICES_ARCHES:-aarch64 riscv64}; do
  if command -v "$a-linux-gnu-gcc" >/dev/null && command -v "${qemu[$a]:-none}" >/dev/null; then
    targets="$targets virtio-$a"
  else
    # scripts/deps.sh installs them: missing, the set-up is broken
    check "virtio-$a: $a-linux-gnu-gcc and ${qemu[$a]:-its QEMU} are installed (scripts/deps.sh)" false
  fi
done
# build_for DIR OUT RUN: a target, or virtio-ARCH for virtio on ARCH
build_for() {
  case $3 in
    virtio-*) build "$1" "$2" virtio --arch "${3#virtio-}" ;;
    *) build "$1" "$2" "$3" ;;
  esac
}

# a file that the host refuses writing, whoever runs this
unwritable() {
  if [ "$(id -u)" -ne 0 ]; then chmod 0444 "$1"; else chattr +i "$1" 2>/dev/null; fi
}

for t in $targets; do
  build_for "$src" "$work/dc.$t" "$t" || { check "disk_check builds for $t" false; continue; }

  # 1. an odd size: rounded down, the file never grows nor changes past it
  head -c 1636 /dev/urandom >"$work/odd.$t"
  cp "$work/odd.$t" "$work/odd.$t.orig"
  run "$work/o.$t" timeout 60 "$mgd" run "$work/dc.$t" --block disk="$work/odd.$t"; rc=$?
  check "$t: a 1,636-byte disk shows 3 sectors and its last one is written" bash -c "test $rc -eq 0 &&
    grep -qx 'disk: 3 sectors of 512 bytes, read-write (platform: 1536 bytes, read-write)' '$work/o.$t' &&
    grep -qx 'last sector 2: write success, read back the same' '$work/o.$t' &&
    grep -qx 'write past the end: out of range' '$work/o.$t'" || cat "$work/o.$t"
  check "$t: ... the file still has 1,636 bytes" test "$(stat -c %s "$work/odd.$t")" -eq 1636
  check "$t: ... the bytes past the last sector are untouched" \
    cmp -s <(tail -c 100 "$work/odd.$t") <(tail -c 100 "$work/odd.$t.orig")
  check "$t: ... the first two sectors too" cmp -s -n 1024 "$work/odd.$t" "$work/odd.$t.orig"
  check "$t: ... and the last one holds what the image wrote" \
    cmp -s <(head -c 1536 "$work/odd.$t" | tail -c 512) <(head -c 512 /dev/zero | tr '\0' '\245')

  # 2. under one sector: no disk, refused before the image runs
  head -c 100 /dev/urandom >"$work/tiny.$t"
  cp "$work/tiny.$t" "$work/tiny.$t.orig"
  run "$work/s.$t" timeout 60 "$mgd" run "$work/dc.$t" --block disk="$work/tiny.$t"; rc=$?
  check "$t: a 100-byte disk is refused (2), naming the file and why" bash -c "test $rc -eq 2 &&
    grep -q 'tiny.$t is 100 bytes, smaller than one 512-byte sector: not a disk' '$work/s.$t' &&
    ! grep -q '^disk:' '$work/s.$t'" || cat "$work/s.$t"
  check "$t: ... and left as it was" cmp -s "$work/tiny.$t" "$work/tiny.$t.orig"

  # 3. read-only: with :ro, and a file the host refuses writing
  head -c 2048 /dev/urandom >"$work/ro.$t"
  cp "$work/ro.$t" "$work/ro.$t.orig"
  run "$work/r.$t" timeout 60 "$mgd" run "$work/dc.$t" --block disk="$work/ro.$t:ro"; rc=$?
  check "$t: --block disk=FILE:ro is read-only and refuses writes with MG_EACCES" bash -c "test $rc -eq 0 &&
    grep -qx 'disk: 4 sectors of 512 bytes, read-only (platform: 2048 bytes, read-only)' '$work/r.$t' &&
    grep -qx 'writes refused: permission denied (library), permission denied (platform)' '$work/r.$t'" ||
    cat "$work/r.$t"
  check "$t: ... and the file is unchanged" cmp -s "$work/ro.$t" "$work/ro.$t.orig"
  cp "$work/ro.$t.orig" "$work/locked.$t"
  if unwritable "$work/locked.$t" && ! (: >>"$work/locked.$t") 2>/dev/null; then
    run "$work/l.$t" timeout 60 "$mgd" run "$work/dc.$t" --block disk="$work/locked.$t"; rc=$?
    check "$t: a file the host refuses writing is read-only to the image" bash -c "test $rc -eq 0 &&
      grep -q 'read-only (platform: 2048 bytes, read-only)' '$work/l.$t' &&
      grep -qx 'writes refused: permission denied (library), permission denied (platform)' '$work/l.$t'" ||
      cat "$work/l.$t"
    check "$t: ... and unchanged" cmp -s "$work/locked.$t" "$work/ro.$t.orig"
  else
    echo "skip $t: no way here to make a file the host refuses writing (chattr +i)"
  fi
  # a file whose name really ends in :ro
  head -c 1024 /dev/zero >"$work/named.$t:ro"
  run "$work/n.$t" timeout 60 "$mgd" run "$work/dc.$t" --block disk="$work/named.$t:ro:rw"; rc=$?
  check "$t: FILE:ro:rw attaches the file named FILE:ro, read-write" bash -c "test $rc -eq 0 &&
    grep -q 'read-write (platform: 1024 bytes, read-write)' '$work/n.$t'" || cat "$work/n.$t"
  check "$t: ... and writes it" cmp -s <(tail -c 512 "$work/named.$t:ro") \
    <(head -c 512 /dev/zero | tr '\0' '\245')
done

if [[ " $targets " == *" spt "* ]]; then
  run "$work/ts" "$spt" --block:disk="$work/tiny.spt" "$work/dc.spt"; rc=$?
  check "mg-spt refuses a 100-byte disk (125), naming it" bash -c "test $rc -eq 125 &&
    grep -q 'tiny.spt is 100 bytes, smaller than one 512-byte sector' '$work/ts'" || cat "$work/ts"
  cp "$work/ro.spt.orig" "$work/ro2.spt"
  run "$work/tr" "$spt" --block:disk="$work/ro2.spt:ro" "$work/dc.spt"; rc=$?
  check "mg-spt --block:disk=FILE:ro is read-only" bash -c "test $rc -eq 0 &&
    grep -q 'read-only (platform: 2048 bytes, read-only)' '$work/tr' &&
    cmp -s '$work/ro2.spt' '$work/ro.spt.orig'" || cat "$work/tr"
fi

# 4. one device past the limit: an image with 17 block devices, one with
# 17 network devices (the job takes them all, so the note declares them)
# (KIND DEVICE COUNT again: more devices of another kind after them, named
# n0, n1, ... where the first kind's are d0, d1, ...)
limit_image() { # DIR KIND(block|network) DEVICE COUNT [KIND DEVICE COUNT]
  local dir=$1; shift
  mkdir -p "$dir"
  python3 - "$dir" "$@" <<'PY'
import json, sys
d, groups = sys.argv[1], sys.argv[2:]
names, kinds, args, headers = [], [], [], set()
cfg = {"mgd": 1, "name": "limit", "devices": {}, "jobs": []}
for g in range(0, len(groups), 3):
    kind, device, n = groups[g], groups[g + 1], int(groups[g + 2])
    ctype = "mg_block" if kind == "block" else "mg_network"
    headers.add("mg/block.h" if kind == "block" else "mg/network.h")
    for i in range(n):
        name = "%s%d" % ("d" if g == 0 else "n", i)
        cfg["devices"][name] = {"device": device, "args": {"name": name}}
        names.append(name)
        kinds.append(kind)
        args.append("%s *%s" % (ctype, name))
cfg["jobs"].append({"apply": "main", "to": ["default_console"] + names})
cfg["devices"]["main"] = {"main": "limit_start", "type": "console -> " + " -> ".join(
    kinds) + " -> job", "sources": ["unikernel.c"]}
json.dump(cfg, open(d + "/config.json", "w"), indent=1)
args = ", ".join(args)
open(d + "/unikernel.c", "w").write(
    "/* one device past the limit (tests/build/devices.sh) */\n"
    '#include "mg/console.h"\n' + "".join('#include "%s"\n' % h for h in sorted(headers)) +
    "int limit_start(mg_console *c, %s);\n"
    "int limit_start(mg_console *c, %s)\n{\n"
    '    mg_console_printf(c, "started with %d devices\\n");\n    return 0;\n}\n'
    % (args, args, len(names)))
PY
}
limit_image "$work/blocks17" block block_of_file 17
limit_image "$work/nets17" network netif 17
head -c 512 /dev/zero >"$work/one.img"
blocks=() nets=()
for i in $(seq 0 16); do blocks+=(--block "d$i=$work/one.img"); nets+=(--net "d$i=tap$i"); done
for t in $targets; do
  build_for "$work/blocks17" "$work/b17.$t" "$t" || { check "17 disks build for $t" false; continue; }
  run "$work/b17.$t.out" timeout 60 "$mgd" run "$work/b17.$t" "${blocks[@]}"; rc=$?
  check "$t: 17 block devices are refused (2), naming the limit" bash -c "test $rc -eq 2 &&
    grep -q 'limit declares 17 block devices; an image takes at most 16 block devices' '$work/b17.$t.out' &&
    ! grep -q started '$work/b17.$t.out'" || cat "$work/b17.$t.out"
  build_for "$work/nets17" "$work/n17.$t" "$t" || { check "17 network devices build for $t" false; continue; }
  run "$work/n17.$t.out" timeout 60 "$mgd" run "$work/n17.$t" "${nets[@]}"; rc=$?
  check "$t: 17 network devices are refused (2), naming the limit" bash -c "test $rc -eq 2 &&
    grep -q 'limit declares 17 network devices; an image takes at most 16 network devices' '$work/n17.$t.out'" ||
    cat "$work/n17.$t.out"
done
if [[ " $targets " == *" spt "* ]]; then
  sblocks=() snets=()
  for i in $(seq 0 16); do sblocks+=(--block:"d$i=$work/one.img"); snets+=(--net:"d$i=tap$i"); done
  run "$work/sb17" "$spt" "${sblocks[@]}" "$work/b17.spt"; rc=$?
  check "mg-spt refuses 17 block devices (125), naming the limit" bash -c "test $rc -eq 125 &&
    grep -q 'at most 16 block devices' '$work/sb17'" || cat "$work/sb17"
  run "$work/sn17" "$spt" "${snets[@]}" "$work/n17.spt"; rc=$?
  check "mg-spt refuses 17 network devices (125), naming the limit" bash -c "test $rc -eq 125 &&
    grep -q 'at most 16 network devices' '$work/sn17'" || cat "$work/sn17"
fi
# the unix binding by itself (the image run directly, not by mgd run)
for i in $(seq 0 16); do export "MG_BLOCK_d$i=$work/one.img"; done
run "$work/ub17" "$work/b17.unix"; rc=$?
check "unix run directly: the 17th disk fails to connect (no space left)" bash -c "test $rc -ne 0 &&
  grep -q 'block_of_file d16: cannot acquire the block device: no space left' '$work/ub17' &&
  ! grep -q started '$work/ub17'" || cat "$work/ub17"

# 5. virtio/aarch64: 31 devices in all (the board's 32 virtio-mmio
# transports, the last of which is the exit's console): 16 disks all
# connect (on transports 0 to 15) and the run still ends with its status
# (through transport 31); 16 disks and 16 network devices, each kind
# within its own limit, are refused before QEMU starts, naming the limit
# in all
if [[ " $targets " == *" virtio-aarch64 "* ]]; then
  limit_image "$work/blocks16" block block_of_file 16
  limit_image "$work/mixed32" block block_of_file 16 network netif 16
  if build "$work/blocks16" "$work/b16.a64" virtio --arch aarch64 &&
    build "$work/mixed32" "$work/m32.a64" virtio --arch aarch64; then
    a64blocks=() a64nets=()
    for i in $(seq 0 15); do
      head -c 512 /dev/zero >"$work/a64-$i.img"
      a64blocks+=(--block "d$i=$work/a64-$i.img")
      a64nets+=(--net "n$i=tap$i")
    done
    run "$work/b16.a64.out" timeout 60 "$mgd" run "$work/b16.a64" "${a64blocks[@]}"; rc=$?
    check "virtio/aarch64: 16 disks all connect, and the run ends with status 0" bash -c "test $rc -eq 0 &&
      grep -qx 'started with 16 devices' '$work/b16.a64.out'" || cat "$work/b16.a64.out"
    run "$work/m32.a64.out" timeout 60 "$mgd" run "$work/m32.a64" "${a64blocks[@]}" "${a64nets[@]}"; rc=$?
    check "virtio/aarch64: 16 disks and 16 network devices are refused (2), naming the limit of 31" bash -c "test $rc -eq 2 &&
      grep -q 'limit declares 32 devices; a virtio image on aarch64 takes at most 31 devices' '$work/m32.a64.out' &&
      ! grep -q started '$work/m32.a64.out'" || cat "$work/m32.a64.out"
  else
    check "16 disks, and 16 disks with 16 network devices, build for virtio/aarch64" false
  fi
fi

# 6. virtio/riscv64: 8 devices in all (the board's virtio-mmio transports)
if command -v riscv64-linux-gnu-gcc >/dev/null && command -v qemu-system-riscv64 >/dev/null; then
  limit_image "$work/blocks8" block block_of_file 8
  limit_image "$work/blocks9" block block_of_file 9
  if build "$work/blocks8" "$work/b8.rv" virtio --arch riscv64 &&
    build "$work/blocks9" "$work/b9.rv" virtio --arch riscv64; then
    # a file each: QEMU locks a disk file against a second writer
    rvblocks=()
    for i in $(seq 0 8); do
      head -c 512 /dev/zero >"$work/rv$i.img"
      rvblocks+=(--block "d$i=$work/rv$i.img")
    done
    run "$work/b8.rv.out" timeout 60 "$mgd" run "$work/b8.rv" "${rvblocks[@]:0:16}"; rc=$?
    check "virtio/riscv64: 8 disks all connect" bash -c "test $rc -eq 0 &&
      grep -qx 'started with 8 devices' '$work/b8.rv.out'" || cat "$work/b8.rv.out"
    run "$work/b9.rv.out" timeout 60 "$mgd" run "$work/b9.rv" "${rvblocks[@]}"; rc=$?
    check "virtio/riscv64: a 9th device is refused (2), naming the limit of 8" bash -c "test $rc -eq 2 &&
      grep -q 'limit declares 9 devices; a virtio image on riscv64 takes at most 8 devices' '$work/b9.rv.out' &&
      ! grep -q started '$work/b9.rv.out'" || cat "$work/b9.rv.out"
  else
    check "8 and 9 disks build for virtio/riscv64" false
  fi
else
  case " ${DEVICES_ARCHES:-aarch64 riscv64} " in
    *" riscv64 "*) check "virtio/riscv64's tools are installed for its device limit (scripts/deps.sh)" false ;;
    *) echo "skip virtio/riscv64's device limit: DEVICES_ARCHES leaves riscv64 out" ;;
  esac
fi
finish
