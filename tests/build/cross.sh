#!/usr/bin/env bash
# Cross-builds on an x86_64 machine (issue 17): every example built for
# unix/aarch64 and unix/riscv64 with `mgd build --arch` and run with `mgd
# run`, which starts it under qemu-user (targets/unix.json's `run`), with
# the same output as the x86_64 image built in the same run:
#  - hello, kv_ro (crunch and direct) and block (its disk too, byte for
#    byte) print exactly what x86_64's do; clocks and random, whose output
#    varies, print what docs/examples.md says;
#  - echo and static_website (the socket stack) answer on a free port of
#    the host's loopback;
#  - ping answers the host's ping over a tap (qemu-user passes the tap's
#    ioctls through) when run as root (a namespace with a tap, as net.sh);
#    otherwise that row reports skipped;
#  - statuses pass through qemu-user: a bad key is 2, a failing job 1, a
#    CPU fault (a write to address 0) the abort line and status 70;
# and, per arch:
#  - a forced rebuild (--force, nothing from the cache) is bit-identical;
#  - the second new project built for the arch runs only its own actions
#    (its generated files, its sources, link, strip): the runtime's
#    compiles and archive come from the cache (a cache of its own, so the
#    count does not depend on what ran before).
# Without the cross compilers or qemu-user it fails, naming the missing
# program: scripts/deps.sh installs them, so that is a broken set-up.
# CROSS_ARCHES picks the arches (default: aarch64 riscv64).
# usage: cross.sh MGD EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") examples=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=target_lib.sh
source "$here/target_lib.sh"
arches=${CROSS_ARCHES:-aarch64 riscv64}
run() { local out=$1; shift; "$@" >"$out" 2>&1; }

for a in $arches; do
  for prog in "$a-linux-gnu-gcc" "qemu-$a-static"; do
    if ! command -v "$prog" >/dev/null; then
      echo "FAIL $prog is not installed (scripts/deps.sh installs it)"
      exit 1
    fi
  done
done

# the ELF machine of an image: 62 x86_64, 183 aarch64, 243 riscv64
declare -A machine=([x86_64]=62 [aarch64]=183 [riscv64]=243)
elf_machine() { od -An -tu2 -j18 -N2 "$1" | tr -d ' '; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# waits up to 20 s for something to listen on 127.0.0.1:$1 while process $2 lives
wait_port() {
  local i
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# serve IMAGE PORT LOG: starts a network example with mgd run; sets $pid
serve() {
  "$mgd" run "$1" -- --port="$2" >"$3" 2>&1 &
  pid=$!
  wait_port "$2" "$pid"
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
pid=

# run_examples ARCH: builds and runs every example for ARCH; its outputs
# go to $work/ARCH/ for the comparison with x86_64's
run_examples() {
  local a=$1 d="$work/$1" rc
  mkdir -p "$d"
  for ex in hello clocks random kv_ro block echo static_website ping; do
    build "$examples/$ex" "$d/$ex" unix --arch "$a" || { check "$ex builds for unix/$a" false; continue; }
  done
  build "$examples/kv_ro" "$d/kv_direct" unix --arch "$a" --key kv_ro=direct
  check "unix/$a images are $a ELF files" bash -c \
    "for f in '$d'/{hello,block,echo,kv_direct}; do test \"\$(od -An -tu2 -j18 -N2 \"\$f\" | tr -d ' ')\" = ${machine[$a]} || exit 1; done"

  run "$d/hello.out" "$mgd" run "$d/hello" -- --count=2 --hello=Bonjour; rc=$?
  check "hello on $a exits 0" test "$rc" -eq 0
  run "$d/hello.bad" "$mgd" run "$d/hello" -- --count=lots; rc=$?
  check "hello on $a: a bad key value is a usage error (2)" test "$rc" -eq 2
  run "$d/hello.neg" "$mgd" run "$d/hello" -- --count=-1; rc=$?
  check "hello on $a: a failing job exits 1" test "$rc" -eq 1

  run "$d/clocks.out" "$mgd" run "$d/clocks"; rc=$?
  check "clocks on $a exits 0 and prints SUCCESS" bash -c "test $rc -eq 0 && grep -qx SUCCESS '$d/clocks.out'"
  check "clocks on $a: a year >= 2024" bash -c \
    "test \"\$(sed -n 's/^Wall-clock year: \\([0-9]*\\)$/\\1/p' '$d/clocks.out')\" -ge 2024"
  check "clocks on $a: 100 ms sleep measured in 100-200 ms" \
    grep -Eq '^Slept 100 ms: the monotonic clock advanced 1[0-9]{2}\.[0-9]{3} ms$' "$d/clocks.out"

  run "$d/random.out" "$mgd" run "$d/random"; rc=$?
  check "random on $a exits 0 and prints SUCCESS" bash -c "test $rc -eq 0 && grep -qx SUCCESS '$d/random.out'"
  check "random on $a: two different 32-byte hex lines" \
    test "$(grep -Ex '[0-9a-f]{64}' "$d/random.out" | sort -u | wc -l)" -eq 2

  (cd "$d" && run "$d/kv.out" "$mgd" run "$d/kv_ro"); rc=$?
  check "kv_ro (crunch) on $a exits 0" test "$rc" -eq 0
  (cd "$examples/kv_ro" && run "$d/kv_direct.out" "$mgd" run "$d/kv_direct"); rc=$?
  check "kv_ro (direct) on $a exits 0" test "$rc" -eq 0

  truncate -s 1M "$d/disk.img"
  run "$d/block.out" "$mgd" run "$d/block" --block disk="$d/disk.img"; rc=$?
  check "block on $a exits 0" test "$rc" -eq 0

  local port reply=
  port=$(free_port)
  if serve "$d/echo" "$port" "$d/echo.log"; then
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'hello from %s\n' "$a" >&3
    IFS= read -r -t 10 reply <&3
    exec 3>&-
    check "echo on $a answers on the host's loopback" test "$reply" = "hello from $a"
  else
    check "echo on $a listens" false
    cat "$d/echo.log"
  fi
  stop

  port=$(free_port)
  if serve "$d/static_website" "$port" "$d/site.log"; then
    local f ok=true
    for f in index.html $(cd "$examples/static_website/htdocs" && ls | grep -v '^index.html$'); do
      curl -s --max-time 10 -o "$d/got.$f" "http://127.0.0.1:$port/$f" &&
        cmp -s "$d/got.$f" "$examples/static_website/htdocs/$f" || { ok=false; echo "  $f differs"; }
    done
    check "static_website on $a serves every file of htdocs/ byte for byte" $ok
  else
    check "static_website on $a listens" false
    cat "$d/site.log"
  fi
  stop
}

# the ping example on a tap: root only (a namespace and a tap of its own)
ping_row() {
  local a=$1 d="$work/$1" rc
  if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v ping >/dev/null; then
    echo "skip ping on $a: it needs root, ip and ping (a tap in a namespace)"
    return
  fi
  in_ns timeout 60 "$mgd" run "$d/ping" --net service=tap0 -- --count=2 >"$d/ping.out" 2>&1 &
  pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q '^ping: answering for 10\.0\.0\.2' "$d/ping.out" && break
    sleep 0.1
  done
  run "$d/ping.host" in_ns ping -n -c 2 -i 0.2 -W 5 10.0.0.2
  check "the host's ping gets 2 replies from unix/$a" grep -q '2 packets transmitted, 2 received' "$d/ping.host"
  wait "$pid"; rc=$?
  check "ping on $a exits 0 after 2 replies" test "$rc" -eq 0
  check "... having printed each" test "$(grep -c '^ping: echo reply [12] to 10\.0\.0\.1 ' "$d/ping.out")" -eq 2
}
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  tap_namespace "mgcross$$" tap0 || { echo "FAIL cannot make a namespace with a tap"; exit 1; }
  trap 'kill $pid 2>/dev/null; ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
fi

run_examples x86_64
for a in $arches; do
  run_examples "$a"
  ping_row "$a"
  # the same output as on x86_64
  for f in hello.out kv.out kv_direct.out block.out disk.img; do
    check "$f on $a is x86_64's" same "$work/x86_64/$f" "$work/$a/$f"
  done
  check "hello on $a printed Bonjour twice" test "$(cat "$work/$a/hello.out")" = "$(printf 'Bonjour\nBonjour')"
  check "block on $a wrote its disk" test "$(tr -d '\0' <"$work/$a/disk.img" | wc -c)" -gt 0

  # a forced rebuild runs everything again and gives the same bytes
  sha=$(cut -d' ' -f1 "$work/$a/hello.sha")
  build "$examples/hello" "$work/$a/hello.forced" unix --arch "$a" --force --verbose
  check "--force on $a ran every action" \
    test "$(grep -c ': ran in' "$work/$a/hello.forced.log")" -ge 10
  check "--force on $a is bit-identical ($sha)" same "$work/$a/hello" "$work/$a/hello.forced"

  # two new projects, one after the other, in a cache of their own: the
  # second runs only its own actions
  for p in first second; do
    mkdir -p "$work/$a/$p" && cp -r "$here/proj/." "$work/$a/$p/"
    # another name, greeting and word: none of its own actions is cached
    sed -i "s/\"cache test\"/\"$p project\"/" "$work/$a/$p/greet.h"
    sed -i "s/\"one\"/\"$p\"/" "$work/$a/$p/other.c"
    sed -i "s/\"name\": \"cachetest\"/\"name\": \"$p\"/" "$work/$a/$p/config.json"
    MGD_CACHE="$work/$a/cache" build "$work/$a/$p" "$work/$a/$p.img" unix --arch "$a" --verbose
    grep ': ran in' "$work/$a/$p.img.log" | sed 's/^\[[^]]*\] //; s/: ran in.*//' | sort >"$work/$a/$p.ran"
  done
  check "the first new project on $a compiles the runtime" grep -q '^compile runtime/' "$work/$a/first.ran"
  printf '%s\n' "compile main.c (generated)" "compile mg_note.c (generated)" "compile other.c" \
    "compile unikernel.c" link strip | sort >"$work/own.ran"
  check "the second new project on $a runs only its own actions" same "$work/own.ran" "$work/$a/second.ran"
  check "... and its image runs" bash -c "'$mgd' run '$work/$a/second.img' | grep -qx 'second project: second'"

  # a CPU fault (a write to address 0) ends the run at once with the
  # abort status and the fault line of every target (abi/fault.h; the
  # unix binding's handler names the signal on arches other than x86_64)
  mkdir -p "$work/$a/fault" && cp "$here/proj/config.json" "$work/$a/fault/"
  sed -i 's/"unikernel.c", "other.c"/"unikernel.c"/' "$work/$a/fault/config.json"
  printf '%s\n' '#include "mg/console.h"' 'int cachetest_start(mg_console *console);' \
    'int cachetest_start(mg_console *console)' '{' '    *(volatile int *)0 = 1;' \
    '    mg_console_printf(console, "no fault\n");' '    return 0;' '}' >"$work/$a/fault/unikernel.c"
  build "$work/$a/fault" "$work/$a/fault.img" unix --arch "$a"
  run "$work/$a/fault.out" timeout 10 "$mgd" run "$work/$a/fault.img"; rc=$?
  check "a CPU fault on $a ends the run with 70 and the fault line ($rc)" \
    bash -c "test $rc -eq 70 && grep -Eq '^abort: CPU exception \(SIGSEGV\) at ip 0x[0-9a-f]+, address 0x0' '$work/$a/fault.out' && ! grep -q 'no fault' '$work/$a/fault.out'"
done
finish
