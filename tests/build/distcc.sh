#!/usr/bin/env bash
# distcc for the C compiles of a build (docs/distcc.md), against distccd
# daemons this test starts on 127.0.0.1 (their own ports, allow lists and
# logs) and stops:
#   1. two good hosts, --force: the image's sha256 equals the local build's
#      (unix/x86_64 and virtio/aarch64); at least 90 % of the compile
#      actions ran on a host (mgd's log and both distccd logs agree), each
#      host took a share, no fallback; then a local build without --force
#      finds every action in the cache (the keys are a local compile's);
#   2. a host whose compiler differs (a distccd whose PATH puts first an
#      x86_64-linux-gnu-gcc that adds -fno-inline) and a dead host (a closed
#      port) are dropped by the probe, each with its line; the image is
#      still right;
#   3. a host killed during the build: fallbacks counted, the build
#      succeeds with the same sha256; and a host that passes the probe,
#      then holds its connections without a word: its compiles reach the
#      action's time limit and run here, the build succeeds;
#   4. a user's compile error fails the build with the compiler's message;
#   5. bad host lists are refused;
#   6. mgd serve --distcc (distcc_serve.py): a daemon builds hello with
#      force through both hosts, the same sha256, /metrics
#      mgd_distcc_remote_total > 0, the build log's distcc line;
#   7. the far host runs cc1 only: a source whose inline assembly asks for
#      .incbin of a file the distccd can read but the sandbox cannot see
#      (".inc" "bin", pasted by cc1) fails as the local sandboxed build
#      does, and its bytes are in no object, image or cache entry;
#   8. .incbin of a project file: read here by the local assembler, the
#      same image as a local build, and a change to that file recompiles
#      (the assembler's --MD is in the key again).
# usage: distcc.sh MGD
set -u
mgd=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/ns/distcc_lib.sh"
dc_need

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -9 "$p" $(pgrep -P "$p") 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
# distccd started as root runs as the user distccd: it must write its log
chmod 755 "$work"
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# start_distccd NAME [PATH]: a distccd on a free port (tests/ns/distcc_lib.sh);
# sets port_NAME, pid_NAME
start_distccd() {
  local name=$1 path=${2:-} port
  port=$(free_port)
  local -a env=()
  [ -n "$path" ] && env=(env "DISTCCD_PATH=$path")
  dc_start "$work/$name.log" 127.0.0.1 "$port" 127.0.0.1 "${env[@]}" ||
    { echo "FAIL distccd $name does not listen"; exit 1; }
  pids+=("$dc_pid")
  printf -v "port_$name" %s "$port"
  printf -v "pid_$name" %s "$dc_pid"
}
# the compiles a distccd log shows (the probe's among them)
served() { dc_served "$work/$1.log"; }

start_distccd a
start_distccd b
hosts="127.0.0.1:$port_a/2 127.0.0.1:$port_b/2"
proj=$work/hello
cp -r "$src/examples/hello" "$proj"

# --- 1. two good hosts ----------------------------------------------------------
check_arch() { # TARGET ARCH
  local t=$1 a=$2 out=$work/$1-$2
  "$mgd" build "$proj" --target "$t" --arch "$a" --cache "$work/cache-local" --force \
    -o "$out.local" >"$out.local.sum" 2>"$out.local.err" ||
    { fail "$t/$a: the local build failed: $(cat "$out.local.err")"; return; }
  local a0 b0
  a0=$(served a)
  b0=$(served b)
  "$mgd" build "$proj" --target "$t" --arch "$a" --cache "$work/cache-$t-$a" --force --verbose \
    --distcc "$hosts" -o "$out.distcc" >"$out.distcc.sum" 2>"$out.distcc.err" ||
    { fail "$t/$a: the distcc build failed: $(tail -5 "$out.distcc.err")"; return; }
  local want got
  want=$(cut -d' ' -f1 "$out.local.sum")
  got=$(cut -d' ' -f1 "$out.distcc.sum")
  [ -n "$want" ] && [ "$want" = "$got" ] ||
    fail "$t/$a: the distcc image's sha256 $got is not the local $want"
  local compiles remote fallbacks on_a on_b
  compiles=$(dc_compiles "$out.distcc.err")
  remote=$(dc_remote "$out.distcc.err" 127.0.0.1:)
  on_a=$(($(served a) - a0 - 1)) # one probe compile each
  on_b=$(($(served b) - b0 - 1))
  fallbacks=$(dc_fallbacks "$out.distcc.err")
  echo "$t/$a: $remote of $compiles compiles on distcc hosts ($on_a on a, $on_b on b)," \
    "$fallbacks fallbacks, sha256 ${got:0:16}"
  [ "$compiles" -gt 0 ] && [ $((remote * 100)) -ge $((compiles * 90)) ] ||
    fail "$t/$a: $remote of $compiles compiles ran remotely (want at least 90 %)"
  [ $((on_a + on_b)) -eq "$remote" ] ||
    fail "$t/$a: the distccd logs show $on_a + $on_b compiles, mgd says $remote"
  [ "$on_a" -gt 0 ] && [ "$on_b" -gt 0 ] || fail "$t/$a: a host took no share ($on_a, $on_b)"
  [ "$fallbacks" = 0 ] || fail "$t/$a: $fallbacks fallbacks, want none"
  # the keys are those of local compiles: a local build finds everything
  "$mgd" build "$proj" --target "$t" --arch "$a" --cache "$work/cache-$t-$a" \
    -o "$out.again" >/dev/null 2>"$out.again.err" || fail "$t/$a: the local rebuild failed"
  grep -q ": \([0-9]*\) actions, \1 cached, 0 run" "$out.again.err" ||
    fail "$t/$a: a local build after the distcc one ran actions: $(grep actions "$out.again.err")"
}
check_arch unix x86_64
if command -v aarch64-linux-gnu-gcc >/dev/null; then
  check_arch virtio aarch64
else
  echo "note: aarch64-linux-gnu-gcc missing, the cross arch is not checked (scripts/deps.sh)"
fi
want=$(cut -d' ' -f1 "$work/unix-x86_64.local.sum")

# --- 6. mgd serve --distcc -------------------------------------------------------------
mkdir -p "$work/serve-cache"
python3 "$src/tests/build/distcc_serve.py" "$mgd" "$hosts" "$work/serve-cache" "$want" ||
  fail "mgd serve --distcc"

# --- 2. a different compiler, a dead host ------------------------------------------
mkdir -p "$work/badcc"
printf '#!/bin/sh\nexec /usr/bin/x86_64-linux-gnu-gcc -fno-inline "$@"\n' \
  >"$work/badcc/x86_64-linux-gnu-gcc"
chmod 755 "$work/badcc" "$work/badcc/x86_64-linux-gnu-gcc"
start_distccd bad "$work/badcc:/usr/bin:/bin"
dead=$(free_port) # nothing listens there
"$mgd" build "$proj" --cache "$work/cache-2" --force \
  --distcc "127.0.0.1:$port_bad/2 127.0.0.1:$dead 127.0.0.1:$port_a/2" -o "$work/img2" \
  >"$work/2.sum" 2>"$work/2.err" || fail "probe: the build failed: $(cat "$work/2.err")"
grep -q "distcc: host 127.0.0.1:$port_bad dropped: its object for unix/x86_64 differs from the local compiler's" \
  "$work/2.err" || fail "probe: the host with another compiler was not dropped: $(cat "$work/2.err")"
grep -q "distcc: host 127.0.0.1:$dead dropped: the probe compile for unix/x86_64 failed" \
  "$work/2.err" || fail "probe: the dead host was not dropped: $(cat "$work/2.err")"
grep -q "distcc: 1 host: 127.0.0.1:$port_a" "$work/2.err" ||
  fail "probe: the good host was not kept: $(cat "$work/2.err")"
[ "$(cut -d' ' -f1 "$work/2.sum")" = "$want" ] || fail "probe: the image differs"
[ "$(served bad)" -eq 1 ] || fail "probe: the dropped host served $(served bad) compiles, want the probe's 1"
# no host left: local compiles, said once
"$mgd" build "$proj" --cache "$work/cache-2b" --force --distcc "127.0.0.1:$dead" \
  -o "$work/img2b" >"$work/2b.sum" 2>"$work/2b.err" || fail "no host: the build failed"
grep -q "distcc: no host left: compiles run here" "$work/2b.err" ||
  fail "no host: not said: $(cat "$work/2b.err")"
[ "$(cut -d' ' -f1 "$work/2b.sum")" = "$want" ] || fail "no host: the image differs"
echo "probe: a different compiler and a dead host dropped"

# --- 3. a host that dies during the build ------------------------------------------
start_distccd c
"$mgd" build "$proj" --cache "$work/cache-3" --force --verbose \
  --distcc "127.0.0.1:$port_c/2 127.0.0.1:$port_b/2" -o "$work/img3" \
  >"$work/3.sum" 2>"$work/3.err" &
bpid=$!
# once the first compile ran on c, c dies (its workers with it)
for _ in $(seq 300); do
  grep -q "on 127.0.0.1:$port_c" "$work/3.err" 2>/dev/null && break
  sleep 0.02
done
kill -9 "$pid_c" $(pgrep -P "$pid_c") 2>/dev/null
wait "$bpid" || fail "death: the build failed: $(tail -5 "$work/3.err")"
fb=$(dc_fallbacks "$work/3.err")
[ "${fb:-0}" -ge 1 ] || fail "death: no fallback counted ($(grep 'distcc:' "$work/3.err"))"
grep -q "distcc: host 127.0.0.1:$port_c failed (exit 1[0-2][0-9]" "$work/3.err" ||
  fail "death: the host's failure is not said"
[ "$(cut -d' ' -f1 "$work/3.sum")" = "$want" ] || fail "death: the image differs"
echo "death: $fb fallbacks, the same image"

# --- 3b. a host that hangs after the probe -------------------------------------------
# a proxy that hands the probe's connection to distccd b, then holds every
# later one open without a word (a host that stopped mid-build, its TCP
# connections left hanging): the compiles sent there time out (the action
# limit, 6 s here) and run here; the build succeeds
hang_port=$(free_port)
python3 - "$hang_port" "$port_b" "$work/hang.ready" <<'PY' &
import socket, sys, threading
listen, target = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", listen))
s.listen(64)
open(sys.argv[3], "w").close()
held = []
def pipe(a, b):
    try:
        while (d := a.recv(65536)):
            b.sendall(d)
    except OSError:
        pass
    finally:
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
first = True
while True:
    c, _ = s.accept()
    if first:
        first = False
        u = socket.create_connection(("127.0.0.1", target))
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    else:
        held.append(c)
PY
pids+=("$!")
for _ in $(seq 50); do
  [ -e "$work/hang.ready" ] && break
  sleep 0.1
done
"$mgd" build "$proj" --cache "$work/cache-3b" --force --verbose --action-timeout 6 \
  --distcc "127.0.0.1:$hang_port/2" -o "$work/img3b" >"$work/3b.sum" 2>"$work/3b.err" ||
  fail "hang: the build failed: $(grep -v '^\[' "$work/3b.err" | tail -3; tail -3 "$work/3b.err")"
fb=$(sed -n 's/.*distcc: [0-9]* compiles on distcc hosts, \([0-9]*\) fallbacks.*/\1/p' "$work/3b.err")
[ "${fb:-0}" -ge 1 ] || fail "hang: no fallback counted ($(grep 'distcc:' "$work/3b.err"))"
[ "$(cut -d' ' -f1 "$work/3b.sum")" = "$want" ] || fail "hang: the image differs"
echo "hang: $fb fallbacks, the same image"

# --- 4. a user's compile error --------------------------------------------------------
bad=$work/broken
cp -r "$src/examples/hello" "$bad"
printf '\nint broken(void) { return undeclared_thing; }\n' >>"$bad/unikernel.c"
if "$mgd" build "$bad" --cache "$work/cache-4" --distcc "127.0.0.1:$port_a/2" -o "$work/img4" \
  >/dev/null 2>"$work/4.err"; then
  fail "a compile error built"
else
  grep -q "compile unikernel.c failed (exit status 1): .*undeclared_thing" "$work/4.err" ||
    fail "a compile error: not the compiler's message: $(tail -3 "$work/4.err")"
  grep -q "distcc: [0-9]* compiles \(ran \)\?on distcc hosts, 0 fallbacks" "$work/4.err" ||
    fail "a compile error counted as a fallback: $(grep fallbacks "$work/4.err")"
fi

# --- 5. bad host lists --------------------------------------------------------------
for l in "localhost" "user@host" "h:99999" "h/0" "h,cpp" "--randomize h" "" "h:1:2" "a b a"; do
  if MGD_DISTCC= "$mgd" build "$proj" --cache "$work/cache-5" --distcc "$l" -o "$work/img5" \
    >/dev/null 2>"$work/5.err"; then
    [ -z "$l" ] || fail "the host list '$l' was taken"
  else
    st=$?
    [ -n "$l" ] && [ $st -eq 2 ] && grep -q "distcc" "$work/5.err" ||
      fail "the host list '$l': status $st, $(cat "$work/5.err")"
  fi
done

# --- 7. the far host's files ---------------------------------------------------------
# a file outside the sandbox's view that distccd (as the user distccd) can read
secret=$work/far-secret
token="FAR-HOST-SECRET-$RANDOM$RANDOM"
printf '%s\n' "$token" >"$secret"
chmod 644 "$secret"
hostile=$work/hostile
cp -r "$src/examples/hello" "$hostile"
# the directive's name pasted by cc1 from two strings: no text of the
# source names it
printf '\n__asm__(".pushsection .rodata.mg_far,\\"aR\\"\\n.inc" "bin \\"%s\\"\\n.popsection");\n' \
  "$secret" >>"$hostile/unikernel.c"
on_far() { grep -c "COMPILE_OK.*src/unikernel.c" "$work/a.log"; }
"$mgd" build "$hostile" --cache "$work/cache-7l" -o "$work/img7l" >/dev/null 2>"$work/7l.err" &&
  fail "far: the local sandboxed build read $secret"
grep -q "Error: file not found: $secret" "$work/7l.err" ||
  fail "far: the local build's failure: $(tail -2 "$work/7l.err")"
u0=$(on_far)
"$mgd" build "$hostile" --cache "$work/cache-7" --distcc "127.0.0.1:$port_a/2" -o "$work/img7" \
  >/dev/null 2>"$work/7.err" && fail "far: the distcc build read $secret"
grep -q "error: compile unikernel.c failed (exit status 1): .*Error: file not found: $secret" \
  "$work/7.err" || fail "far: not the local build's failure: $(tail -3 "$work/7.err")"
[ "$(on_far)" -gt "$u0" ] || fail "far: cc1 of unikernel.c did not run on the host"
grep -q "distcc: [0-9]* compiles ran on distcc hosts, 0 fallbacks" "$work/7.err" ||
  fail "far: $(grep fallbacks "$work/7.err")"
leaked=$(grep -rlaF "$token" "$work/cache-7" "$work"/img7* "$work/7.err" 2>/dev/null)
[ -z "$leaked" ] || fail "far: the host's file is in $leaked"
echo "far: the hostile .incbin fails as here, cc1 ran on the host, nothing of its file came back"

# --- 8. .incbin of a project file ---------------------------------------------------------
inc=$work/incbin
cp -r "$src/examples/hello" "$inc"
printf 'BLOB-ONE-%s' "$RANDOM" >"$inc/blob.bin"
printf '\n__asm__(".pushsection .rodata.mg_blob,\\"aR\\"\\n.inc" "bin \\"src/blob.bin\\"\\n.popsection");\n' \
  >>"$inc/unikernel.c"
"$mgd" build "$inc" --cache "$work/cache-8l" -o "$work/img8l" >"$work/8l.sum" 2>"$work/8l.err" ||
  fail "incbin: the local build failed: $(tail -2 "$work/8l.err")"
"$mgd" build "$inc" --cache "$work/cache-8" --verbose --distcc "127.0.0.1:$port_a/2" \
  -o "$work/img8" >"$work/8.sum" 2>"$work/8.err" ||
  fail "incbin: the distcc build failed: $(tail -3 "$work/8.err")"
[ "$(cut -d' ' -f1 "$work/8.sum")" = "$(cut -d' ' -f1 "$work/8l.sum")" ] ||
  fail "incbin: the distcc image differs from the local one"
grep -q "compile unikernel.c: ran in .* on 127.0.0.1:$port_a" "$work/8.err" ||
  fail "incbin: unikernel.c was not distributed"
grep -qaF BLOB-ONE "$work/img8" || fail "incbin: the image lacks the blob"
printf 'BLOB-TWO' >"$inc/blob.bin"
"$mgd" build "$inc" --cache "$work/cache-8" --verbose --distcc "127.0.0.1:$port_a/2" \
  -o "$work/img8b" >/dev/null 2>"$work/8b.err" || fail "incbin: the second build failed"
grep -q "compile unikernel.c: ran in .* on 127.0.0.1:$port_a" "$work/8b.err" ||
  fail "incbin: a changed .incbin file did not recompile: $(grep unikernel.c "$work/8b.err")"
grep -qaF BLOB-TWO "$work/img8b" || fail "incbin: the new image lacks the new blob"
echo "incbin: a project file read here, the local image, a change recompiles"

# distccd stops on SIGTERM; nothing of ours stays
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
sleep 0.5
for p in "${pids[@]}"; do
  left=$(pgrep -P "$p")
  [ -z "$left" ] || fail "distccd $p left workers $left"
done
[ "$fails" -eq 0 ] && echo "distcc: all passed"
[ "$fails" -eq 0 ]
