#!/usr/bin/env bash
# bench/scale: mgd beyond one machine (issue 18), on "hosts" that are
# network namespaces on a bridge of their own (tests/ns/ns_lib.sh), each
# capped at half a CPU (a cgroup per host: cpu.max "50000 100000" on
# cgroup v2, cpu.cfs_quota_us on v1) so that the machine's two cores do not
# blur the figures; where no cap can be set it says why and runs uncapped.
#
# usage: bench_scale.sh MGD [EXAMPLES_DIR] [--rounds N]
#
# The shared action cache: a host "cache" runs nginx with the config of
# docs/remote-cache.md (tests/ns/cache_lib.sh); each round, on a fresh
# remote base and fresh local caches,
#   cold    b1 builds examples/hello (nothing cached anywhere: it compiles
#           everything and uploads it)
#   cached  b2, a second daemon with an empty local cache, builds it
#           (every action a remote hit)
# and prints the medians over N rounds (default 3), the cached build as a
# share of the cold one (goal: at most 15 %), and the cached build's
# traffic: requests and request waves (mgd's count) and bytes (nginx's
# access log, b2's address). A goal missed prints MISSED and does not fail;
# something that does not run (a build, nginx) exits 1. Needs root and
# nginx: skipped (77) without.
#
# Still to come, each its own figure function beside figure_cache, called
# from the end of this script: the compile phase of a cold build with
# distcc on two worker hosts against a local one (issue 18, section 3;
# goal at least 1.5x faster), and the time a worker takes to claim a
# queued build (section 2; goal at most 100 ms).
set -u
mgd=$(realpath "$1")
shift
examples=$(cd "$(dirname "$0")/../../examples" && pwd)
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    *) examples=$(realpath "$1"); shift ;;
  esac
done
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/ns/ns_lib.sh"
. "$src/tests/ns/cache_lib.sh"

GOAL_SHARE=15 # % of the cold build
CPU="50000 100000"

ns_init 2
work=$(mktemp -d)
ns_atexit 'rm -rf "$work"'
die() { echo "bench/scale: $*" >&2; exit 1; }
ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# throttled periods of a host's cgroup so far (the cap at work), or "-"
throttled() {
  local cg=${ns_cg[$1]-}
  [ -n "$cg" ] && awk '$1 == "nr_throttled" { print $2 }' "$cg/cpu.stat" || echo -
}

for h in cache b1 b2; do ns_host "$h" $CPU; done
if [ -n "$ns_cap_mode" ]; then
  cap="each host capped at half a CPU (cgroup $ns_cap_mode)"
else
  cap="UNCAPPED: $ns_cap_why"
fi
load_at_start=$(cut -d' ' -f1 /proc/loadavg)

# --- the shared action cache: a cold build on b1, the same on b2 from it
figure_cache() {
  local ng=$work/nginx cache_ip b2_ip r base took cold=() cached=() requests='' waves='' bytes=''
  cache_ip=$(ns_ip cache) b2_ip=$(ns_ip b2)
  rc_nginx_dir "$ng"
  rc_nginx_conf "$ng" "$(rc_nginx_server "$ng" "$cache_ip:8080" "$(ns_ip b1)" "$b2_ip")"
  rc_nginx_start "$ng" "http://$cache_ip:8080/" ns_run cache || die "nginx did not start"
  local log=$ng/logs/access.log hello=$examples/hello
  # build HOST NAME URL: one mgd build of hello on HOST with a fresh local
  # cache; $took is its time in ms
  build() {
    local t0
    t0=$(ms)
    ns_run "$1" "$mgd" build "$hello" -o "$work/$2" --cache "$work/$2.cache" \
      --remote-cache "$3" >/dev/null 2>"$work/$2.log" ||
      { cat "$work/$2.log" >&2; die "mgd build on $1 failed"; }
    took=$(($(ms) - t0))
  }
  for r in $(seq "$rounds"); do
    base=http://$cache_ip:8080/round$r
    build b1 "cold$r" "$base"
    cold+=("$took")
    grep -q ' 0 cached, ' "$work/cold$r.log" || die "the cold build found something cached"
    : >"$log"
    build b2 "cached$r" "$base"
    cached+=("$took")
    grep -q ', 0 run, ' "$work/cached$r.log" || die "the cached build ran actions: $(rc_summary "$work/cached$r.log")"
    cmp -s "$work/cold$r" "$work/cached$r" || die "the images differ"
    requests+=" $(rc_mgd_requests "$work/cached$r.log")"
    waves+=" $(rc_mgd_waves "$work/cached$r.log")"
    bytes+=" $(rc_log_bytes "$log" "$b2_ip")"
  done
  rc_nginx_stop
  local cold_ms cached_ms share
  cold_ms=$(printf '%s\n' "${cold[@]}" | median)
  cached_ms=$(printf '%s\n' "${cached[@]}" | median)
  share=$(awk -v a="$cached_ms" -v b="$cold_ms" 'BEGIN { printf "%.1f", 100 * a / b }')
  echo "bench/scale: the shared action cache, examples/hello, $rounds rounds (median, ms; $cap)"
  printf '  %-44s %8s  (rounds: %s)\n' "cold build on b1 (uploads everything)" "$cold_ms" "${cold[*]}"
  printf '  %-44s %8s  (rounds: %s)\n' "cached build on b2 (empty local cache)" "$cached_ms" "${cached[*]}"
  printf '  %-44s %7s%%  goal <= %s %%: %s\n' "cached build / cold build" "$share" "$GOAL_SHARE" \
    "$(awk -v s="$share" -v g="$GOAL_SHARE" 'BEGIN { print (s <= g) ? "met" : "MISSED" }')"
  printf '  %-44s %8s  (rounds:%s)\n' "cached build: requests (mgd)" \
    "$(echo $requests | tr ' ' '\n' | median)" "$requests"
  printf '  %-44s %8s  (rounds:%s)\n' "cached build: request waves (mgd)" \
    "$(echo $waves | tr ' ' '\n' | median)" "$waves"
  printf '  %-44s %8s  (rounds:%s)\n' "cached build: bytes (nginx, from b2)" \
    "$(echo $bytes | tr ' ' '\n' | median)" "$bytes"
  echo "  periods throttled by the cap: b1 $(throttled b1), b2 $(throttled b2), cache $(throttled cache)"
}

figure_cache
# here, once they land, with hosts of their own (ns_host ... $CPU):
# figure_distcc_compile (section 3: the compile phase of a cold build with
# distcc on two workers against local) and figure_worker_claim (section 2:
# a queued build claimed by a pull worker)
echo "  (load average $load_at_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end;" \
  "$(nproc) cores)"
