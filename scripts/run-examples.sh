#!/usr/bin/env bash
# Builds every example with `mgd build` and runs it with `mgd run`:
#   scripts/run-examples.sh BINARY
# BINARY is the mgd to run (`make run` passes build/release/daemon/mgd).
# Images go to build/examples/; the build cache is mgd's default
# ($MGD_CACHE, else ~/.cache/mgd), so a second `make run` is quick.
# hello runs with --count=2 to keep this short; block gets a fresh 1 MiB
# disk; kv_ro is also built with kv_ro=direct (it then reads
# examples/kv_ro/data at run time). Stops at the first failure.
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
out=$PWD/build/examples
mkdir -p "$out"

# step IMAGE EXAMPLE [build args...] -- [run args...]
step() {
  local image=$1 example=$2
  shift 2
  local bargs=() rargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do bargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  rargs=("$@")
  echo "==> mgd build examples/$example${bargs[*]:+ ${bargs[*]}}"
  "$bin" build "examples/$example" -o "$out/$image" "${bargs[@]}"
  echo "==> mgd run build/examples/$image${rargs[*]:+ ${rargs[*]}}"
  (cd "examples/$example" && "$bin" run "$out/$image" "${rargs[@]}")
  echo
}

truncate -s 0 "$out/disk.img" && truncate -s 1M "$out/disk.img"
step hello hello -- -- --count=2
step clocks clocks --
step random random --
step kv_ro kv_ro --
step kv_ro-direct kv_ro --key kv_ro=direct --
step block block -- --block "disk=$out/disk.img"
echo "All examples built and ran. Images are in build/examples/."
echo "The daemon (mgd serve) comes next; see README.md."
