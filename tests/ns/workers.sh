#!/usr/bin/env bash
# Pull workers and distcc across hosts (docs/workers.md, docs/distcc.md):
# four network namespaces on a bridge of their own (tests/ns/ns_lib.sh):
#   cache  nginx with the documented config (tests/ns/cache_lib.sh), which
#          lets the coordinator and the workers write;
#   coord  `mgd serve` (the coordinator) with the shared cache and a short
#          --worker-lease-timeout; its own thread stays idle while workers
#          are connected;
#   w1, w2 `mgd worker` each, with the shared cache, and distccd each
#          (tests/ns/distcc_lib.sh), taking jobs only from w1 and w2.
# It checks:
#   1. ten builds of hello (ten config names: no reuse) spread over the two
#      workers: each ran some (the build record's "worker"), all succeed,
#      every image's sha256 is that of a local `mgd build` of the same tree;
#   2. kill -9 of a worker (its whole process tree, as a crash) during a
#      build: after the lease the build runs on the other worker and
#      succeeds there; the lost worker's finish, replayed with curl from its
#      host under its old lease, gets 409;
#   3. distcc: a worker started with --distcc "W1/2 W2/2" (the other one
#      stopped: SIGTERM, exit 0) builds hello with force: the local sha256,
#      at least 90 % of the compiles on a distcc host (the distccd logs
#      count them, and agree with the build log), each host a share, no
#      fallback; a compile sent from the coordinator's host is refused.
# Needs root (namespaces), nginx and distcc (scripts/deps.sh): skipped (77)
# without.
# usage: workers.sh MGD
set -u
mgd=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
mgapi=$src/tests/ns/mgapi.py
. "$src/tests/build/target_lib.sh"
. "$src/tests/ns/ns_lib.sh"
. "$src/tests/ns/cache_lib.sh"
. "$src/tests/ns/distcc_lib.sh"
dc_need

LEASE_MS=1500
ns_init 3
ns_atexit 'rm -rf "$work"'
# distccd (as the user distccd) writes its logs here
chmod 755 "$work"
ng=$work/nginx
rc_nginx_dir "$ng"
for h in cache coord w1 w2; do ns_host "$h"; done
cache_ip=$(ns_ip cache) coord_ip=$(ns_ip coord) w1_ip=$(ns_ip w1) w2_ip=$(ns_ip w2)
rc_nginx_conf "$ng" "$(rc_nginx_server "$ng" "$cache_ip:8080" "$coord_ip" "$w1_ip" "$w2_ip")"
rc_nginx_start "$ng" "http://$cache_ip:8080/" ns_run cache || exit 1
rcurl=http://$cache_ip:8080/mgd
for h in w1 w2; do
  dc_start "$work/$h.distccd.log" "$(ns_ip $h)" 3632 "$w1_ip $w2_ip" ns_run "$h" ||
    { echo "FAIL distccd on $h"; exit 1; }
done

# --- the coordinator
ns_bg coord "$mgd" serve --listen "$coord_ip:8080" --data "$work/coord" --workers 1 --jobs 2 \
  --remote-cache "$rcurl" --worker-lease-timeout "$LEASE_MS" 2>"$work/coord.err"
curl_base=http://$coord_ip:8080
ns_wait_http coord "$curl_base/health" || { echo "FAIL the coordinator does not start"; \
  cat "$work/coord.err"; exit 1; }
admin=$(cat "$work/coord/admin.token")

# api METHOD PATH [BODY [TOKEN [HOST]]]: the answer's body; its status in
# $work/status
api() {
  ns_run "${5:-coord}" curl -s -m 30 -X "$1" -H "Authorization: Bearer ${4:-$admin}" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} -o "$work/answer" \
    -w '%{http_code}' "$curl_base$2" >"$work/status"
  cat "$work/answer"
}
field() { python3 "$mgapi" get "$@"; }
# wait_build ID [SECONDS]: until the build ends; its record in $work/build.ID
wait_build() {
  local id=$1 end=$((SECONDS + ${2:-120})) st
  while [ "$SECONDS" -lt "$end" ]; do
    api GET "/builds/$id" >"$work/build.$id"
    st=$(field status <"$work/build.$id")
    case $st in succeeded | failed | cancelled | interrupted) return 0 ;; esac
    sleep 0.3
  done
  echo "build $id did not end: $(cat "$work/build.$id")"
  return 1
}
# the status and worker of a build now
now() { api GET "/builds/$1" | field status worker | paste -sd' '; }
start_build() { # PROJECT [BODY]: the new build's id
  local body=${2:-}
  api POST "/projects/$1/build" "${body:-{\}}" | field id
}

token=$(api POST /tokens '{"scope": "worker", "name": "ns-workers"}' | field token)
check "a worker token" test -n "$token"
printf '%s\n' "$token" >"$work/token"
chmod 600 "$work/token"
# start_worker HOST NAME [args]: mgd worker on HOST, its stderr in NAME.err
start_worker() {
  local host=$1 name=$2
  shift 2
  ns_bg "$host" "$mgd" worker --coordinator "$curl_base" --token-file "$work/token" \
    --name "$name" --data "$work/$name" --remote-cache "$rcurl" "$@" 2>"$work/$name.err"
}
connected() { # NAME...: all of them in GET /workers
  local list n
  list=$(api GET /workers)
  for n in "$@"; do echo "$list" | grep -q "\"name\":\"$n\"" || return 1; done
}
wait_connected() {
  local _
  for _ in $(seq 300); do connected "$@" && return 0; sleep 0.1; done
  return 1
}
start_worker w1 w1
start_worker w2 w2
check "both workers connect" wait_connected w1 w2

# --- 1. ten builds over the two workers
echo "--- 1. ten builds (at $SECONDS s)"
ids=()
for i in $(seq 0 9); do
  api POST /projects "$(python3 "$mgapi" hello "hello$i")" >/dev/null
  ids+=("$(start_build "hello$i")")
done
# meanwhile the local builds to compare with (this machine, one cache)
for i in $(seq 0 9); do
  python3 "$mgapi" tree "hello$i" "$work/local$i"
  "$mgd" build "$work/local$i" -o "$work/local$i.img" --cache "$work/local.cache" \
    >"$work/local$i.sha" 2>"$work/local$i.log" || { echo "FAIL local build $i"; cat "$work/local$i.log"; }
done
ok=0 same_sha=0 ran_w1=0 ran_w2=0
for i in $(seq 0 9); do
  id=${ids[$i]}
  wait_build "$id" 180 || continue
  read -r st who sha < <(field status worker image.sha256 <"$work/build.$id" | paste -sd' ')
  [ "$st" = succeeded ] && ok=$((ok + 1))
  [ "$who" = w1 ] && ran_w1=$((ran_w1 + 1))
  [ "$who" = w2 ] && ran_w2=$((ran_w2 + 1))
  want=$(cut -d' ' -f1 "$work/local$i.sha")
  if [ -n "$want" ] && [ "$sha" = "$want" ]; then
    same_sha=$((same_sha + 1))
  else
    echo "  build $id (hello$i): $st on $who, sha256 $sha, local $want"
  fi
done
echo "ten builds: $ok succeeded, $ran_w1 on w1, $ran_w2 on w2"
check "1: ten builds succeeded" test "$ok" -eq 10
check "1: w1 ran some" test "$ran_w1" -gt 0
check "1: w2 ran some" test "$ran_w2" -gt 0
check "1: every build on a worker" test $((ran_w1 + ran_w2)) -eq 10
check "1: every image's sha256 is the local build's" test "$same_sha" -eq 10

# --- 2. kill -9 of a worker during a build
echo "--- 2. kill -9 of a worker (at $SECONDS s)"
api POST /projects "$(python3 "$mgapi" slow slowkill 1)" >/dev/null
bid=$(start_build slowkill)
victim=
for _ in $(seq 600); do
  read -r st who < <(now "$bid")
  [ "$st" = running ] && [ -n "$who" ] && { victim=$who; break; }
  sleep 0.1
done
check "2: the slow build runs on a worker ($victim)" test -n "$victim"
[ "$victim" = w1 ] && other=w2 || other=w1
vpid=$(ns_prog_pid "$victim" mgd worker)
# it compiles (cc1 under the worker): the crash comes mid-build
compiling() { ns_tree "$vpid" | xargs -r ps -o comm= -p | grep -qx cc1; }
for _ in $(seq 600); do compiling && break; sleep 0.05; done
check "2: $victim compiles it" compiling
lease=$(sed -n "s/.*build $bid ([^)]*): started, lease \([0-9]*\).*/\1/p" "$work/$victim.err")
# shellcheck disable=SC2046
kill -9 $(ns_tree "$vpid") 2>/dev/null
wait "$vpid" 2>/dev/null # started by ns_bg: this shell's child (no "Killed" line)
t_kill=$SECONDS
moved=
for _ in $(seq 600); do
  read -r st who < <(now "$bid")
  [ "$who" = "$other" ] && [ "$st" = running ] && { moved=1; break; }
  sleep 0.1
done
check "2: after the lease the build runs on $other ($((SECONDS - t_kill)) s)" test -n "$moved"
late=$(api POST "/workers/builds/$bid/finish" \
  "{\"lease\": ${lease:-0}, \"status\": \"failed\", \"error\": \"late\"}" "$token" "$victim" \
  >/dev/null; cat "$work/status")
check "2: the lost worker's late finish (lease $lease) gets 409 ($late)" \
  test -n "$lease" -a "$late" = 409
wait_build "$bid" 180
read -r st who < <(field status worker <"$work/build.$bid" | paste -sd' ')
check "2: the build succeeded on $other ($st on $who)" test "$st" = succeeded -a "$who" = "$other"
api GET "/builds/$bid/log" >"$work/slowkill.log"
check "2: the log says $victim stopped answering" grep -q "worker $victim stopped answering" \
  "$work/slowkill.log"

# --- 3. distcc: a worker on the victim's host with both distccd hosts
echo "--- 3. distcc (at $SECONDS s)"
kill "$(ns_prog_pid "$other" mgd worker)"
for _ in $(seq 100); do [ -z "$(ns_prog_pid "$other" mgd worker)" ] && break; sleep 0.1; done
check "3: $other stopped on SIGTERM" grep -q "SIGTERM: stopping" "$work/$other.err"
hosts="$w1_ip/2 $w2_ip/2"
start_worker "$victim" wd --distcc "$hosts"
check "3: the distcc worker connects" wait_connected wd
check "3: its probe kept both hosts" grep -q "distcc: 2 hosts: $w1_ip, $w2_ip" "$work/wd.err"
s1=$(dc_served "$work/w1.distccd.log") s2=$(dc_served "$work/w2.distccd.log")
bid=$(start_build hello0 '{"force": true}')
wait_build "$bid" 180
read -r st who sha < <(field status worker image.sha256 <"$work/build.$bid" | paste -sd' ')
api GET "/builds/$bid/log" >"$work/distcc.log"
on1=$(($(dc_served "$work/w1.distccd.log") - s1)) on2=$(($(dc_served "$work/w2.distccd.log") - s2))
compiles=$(dc_compiles "$work/distcc.log") remote=$(dc_remote "$work/distcc.log")
fallbacks=$(dc_fallbacks "$work/distcc.log")
echo "distcc: $st on $who, $remote of $compiles compiles on distcc hosts ($on1 on w1, $on2 on" \
  "w2), ${fallbacks:-?} fallbacks"
check "3: the build succeeded on wd" test "$st" = succeeded -a "$who" = wd
check "3: the local sha256" test "$sha" = "$(cut -d' ' -f1 "$work/local0.sha")"
check "3: at least 90 % of the compiles ran remotely" \
  test "$compiles" -gt 0 -a $((100 * (on1 + on2))) -ge $((90 * compiles))
check "3: the distccd logs agree with the build log" test $((on1 + on2)) -eq "$remote"
check "3: w1 took a share" test "$on1" -gt 0
check "3: w2 took a share" test "$on2" -gt 0
check "3: no fallback" test "${fallbacks:-x}" = 0
# distccd takes jobs from the workers only
printf 'int f(void) { return 1; }\n' >"$work/probe.c"
ns_run coord env DISTCC_HOSTS="$w1_ip" DISTCC_FALLBACK=0 DISTCC_SKIP_LOCAL_RETRY=1 \
  DISTCC_DIR="$work/distcc-dir" distcc x86_64-linux-gnu-gcc -c "$work/probe.c" \
  -o "$work/probe.o" 2>"$work/refused.err"
check "3: a compile from the coordinator's host is refused" test $? -ne 0 -a ! -e "$work/probe.o"
echo "--- the end (at $SECONDS s)"
finish
