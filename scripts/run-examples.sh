#!/usr/bin/env bash
# Resolves every example with `mgd describe` and prints the result:
#   scripts/run-examples.sh BINARY
# BINARY is the mgd to run (`make run` passes build/release/daemon/mgd).
# Each examples/*/config.json is described for target unix, in name order;
# some examples are also described with other key values (see `variants`).
# Stops at the first failure and exits with its status, after printing what
# mgd said. Until the runtime exists this is all `make run` can show.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY   (the mgd binary, e.g. build/release/daemon/mgd)" >&2
  exit 2
fi
bin=$1
case "$bin" in
  /*) ;;
  *) bin="$PWD/$bin" ;;
esac
if [ ! -x "$bin" ]; then
  echo "$0: $1 is not an executable file (build first: make build)" >&2
  exit 2
fi

cd "$(dirname "$0")/.."

# Extra runs per example, one `--key k=v` list per line, on top of the run
# with the defaults.
declare -A variants=(
  [kv_ro]="--key kv_ro=direct"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# describe CONFIG [ARGS...]: prints a header and the JSON; stops on failure.
describe() {
  local config=$1
  shift
  echo "==> mgd describe $config --target unix${*:+ $*}"
  local status=0
  "$bin" describe "$config" --target unix "$@" >"$tmp/out" 2>"$tmp/err" || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$tmp/out"
    cat "$tmp/err" >&2
    echo "$0: mgd describe $config failed (exit $status)" >&2
    exit "$status"
  fi
  cat "$tmp/out"
  echo
}

shopt -s nullglob
export LC_ALL=C # glob order: plain byte order, the same everywhere
configs=(examples/*/config.json)
if [ ${#configs[@]} -eq 0 ]; then
  echo "$0: no examples/*/config.json found" >&2
  exit 1
fi

for config in "${configs[@]}"; do
  describe "$config"
  example=$(basename "$(dirname "$config")")
  if [ -n "${variants[$example]:-}" ]; then
    while read -r -a args; do
      [ ${#args[@]} -eq 0 ] || describe "$config" "${args[@]}"
    done <<<"${variants[$example]}"
  fi
done

echo "Resolved ${#configs[@]} example(s). Building and running images comes with the runtime" \
  "(mgd build), and the daemon (mgd serve) after it."
