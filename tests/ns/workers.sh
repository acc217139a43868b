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
. "$src/tests/build/target_lib.sh"
. "$src/tests/ns/ns_lib.sh"
. "$src/tests/ns/cache_lib.sh"
. "$src/tests/ns/distcc_lib.sh"
. "$src/tests/ns/workers_lib.sh"
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

# --- the coordinator and two workers (tests/ns/workers_lib.sh)
wk_serve coord "$work/coord" --jobs 2 --remote-cache "$rcurl" \
  --worker-lease-timeout "$LEASE_MS" || exit 1
check "a worker token" wk_token
token=$(cat "$work/wk.token")
wk_worker w1 w1 --remote-cache "$rcurl"
wk_worker w2 w2 --remote-cache "$rcurl"
check "both workers connect" wk_wait_connected w1 w2

# --- 1. ten builds over the two workers
echo "--- 1. ten builds (at $SECONDS s)"
ids=()
for i in $(seq 0 9); do
  wk_project "hello$i"
  ids+=("$(wk_start_build "hello$i")")
done
# meanwhile the local builds to compare with (this machine, outside the
# hosts: the build tests' cache, $MGD_CACHE, when CTest gives it)
for i in $(seq 0 9); do
  python3 "$wk_mgapi" tree "hello$i" "$work/local$i"
  "$mgd" build "$work/local$i" -o "$work/local$i.img" --cache "${MGD_CACHE:-$work/local.cache}" \
    >"$work/local$i.sha" 2>"$work/local$i.log" || { echo "FAIL local build $i"; cat "$work/local$i.log"; }
done
ok=0 same_sha=0 ran_w1=0 ran_w2=0
for i in $(seq 0 9); do
  id=${ids[$i]}
  wk_wait_build "$id" 180 || continue
  read -r st who sha < <(wk_field status worker image.sha256 <"$work/build.$id" | paste -sd' ')
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
wk_api POST /projects "$(python3 "$wk_mgapi" slow slowkill 1)" >/dev/null
bid=$(wk_start_build slowkill)
victim=
for _ in $(seq 600); do
  read -r st who < <(wk_now "$bid")
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
  read -r st who < <(wk_now "$bid")
  [ "$who" = "$other" ] && [ "$st" = running ] && { moved=1; break; }
  sleep 0.1
done
check "2: after the lease the build runs on $other ($((SECONDS - t_kill)) s)" test -n "$moved"
late=$(wk_api POST "/workers/builds/$bid/finish" \
  "{\"lease\": ${lease:-0}, \"status\": \"failed\", \"error\": \"late\"}" "$token" "$victim" \
  >/dev/null; cat "$work/wk.status")
check "2: the lost worker's late finish (lease $lease) gets 409 ($late)" \
  test -n "$lease" -a "$late" = 409
wk_wait_build "$bid" 180
read -r st who < <(wk_field status worker <"$work/build.$bid" | paste -sd' ')
check "2: the build succeeded on $other ($st on $who)" test "$st" = succeeded -a "$who" = "$other"
wk_api GET "/builds/$bid/log" >"$work/slowkill.log"
check "2: the log says $victim stopped answering" grep -q "worker $victim stopped answering" \
  "$work/slowkill.log"

# --- 3. distcc: a worker on the victim's host with both distccd hosts
echo "--- 3. distcc (at $SECONDS s)"
kill "$(ns_prog_pid "$other" mgd worker)"
for _ in $(seq 100); do [ -z "$(ns_prog_pid "$other" mgd worker)" ] && break; sleep 0.1; done
check "3: $other stopped on SIGTERM" grep -q "SIGTERM: stopping" "$work/$other.err"
hosts="$w1_ip/2 $w2_ip/2"
# a host list mgd refuses (docs/distcc.md, "Hosts"): a usage error
for bad in "user@$w1_ip" "$w1_ip,cpp" "$w1_ip:99999" "$w1_ip $w1_ip"; do
  "$mgd" worker --coordinator "$wk_url" --token x --data "$work/bad" --distcc "$bad" \
    2>"$work/bad.err"
  st=$?
  check "3: mgd worker --distcc '$bad' is refused (status $st: $(cat "$work/bad.err"))" \
    test "$st" -eq 2 -a -n "$(grep distcc "$work/bad.err")"
done
wk_worker "$victim" wd --remote-cache "$rcurl" --distcc "$hosts"
check "3: the distcc worker connects" wk_wait_connected wd
check "3: its probe kept both hosts" grep -q "distcc: 2 hosts: $w1_ip, $w2_ip" "$work/wd.err"
s1=$(dc_served "$work/w1.distccd.log") s2=$(dc_served "$work/w2.distccd.log")
bid=$(wk_start_build hello0 '{"force": true}')
wk_wait_build "$bid" 180
read -r st who sha < <(wk_field status worker image.sha256 <"$work/build.$bid" | paste -sd' ')
wk_api GET "/builds/$bid/log" >"$work/distcc.log"
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
