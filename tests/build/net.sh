#!/usr/bin/env bash
# Network devices on every target: the ping example (ARP and ICMP echo on
# raw Ethernet frames, examples/ping) answers the host's ping over a tap
# interface on unix, spt (through mg-spt) and virtio (virtio-net in QEMU),
# all started by `mgd run --net service=TAP`; full-size frames (1500-byte
# packets) pass both ways; the tap's MTU (9000) is the image's on every
# target, and a 9000-byte packet passes both ways through the echo
# example's IP stack; a missing or unknown network device is refused with
# a clear message.
# Everything happens in a network namespace made here and deleted on exit:
# the tap and its address never touch the host's own interfaces.
# usage: net.sh MGD MG-SPT EXAMPLES_DIR
set -uo pipefail
mgd=$(realpath "$1") spt=$(realpath "$2") examples=$(realpath "$3")
# shellcheck source=target_lib.sh
source "$(dirname "$0")/target_lib.sh"
run() { local out=$1; shift; "$@" >"$out" 2>&1; }

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
  echo "skipped: the network tests need root and /dev/net/tun (they make a namespace and a tap)" >&2
  exit 77 # CTest's SKIP_RETURN_CODE: reported as skipped, not passed
fi
tap_namespace "mgd-net-test-$$" tap0 || exit 1

# waits up to $2 seconds for file $1 to hold line pattern $3
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do grep -Eq "$3" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# spt needs its tender, which is built only with libseccomp
targets="unix spt virtio"
[ -x "$spt" ] || { targets="unix virtio"; echo "skip spt: mg-spt was not built (no libseccomp-dev)"; }
for target in $targets; do
  build "$examples/ping" "$work/ping.$target" "$target"
  check "ping builds for $target" test -s "$work/ping.$target"
  out=$work/run.$target
  in_ns timeout 120 "$mgd" run "$work/ping.$target" --net service=tap0 -- --count=3 >"$out" 2>&1 &
  pid=$!
  # a locally administered unicast MAC (x2, x6, xa, xe), on virtio too
  check "ping on $target comes up" wait_for "$out" 60 '^ping: answering for 10\.0\.0\.2 on service \(mac [0-9a-f][26ae](:[0-9a-f]{2}){5}, mtu 1500\)'
  run "$work/p1.$target" in_ns ping -n -c 2 -i 0.2 -W 5 10.0.0.2
  check "the host's ping gets 2 replies from $target" grep -q '2 packets transmitted, 2 received' "$work/p1.$target"
  run "$work/p2.$target" in_ns ping -n -c 1 -s 1472 -M do -W 5 10.0.0.2
  check "a 1500-byte packet goes both ways on $target" grep -q '1 packets transmitted, 1 received' "$work/p2.$target"
  wait "$pid"; rc=$?
  tr -d '\r' <"$out" >"$out.lines" && mv "$out.lines" "$out" # virtio's console: CR LF
  check "ping on $target exits 0 after 3 replies" test "$rc" -eq 0
  check "... having printed each" test "$(grep -c '^ping: echo reply [123] to 10\.0\.0\.1 ' "$out")" -eq 3
  check "... the last with 1472 bytes" grep -q '^ping: echo reply 3 to 10\.0\.0\.1 (id [0-9]*, seq 1, 1472 bytes)$' "$out"
  [ "$fails" -eq 0 ] || { cat "$out" "$work"/p?."$target"; }
done

# the host's MTU reaches the image on every target (virtio: mgd run reads
# the tap's and gives QEMU host_mtu=, the driver reads VIRTIO_NET_F_MTU)
in_ns ip link set tap0 mtu 9000
for target in $targets; do
  out=$work/mtu.$target
  in_ns timeout 60 "$mgd" run "$work/ping.$target" --net service=tap0 -- --count=1 >"$out" 2>&1 &
  pid=$!
  check "$target reports the tap's MTU of 9000" wait_for "$out" 60 '^ping: answering for .*, mtu 9000\)'
  run "$work/m1.$target" in_ns ping -n -c 1 -s 1472 -W 5 10.0.0.2
  check "... and still answers a 1500-byte ping" grep -q '1 packets transmitted, 1 received' "$work/m1.$target"
  wait "$pid" || { tr -d '\r' <"$out"; check "... and exits 0" false; }
  # a 9000-byte packet both ways, through the echo example's IP stack (the
  # ping example answers from a 1514-byte buffer)
  keys=()
  [ "$target" = unix ] && keys=(--key net=direct) # lwIP on the tap, not the host's sockets
  if ! build "$examples/echo" "$work/echo.$target" "$target" "${keys[@]}"; then
    check "echo builds for the 9000-byte packet on $target" false
    continue
  fi
  in_ns timeout 60 "$mgd" run "$work/echo.$target" --net service=tap0 >"$out.echo" 2>&1 &
  pid=$!
  wait_for "$out.echo" 60 '^echo: listening'
  run "$work/m2.$target" in_ns ping -n -c 1 -s 8972 -M do -W 5 10.0.0.2
  check "a 9000-byte packet goes both ways on $target" grep -q '1 packets transmitted, 1 received' "$work/m2.$target"
  # the echo server never ends by itself: end what runs in the namespace
  # (only it, now), QEMU included
  ip netns pids "$ns" | xargs -r kill 2>/dev/null
  wait "$pid" 2>/dev/null
done
in_ns ip link set tap0 mtu 1500

# what is refused
run "$work/n1" "$mgd" run "$work/ping.virtio"; rc=$?
check "virtio without --net: usage error (2)" test "$rc" -eq 2
check "... saying how to attach it" grep -q 'needs the network device service: attach it with --net service=TAP' "$work/n1"
if [ -x "$spt" ]; then
  run "$work/n2" "$spt" "$work/ping.spt"; rc=$?
  check "mg-spt without --net:service: refused (125)" test "$rc" -eq 125
  check "... saying how to attach it" grep -q -- '--net:service=TAP' "$work/n2"
  run "$work/n3" in_ns "$mgd" run "$work/ping.spt" --net service=nosuchtap; rc=$?
  check "spt with a tap that does not exist: refused (125)" test "$rc" -eq 125
  check "... naming it" grep -q 'nosuchtap' "$work/n3"
fi
run "$work/n6" in_ns "$mgd" run "$work/ping.virtio" --net service=nosuchtap; rc=$?
check "virtio with a tap that does not exist: refused before QEMU starts (2)" bash -c \
  "test $rc -eq 2 && grep -q 'no tap interface nosuchtap: create it with ip tuntap add' '$work/n6'"
run "$work/n4" in_ns "$mgd" run "$work/ping.unix" --net service=nosuchtap; rc=$?
check "unix with a tap that does not exist: the device fails to connect (1)" test "$rc" -eq 1
check "... naming the device" grep -q 'netif service: cannot acquire the network device' "$work/n4"
run "$work/n5" "$mgd" run "$work/ping.unix" --net other=tap0; rc=$?
check "an undeclared network device: usage error (2)" bash -c "test $rc -eq 2 && grep -q 'has no network device named other' '$work/n5'"
# names mgd run could not attach are refused when building
mkdir -p "$work/eq"
cp "$examples/ping/unikernel.c" "$work/eq/"
python3 - "$examples/ping/config.json" "$work/eq/config.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["devices"]["lan"] = {"device": "netif", "args": {"name": "a=b"}}
d["jobs"][0]["to"][1] = "lan"
json.dump(d, open(sys.argv[2], "w"))
PY
"$mgd" build "$work/eq" -o "$work/eq/img" >"$work/eq.out" 2>&1; rc=$?
check "a network device named a=b is refused at build time" bash -c \
  "test $rc -eq 1 && grep -q 'the net name \"a=b\" has an' '$work/eq.out'"
finish
