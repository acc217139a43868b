#!/usr/bin/env bash
# Keeps the catalog honest: every entry that claims a target is used by a
# test unikernel that builds for that target and passes its checks there
# (tests/build/everything/):
#  - allunix (unix.json: portable.c and unix_only.c) uses every entry that
#    claims unix, and runs on unix;
#  - allfree (freestanding.json: portable.c) uses every entry that claims
#    spt or virtio, and runs on both, through mgd run.
# Their network devices are taps in a namespace made here and deleted on
# exit (so this test needs root), the host forwarding between them:
#  - lan: a raw netif, the host at 10.0.0.1/24;
#  - svc0 (the default network device): the static direct stack at
#    10.0.1.2/24 (its UDP, TCP and HTTP servers), the host at 10.0.1.1;
#  - dh0: the DHCP direct stack (the client of those servers), leased an
#    address in 10.0.2.50-59 by a dnsmasq started here on the host's side
#    (10.0.2.1), with its own pid and lease files, killed on exit.
# A build of allunix for a target its unix-only entries lack is refused as
# unsupported_target.
# usage: catalog.sh MGD CATALOG_ENTRIES
set -uo pipefail
mgd=$(realpath "$1") entries=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=target_lib.sh
source "$here/target_lib.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
  echo "skipped: the catalog test needs root and /dev/net/tun (its unikernels have network devices)" >&2
  exit 77 # CTest's SKIP_RETURN_CODE: reported as skipped, not passed
fi

if ! command -v dnsmasq >/dev/null; then
  # not a skip: without it the DHCP stack, and every entry, would go unchecked
  echo "FAIL the catalog test needs dnsmasq to lease ipv4_of_dhcp an address (Debian dnsmasq-base)" >&2
  exit 1
fi

cp -r "$here/everything" "$work/p"
(cd "$work/p" && truncate -s 1M disk && mkdir -p t && printf 'from tar\n' >t/t.txt &&
  tar --format=ustar -C t -cf archive.tar t.txt && truncate -s 64K archive.tar)

# uses CONFIG TARGET...: the entries some TARGET claims that CONFIG leaves out
uses() {
  local config=$1; shift
  for t in "$@"; do
    "$mgd" describe "$work/p/$config" --target "$t" >"$work/describe.json" || return 1
    python3 - "$work/describe.json" "$entries" "$t" <<'PY'
import json, subprocess, sys
used = {d["impl"] for d in json.load(open(sys.argv[1]))["devices"]}
claims = subprocess.run([sys.argv[2], sys.argv[3]], capture_output=True, text=True, check=True).stdout.split()
for name in claims:
    if name not in used:
        print(sys.argv[3] + ":" + name)
PY
  done
}
uses unix.json unix >"$work/missing"
check "allunix uses every entry that claims unix ($(tr '\n' ' ' <"$work/missing"))" test ! -s "$work/missing"
uses freestanding.json spt virtio >"$work/missing"
check "allfree uses every entry that claims spt or virtio ($(tr '\n' ' ' <"$work/missing"))" test ! -s "$work/missing"

tap_namespace "mgd-catalog-test-$$" lan svc0 dh0 &&
  in_ns ip addr flush dev svc0 && in_ns ip addr add 10.0.1.1/24 dev svc0 &&
  in_ns ip addr flush dev dh0 && in_ns ip addr add 10.0.2.1/24 dev dh0 &&
  in_ns sysctl -qw net.ipv4.ip_forward=1
check "a namespace with three taps, forwarding between them" test "$?" -eq 0
# --no-ping: else dnsmasq probes each address for 3 s before offering it;
# --port=0: no DNS, DHCP only; --user=root: its files stay in $work
in_ns dnsmasq --conf-file=/dev/null --keep-in-foreground --port=0 --no-resolv --no-hosts \
  --interface=dh0 --bind-interfaces --dhcp-range=10.0.2.50,10.0.2.59,255.255.255.0,10m \
  --no-ping --dhcp-authoritative --dhcp-leasefile="$work/leases" --pid-file="$work/dnsmasq.pid" \
  --user=root --log-facility="$work/dnsmasq.log" --log-dhcp &
dnsmasq=$!
trap 'kill "$dnsmasq" 2>/dev/null; ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
for ((i = 0; i < 50; i++)); do [ -s "$work/dnsmasq.pid" ] && break; sleep 0.1; done
check "dnsmasq serves DHCP on dh0" test -s "$work/dnsmasq.pid"

# ran NAME OUT COUNT STATUS: the checks of a run
ran() {
  local name=$1 out=$2 count=$3 rc=$4
  cat "$out"
  check "$name exits 0" test "$rc" -eq 0
  check "$name passes every check" grep -qx 'ALL OK' "$out"
  check "$name has no failed check" bash -c "! grep -q '^FAIL' '$out'"
  check "$name: all $count checks ran" test "$(grep -c "^ok" "$out")" -eq "$count"
  # the image prints its lease before its start function runs, and the
  # address is one dnsmasq handed out and recorded
  local lease before=$fails
  lease=$(sed -n 's|^dhcp: lease \(10\.0\.2\.5[0-9]\)/24 from 10\.0\.2\.1$|\1|p' "$out")
  check "$name holds a lease from dnsmasq (${lease:-none})" \
    bash -c "test -n '$lease' && grep -q ' $lease ' '$work/leases' && grep -qx 'leased address $lease' '$out'"
  [ "$fails" -eq "$before" ] || cat "$work/dnsmasq.log"
}

build "$work/p" "$work/p/allunix" unix --config "$work/p/unix.json"
check "allunix builds" test -x "$work/p/allunix"
# lan and dh0 are found by their names, service through MG_NET_service
(cd "$work/p" && in_ns env MG_NET_service=svc0 timeout 60 ./allunix >"$work/run" 2>&1)
ran allunix "$work/run" 29 $?

for t in spt virtio; do
  build "$work/p" "$work/allfree.$t" "$t" --config "$work/p/freestanding.json"
  check "allfree builds for $t" test -s "$work/allfree.$t"
  cp "$work/p/disk" "$work/disk.$t"
  in_ns timeout 120 "$mgd" run "$work/allfree.$t" --block disk="$work/disk.$t" \
    --block archive.tar="$work/p/archive.tar" --net lan=lan --net service=svc0 --net dh0=dh0 2>&1 |
    tr -d '\r' >"$work/run.$t" # virtio's serial console ends lines with CR LF
  ran "allfree on $t" "$work/run.$t" 24 "${PIPESTATUS[0]}"
done

for t in spt virtio; do
  "$mgd" build "$work/p" --config "$work/p/unix.json" --target $t -o "$work/x" >"$work/o-$t" 2>"$work/e-$t"; rc=$?
  check "allunix: build --target $t is refused (exit 1)" test "$rc" -eq 1
  check "... saying unsupported_target" grep -q 'unsupported_target' "$work/e-$t"
  "$mgd" describe "$work/p/unix.json" --target $t >"$work/d-$t" 2>/dev/null; rc=$?
  check "allunix: describe --target $t is refused as unsupported_target" \
    bash -c "test $rc -eq 1 && grep -q unsupported_target '$work/d-$t'"
done
finish
