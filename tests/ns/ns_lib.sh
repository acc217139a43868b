# Hosts for the multi-host tests and benches (tests/ns/*.sh, bench/scale):
# each "host" is a network namespace of its own with one veth link to a
# bridge that lives in yet another namespace, so the hosts reach one another
# and nothing else (not the machine's own namespace, not other machines).
# A host may be capped to a share of a CPU (a cgroup per host), so that the
# machine's cores do not blur what a bench measures. Sourced by bash
# scripts; everything it makes carries the script's pid in its name (two
# runs never clash) and is removed on exit, whatever the outcome.
#
#   ns_init NET      checks that namespaces can be made (root, `ip netns`;
#                    else says why and exits 77, CTest's skip), makes the
#                    bridge, and sets the exit trap (ns_cleanup); the hosts'
#                    addresses will be 10.218.NET.x/24
#   ns_host NAME [QUOTA PERIOD]
#                    a host; with QUOTA PERIOD (microseconds, "50000 100000"
#                    is half a CPU) its processes get that much CPU time per
#                    period, where the machine's cgroups allow a cap
#                    ($ns_cap_why says why not otherwise)
#   ns_ip NAME       prints the host's address
#   ns_run NAME CMD...  runs a program (not a shell function) in the host:
#                    its namespace, and its cgroup when capped
#   ns_bg NAME CMD...   the same in the background; $! is the program's
#                    pid (ns_exec=exec before a call of ns_run in a
#                    subshell makes that subshell the program too)
#   ns_wait_http NAME URL  waits (5 s at most) until URL answers from NAME
#   ns_prog_pid NAME PROG WORD  the pid of the program PROG (its name, as in
#                    /proc/PID/comm) whose command line has WORD, among
#                    those of host NAME's namespace (one, or nothing)
#   ns_tree PID...   those processes and all their descendants (a build's
#                    sandbox runs its actions in namespaces of their own):
#                    what `kill -9` takes down to crash a program
#   ns_atexit CMD    a command the exit trap runs after the hosts are gone
#                    (say rm -rf "$work")
# Hosts of the cache test: cache, b1, b2, other (tests/ns/cache.sh); of the
# workers test: cache, coord, w1, w2 (tests/ns/workers.sh, with
# workers_lib.sh and distcc_lib.sh for what runs on them, started with
# ns_bg); bench/scale has cache, b1, b2, w1, w2, coord.

# shellcheck shell=bash
ns_id=mgns$$
ns_net=$ns_id-net # the bridge's namespace
ns_subnet=
declare -a ns_hosts=()
declare -A ns_addr=() ns_cg=()
ns_exit_cmds=()
ns_cap_mode= # v2, v1 or empty: how a host's CPU is capped
ns_cap_root=
ns_cap_why=

ns_init() { # NET
  ns_subnet=10.218.$1
  [ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (network namespaces)"; exit 77; }
  command -v ip >/dev/null && ip netns list >/dev/null 2>&1 ||
    { echo "skipped: no 'ip netns' (iproute2)"; exit 77; }
  ns_reap_stale
  trap ns_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if ! { ip netns add "$ns_net" && ip -n "$ns_net" link set lo up &&
    ip -n "$ns_net" link add br0 type bridge && ip -n "$ns_net" link set br0 up; }; then
    # root with `ip netns`: a failure here is one to see, not a skip
    echo "FAIL cannot make the bridge's network namespace"
    exit 1
  fi
}

ns_host() { # NAME [QUOTA PERIOD]
  local name=$1 i=$((${#ns_hosts[@]} + 1)) ns=$ns_id-$1
  ns_hosts+=("$name")
  ns_addr[$name]=$ns_subnet.$((10 + i))
  # the veth pair is made between the two namespaces: never in the
  # machine's own, so no name there can clash with it
  ip netns add "$ns" && ip -n "$ns" link set lo up &&
    ip -n "$ns_net" link add "p$i" type veth peer name eth0 netns "$ns" &&
    ip -n "$ns_net" link set "p$i" master br0 up &&
    ip -n "$ns" addr add "${ns_addr[$name]}/24" dev eth0 &&
    ip -n "$ns" link set eth0 up || { echo "FAIL cannot make host $name"; exit 1; }
  [ $# -ge 3 ] && ns_cap "$name" "$2" "$3"
  return 0
}

ns_ip() { echo "${ns_addr[$1]}"; }

ns_run() { # NAME CMD...
  local name=$1; shift
  local cg=${ns_cg[$name]-}
  if [ -n "$cg" ]; then
    # join the cgroup first: `ip netns exec` mounts a /sys of its own, in
    # which the cgroup file systems are not
    ${ns_exec-} sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' ns_run "$cg" \
      ip netns exec "$ns_id-$name" "$@"
  else
    ${ns_exec-} ip netns exec "$ns_id-$name" "$@"
  fi
}

# the subshell of `&` becomes the program (ns_exec=exec): $! is its pid,
# and no shell is left to print "Terminated" when the cleanup stops it
ns_bg() { ns_exec="exec" ns_run "$@" & }

ns_wait_http() { # NAME URL
  local _
  for _ in $(seq 50); do
    ns_run "$1" curl -s -o /dev/null -m 1 "$2" && return 0
    sleep 0.1
  done
  return 1
}

ns_atexit() { ns_exit_cmds+=("$*"); }

ns_prog_pid() { # NAME PROG WORD
  local p
  for p in $(ip netns pids "$ns_id-$1" 2>/dev/null); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] &&
      tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx -- "$3" && { echo "$p"; return 0; }
  done
  return 0
}

ns_tree() { # PID...
  [ $# -gt 0 ] || return 0
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    BEGIN { n = split(roots, r, /[ \n]+/); for (i = 1; i <= n; i++) if (r[i] != "") keep[r[i]] = 1 }
    { parent[$1] = $2 }
    END {
      do {
        grew = 0
        for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 }
      } while (grew)
      for (p in keep) if (p in parent) print p
    }'
}

# ns_cap NAME QUOTA PERIOD: a cgroup for the host, on cgroup v2 (cpu.max)
# where /sys/fs/cgroup is cgroup2 and its cpu controller can be enabled,
# else on cgroup v1's cpu controller (cpu.cfs_quota_us, the same cap);
# neither: the host runs uncapped and $ns_cap_why says why
ns_cap() {
  local name=$1 quota=$2 period=$3 cg
  [ -z "$ns_cap_mode$ns_cap_why" ] && ns_cap_detect
  [ -n "$ns_cap_mode" ] || return 0
  cg=$ns_cap_root/$ns_id-$name
  mkdir "$cg" || { ns_cap_why="cannot make $cg"; return 0; }
  if [ "$ns_cap_mode" = v2 ]; then
    echo "$quota $period" >"$cg/cpu.max"
  else
    echo "$period" >"$cg/cpu.cfs_period_us" && echo "$quota" >"$cg/cpu.cfs_quota_us"
  fi || { ns_cap_why="cannot set the cap in $cg"; rmdir "$cg"; return 0; }
  ns_cg[$name]=$cg
}

ns_cap_detect() {
  local v2=/sys/fs/cgroup v1=/sys/fs/cgroup/cpu
  if [ "$(stat -fc %T $v2 2>/dev/null)" = cgroup2fs ]; then
    if grep -qw cpu $v2/cgroup.controllers 2>/dev/null &&
      { grep -qw cpu $v2/cgroup.subtree_control || echo +cpu >$v2/cgroup.subtree_control; } 2>/dev/null; then
      ns_cap_mode=v2 ns_cap_root=$v2
    else
      ns_cap_why="$v2 is cgroup2 but its cpu controller cannot be enabled"
    fi
  elif [ -e $v1/cpu.cfs_quota_us ] && [ -w $v1 ]; then
    ns_cap_mode=v1 ns_cap_root=$v1
  else
    ns_cap_why="neither cgroup2 with the cpu controller at $v2 nor cgroup v1's at $v1"
  fi
}

# every process of this run's hosts: those in their namespaces or cgroups,
# and their descendants (a build's sandbox runs its actions in network
# namespaces of their own, which `ip netns pids` does not see)
ns_pids() {
  local name roots
  roots=$(for name in "${ns_hosts[@]}"; do
    ip netns pids "$ns_id-$name" 2>/dev/null
    [ -n "${ns_cg[$name]-}" ] && cat "${ns_cg[$name]}/cgroup.procs" 2>/dev/null
  done | sort -u)
  # shellcheck disable=SC2086
  [ -z "$roots" ] || ns_tree $roots
}

# reaps this shell's jobs that have ended (zombies), quietly: no
# "Terminated" or "Killed" line from bash; a job still running is left
ns_reap_jobs() {
  local p
  for p in $(jobs -p); do
    [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)" = Z ] && wait "$p" 2>/dev/null
  done
  return 0
}

ns_cleanup() {
  local pids name _ cmd p
  # first asked to stop (nginx's master reaps its workers, so no zombie is
  # left to a pid 1 that may not reap), then killed
  pids=$(ns_pids)
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null && sleep 0.2 && ns_reap_jobs
  for _ in 1 2 3 4 5; do
    pids=$(ns_pids)
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    ns_reap_jobs
    sleep 0.1
  done
  for name in "${ns_hosts[@]}"; do
    ip netns del "$ns_id-$name" 2>/dev/null
    # a killed process leaves its cgroup once its parent has reaped it
    [ -n "${ns_cg[$name]-}" ] || continue
    for _ in $(seq 20); do
      rmdir "${ns_cg[$name]}" 2>/dev/null || [ ! -d "${ns_cg[$name]}" ] && break
      sleep 0.05
    done
  done
  ip netns del "$ns_net" 2>/dev/null
  # the subshells that ran the hosts' programs (ns_bg) end with them
  sleep 0.05
  ns_reap_jobs
  for cmd in "${ns_exit_cmds[@]}"; do eval "$cmd"; done
}

# What a run killed before its trap could run (CTest's timeout kills with
# SIGKILL) left behind: namespaces and cgroups whose pid is gone.
ns_reap_stale() {
  local n pid p
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^mgns[0-9]+-'); do
    pid=${n#mgns}
    pid=${pid%%-*}
    [ -d "/proc/$pid" ] && continue
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  for n in /sys/fs/cgroup/mgns[0-9]*-* /sys/fs/cgroup/cpu/mgns[0-9]*-*; do
    [ -d "$n" ] || continue
    pid=${n##*/mgns}
    pid=${pid%%-*}
    [ -d "/proc/$pid" ] && continue
    for p in $(cat "$n/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    rmdir "$n" 2>/dev/null
  done
}
