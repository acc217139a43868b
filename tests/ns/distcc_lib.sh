# distccd for the tests and benches that send compiles to distcc hosts
# (tests/build/distcc.sh on loopback, tests/ns/workers.sh and bench/scale on
# namespace hosts), and the counts they compare: what each distccd's log
# says it compiled, and what mgd's build log says ran where
# (docs/distcc.md). Sourced by bash scripts.
#
#   dc_start LOG LISTEN PORT ALLOW [RUNNER...]
#                     starts distccd in the background (--no-detach, so that
#                     it dies with the script's cleanup) through RUNNER (say
#                     `ns_run w1`, or `env DISTCCD_PATH=...`), listening on
#                     LISTEN:PORT, taking jobs only from the addresses of
#                     ALLOW (space separated), $dc_jobs at once (default 2),
#                     logging to LOG; sets $dc_pid (what runs it, $!) and
#                     waits (5 s at most) until it accepts a connection
#                     (tried through RUNNER); 1 when it does not
#   dc_served LOG     the compiles a distccd's log shows (the probe's among
#                     them: one per host and platform probed)
#   dc_compiles LOG   the C compiles an mgd build log shows run (a build
#                     log of mgd serve or mgd worker, or mgd build --verbose)
#   dc_remote LOG [HOST]  those that ran on a distcc host (on HOST only)
#   dc_fallbacks LOG  the fallbacks of its "distcc: N compiles ..." line
# distccd started as root runs as the user distccd: LOG's folder must be
# searchable by it (chmod 755); dc_start makes LOG writable.

# shellcheck shell=bash
dc_distccd=$(command -v distccd || echo /usr/bin/distccd)
dc_jobs=${dc_jobs:-2}
dc_pid=

# dc_need: exits 77 (CTest's skip) without distcc
dc_need() {
  [ -x "$dc_distccd" ] && command -v distcc >/dev/null ||
    { echo "skipped: distcc is not installed (scripts/deps.sh installs it)"; exit 77; }
}

dc_start() { # LOG LISTEN PORT ALLOW [RUNNER...]
  local log=$1 listen=$2 port=$3 a _
  local -a allow=()
  for a in $4; do allow+=(--allow "$a"); done
  shift 4
  : >"$log"
  chmod 666 "$log"
  # (with ns_run as RUNNER, the subshell becomes distccd: tests/ns/ns_lib.sh)
  ns_exec="exec" "$@" "$dc_distccd" --daemon --no-detach --port "$port" --listen "$listen" "${allow[@]}" \
    --log-file "$log" --jobs "$dc_jobs" &
  dc_pid=$!
  for _ in $(seq 50); do
    "$@" python3 -c "import socket; socket.create_connection(('$listen', $port), 0.2)" \
      2>/dev/null && return 0
    sleep 0.1
  done
  echo "distccd on $listen:$port does not listen: $(cat "$log")"
  return 1
}

dc_served() { grep -c "COMPILE_OK" "$1"; }
dc_compiles() { grep -c "] compile .*: ran in" "$1"; }
dc_remote() { grep -c "] compile .*: ran in .* on ${2-}" "$1"; }
dc_fallbacks() {
  sed -n 's/.*distcc: [0-9]* compiles \(ran \)\{0,1\}on distcc hosts, \([0-9]*\) fallbacks.*/\2/p' "$1" | tail -1
}
