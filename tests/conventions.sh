#!/usr/bin/env bash
# mgd's own C code reports a failure one way (base/err.h): an mg_err, whose
# message buffer is MG_ERR_SIZE bytes. This check fails on the forms that
# convention replaced, so that they do not come back:
#   - a message buffer and its size passed apart (`char *err, size_t
#     errsize`, `char *why, size_t why_size`),
#   - a message buffer with a size of its own (`char err[256]`), where an
#     mg_err, or at least MG_ERR_SIZE, belongs.
# Not checked: runtime/ and examples/ (code inside a unikernel, without
# libc or base/), tests/, and the diagnostics list of config documents
# (graph/errors.h), which is a list of messages with paths, not one error.
# usage: conventions.sh SOURCE_DIR
set -euo pipefail
cd "$1"

# Files that still have the old forms, each with the reason. An entry whose
# file no longer has them is an error too: the list only shrinks.
allowed=(
  "daemon/store.c       the store's API is converted on its own branch (issue 15)"
  "daemon/store.h       the store's API is converted on its own branch (issue 15)"
  "daemon/queue.c       the queue's API is converted with the store's (issue 15)"
  "daemon/queue.h       the queue's API is converted with the store's (issue 15)"
  "daemon/cmd_serve.c   buffers for store and queue calls"
  "daemon/cmd_token.c   buffers for store calls"
  "service/builds.c     buffers for store and queue calls"
  "service/projects.c   buffers for store and queue calls"
  "service/tokens.c     buffers for store calls"
  "api/h_builds.c       buffers for store and queue calls"
  "api/h_misc.c         buffers for store calls"
  "api/h_projects.c     buffers for store and queue calls"
  "api/metrics.c        buffers for store calls"
  "api/server.c         buffers for store calls and for api/reqjson.h, api/params.h"
  "api/sse.c            a buffer for a store call"
  "api/params.c         request parsing, called by the handlers (api/h_*.c): converted with them"
  "api/params.h         request parsing, called by the handlers (api/h_*.c): converted with them"
  "api/reqjson.c        request parsing, called by the handlers (api/h_*.c): converted with them"
  "api/reqjson.h        request parsing, called by the handlers (api/h_*.c): converted with them"
)

if files=$(git ls-files '*.c' '*.h' 2>/dev/null) && [ -n "$files" ]; then :; else
    files=$(find . -name '*.c' -o -name '*.h' | sed 's|^\./||')
fi
files=$(echo "$files" | grep -Ev '^(runtime|examples|tests|build)/' || true)

# a size of a message buffer as a parameter or a field of its own
size_apart='size_t[[:space:]]+[a-z_]*(err|why)_?(size|len)\b'
# a message buffer sized other than by MG_ERR_SIZE
own_size='char[[:space:]]+(err|why|errbuf|errmsg)[[:space:]]*\[[[:space:]]*[^]M[:space:]]'

is_allowed() {
    local entry
    for entry in "${allowed[@]}"; do
        [ "${entry%% *}" = "$1" ] && return 0
    done
    return 1
}

bad=0
declare -A seen=()
for f in $files; do
    hits=$(grep -nE "$size_apart|$own_size" "$f" || true)
    [ -z "$hits" ] && continue
    seen[$f]=1
    is_allowed "$f" && continue
    echo "$f: report failures as mg_err (base/err.h), not in a char buffer of its own size:"
    echo "$hits" | sed 's/^/  /'
    bad=$((bad + 1))
done
for entry in "${allowed[@]}"; do
    f=${entry%% *}
    if [ -z "${seen[$f]:-}" ]; then
        echo "$f: has no old-style error buffer any more: remove it from the list in $0"
        bad=$((bad + 1))
    fi
done
n=$(echo "$files" | wc -w)
echo "$n files checked, ${#allowed[@]} allowed exceptions, $bad problems"
[ "$bad" -eq 0 ]
