# A coordinator (`mgd serve`) and pull workers (`mgd worker`) on namespace
# hosts (tests/ns/ns_lib.sh), and the API calls the multi-host tests and
# bench/scale make of them (docs/workers.md): tests/ns/workers.sh and
# bench/scale's figure_worker_claim. Sourced by bash scripts that set $mgd
# and $work and sourced ns_lib.sh. The requests go through curl on a host;
# JSON is read by tests/ns/mgapi.py (no jq on the machine).
#
#   wk_serve HOST DIR [ARGS...]  starts mgd serve on HOST (HOST's address,
#                     port 8080, data in DIR, one thread of its own, its
#                     stderr in DIR.err) and waits until it answers; sets
#                     $wk_url and $wk_admin (its admin token); 1 if it
#                     does not start
#   wk_api METHOD PATH [BODY [TOKEN [HOST]]]  the answer's body (from
#                     HOST, default the coordinator's); its status in
#                     $work/wk.status
#   wk_field KEY...   values of the JSON on stdin (mgapi.py get)
#   wk_project NAME   POST /projects of examples/hello, its config named NAME
#   wk_start_build PROJECT [BODY]  the new build's id
#   wk_now ID         the build's status and worker, on one line
#   wk_wait_build ID [SECONDS]  until the build ends (120 s by default); its
#                     record in $work/build.ID; 1 at the deadline
#   wk_token          a worker token in the file $work/wk.token (mode 600)
#   wk_worker HOST NAME [ARGS...]  mgd worker NAME on HOST with that token,
#                     its data in $work/NAME, its stderr in $work/NAME.err
#   wk_wait_connected NAME...  until GET /workers shows them all (30 s)

# shellcheck shell=bash disable=SC2154 # $mgd and $work: the caller's
wk_mgapi=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mgapi.py
wk_url=
wk_admin=
wk_host=

wk_serve() { # HOST DIR [ARGS...]
  local host=$1 dir=$2
  shift 2
  wk_host=$host wk_url=http://$(ns_ip "$host"):8080
  ns_bg "$host" "$mgd" serve --listen "$(ns_ip "$host"):8080" --data "$dir" --workers 1 "$@" \
    2>"$dir.err"
  ns_wait_http "$host" "$wk_url/health" || { echo "mgd serve does not start:"; cat "$dir.err"; return 1; }
  wk_admin=$(cat "$dir/admin.token")
}

wk_api() { # METHOD PATH [BODY [TOKEN [HOST]]]
  ns_run "${5:-$wk_host}" curl -s -m 30 -X "$1" -H "Authorization: Bearer ${4:-$wk_admin}" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} -o "$work/wk.answer" \
    -w '%{http_code}' "$wk_url$2" >"$work/wk.status"
  cat "$work/wk.answer"
}

wk_field() { python3 "$wk_mgapi" get "$@"; }

wk_project() { wk_api POST /projects "$(python3 "$wk_mgapi" hello "$1")" >/dev/null; }

wk_start_build() { # PROJECT [BODY]
  local body=${2:-}
  wk_api POST "/projects/$1/build" "${body:-{\}}" | wk_field id
}

wk_now() { wk_api GET "/builds/$1" | wk_field status worker | paste -sd' '; }

wk_wait_build() { # ID [SECONDS]
  local id=$1 end=$((SECONDS + ${2:-120})) st
  while [ "$SECONDS" -lt "$end" ]; do
    wk_api GET "/builds/$id" >"$work/build.$id"
    st=$(wk_field status <"$work/build.$id")
    case $st in succeeded | failed | cancelled | interrupted) return 0 ;; esac
    sleep 0.3
  done
  echo "build $id did not end: $(cat "$work/build.$id")"
  return 1
}

wk_token() {
  wk_api POST /tokens '{"scope": "worker", "name": "ns-workers"}' | wk_field token >"$work/wk.token"
  chmod 600 "$work/wk.token"
  [ -s "$work/wk.token" ] && [ "$(wc -c <"$work/wk.token")" -gt 10 ]
}

wk_worker() { # HOST NAME [ARGS...]
  local host=$1 name=$2
  shift 2
  ns_bg "$host" "$mgd" worker --coordinator "$wk_url" --token-file "$work/wk.token" \
    --name "$name" --data "$work/$name" "$@" 2>"$work/$name.err"
}

wk_connected() { # NAME...
  local list n
  list=$(wk_api GET /workers)
  for n in "$@"; do echo "$list" | grep -q "\"name\":\"$n\"" || return 1; done
}

wk_wait_connected() { # NAME...
  local _
  for _ in $(seq 300); do wk_connected "$@" && return 0; sleep 0.1; done
  return 1
}
