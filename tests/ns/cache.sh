#!/usr/bin/env bash
# The shared action cache (docs/remote-cache.md) between hosts: four
# network namespaces on a bridge of their own (tests/ns/ns_lib.sh), a cache
# host running nginx with the documented config (tests/ns/cache_lib.sh)
# that lets only the builders b1 and b2 write, and a host "other" that may
# only read:
#   1. b2, with an empty local cache, builds hello after b1: every action a
#      remote hit, nothing run, the same sha256 and image;
#   2. that cached build's traffic, as mgd counts it and as nginx's access
#      log does for b2's address: at most 80 requests and 100 KB in at most
#      8 sequential request waves (issue 18's bound);
#   3. nginx killed while b2 builds (--force: it runs and uploads): the
#      build succeeds locally, the errors are counted;
#   4. a tampered /ac record and a tampered /cas blob: detected, the action
#      run again, the image unchanged;
#   5. a PUT from "other" is refused by nginx (403), one from b1 accepted;
#      "other" still reads (every action a hit) and writes nothing.
# Needs root (namespaces) and nginx (scripts/deps.sh): skipped (77) without.
# usage: cache.sh MGD
set -u
mgd=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/build/target_lib.sh"
. "$src/tests/ns/ns_lib.sh"
. "$src/tests/ns/cache_lib.sh"

ns_init 1
ns_atexit 'rm -rf "$work"'
ng=$work/nginx
rc_nginx_dir "$ng"
for h in cache b1 b2 other; do ns_host "$h"; done
cache_ip=$(ns_ip cache)
rc_nginx_conf "$ng" "$(rc_nginx_server "$ng" "$cache_ip:8080" "$(ns_ip b1)" "$(ns_ip b2)")"
start_nginx() { rc_nginx_start "$ng" "http://$cache_ip:8080/" ns_run cache; }
start_nginx || exit 1
url=http://$cache_ip:8080/mgd
log=$ng/logs/access.log
store=$ng/store/mgd
hello=$src/examples/hello

# hbuild HOST NAME [args]: mgd build of hello on HOST into $work/NAME
# (its sha line in NAME.sha, its log in NAME.log), with a fresh local
# cache $work/NAME.cache and the remote cache
hbuild() {
  local host=$1 out=$work/$2
  shift 2
  ns_run "$host" "$mgd" build "$hello" -o "$out" --target unix --cache "$out.cache" \
    --remote-cache "$url" "$@" >"$out.sha" 2>"$out.log" || { cat "$out.log"; return 1; }
}
same_sha() { [ "$(cut -d' ' -f1 "$work/$1.sha")" = "$(cut -d' ' -f1 "$work/$2.sha")" ]; }

# --- 1. a second daemon with an empty local cache builds from the remote
check "b1: cold build uploads" hbuild b1 h1
total=$(sed -n 's/.*: \([0-9]*\) actions, 0 cached.*/\1/p' "$work/h1.log")
echo "hello: $total actions"
check "b1's uploads are in the store" test "$(find "$store/ac" -type f | wc -l)" -gt 10
: >"$log"
check "b2: builds from the remote" hbuild b2 h2
rc_summary "$work/h2.log"
check "b2: every action cached, none run" grep -q "$total actions, $total cached, 0 run" \
  "$work/h2.log"
check "b2: every action a remote hit" grep -q "remote cache: $total hits, 0 misses, 0 errors" \
  "$work/h2.log"
check "b2: the same sha256" same_sha h1 h2
check "b2: the same image" same "$work/h1" "$work/h2"

# --- 2. the cached build's traffic, by mgd and by nginx (b2's address)
b2_ip=$(ns_ip b2)
requests=$(rc_log_requests "$log" "$b2_ip")
bytes=$(rc_log_bytes "$log" "$b2_ip")
mgd_requests=$(rc_mgd_requests "$work/h2.log")
down=$(rc_counter "$work/h2.cache" remote_bytes_down)
waves=$(rc_mgd_waves "$work/h2.log")
echo "cached build: $requests requests and $bytes bytes from $b2_ip (nginx), $mgd_requests" \
  "requests and $down bytes (mgd), $waves waves"
check "traffic: only b2 asked" test "$(rc_log_requests "$log")" -eq "$requests"
check "traffic: requests counted alike" test "$requests" -eq "$mgd_requests"
# nginx counts the chunked framing of its compressed answers, mgd the bodies
check "traffic: bytes counted alike" test "$bytes" -ge "$down" -a \
  "$bytes" -le $((down + 32 * requests))
check "traffic: at most 80 requests" test "$requests" -le 80
check "traffic: at most 100 KB" test "$bytes" -le 100000
check "traffic: at most 8 waves" test "$waves" -ge 1 -a "$waves" -le 8

# --- 3. nginx killed while b2 builds: the build goes on locally
: >"$log"
ns_run b2 "$mgd" build "$hello" -o "$work/h3" --target unix --cache "$work/h3.cache" \
  --remote-cache "$url" --force --jobs 1 --verbose >"$work/h3.sha" 2>"$work/h3.log" &
bpid=$!
# its first upload answered: nginx dies with the build under way
for _ in $(seq 500); do grep -q '"PUT ' "$log" && break; sleep 0.01; done
check "nginx killed mid-build: it was under way" kill -0 "$bpid"
rc_nginx_stop
wait "$bpid"
check "nginx killed mid-build: built" test $? -eq 0
rc_summary "$work/h3.log"
check "nginx killed mid-build: every action ran" grep -q "$total actions, 0 cached, $total run" \
  "$work/h3.log"
check "nginx killed mid-build: the same image" same "$work/h1" "$work/h3"
check "nginx killed mid-build: the errors are counted" \
  test "$(rc_counter "$work/h3.cache" remote_errors)" -ge 1
check "nginx killed mid-build: said in the log" grep -q "remote cache off for the rest" \
  "$work/h3.log"
start_nginx || exit 1

# --- 4. tampered entries: detected, the action run again, the image unchanged
strip_rec=$(grep -l '"$WORK/out/' "$store"/ac/* | head -1)
image_sha=$(cut -d' ' -f1 "$work/h1.sha")
zeros=$(printf '%064d' 0)
# the same length and valid JSON: another sha256 for the image
sed -i "s/\"sha256\":\"$image_sha\"/\"sha256\":\"$zeros\"/" "$strip_rec"
check "an /ac record tampered" grep -q "$zeros" "$strip_rec"
check "tampered /ac: built" hbuild b2 h4
rc_summary "$work/h4.log"
check "tampered /ac: the same image" same "$work/h1" "$work/h4"
check "tampered /ac: the strip ran again" grep -q "$((total - 1)) cached, 1 run" "$work/h4.log"
check "tampered /ac: an error counted" test "$(rc_counter "$work/h4.cache" remote_errors)" -ge 1
check "tampered /ac: repaired by b2's upload" test -z "$(grep -l "$zeros" "$strip_rec")"
# the image's blob: the same size, other bytes
blob=$store/cas/$image_sha
python3 -c "import sys; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); d[100]^=0xff; open(p,'wb').write(d)" "$blob"
check "a /cas blob tampered" test "$(sha256sum <"$blob" | cut -d' ' -f1)" != "$image_sha"
check "tampered /cas: built" hbuild b2 h5
rc_summary "$work/h5.log"
check "tampered /cas: the same image" same "$work/h1" "$work/h5"
check "tampered /cas: the strip ran again" grep -q "$((total - 1)) cached, 1 run" "$work/h5.log"
check "tampered /cas: an error counted" test "$(rc_counter "$work/h5.cache" remote_errors)" -ge 1
check "tampered /cas: repaired by b2's upload" \
  test "$(sha256sum <"$blob" | cut -d' ' -f1)" = "$image_sha"

# --- 5. who may write: the builders, not "other"
put() { # HOST PATH: the status of a PUT from HOST
  ns_run "$1" curl -s -o /dev/null -w '%{http_code}' -X PUT --data x "http://$cache_ip:8080$2"
}
check "a PUT from other is refused (403)" test "$(put other /mgd/cas/x)" = 403
check "nothing written by other" test ! -e "$store/cas/x"
check "a PUT from b1 is accepted (201)" test "$(put b1 /probe/x)" = 201
check "b1's write is there" test -e "$ng/store/probe/x"
: >"$log"
check "other: builds from the remote" hbuild other h6
rc_summary "$work/h6.log"
check "other: every action a remote hit" grep -q "remote cache: $total hits, 0 misses, 0 errors" \
  "$work/h6.log"
check "other: the same image" same "$work/h1" "$work/h6"
check "other: no PUT" test "$(grep -c '"PUT ' "$log")" -eq 0
finish
