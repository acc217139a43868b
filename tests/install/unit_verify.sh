#!/usr/bin/env bash
# systemd-analyze verify of the installed mgd.service, which must say
# nothing: the unit as cmake --install writes it, in a root made of the
# staging root and the host's own units (which verify needs for the
# dependencies every service has), so that its ExecStart= is checked
# against the installed mgd, not one on the host. The man pages its
# Documentation= names are checked to be installed instead of asking the
# host's man, which does not look in the staging root. A start that mgd
# serve refuses (the port taken, a bad option) must end with a status the
# unit does not restart (RestartPreventExitStatus=): the installed mgd is
# made to refuse, and its status looked up there.
# usage: unit_verify.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
. "$(dirname "$0")/lib.sh"
host_units=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
if ! command -v systemd-analyze >/dev/null || [ ! -f "$host_units/sysinit.target" ]; then
    echo "unit_verify: no systemd-analyze or no systemd units on this host: skipped"
    exit 77
fi
prefix=/usr/local
stage "$prefix"
unit=$root/lib/systemd/system/mgd.service
[ -f "$unit" ] || fail "no $prefix/lib/systemd/system/mgd.service installed"
mkdir -p "$tmp/root$host_units"
cp -a "$host_units/." "$tmp/root$host_units/"
out=$(systemd-analyze verify --man=no --root="$tmp/root" "$unit" 2>&1) ||
    fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"

# Documentation=man:NAME(S): installed when the tree has its source
for page in $(sed -n 's/^Documentation=//p' "$unit"); do
    case $page in
    man:*) ;;
    *) continue ;;
    esac
    name=${page#man:}
    section=${name##*(}
    section=${section%)}
    name=${name%(*}
    if [ -e "$src/docs/man/$name.$section" ]; then
        [ -f "$root/share/man/man$section/$name.$section.gz" ] || fail "$page is not installed"
    elif [ -d "$src/docs/man" ]; then
        fail "the unit names $page, which docs/man/ does not have"
    else
        echo "unit_verify: no docs/man/ in this tree: $page not checked"
    fi
done

# ---- a refused start is not restarted --------------------------------------
prevent=" $(sed -n 's/^RestartPreventExitStatus=//p' "$unit") "
# refused WHY SAYS ARGS...: mgd serve ARGS exits saying SAYS (a grep
# pattern: refused for that reason), with a status in $prevent
refused() {
    local why=$1 says=$2 status=0
    shift 2
    timeout 120 "$root/bin/mgd" serve "$@" >"$tmp/refused.log" 2>&1 || status=$?
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ] ||
        fail "mgd serve did not refuse to start ($why): status $status: $(cat "$tmp/refused.log")"
    grep -q -e "$says" "$tmp/refused.log" ||
        fail "mgd serve refused to start, but not because $why: $(cat "$tmp/refused.log")"
    [[ "$prevent" == *" $status "* ]] ||
        fail "mgd serve exits $status when $why, which the unit restarts for ever (RestartPreventExitStatus=$prevent)"
    echo "unit_verify: $why: exit $status, not restarted"
}
serve "$tmp/data"
refused "its port is taken" "cannot listen on" --data "$tmp/data2" --listen "${url#http://}" --workers 1
refused "an option is bad" "--workers takes a number" --data "$tmp/data3" --workers none
echo "unit_verify: systemd-analyze verify of the installed unit: no warning; refused starts not restarted"
