# What the per-target tests (spt.sh, virtio.sh, net.sh, catalog.sh) share; sourced after they
# set $mgd. A scratch directory $work (removed on exit), check NAME CMD...
# (counts failures in $fails; `finish` reports them and sets the status),
# build DIR OUT TARGET [args] (mgd build, its log shown on failure) and
# same A B (equal files, else their diff).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
build() { # DIR OUT TARGET [args]
  local dir=$1 out=$2 target=$3; shift 3
  "$mgd" build "$dir" -o "$out" --target "$target" "$@" >"$out.sha" 2>"$out.log" ||
    { cat "$out.log"; return 1; }
}
same() { cmp -s "$1" "$2" || { diff "$1" "$2" | head -20; return 1; }; }
finish() {
  echo "$fails failed"
  test "$fails" -eq 0
}
# tap_namespace NAME TAP...: a network namespace NAME holding the tap
# interfaces TAP..., each up with the host's address 10.0.0.1/24; it is
# deleted on exit, and whatever still runs in it killed. in_ns CMD... runs
# a command in it. Needs root.
tap_namespace() {
  ns=$1; shift
  trap 'ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
  ip netns add "$ns" && in_ns ip link set lo up || return 1
  local tap
  for tap in "$@"; do
    in_ns ip tuntap add "$tap" mode tap && in_ns ip addr add 10.0.0.1/24 dev "$tap" &&
      in_ns ip link set "$tap" up || return 1
  done
}
in_ns() { ip netns exec "$ns" "$@"; }
