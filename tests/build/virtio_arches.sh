#!/usr/bin/env bash
# The virtio target on aarch64 and riscv64 (issue 17): every example built
# with `mgd build --target virtio --arch ARCH` boots under QEMU's `virt`
# board (TCG) with the same output as on virtio/x86_64, built in the same
# run:
#  - hello (its arguments word for word, blanks, quotes and backslashes
#    too), kv_ro, and block (with a disk: the same sectors written);
#    clocks and random, whose output varies, print what docs/examples.md
#    says; an idle image sleeps instead of spinning;
#  - the statuses come back through the arch's exit device: 0, a failing
#    job's 1, a usage error's 2, an abort's 70 after its line;
#  - echo and static_website answer over a tap in a network namespace of
#    their own, and with the tap's MTU at 9000 the image has it (the ping
#    example says so) and a 9000-byte packet goes both ways (root only;
#    otherwise those rows say skip);
#  - a forced rebuild (--force) is bit-identical;
#  - no QEMU is left behind.
# hello is at most 32 KB stripped (issue 17's goal); it prints that size
# and, for `hello --count=1`, the boot-to-exit time (best of 5) next to
# virtio/x86_64's, whose goal (at most twice) is not checked: timing
# under a loaded machine would make the test flaky.
# An arch whose cross compiler or QEMU is missing fails (scripts/deps.sh
# installs them). VIRTIO_ARCHES picks the arches (default: aarch64 riscv64).
# usage: virtio_arches.sh MGD EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") examples=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=target_lib.sh
source "$here/target_lib.sh"
# shellcheck source=net_lib.sh
source "$here/net_lib.sh"
# the serial console ends lines with CR LF
run() { local out=$1; shift; "$@" 2>&1 | tr -d '\r' >"$out"; return "${PIPESTATUS[0]}"; }

declare -A qemu=([x86_64]=qemu-system-x86_64 [aarch64]=qemu-system-aarch64 [riscv64]=qemu-system-riscv64)
declare -A machine=([aarch64]=183 [riscv64]=243) # ELF e_machine
arches=()
for a in ${VIRTIO_ARCHES:-aarch64 riscv64}; do
  if [ -z "${qemu[$a]:-}" ]; then
    echo "FAIL unknown arch $a (aarch64 riscv64)"
    exit 1
  elif command -v "$a-linux-gnu-gcc" >/dev/null && command -v "${qemu[$a]}" >/dev/null; then
    arches+=("$a")
  else
    # scripts/deps.sh installs them: missing, the set-up is broken
    check "virtio/$a: $a-linux-gnu-gcc and ${qemu[$a]} are installed (scripts/deps.sh)" false
  fi
done
if [ "${#arches[@]}" -eq 0 ]; then
  finish
  exit 1
fi
command -v qemu-system-x86_64 >/dev/null ||
  { echo "FAIL qemu-system-x86_64 is not installed (scripts/deps.sh installs qemu-system-x86)"; exit 1; }

# the network rows need root: a namespace with a tap (net_lib.sh)
net=no
if [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ] && command -v curl >/dev/null; then
  net_namespaces "mgdva$$" && net=yes || { echo "FAIL cannot make the test's namespaces"; exit 1; }
else
  echo "skip echo and static_website: they need root, /dev/net/tun and curl (a tap in a namespace)"
fi

# the reference: virtio on x86_64
x=$work/x86_64
mkdir -p "$x"
for ex in hello kv_ro block; do
  build "$examples/$ex" "$x/$ex" virtio || check "$ex builds for virtio/x86_64" false
done
msg='Bonjour  tout "le" \monde\ '
run "$x/hello.out" "$mgd" run "$x/hello" -- --count=2 --hello=Bonjour
run "$x/words.out" "$mgd" run "$x/hello" -- --count=1 "--hello=$msg"
run "$x/kv.out" "$mgd" run "$x/kv_ro"
truncate -s 1M "$x/disk.img"
run "$x/block.out" "$mgd" run "$x/block" --block disk="$x/disk.img"

# boot-to-exit time of hello --count=1, best of 5, in ms
boot_ms() {
  python3 - "$mgd" "$1" <<'PY'
import subprocess, sys, time
best = None
for _ in range(5):
    t = time.monotonic()
    subprocess.run([sys.argv[1], "run", sys.argv[2], "--", "--count=1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    d = time.monotonic() - t
    best = d if best is None or d < best else best
print(f"{best * 1000:.0f}")
PY
}
x_ms=$(boot_ms "$x/hello")

for a in "${arches[@]}"; do
  d=$work/$a
  mkdir -p "$d"
  for ex in hello clocks random kv_ro block echo static_website ping; do
    build "$examples/$ex" "$d/$ex" virtio --arch "$a" || check "$ex builds for virtio/$a" false
  done
  build "$here/abort" "$d/aborts" virtio --arch "$a" || check "abort builds for virtio/$a" false
  check "virtio/$a images are $a ELF files" bash -c \
    "for f in '$d'/{hello,block,echo}; do test \"\$(od -An -tu2 -j18 -N2 \"\$f\" | tr -d ' ')\" = ${machine[$a]} || exit 1; done"

  run "$d/hello.out" "$mgd" run "$d/hello" -- --count=2 --hello=Bonjour; rc=$?
  check "hello on virtio/$a exits 0" test "$rc" -eq 0
  check "... and prints what virtio/x86_64 prints" same "$x/hello.out" "$d/hello.out"
  run "$d/words.out" "$mgd" run "$d/hello" -- --count=1 "--hello=$msg"; rc=$?
  check "hello on virtio/$a: an argument with blanks, quotes and backslashes arrives whole" \
    bash -c "test $rc -eq 0 && grep -qxF -- '$msg' '$d/words.out'"
  check "... as on virtio/x86_64" same "$x/words.out" "$d/words.out"

  # statuses through the exit device
  run "$d/s1" "$mgd" run "$d/hello" -- --count=-1; rc=$?
  check "virtio/$a: a failed job's status 1 comes back" test "$rc" -eq 1
  run "$d/s2" "$mgd" run "$d/hello" -- --count=lots; rc=$?
  check "virtio/$a: a usage error's status 2 comes back" bash -c "test $rc -eq 2 && grep -q \"bad value 'lots'\" '$d/s2'"
  run "$d/ab" "$mgd" run "$d/aborts"; rc=$?
  check "virtio/$a: an abort exits 70 after 'abort: MSG'" bash -c "test $rc -eq 70 && grep -qx 'abort: on purpose' '$d/ab'"

  run "$d/clocks.out" "$mgd" run "$d/clocks"; rc=$?
  check "clocks on virtio/$a: a year, a 100 ms sleep, SUCCESS" bash -c \
    "test $rc -eq 0 && grep -Eqx 'Wall-clock year: 20[2-9][0-9]' '$d/clocks.out' && grep -Eq '^Slept 100 ms: the monotonic clock advanced 1[0-9]{2}\.[0-9]{3} ms$' '$d/clocks.out' && grep -qx SUCCESS '$d/clocks.out'"
  run "$d/random.out" "$mgd" run "$d/random"; rc=$?
  check "random on virtio/$a: two different 32-byte lines and SUCCESS" bash -c \
    "test $rc -eq 0 && test \$(grep -Ex '[0-9a-f]{64}' '$d/random.out' | sort -u | wc -l) -eq 2 && grep -qx SUCCESS '$d/random.out'"
  run "$d/kv.out" "$mgd" run "$d/kv_ro"; rc=$?
  check "kv_ro on virtio/$a exits 0 and prints what virtio/x86_64 prints" \
    bash -c "test $rc -eq 0 && cmp -s '$x/kv.out' '$d/kv.out'"
  truncate -s 1M "$d/disk.img"
  run "$d/block.out" "$mgd" run "$d/block" --block disk="$d/disk.img"; rc=$?
  check "block on virtio/$a exits 0 with a disk" test "$rc" -eq 0
  check "... prints what virtio/x86_64 prints" same "$x/block.out" "$d/block.out"
  check "... and wrote the same sectors" cmp -s "$x/disk.img" "$d/disk.img"

  # waiting is sleeping: three seconds of hello --count=4 cost QEMU well
  # under a second and a half of CPU
  cpu=$(python3 - "$mgd" "$d/hello" <<'PY'
import resource, subprocess, sys
subprocess.run([sys.argv[1], "run", sys.argv[2], "--", "--count=4"], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.2f}")
PY
  )
  check "an idle virtio/$a image sleeps: hello --count=4 (3 s) used ${cpu:-?} s of CPU, under 1.5" \
    python3 -c "import sys; sys.exit(0 if float('${cpu:-99}') < 1.5 else 1)"

  # the network examples over a tap: the image is 10.0.0.2 on tap0
  if [ "$net" = yes ]; then
    in_ns ip neigh flush dev tap0 2>/dev/null
    net_start "$ns" "$d/echo.log" "$mgd" run "$d/echo" --net service=tap0
    if wait_port in_ns 10.0.0.2 7 60 "$net_pid"; then
      reply=$(in_ns timeout 20 bash -c "exec 3<>/dev/tcp/10.0.0.2/7; printf 'hello from %s\n' $a >&3; IFS= read -r -t 15 line <&3; echo \"\$line\"")
      check "echo on virtio/$a answers over a tap" test "$reply" = "hello from $a"
    else
      check "echo on virtio/$a listens on 10.0.0.2:7" false
      tr -d '\r' <"$d/echo.log" | tail -5
    fi
    net_stop "$net_pid"
    in_ns ip neigh flush dev tap0 2>/dev/null
    net_start "$ns" "$d/site.log" "$mgd" run "$d/static_website" --net service=tap0
    if wait_port in_ns 10.0.0.2 80 60 "$net_pid"; then
      ok=true
      while IFS= read -r f; do
        path=${f#"$examples/static_website/htdocs"}
        in_ns curl -s -m 20 -o "$d/got" "http://10.0.0.2$path" && cmp -s "$d/got" "$f" ||
          { ok=false; echo "  $path differs"; }
      done < <(find "$examples/static_website/htdocs" -type f | sort)
      check "static_website on virtio/$a serves every file of htdocs/ byte for byte" $ok
    else
      check "static_website on virtio/$a listens on 10.0.0.2:80" false
      tr -d '\r' <"$d/site.log" | tail -5
    fi
    net_stop "$net_pid"
    # the tap's MTU of 9000 is the image's, and a 9000-byte packet goes
    # both ways (the ping example says its MTU; echo's IP stack answers)
    in_ns ip link set tap0 mtu 9000
    in_ns ip neigh flush dev tap0 2>/dev/null
    net_start "$ns" "$d/ping.log" "$mgd" run "$d/ping" --net service=tap0 -- --count=1
    check "ping on virtio/$a reports the tap's MTU of 9000" \
      wait_for "$d/ping.log" 60 '^ping: answering for 10\.0\.0\.2 .*, mtu 9000\)'
    in_ns ping -n -c 1 -s 1472 -W 5 10.0.0.2 >"$d/ping.host" 2>&1
    check "... and answers the host's ping" grep -q '1 packets transmitted, 1 received' "$d/ping.host"
    net_stop "$net_pid"
    in_ns ip neigh flush dev tap0 2>/dev/null
    net_start "$ns" "$d/echo9k.log" "$mgd" run "$d/echo" --net service=tap0
    if wait_port in_ns 10.0.0.2 7 60 "$net_pid"; then
      in_ns ping -n -c 1 -s 8972 -M do -W 5 10.0.0.2 >"$d/ping9k" 2>&1
      check "a 9000-byte packet goes both ways on virtio/$a" grep -q '1 packets transmitted, 1 received' "$d/ping9k"
    else
      check "echo on virtio/$a listens with an MTU of 9000" false
    fi
    net_stop "$net_pid"
    in_ns ip link set tap0 mtu 1500
  fi

  # a forced rebuild runs everything again and gives the same bytes
  build "$examples/hello" "$d/hello.forced" virtio --arch "$a" --force --verbose
  check "--force on virtio/$a ran every action" test "$(grep -c ': ran in' "$d/hello.forced.log")" -ge 10
  check "--force on virtio/$a is bit-identical ($(cut -d' ' -f1 "$d/hello.sha"))" same "$d/hello" "$d/hello.forced"

  # the figures (issue 17's goals: at most 32 KB, at most 2x x86_64's time)
  size=$(stat -c %s "$d/hello")
  check "hello on virtio/$a is stripped and at most 32 KB ($size bytes)" test "$size" -le 32768
  ms=$(boot_ms "$d/hello")
  echo "figures virtio/$a: hello stripped $size bytes; hello --count=1 boot to exit ${ms} ms (virtio/x86_64: ${x_ms} ms)"
done

# ([q]: the pattern must not match the command line of the bash running it)
check "no QEMU is left behind" bash -c "! pgrep -f '[q]emu-system-(aarch64|riscv64).*$work' >/dev/null"
finish
