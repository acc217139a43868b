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
# distcc (figure_distcc_compile): hosts w1 and w2 run distccd (taking jobs
# from b1 only, two at once each); each round b1 builds examples/hello and
# examples/static_website (the example with the most compiles) cold, once
# locally and once with --distcc "W1/2 W2/2", each with a fresh local
# cache and no remote one; the compile phase (from the first compile's
# start to the last compile's end, from --verbose's "[  t] compile X: ran
# in N ms" lines) local against distcc (goal: distcc at least 1.5x
# faster). The images must be equal, with no fallback. Skipped (said) without distcc.
#
# The claim (figure_worker_claim): a coordinator on the host coord (mgd
# serve, the shared cache at the base figure_cache filled) and a worker on
# w1 long-polling it; for several builds of new projects (hello with a new
# config name: no reuse), the time from POST /projects/:id/build to the
# worker's "build N (...): started" line (claim_time.py: the claim's answer
# parsed), median and max (goal: median at most 100 ms), and of it the
# coordinator's prepare step (the stamp of its log line "worker w1 took the
# build": sources written, config resolved, input hash, reuse check, the
# snapshot packed and PUT to the shared cache).
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
. "$src/tests/ns/distcc_lib.sh"
. "$src/tests/ns/workers_lib.sh"

GOAL_SHARE=15    # % of the cold build
GOAL_DISTCC=1.5  # local compile phase / distcc compile phase, at least
GOAL_CLAIM_MS=100 # POST to the worker's claim answer, median
CLAIM_BUILDS=5   # builds timed per round
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

for h in cache b1 b2 w1 w2 coord; do ns_host "$h" $CPU; done
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

# --- distcc: the compile phase of a cold build, local on b1 and from b1
# on two distcc hosts (w1, w2), each host at half a CPU
# compile_phase LOG: ms from the first compile's start to the last one's end
compile_phase() {
  awk '/\] compile .*: ran in [0-9]+ ms/ {
      t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); t *= 1000
      n = $0; sub(/.*: ran in /, "", n); sub(/ ms.*/, "", n)
      if (first == "" || t - n < first) first = t - n
      if (t > last) last = t
    }
    END { printf "%d\n", last - first }' "$1"
}
figure_distcc_compile() {
  if ! [ -x "$dc_distccd" ] || ! command -v distcc >/dev/null; then
    echo "bench/scale: distcc: skipped, distcc is not installed (scripts/deps.sh)"
    return 0
  fi
  local h ex r out hosts w1_ip w2_ip
  w1_ip=$(ns_ip w1) w2_ip=$(ns_ip w2)
  # distccd (as the user distccd) writes its logs here
  chmod 755 "$work"
  for h in w1 w2; do
    dc_start "$work/$h.distccd.log" "$(ns_ip $h)" 3632 "$(ns_ip b1)" ns_run "$h" ||
      die "distccd on $h does not start"
  done
  hosts="$w1_ip/2 $w2_ip/2"
  # dbuild EXAMPLE NAME [args]: a cold build of EXAMPLE on b1, --verbose
  dbuild() {
    local ex=$1 name=$2
    shift 2
    ns_run b1 "$mgd" build "$examples/$ex" -o "$work/$name" --cache "$work/$name.cache" \
      --verbose "$@" >"$work/$name.sha" 2>"$work/$name.log" ||
      { tail -20 "$work/$name.log" >&2; die "mgd build of $ex on b1 failed"; }
  }
  echo "bench/scale: distcc, the compile phase of a cold build on b1, local against two distcc" \
    "hosts (w1, w2, distccd --jobs 2); $rounds rounds (median, ms; $cap)"
  for ex in hello static_website; do
    local loc=() dis=() remote='' compiles='' lt dt ratio
    for r in $(seq "$rounds"); do
      dbuild "$ex" "dl-$ex-$r"
      dbuild "$ex" "dd-$ex-$r" --distcc "$hosts"
      out=$work/dd-$ex-$r
      [ "$(cut -d' ' -f1 "$work/dl-$ex-$r.sha")" = "$(cut -d' ' -f1 "$out.sha")" ] ||
        die "$ex: the distcc image differs from the local one"
      [ "$(dc_fallbacks "$out.log")" = 0 ] || die "$ex: distcc fell back: $(grep 'distcc:' "$out.log")"
      loc+=("$(compile_phase "$work/dl-$ex-$r.log")")
      dis+=("$(compile_phase "$out.log")")
      remote+=" $(dc_remote "$out.log")/$(dc_compiles "$out.log")"
    done
    lt=$(printf '%s\n' "${loc[@]}" | median)
    dt=$(printf '%s\n' "${dis[@]}" | median)
    ratio=$(awk -v a="$lt" -v b="$dt" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
    printf '  %-44s %8s  (rounds: %s)\n' "$ex: compile phase, local on b1" "$lt" "${loc[*]}"
    printf '  %-44s %8s  (rounds: %s; compiles on the hosts:%s)\n' \
      "$ex: compile phase, distcc on w1 + w2" "$dt" "${dis[*]}" "$remote"
    printf '  %-44s %7sx  goal >= %sx: %s\n' "$ex: local / distcc" "$ratio" "$GOAL_DISTCC" \
      "$(awk -v s="$ratio" -v g="$GOAL_DISTCC" 'BEGIN { print (s >= g) ? "met" : "MISSED" }')"
  done
  echo "  periods throttled by the cap: b1 $(throttled b1), w1 $(throttled w1), w2 $(throttled w2)"
}

# --- a pull worker claiming a queued build: a coordinator on coord, a
# worker on w1, both with the shared cache of figure_cache (round 1's base,
# so the builds themselves are short)
figure_worker_claim() {
  local base=http://$(ns_ip cache):8080/round1 i r line id total post took prep=() totals=()
  wk_serve coord "$work/claim-coord" --remote-cache "$base" || die "mgd serve does not start"
  wk_token || die "no worker token"
  wk_worker w1 claimer --remote-cache "$base"
  wk_wait_connected claimer || die "the worker does not connect: $(cat "$work/claimer.err")"
  for r in $(seq "$rounds"); do
    for i in $(seq "$CLAIM_BUILDS"); do
      wk_project "claim$r-$i"
      # the worker is long-polling again after its last build
      sleep 0.5
      line=$(ns_run coord python3 "$src/bench/scale/claim_time.py" "$wk_url" "$wk_admin" \
        "claim$r-$i" "$work/claimer.err") || die "no claim: $(tail -5 "$work/claimer.err")"
      read -r id total post <<<"$line"
      wk_wait_build "$id" 120 || die "build $id did not end"
      [ "$(wk_field status worker <"$work/build.$id" | paste -sd' ')" = "succeeded claimer" ] ||
        die "build $id: $(cat "$work/build.$id")"
      took=$(wk_api GET "/builds/$id/log" | sed -n 's/^\[ *\([0-9.]*\)\] worker claimer took the build.*/\1/p')
      totals+=("$total")
      prep+=("$(awk -v t="$took" 'BEGIN { printf "%d", t * 1000 }')")
    done
  done
  local med mx pmed pmx
  med=$(printf '%s\n' "${totals[@]}" | median)
  mx=$(printf '%s\n' "${totals[@]}" | sort -n | tail -1)
  pmed=$(printf '%s\n' "${prep[@]}" | median)
  pmx=$(printf '%s\n' "${prep[@]}" | sort -n | tail -1)
  echo "bench/scale: a pull worker (w1) claiming a queued build from the coordinator (coord)," \
    "${#totals[@]} builds ($cap)"
  printf '  %-44s %8s  max %s  (builds: %s)\n' "POST /build to the worker's claim answer, ms" \
    "$med" "$mx" "${totals[*]}"
  printf '  %-44s %8s  goal <= %s ms: %s\n' "  median" "$med" "$GOAL_CLAIM_MS" \
    "$(awk -v s="$med" -v g="$GOAL_CLAIM_MS" 'BEGIN { print (s <= g) ? "met" : "MISSED" }')"
  printf '  %-44s %8s  max %s  (builds: %s)\n' "of it the coordinator's prepare step, ms" \
    "$pmed" "$pmx" "${prep[*]}"
  echo "  periods throttled by the cap: coord $(throttled coord), w1 $(throttled w1)"
}

figure_cache
figure_distcc_compile
figure_worker_claim
rc_nginx_stop
echo "  (load average $load_at_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end;" \
  "$(nproc) cores)"
