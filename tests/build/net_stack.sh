#!/usr/bin/env bash
# The TCP/IP stacks end to end (issue 16), on each configuration an image
# can serve from: unix/socket (the host's sockets, no tap), unix/tap (the
# direct stack, lwIP, over a tap: --key net=direct), spt (direct stack
# through mg-spt's tap) and virtio (direct stack on virtio-net in QEMU):
#   echo: 1 MB returned byte-identical; 1,000 connections open at once,
#     each getting its own message back (tests/build/net_client.py);
#   static_website: curl gets every file of htdocs/ with its length, bytes
#     and Content-Type, / is index.html, 404, HEAD, two requests on one
#     kept-alive connection, an oversized request line (414) and header
#     block (431) refused;
#   fragments: `ping -s 3000` (three IP fragments each way) to the direct
#     stack is answered;
#   DHCP: dnsmasq on the tap's host side leases an address to a
#     static_website built with --key dhcp=true, the image prints it within
#     2 s, and the website answers on it (unix/tap and spt).
# Every server is reached from a client namespace through one kernel hop
# (net_lib.sh): the tap for the direct stack, a veth pair for the socket
# stack. An example or a stack that is missing is a failure that says so,
# never a skip; only a host without root, /dev/net/tun (77) or libseccomp
# (no mg-spt: spt is left out, saying so) skips.
# usage: net_stack.sh MGD MG-SPT EXAMPLES_DIR [CONFIG...]
#   CONFIG: unix/socket unix/tap spt virtio (default: all four);
#   NET_STACK_PARTS="echo web frag dhcp" (default: all) to run a subset.
set -uo pipefail
mgd=$(realpath "$1") spt=$(realpath "$2") examples=$(realpath "$3")
shift 3
here=$(dirname "$(realpath "$0")")
# shellcheck source=target_lib.sh
source "$here/target_lib.sh"
# shellcheck source=net_lib.sh
source "$here/net_lib.sh"
configs=${*:-unix/socket unix/tap spt virtio}
parts=" ${NET_STACK_PARTS:-echo web frag dhcp} "
client=(python3 "$here/net_client.py")
# concurrent echo connections: the issue's figure, on every target
N_MANY=${NET_STACK_MANY:-1000}

net_need_root
# the client opens 1,000 sockets and the image as many (the unix images'
# descriptors are the host's): more than the usual soft limit of 1024
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
for tool in curl ping python3 dnsmasq; do
  command -v "$tool" >/dev/null || { echo "FAIL $tool is not installed (scripts/deps.sh installs it)"; exit 1; }
done
net_namespaces "mgdstk$$" || { echo "FAIL cannot make the test's namespaces"; exit 1; }

part() { [[ $parts == *" $1 "* ]]; }
# the configuration $1: target, build keys, namespace the image runs in,
# (its name, for net_start), its address and its mgd run options
conf() {
  case $1 in
    unix/socket) target=unix keys=(--key net=socket) run=$srv_ns addr=10.0.1.2 net=() ;;
    unix/tap) target=unix keys=(--key net=direct) run=$ns addr=10.0.0.2 net=(--net service=tap0) ;;
    spt | virtio) target=$1 keys=() run=$ns addr=10.0.0.2 net=(--net service=tap0) ;;
    *) echo "FAIL unknown configuration $1 (unix/socket unix/tap spt virtio)"; return 1 ;;
  esac
  tag=${1/\//-}
  direct=$([ "$1" = unix/socket ] && echo no || echo yes)
}
# example NAME: present, else a failure naming what is missing
example() {
  [ -f "$examples/$1/config.json" ] && return 0
  echo "FAIL examples/$1 does not exist (issue 16: it is not merged yet)"
  fails=$((fails + 1))
  return 1
}
# start IMAGE LOG [runtime args]: runs the image where $run says; the
# stale neighbour entry of the previous image's MAC goes first
start() {
  local img=$1 log=$2; shift 2
  in_ns ip neigh flush dev tap0 2>/dev/null
  net_start "$run" "$log" "$mgd" run "$img" "${net[@]}" -- "$@"
}
# up LOG PORT NAME: the server answers on $addr:PORT within 60 s (QEMU
# under TCG boots in seconds); else a failure with the image's output
up() {
  if wait_port in_ns "$addr" "$2" 60 "$net_pid"; then echo "ok   $3 answers on $addr:$2"; return 0; fi
  echo "FAIL $3 does not answer on $addr:$2; its output:"
  tr -d '\r' <"$1" | tail -20
  fails=$((fails + 1))
  return 1
}
# the value of header $2 in curl's header dump $1 (the last response)
header() { tr -d '\r' <"$1" | grep -i "^$2:" | tail -1 | sed 's/^[^:]*: *//'; }
# the Content-Type a file's extension must get
mime() {
  case ${1##*.} in
    html | htm) echo text/html ;; css) echo text/css ;; js) echo application/javascript ;;
    png) echo image/png ;; jpg | jpeg) echo image/jpeg ;; gif) echo image/gif ;;
    svg) echo image/svg+xml ;; ico) echo image/x-icon ;; txt) echo text/plain ;;
    *) echo application/octet-stream ;;
  esac
}

echo_checks() { # (the echo image answers on $addr:7)
  local out=$work/echo.$tag.out
  in_ns "${client[@]}" bulk "$addr" 7 1048576 >"$out" 2>&1
  check "echo on $cfg: 1 MB returned byte-identical ($(tail -1 "$out"))" grep -q '^bulk: .* byte-identical' "$out"
  in_ns "${client[@]}" many "$addr" 7 "$N_MANY" --timeout 90 >"$out" 2>&1
  check "echo on $cfg: $N_MANY concurrent connections ($(tail -1 "$out"))" grep -q '^many: .* each got its message back' "$out"
}

web_checks() { # ADDR (the website answers on ADDR:80)
  local a=$1 f path want len type d=$work/web.$tag
  mkdir -p "$d"
  while IFS= read -r f; do
    path=${f#"$examples/static_website/htdocs"}
    want=$(mime "$f") len=$(stat -c %s "$f")
    in_ns curl -s -m 20 -D "$d/h" -o "$d/b" -w '%{http_code}' "http://$a$path" >"$d/code"
    check "web on $cfg: GET $path is 200 ($(cat "$d/code"))" test "$(cat "$d/code")" = 200
    check "... $len bytes, the file's" same "$f" "$d/b"
    check "... Content-Length: $len ($(header "$d/h" content-length))" test "$(header "$d/h" content-length)" = "$len"
    type=$(header "$d/h" content-type)
    check "... Content-Type: $want ($type)" test "${type%%;*}" = "$want"
  done < <(find "$examples/static_website/htdocs" -type f | sort)
  in_ns curl -s -m 20 -o "$d/b" "http://$a/"
  check "web on $cfg: / is index.html" same "$examples/static_website/htdocs/index.html" "$d/b"
  check "web on $cfg: a missing file is 404" test "$(in_ns curl -s -m 20 -o /dev/null -w '%{http_code}' "http://$a/no/such/file.html")" = 404
  len=$(stat -c %s "$examples/static_website/htdocs/index.html")
  in_ns curl -s -m 20 -I -o "$d/h" -w '%{http_code} %{size_download}' "http://$a/index.html" >"$d/code"
  check "web on $cfg: HEAD is 200 with Content-Length: $len and no body ($(cat "$d/code"))" \
    bash -c "test '$(cat "$d/code")' = '200 0' && test '$(header "$d/h" content-length)' = $len"
  # keep-alive: curl reuses one connection for both when the server keeps it
  in_ns curl -sv -m 20 -o /dev/null -o /dev/null "http://$a/index.html" "http://$a/style.css" 2>"$d/ka"
  check "web on $cfg: two requests on one kept-alive connection" \
    bash -c "grep -q 'Re-using existing connection' '$d/ka' && test \$(grep -c '^\* Connected to' '$d/ka') -eq 1"
  # over the limits: a 9,000-byte request line; a 17,000-byte header block
  python3 -c 'import sys; sys.stdout.write("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n")' >"$d/long-line"
  python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nHost: x\r\n" + "X-Pad: " + "b" * 17000 + "\r\n\r\n")' >"$d/long-headers"
  in_ns "${client[@]}" http-raw "$a" 80 "$d/long-line" --timeout 20 >"$d/r1" 2>&1
  check "web on $cfg: a 9,000-byte request line is refused with 414 ($(head -1 "$d/r1"))" grep -q '^HTTP/1\.[01] 414' "$d/r1"
  in_ns "${client[@]}" http-raw "$a" 80 "$d/long-headers" --timeout 20 >"$d/r2" 2>&1
  check "web on $cfg: a 17,000-byte header block is refused with 431 ($(head -1 "$d/r2"))" grep -q '^HTTP/1\.[01] 431' "$d/r2"
}

frag_checks() { # (a direct-stack image answers on $addr)
  in_ns ping -n -c 2 -i 0.2 -s 3000 -W 5 "$addr" >"$work/frag.$tag" 2>&1
  check "fragments on $cfg: ping -s 3000 is answered" grep -q '2 packets transmitted, 2 received' "$work/frag.$tag"
}

dhcp_checks() { # (static_website built with dhcp=true)
  local img=$work/dhcp.$tag log=$work/dhcp.$tag.log lease i t0 ms
  build "$examples/static_website" "$img" "$target" "${keys[@]}" --key dhcp=true || {
    echo "FAIL static_website does not build for $cfg with --key dhcp=true"; fails=$((fails + 1)); return; }
  # dnsmasq, DHCP only (port 0: no DNS), on the tap; --no-ping: it offers
  # at once instead of first probing the address for 3 s
  net_start "$ns" "$work/dnsmasq.$tag.log" dnsmasq --keep-in-foreground --port=0 --no-resolv --no-hosts --no-ping \
    --interface=tap0 --bind-interfaces --dhcp-range=10.0.0.100,10.0.0.199,255.255.255.0,10m \
    --dhcp-leasefile="$work/leases.$tag" --pid-file="$work/dnsmasq.$tag.pid" \
    --dhcp-authoritative --log-dhcp --log-facility=-
  local dpid=$net_pid
  sleep 0.3
  t0=$(date +%s%N)
  start "$img" "$log"
  local ipid=$net_pid
  for ((i = 0; i < 100; i++)); do
    grep -q 'lease [0-9.]*/' "$log" 2>/dev/null && break
    sleep 0.05
  done
  ms=$((($(date +%s%N) - t0) / 1000000))
  lease=$(tr -d '\r' <"$log" | sed -n 's/.*lease \([0-9.]*\)\/.*/\1/p' | head -1)
  check "dhcp on $cfg: the image prints its lease within 2 s (${lease:-none} after $ms ms)" \
    bash -c "test -n '$lease' && test $ms -le 2000"
  if [ -n "$lease" ]; then
    check "... dnsmasq leased that address" grep -q " $lease " "$work/leases.$tag"
    if wait_port in_ns "$lease" 80 10; then
      in_ns curl -s -m 20 -o "$work/dhcp.$tag.index" "http://$lease/"
      check "... the website answers on it" same "$examples/static_website/htdocs/index.html" "$work/dhcp.$tag.index"
    else
      check "... the website answers on $lease:80" false
    fi
  fi
  [ "$fails" -eq 0 ] || { tr -d '\r' <"$log" | tail -10; tail -10 "$work/dnsmasq.$tag.log"; }
  net_stop "$ipid"
  net_stop "$dpid"
}

for cfg in $configs; do
  conf "$cfg" || { fails=$((fails + 1)); continue; }
  if [ "$target" = spt ] && [ ! -x "$spt" ]; then
    echo "skip spt: mg-spt was not built (no libseccomp-dev)"
    continue
  fi
  echo "== $cfg"
  if (part echo || { part frag && [ "$direct" = yes ]; }) && example echo; then
    img=$work/echo.$tag
    if build "$examples/echo" "$img" "$target" "${keys[@]}"; then
      start "$img" "$work/echo.$tag.log"
      if up "$work/echo.$tag.log" 7 "echo on $cfg"; then
        part echo && echo_checks
        part frag && [ "$direct" = yes ] && frag_checks
      fi
      net_stop "$net_pid"
    else
      echo "FAIL echo does not build for $cfg"; fails=$((fails + 1))
    fi
  fi
  if part web && example static_website; then
    img=$work/web.$tag.img
    if build "$examples/static_website" "$img" "$target" "${keys[@]}"; then
      start "$img" "$work/web.$tag.log"
      up "$work/web.$tag.log" 80 "static_website on $cfg" && web_checks "$addr"
      net_stop "$net_pid"
    else
      echo "FAIL static_website does not build for $cfg"; fails=$((fails + 1))
    fi
  fi
  if part dhcp && { [ "$cfg" = unix/tap ] || [ "$cfg" = spt ]; } && example static_website; then
    dhcp_checks
  fi
done
finish
