#!/usr/bin/env bash
# fuzz.sh - builds mgd's libFuzzer targets (clang, ASan + UBSan) and runs
# them one after another, each for a number of executions or seconds,
# from its corpus in tests/fuzz/corpus/ (docs/fuzzing.md).
#
#   scripts/fuzz.sh [--runs N | --time SECONDS] [--build DIR] [TARGET...]
#
# TARGET: http image sse tar crunch resolve (default: all, in that order).
# --runs N: N executions each (the closing note's runs: --runs 10000000);
# --time S: S seconds each (default: 60). New inputs go to DIR/work/NAME
# (default DIR: build/fuzz), never into the sources; a crash leaves its
# input there as crash-* and the script exits 1 after the other targets.
# Each target's executions per second are printed at the end. Targets run
# one at a time: each uses one core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
limit=(-max_total_time=60)
targets=()
while [ $# -gt 0 ]; do
  case $1 in
  --runs) limit=(-runs="$2"); shift 2 ;;
  --time) limit=(-max_total_time="$2"); shift 2 ;;
  --build) build=$(realpath -m "$2"); shift 2 ;;
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(http image sse tar crunch resolve)

cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then
  echo "fuzz.sh: needs clang and its libFuzzer runtime (scripts/deps.sh installs them)" >&2
  exit 2
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=$cc cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGD_FUZZ=ON \
    -DMGD_SANITIZE=ON -DMGD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz-}"

# the largest input each target is given (its seeds fit)
max_len() {
  case $1 in
  tar) echo 65536 ;;
  http | image) echo 16384 ;;
  *) echo 8192 ;;
  esac
}

failed=0
summary=()
for t in "${targets[@]}"; do
  work=$build/work/$t
  mkdir -p "$work"
  if [ "$t" = resolve ]; then
    corpus=("$root/examples" "$root/tests/fuzz/seeds" "$root/tests/codegen/nested")
  else
    corpus=("$root/tests/fuzz/corpus/$t")
  fi
  log=$build/work/$t.log
  echo "== fuzz-$t ${limit[*]} (log: $log)"
  rc=0
  # scratch space of the targets (http's data directory, crunch's trees):
  # libFuzzer ends a timed run without the targets' clean-up
  # (in memory when /dev/shm is there: the http store resets every 20,000
  # inputs, crunch's trees hold 32 small files, so it stays small)
  scratch=$(mktemp -d "$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/mgd-fuzz-$t-XXXXXX")
  # -close_fd_mask=1: the readers' own messages on stdout are noise here
  (cd "$work" && MGD_FUZZ_TMP=$scratch "$build/tests/fuzz/fuzz-$t" "${limit[@]}" \
    -max_len="$(max_len "$t")" -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$work/" \
    -detect_leaks=1 "$work" "${corpus[@]}") >"$log" 2>&1 || rc=$?
  rm -rf "$scratch"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  if [ $rc -ne 0 ]; then
    failed=1
    summary+=("$t: FAILED (exit $rc) after ${runs:-?} runs; see $log and $work/crash-*")
    grep -m5 -E "ERROR|SUMMARY|runtime error|abort" "$log" >&2 || true
  else
    summary+=("$t: ${runs:-?} runs, ${speed:-?} exec/s, no finding")
  fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
