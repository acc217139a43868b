#!/usr/bin/env bash
# The remote action cache (docs/remote-cache.md) against nginx with the
# documented WebDAV config, started here with its own prefix, in a network
# namespace of its own on a veth pair (host 10.77.0.1, cache 10.77.0.2):
#   1. a second mgd with an empty local cache builds hello after the first:
#      every action a remote hit, nothing run, the same sha256; its requests,
#      waves and bytes (mgd's counters, nginx's access log) are reported;
#   2. nginx killed during a build, then a cache that does not answer at
#      all: the build succeeds locally, the errors are counted, the
#      unanswered cache costs little time (measured);
#   3. a tampered /ac entry and a tampered /cas blob: detected, the action
#      run again, the image unchanged;
#   and mgd serve --remote-cache builds from it, its build record and
#   /metrics counting the remote hits (remote_cache_serve.py);
#   4. a write from an address the config does not allow is refused by
#      nginx (and the build still reads), and a read-only client never PUTs.
#   4b. a server that wants a token to write (401 without): the build with
#      --remote-cache-credentials uploads, one without is refused once and
#      builds;
#   5. a hostile server (remote_cache_hostile.py), records without a blob
#      list among its modes.
# Needs root (namespaces) and nginx (scripts/deps.sh): skipped (77) without.
# usage: remote_cache.sh MGD
set -u
mgd=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (network namespaces)"; exit 77; }
. "$(dirname "$0")/target_lib.sh"
# nginx with the documented config, the counters (shared with tests/ns)
. "$src/tests/ns/cache_lib.sh"

ns=mgdrc$$
veth=rc$$
ng=$work/nginx
rc_nginx_dir "$ng"
cleanup() {
  [ -n "$rc_nginx_pid" ] && kill "$rc_nginx_pid" 2>/dev/null
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  ip link del "${veth}h" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip link add "${veth}h" type veth peer name "${veth}n" &&
  ip link set "${veth}n" netns "$ns" && ip addr add 10.77.0.1/24 dev "${veth}h" &&
  ip link set "${veth}h" up && ip netns exec "$ns" ip addr add 10.77.0.2/24 dev "${veth}n" &&
  ip netns exec "$ns" ip link set "${veth}n" up && ip netns exec "$ns" ip link set lo up ||
  { echo "FAIL cannot make the namespace"; exit 1; }

# port 8080: the documented config, writes from the host only; port 8081:
# the same with writes allowed from an address nobody has (10.77.0.99);
# port 8082: writes from the host that carry the token only (what
# --remote-cache-credentials sends); a PUT without it gets 401
rc_nginx_conf "$ng" "$(rc_nginx_server "$ng" 10.77.0.2:8080 10.77.0.1)" \
  "$(rc_nginx_server "$ng" 10.77.0.2:8081 10.77.0.99)" "$(cat <<EOF
  map \$http_authorization \$rc_token_ok { default 0; "Bearer test-token" 1; }
  map "\$request_method:\$rc_token_ok" \$rc_refuse { default 0; "PUT:0" 1; }
  server {
    listen 10.77.0.2:8082;
    root $ng/store;
    # here, not in the location: limit_except's inner location would not
    # inherit it, and a PUT would skip it
    if (\$rc_refuse) { return 401; }
    location / {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 1g;
      limit_except GET HEAD { allow 10.77.0.1; deny all; }
    }
  }
EOF
)"
start_nginx() { rc_nginx_start "$ng" http://10.77.0.2:8080/ ip netns exec "$ns"; }
stop_nginx() { rc_nginx_stop; }
start_nginx || exit 1
url=http://10.77.0.2:8080/mgd
log=$ng/logs/access.log
counter() { rc_counter "$@"; }
summary() { rc_summary "$1.log"; }
hello=$src/examples/hello
# c1, c2...: a fresh (empty) local cache for each build

# --- 1. a second mgd with an empty local cache: every action a remote hit
c1=$work/c1
check "cold build uploads" build "$hello" "$work/h1" unix --cache "$c1" --remote-cache "$url"
total=$(sed -n 's/.*: \([0-9]*\) actions, 0 cached.*/\1/p' "$work/h1.log")
echo "hello: $total actions"
check "its uploads are in the store" test "$(find "$ng/store/mgd/ac" -type f | wc -l)" -gt 10
: >"$log"
c2=$work/c2
check "second daemon builds from the remote" build "$hello" "$work/h2" unix --cache "$c2" \
  --remote-cache "$url"
summary "$work/h2"
check "every action cached, none run" grep -q "$total actions, $total cached, 0 run" "$work/h2.log"
check "every action a remote hit" grep -q "remote cache: $total hits, 0 misses, 0 errors" "$work/h2.log"
check "same image" same "$work/h1" "$work/h2"
requests=$(rc_log_requests "$log")
bytes=$(rc_log_bytes "$log")
down=$(counter "$c2" remote_bytes_down)
waves=$(rc_mgd_waves "$work/h2.log")
objects=$(grep -c ' "GET /mgd/cas/' "$log")
echo "cached build: $requests requests (nginx), $bytes bytes (nginx) = $down (mgd), $waves waves, $objects blobs fetched"
echo "  (issue 18's goal: at most 80 requests, 100 KB, 8 waves)"
check "requests counted alike" test "$requests" -eq "$(rc_mgd_requests "$work/h2.log")"
# nginx counts the chunked framing of its compressed answers, mgd the bodies
check "bytes counted alike" test "$bytes" -ge "$down" -a "$bytes" -le $((down + 32 * requests))
check "at most 80 requests" test "$requests" -le 80
check "at most 8 waves" test "$waves" -le 8
check "at most 100 KB" test "$bytes" -le 100000
check "only the image is downloaded" test "$objects" -eq 1
check "nothing written by a build that ran nothing" test "$(grep -c '"PUT ' "$log")" -eq 0
# the entry of the image came with it: the same local cache needs no remote now
: >"$log"
check "rebuild from the local cache" build "$hello" "$work/h2b" unix --cache "$c2" \
  --remote-cache "$url"
rebuild=$(wc -l <"$log")
echo "rebuild with a warm local cache: $rebuild requests"
# a prefetch wave at most, and nothing downloaded: the blobs are local
check "rebuild from the local cache: at most $total requests" test "$rebuild" -le "$total"
check "rebuild from the local cache: no blob fetched" test "$(grep -c '"GET /mgd/cas/' "$log")" -eq 0

# the daemon: mgd serve --remote-cache, an empty local cache of its own
python3 "$src/tests/build/remote_cache_serve.py" "$mgd" "$url" "$work/serve-cache" || fails=$((fails + 1))

# --- 2. a cache that dies or does not answer degrades a build, never fails it
c3=$work/c3
: >"$log"
# a cold build writing to a fresh base; nginx dies at its first request
"$mgd" build "$hello" -o "$work/h3" --target unix --cache "$c3" --jobs 1 \
  --remote-cache http://10.77.0.2:8080/other >"$work/h3.sha" 2>"$work/h3.log" &
bpid=$!
for _ in $(seq 200); do [ -s "$log" ] && break; sleep 0.01; done
stop_nginx
wait "$bpid"
check "nginx killed mid-build: built" test $? -eq 0
summary "$work/h3"
check "same image after nginx died" same "$work/h1" "$work/h3"
check "the errors are counted" test "$(counter "$c3" remote_errors)" -ge 1
# no answer at all: packets to the cache are dropped (its address is gone,
# so ARP gets no reply); the 100 ms connect timeout switches it off
ip netns exec "$ns" ip addr del 10.77.0.2/24 dev "${veth}n"
ms() { date +%s%3N; }
c4=$work/c4
t0=$(ms)
check "local build, no remote" build "$hello" "$work/h4" unix --cache "$c4"
t1=$(ms)
c5=$work/c5
check "cache unreachable: built" build "$hello" "$work/h5" unix --cache "$c5" \
  --remote-cache "$url" --verbose
t2=$(ms)
summary "$work/h5"
local_ms=$((t1 - t0)) dead_ms=$((t2 - t1))
echo "cold build: $local_ms ms without a remote, $dead_ms ms with one that does not answer"
check "unreachable: same image" same "$work/h1" "$work/h5"
check "unreachable: an error counted" test "$(counter "$c5" remote_errors)" -ge 1
check "unreachable: said in the log" grep -q "remote cache off for the rest of this build" \
  "$work/h5.log"
check "unreachable: costs under a second" test "$dead_ms" -lt $((local_ms + 1000))
ip netns exec "$ns" ip addr add 10.77.0.2/24 dev "${veth}n"
start_nginx || exit 1

# --- 3. tampered entries are detected and rebuilt, the image unchanged
store=$ng/store/mgd
strip_rec=$(grep -l '"$WORK/out/' "$store"/ac/* | head -1)
image_sha=$(cut -d' ' -f1 "$work/h1.sha")
# the same length and valid JSON: another sha256 for the image
sed -i "s/\"sha256\":\"$image_sha\"/\"sha256\":\"$(printf '%064d' 0)\"/" "$strip_rec"
check "an /ac entry tampered" grep -q "$(printf '%064d' 0)" "$strip_rec"
c6=$work/c6
check "tampered /ac: built" build "$hello" "$work/h6" unix --cache "$c6" --remote-cache "$url"
summary "$work/h6"
check "tampered /ac: same image" same "$work/h1" "$work/h6"
check "tampered /ac: the strip ran again" grep -q "$((total - 1)) cached, 1 run" "$work/h6.log"
check "tampered /ac: an error counted" test "$(counter "$c6" remote_errors)" -ge 1
check "tampered /ac: repaired by the upload" test -z "$(grep -l "$(printf '%064d' 0)" "$strip_rec")"
# the image's blob: same size, other bytes
blob=$store/cas/$image_sha
python3 -c "import sys; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); d[100]^=0xff; open(p,'wb').write(d)" "$blob"
check "a /cas blob tampered" test "$(sha256sum <"$blob" | cut -d' ' -f1)" != "$image_sha"
c7=$work/c7
check "tampered /cas: built" build "$hello" "$work/h7" unix --cache "$c7" --remote-cache "$url"
summary "$work/h7"
check "tampered /cas: same image" same "$work/h1" "$work/h7"
check "tampered /cas: the strip ran again" grep -q "$((total - 1)) cached, 1 run" "$work/h7.log"
check "tampered /cas: an error counted" test "$(counter "$c7" remote_errors)" -ge 1
check "tampered /cas: the strip is no remote hit" grep -q "remote cache: $((total - 1)) hits" \
  "$work/h7.log"

# --- 4. who may write
check "a write from an address not allowed is refused" test "$(curl -s -o /dev/null \
  -w '%{http_code}' -X PUT --data x http://10.77.0.2:8081/mgd/cas/x)" = 403
check "nothing written" test ! -e "$store/cas/x"
check "the allowed address may write" test "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
  --data x http://10.77.0.2:8080/probe/x)" = 201
: >"$log"
c8=$work/c8
check "refused writes: built" build "$hello" "$work/h8" unix --cache "$c8" --force \
  --remote-cache http://10.77.0.2:8081/mgd
summary "$work/h8"
check "refused writes: one refusal, then no more writes" test \
  "$(grep -c '"PUT /mgd/.* 403 ' "$log")" -eq 1
check "refused writes: same image" same "$work/h1" "$work/h8"
: >"$log"
c9=$work/c9
check "read-only client builds" build "$hello" "$work/h9" unix --cache "$c9" --force \
  --remote-cache "$url" --remote-cache-read-only
check "a read-only client never PUTs" test "$(grep -c '"PUT ' "$log")" -eq 0
check "read-only: nothing up" test "$(counter "$c9" remote_bytes_up)" -eq 0

# --- 4b. credentials: the header reaches the server, which needs it to write
echo 'Bearer test-token' >"$work/token" && chmod 600 "$work/token"
check "a PUT without the token is refused" test "$(curl -s -o /dev/null -w '%{http_code}' \
  -X PUT --data x http://10.77.0.2:8082/probe/y)" = 401
check "a PUT with the token is allowed" test "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
  -H 'Authorization: Bearer test-token' --data x http://10.77.0.2:8082/probe/y)" = 201
: >"$log"
c11=$work/c11
# a base nothing wrote yet: every action runs and uploads
check "with credentials: built" build "$hello" "$work/h11" unix --cache "$c11" \
  --remote-cache http://10.77.0.2:8082/auth --remote-cache-credentials "$work/token"
summary "$work/h11"
check "with credentials: the uploads are accepted" test \
  "$(grep -c '"PUT /auth/.* 201 ' "$log")" -gt 10
check "with credentials: none refused" test "$(grep -c '"PUT /auth/.* 401 ' "$log")" -eq 0
check "with credentials: no error" test "$(counter "$c11" remote_errors)" -eq 0
check "with credentials: the records are in the store" test \
  "$(find "$ng/store/auth/ac" -type f | wc -l)" -gt 10
: >"$log"
c12=$work/c12
check "without credentials: built" build "$hello" "$work/h12" unix --cache "$c12" --force \
  --remote-cache http://10.77.0.2:8082/auth
summary "$work/h12"
check "without credentials: one 401, then no more writes" test \
  "$(grep -c '"PUT /auth/' "$log")" -eq 1 -a "$(grep -c '"PUT /auth/.* 401 ' "$log")" -eq 1
check "without credentials: the refusal counted" test "$(counter "$c12" remote_errors)" -ge 1
check "without credentials: same image" same "$work/h1" "$work/h12"

# --- options
c10=$work/c10
check "\$MGD_REMOTE_CACHE is used" sh -c "MGD_REMOTE_CACHE='$url' '$mgd' build '$hello' \
  -o '$work/h10' --cache '$c10' 2>&1 | grep -q 'remote cache: $total hits'"
check "a URL that is not http(s) is refused" sh -c \
  "'$mgd' build '$hello' --remote-cache ftp://x/ 2>&1 >/dev/null | grep -q 'not an http:// or https:// URL'"
echo 'Bearer t' >"$work/creds" && chmod 644 "$work/creds"
check "world-readable credentials are refused" sh -c \
  "'$mgd' build '$hello' --remote-cache '$url' --remote-cache-credentials '$work/creds' 2>&1 | grep -q 'read by other users'"

# --- 5. a hostile cache (remote_cache_hostile.py, on the host): each build
# ends within its bound (a hard `timeout` 3 times that keeps a hang from
# hanging the test), counts errors and leaves no temporary file; the ones
# that succeed make the same image
hostile_pid=
hostile() { # NAME MODE BOUND_S MGD_BUILD_ARGS...: sets $elapsed (ms), $out
  local name=$1 mode=$2 bound=$3; shift 3
  python3 "$src/tests/build/remote_cache_hostile.py" 18099 "$store" "$mode" \
    2>"$work/hostile-$name.req" &
  hostile_pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null -m 1 http://127.0.0.1:18099/ && break; sleep 0.1; done
  out=$work/hb-$name
  local c=$work/hc-$name t0
  t0=$(date +%s%N)
  timeout $((3 * bound)) /usr/bin/time -f %M -o "$out.rss" "$mgd" build "$hello" -o "$out" \
    --cache "$c" --remote-cache http://127.0.0.1:18099/mgd "$@" >"$out.sha" 2>"$out.log"
  status=$?
  elapsed=$((($(date +%s%N) - t0) / 1000000))
  kill "$hostile_pid"; wait "$hostile_pid" 2>/dev/null; hostile_pid=
  echo "$name: ended in $elapsed ms (status $status, max RSS $(tail -1 "$out.rss") KB)"
  grep -E 'remote cache' "$out.log" | sed 's/^/  /'
  check "$name: ended within ${bound} s" test "$elapsed" -le $((bound * 1000))
  errors=$(counter "$c" remote_errors)
  check "$name: no temporary file left" test -z "$(ls -A "$c/tmp" 2>/dev/null)"
}
trap 'kill $hostile_pid 2>/dev/null; cleanup' EXIT
# an answer to a PUT that never ends: the stall check (5 s) ends it
hostile putrickle putrickle 20 --force
check "putrickle: errors counted" test "$errors" -ge 1
check "putrickle: built" test "$status" -eq 0
check "putrickle: same image" same "$work/h1" "$out"
# a blob trickling 10 bytes a second: a stall; the actions run locally
hostile trickle trickle 20
check "trickle: errors counted" test "$errors" -ge 1
check "trickle: built" test "$status" -eq 0
check "trickle: same image" same "$work/h1" "$out"
# a blob without end: cut at the largest file an action may write
hostile endless endless 20 --limit-file-size 64M
check "endless: errors counted" test "$errors" -ge 1
check "endless: built" test "$status" -eq 0
check "endless: same image" same "$work/h1" "$out"
# a blob without end, fast enough for the stall check: the deadline ends it
hostile slowendless slowendless 12 --build-timeout 8
check "slowendless: errors counted" test "$errors" -ge 1
check "slowendless: the build's deadline" grep -q 'exceeded' "$out.log"
# records unpacking to 16 MiB each: refused past their cap, memory bounded
hostile bigrec bigrec 20
check "bigrec: errors counted" test "$errors" -ge 1
check "bigrec: built" test "$status" -eq 0
check "bigrec: same image" same "$work/h1" "$out"
check "bigrec: under 100 MB of memory" test "$(tail -1 "$out.rss")" -le 100000
# records naming blobs the cache does not have: a miss, the actions run
hostile nocas nocas 60
check "nocas: built" test "$status" -eq 0
check "nocas: same image" same "$work/h1" "$out"
check "nocas: no action is a remote hit" grep -q "remote cache: 0 hits" "$out.log"
# records whose blob list was emptied (valid, their payload naming the
# outputs): were one stored here, gc would not keep its blobs and the next
# build would take an entry whose blobs nobody fetched for complete. The
# image's entry must be absent from the local cache or the right one (naming
# the image's blob), and no entry naming outputs may be there without blobs.
hostile noblobs noblobs 60
check "noblobs: built" test "$status" -eq 0
check "noblobs: same image" same "$work/h1" "$out"
strip_key=$(basename "$strip_rec")
local_rec=$work/hc-noblobs/records/${strip_key:0:2}/$strip_key
check "noblobs: the image's entry is absent locally or names its blob" sh -c \
  "test ! -e '$local_rec' || grep -qx '$image_sha' '$local_rec'"
check "noblobs: no local entry names outputs without blobs" python3 -c '
import glob, json, sys
bad = []
for p in glob.glob(sys.argv[1] + "/records/*/*"):
    header, rest = open(p, "rb").read().split(b"\n", 1)
    n = int(header.split(b" ")[3])
    payload = rest[65 * n:]
    try:
        j = json.loads(payload)
    except ValueError:
        j = None
    outputs = j.get("outputs") if isinstance(j, dict) else None
    if n == 0 and outputs:
        bad.append(p)
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)' "$work/hc-noblobs"
finish
