# shellcheck shell=bash
# What the network stack tests (net_stack.sh) add to target_lib.sh, which
# they source first: two network namespaces joined to nothing outside
# them, so that a test never touches the host's interfaces and two runs
# never meet (every name carries the caller's PID):
#   the client namespace $ns: a tap (tap0, the host side 10.0.0.1/24) for
#     images with the direct stack (unix/tap, spt, virtio: 10.0.0.2), and
#     one end of a veth pair (veth-c, 10.0.1.1/24);
#   the server namespace $srv_ns: the other end (veth-s, 10.0.1.2/24), where
#     the socket stack (unix/socket) and host servers (nginx) listen, so
#     that the client reaches every server through one kernel hop.
# Both are deleted on exit, and whatever still runs in them killed.
# The tap is where target_lib.sh's tap_namespace puts it, so in_ns works
# as in net.sh; in_srv runs a command in the server namespace.

# net_need_root: exits 77 (CTest's skip) without root or /dev/net/tun.
net_need_root() {
  if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    echo "skipped: the network tests need root and /dev/net/tun (they make namespaces and taps)" >&2
    exit 77
  fi
}

# net_cleanup: kills what runs in the namespaces, deletes them and $work.
net_cleanup() {
  local n
  for n in "${ns:-}" "${srv_ns:-}"; do
    [ -n "$n" ] || continue
    ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$work"
}

# net_namespaces PREFIX: makes $ns (PREFIX-c) and $srv_ns (PREFIX-s) as
# above; returns non-zero if any step fails (the trap still cleans up).
net_namespaces() {
  ns=$1-c srv_ns=$1-s
  trap net_cleanup EXIT
  ip netns add "$ns" && ip netns add "$srv_ns" || return 1
  in_ns ip link set lo up && in_srv ip link set lo up || return 1
  in_ns ip tuntap add tap0 mode tap && in_ns ip addr add 10.0.0.1/24 dev tap0 &&
    in_ns ip link set tap0 up || return 1
  ip link add veth-c netns "$ns" type veth peer veth-s netns "$srv_ns" || return 1
  in_ns ip addr add 10.0.1.1/24 dev veth-c && in_ns ip link set veth-c up || return 1
  in_srv ip addr add 10.0.1.2/24 dev veth-s && in_srv ip link set veth-s up || return 1
}
in_ns() { ip netns exec "$ns" "$@"; }
in_srv() { ip netns exec "$srv_ns" "$@"; }

# wait_for FILE SECONDS REGEX: waits for FILE to hold a line matching REGEX.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do grep -Eq "$3" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# wait_port NS_CMD HOST PORT SECONDS [PID]: waits until a TCP connection
# to HOST:PORT from the namespace (in_ns or in_srv) succeeds; gives up
# early when process PID (the server) has ended.
wait_port() {
  local run=$1 host=$2 port=$3 pid=${5:-} i
  for ((i = 0; i < $4 * 5; i++)); do
    "$run" timeout 1 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null && return 0
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# net_start NS LOG CMD...: starts CMD in the namespace NS ($ns or
# $srv_ns), in a session of its own (so that net_stop ends QEMU or mg-spt
# with mgd run), its output into LOG; sets $net_pid. `ip netns exec` is
# run here, not through in_ns: a shell function in the background is a
# subshell, whose PID would be the wrong one to stop.
net_start() {
  local n=$1 log=$2; shift 2
  ip netns exec "$n" setsid "$@" >"$log" 2>&1 &
  net_pid=$!
}

# net_stop PID: ends that session (TERM, then KILL) and reaps it.
net_stop() {
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
