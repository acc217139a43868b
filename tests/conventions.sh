#!/usr/bin/env bash
# Two rules of mgd's C code that no compiler checks:
#
# 1. Errors (base/err.h). A failure is reported one way, as an mg_err,
#    whose message buffer is MG_ERR_SIZE bytes. This check fails on the
#    forms that convention replaced, so that they do not come back:
#      - a message buffer and its size passed apart (`char *err, size_t
#        errsize`, `char *why, size_t why_size`),
#      - a message buffer with a size of its own (`char err[256]`), where
#        an mg_err, or at least MG_ERR_SIZE, belongs.
#    Not checked: runtime/ and examples/ (code inside a unikernel, without
#    libc or base/), tests/, and the diagnostics list of config documents
#    (graph/errors.h), which is a list of messages with paths, not one
#    error.
#
# 2. Layers (docs/architecture.md, "The dependency rule"). Each folder's C
#    files may include ("..." or <...>, however the path is spelt) only
#    from the folders below it, so that a dependency upwards fails here
#    rather than in review; see `layers` below for the table.
# usage: conventions.sh SOURCE_DIR
set -euo pipefail
cd "$1"

# Files that still have the old error forms, each with the reason: "path
# reason". An entry whose file no longer has them is an error too: the
# list only shrinks. Empty: every file follows the convention.
allowed=()

# The tree's C files: those git knows and new ones not yet added (so that a
# file is checked before its first commit), or all when this is no
# checkout.
if all_files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null) &&
    [ -n "$all_files" ]; then :; else
    all_files=$(find . -name '*.c' -o -name '*.h' | sed 's|^\./||')
fi
all_files=$(echo "$all_files" | grep -Ev '^build/' | sort -u)
files=$(echo "$all_files" | grep -Ev '^(runtime|examples|tests)/' || true)

# a size of a message buffer as a parameter or a field of its own
size_apart='size_t[[:space:]]+[a-z_]*(err|why|msg|error|reason)_?(size|len)\b'
# a message buffer sized other than by MG_ERR_SIZE
own_size='char[[:space:]]+[a-z_]*(err|why|msg|error|reason)[a-z_]*[[:space:]]*\[[[:space:]]*[^]M[:space:]]'

is_allowed() {
    local entry
    for entry in ${allowed[@]+"${allowed[@]}"}; do
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
for entry in ${allowed[@]+"${allowed[@]}"}; do
    f=${entry%% *}
    if [ -z "${seen[$f]:-}" ]; then
        echo "$f: has no old-style error buffer any more: remove it from the list in $0"
        bad=$((bad + 1))
    fi
done
n=$(echo "$files" | wc -w)
echo "errors: $n files checked, ${#allowed[@]} allowed exceptions, $bad problems"
errors_bad=$bad

# ---- layers ------------------------------------------------------------------

# The layer of a C file, by its path; "-" for code the rule does not cover
# (tests, benchmarks, example unikernels), "?" for a file in no layer yet.
layer_of() {
    case "$1" in
    base/*) echo base ;;
    graph/*) echo graph ;;
    targets/*) echo targets ;;
    toolchain/*) echo toolchain ;;
    daemon/store.[ch] | daemon/sources.[ch] | daemon/snapshot.[ch] | daemon/queue.[ch] | \
        daemon/tokens.[ch] | daemon/gc.[ch] | \
        daemon/cli_common.[ch])
        echo daemon ;;
    daemon/daemon.[ch] | daemon/cmd_*.c | daemon/commands.h | daemon/main.c) echo root ;;
    service/*) echo service ;;
    api/*) echo api ;;
    client/*) echo client ;;
    runtime/tender/*) echo tender ;;
    runtime/*) echo guest ;;
    tests/* | bench/* | examples/*) echo - ;;
    *) echo "?" ;;
    esac
}

# What each layer's files may include: folders (a path prefix), or
# "daemon" for the daemon's core (its store, sources, queue, tokens, gc and
# the local commands' shared helpers, not the composition root nor the
# commands), or "*" for anything.
#   base       libc only
#   graph      the config language, on base
#   targets    the registry of targets and the built-in catalog
#   toolchain  builds; knows the image note of the guest/host ABI
#   daemon     the store, the sources, the queue, gc, on the engine
#   service    the flows that change state, on the daemon's core
#   api        HTTP, on the service (and reading the store)
#   client     mgctl: HTTP only, so nothing of the daemon
#   root       the composition root and the mgd commands: everything
#   guest      code inside images: nothing of the host
#   tender     the host side of spt: the ABI, image notes, files
may_include() {
    case "$1" in
    base) echo base ;;
    graph) echo base graph ;;
    targets) echo base graph targets ;;
    toolchain) echo base graph targets toolchain runtime/include/abi ;;
    daemon) echo base graph targets toolchain daemon ;;
    service) echo base graph targets toolchain daemon service ;;
    api) echo base graph targets toolchain runtime/include/abi daemon service api ;;
    client) echo base client ;;
    root) echo "*" ;;
    guest) echo runtime ;;
    tender) echo base toolchain runtime/include/abi runtime/tender ;;
    esac
}

# Whether a file of layer $1 may include the file at path $2.
include_allowed() {
    local entry entries
    read -ra entries <<<"$(may_include "$1")" # not a glob: "*" stays "*"
    for entry in "${entries[@]}"; do
        case "$entry" in
        "*") return 0 ;;
        daemon) [ "$(layer_of "$2")" = daemon ] && return 0 ;;
        *) case "$2" in "$entry" | "$entry"/*) return 0 ;; esac ;;
        esac
    done
    return 1
}

# The path in the tree an include "$2" of file $1 names: as written from
# the root (mgd's own code), next to the file (the guest's local headers),
# or in runtime/include (the guest's interface and ABI); empty for a header
# found nowhere (a system header, or one the build generates).
# Paths are normalised ("base/../api/x.h" is api/x.h, "./api/x.h" too),
# so that no spelling slips past the table.
resolve_include() {
    local dir candidate
    dir=$(dirname "$1")
    case "${2%%/*}" in
    base | graph | targets | toolchain | daemon | service | api | client | runtime | web)
        realpath -m --relative-to=. "$2"
        return
        ;;
    esac
    for candidate in "$dir/$2" "$2" "runtime/include/$2"; do
        if [ -e "$candidate" ]; then
            realpath -m --relative-to=. "$candidate"
            return
        fi
    done
}

# The table must refuse what the architecture refuses: if one of these
# passed, the check below would pass vacuously.
for case in "service api/params.h" "daemon service/service.h" "daemon daemon/daemon.h" \
    "toolchain daemon/store.h" "graph targets/registry.h" "base graph/resolve.h" \
    "api daemon/cmd_serve.c" "api client/commands.h" "client api/server.h" \
    "guest base/err.h" "guest toolchain/image.h"; do
    if include_allowed $case; then
        echo "$0: the layer table allows what it must not (${case/ / including }): fix it"
        exit 1
    fi
done

# ... and every spelling of a path must resolve to the file it names.
for case in "service/builds.c base/../api/params.h api/params.h" \
    "daemon/store.c ./api/server.h api/server.h" \
    "runtime/kv/kv.c ../../base/err.h base/err.h"; do
    read -r from inc want <<<"$case"
    got=$(resolve_include "$from" "$inc")
    if [ "$got" != "$want" ]; then
        echo "$0: $from including \"$inc\" resolves to '$got', not $want: fix resolve_include"
        exit 1
    fi
done

layers_bad=0
checked=0
for f in $all_files; do
    layer=$(layer_of "$f")
    [ "$layer" = - ] && continue
    if [ "$layer" = "?" ]; then
        echo "$f: in no layer: add its folder to layer_of and may_include in $0"
        layers_bad=$((layers_bad + 1))
        continue
    fi
    checked=$((checked + 1))
    # quoted and angle-bracket includes alike: both reach the tree
    # through the build's -I of the project's root
    while IFS=: read -r line inc; do
        inc=${inc#*include}
        inc=${inc#*[\"<]}
        inc=${inc%%[\">]*}
        target=$(resolve_include "$f" "$inc")
        [ -z "$target" ] && continue
        include_allowed "$layer" "$target" && continue
        echo "$f:$line: $layer may not include \"$inc\" (allowed: $(may_include "$layer"))"
        layers_bad=$((layers_bad + 1))
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$f" || true)
done
echo "layers: $checked files checked, $layers_bad problems"
[ "$errors_bad" -eq 0 ] && [ "$layers_bad" -eq 0 ]
