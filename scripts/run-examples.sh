#!/usr/bin/env bash
# Builds every example with `mgd build` and runs it with `mgd run`:
#   scripts/run-examples.sh BINARY
# BINARY is the mgd to run (`make run` passes build/release/daemon/mgd).
# Images go to build/examples/; the build cache is mgd's default
# ($MGD_CACHE, else ~/.cache/mgd), so a second `make run` is quick.
# hello runs with --count=2 to keep this short; block gets a fresh 1 MiB
# disk; kv_ro is also built with kv_ro=direct (it then reads
# examples/kv_ro/data at run time); echo and static_website are started on
# a free port on the host's sockets, asked once and stopped. Stops at the
# first failure.
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

# The network servers on the host's sockets (unix, no tap): each is
# started on a free port, asked once, and stopped. (ping, and these on
# spt and virtio, need a tap: see docs/network.md.)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
serve() {
  local example=$1 ask=$2 port pid
  port=$(free_port)
  echo "==> mgd build examples/$example"
  "$bin" build "examples/$example" -o "$out/$example"
  echo "==> mgd run build/examples/$example -- --port=$port"
  "$bin" run "$out/$example" -- --port="$port" &
  pid=$!
  trap 'kill $pid 2>/dev/null' EXIT
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  "$ask" "$port"
  kill "$pid" && wait "$pid" 2>/dev/null || true
  trap - EXIT
  echo
}
ask_echo() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'hello, echo\n' >&3
  read -r reply <&3
  exec 3>&-
  echo "echo answered: $reply"
  [ "$reply" = "hello, echo" ]
}
ask_website() {
  curl -sS --fail -o /dev/null -w 'GET / -> %{http_code} %{content_type}, %{size_download} bytes\n' \
    "http://127.0.0.1:$1/"
}
serve echo ask_echo
serve static_website ask_website
echo "All examples built and ran. Images are in build/examples/."
echo "The daemon (mgd serve) comes next; see README.md."
