#!/usr/bin/env bash
# cmake --install into a staging root, then the installed programs run
# from there: its file list (programs, mgd's private files in lib/mgd, the
# man pages and completions the tree has sources for, docs, the unit; no
# test, no benchmark, no link into the build tree), zsh and fish finding
# their completions where they are installed (as they are set up on Debian
# 12; for fish, with /usr/local/share in XDG_DATA_DIRS, see
# docs/install.md), `mgd --version`, `mgd
# build` of examples/hello, and mgctl against the installed `mgd serve`,
# which must have loaded its module from lib/mgd (its maps say so) and
# finds the spt tender there, and builds a git project through its fetch
# sandbox (docs/install.md).
# usage: install_tree.sh BUILD_DIR SOURCE_DIR "COMPLETION SHELLS"
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
shells=$3
. "$(dirname "$0")/lib.sh"
prefix=/usr/local
stage "$prefix"

# ---- the file list ----------------------------------------------------------
want=(bin/mgd bin/mgctl lib/mgd/mgd-serve.so lib/systemd/system/mgd.service
    share/doc/mgd/README.md share/doc/mgd/copyright share/doc/mgd/docs/install.md)
[ -e "$build/daemon/mg-spt" ] && want+=(lib/mgd/mg-spt)
for page in "$src"/docs/man/*.[15]; do
    [ -e "$page" ] || continue
    name=$(basename "$page")
    want+=("share/man/man${name##*.}/$name.gz")
done
declare -A completion=([bash]=share/bash-completion/completions/mgctl
    [zsh]=share/zsh/site-functions/_mgctl [fish]=share/fish/vendor_completions.d/mgctl.fish)
for shell in $shells; do
    [ -n "${completion[$shell]:-}" ] || fail "no install place known for the shell '$shell'"
    want+=("${completion[$shell]}")
done
for f in "${want[@]}"; do
    [ -f "$root/$f" ] && [ ! -L "$root/$f" ] || fail "$prefix/$f is not installed as a file"
done
# everything installed is wanted, or a doc page
(cd "$root" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/files"
printf '%s\n' "${want[@]}" | sort >"$tmp/want"
extra=$(comm -23 "$tmp/files" "$tmp/want" | grep -Ev '^share/doc/mgd/docs/([a-z-]+|README)\.(md|svg)$' || true)
[ -z "$extra" ] || fail "installed but not expected (a test, a benchmark?): $extra"
[ -z "$(cd "$root" && find . -type l)" ] || fail "links installed: $(cd "$root" && find . -type l)"
# the programs carry no search path into the build tree, and are linked
# with relro and bind now (cmake/install.cmake)
for f in bin/mgd bin/mgctl lib/mgd/mgd-serve.so lib/mgd/mg-spt; do
    [ -e "$root/$f" ] || continue
    if readelf -d "$root/$f" | grep -E 'R(UN)?PATH'; then fail "$f has an RPATH"; fi
    readelf -lW "$root/$f" | grep -q GNU_RELRO || fail "$f is not linked with -z relro"
    readelf -dW "$root/$f" | grep -qE 'FLAGS.*BIND_NOW' || fail "$f is not linked with -z now"
done
# the man pages are gzip, the completions what mgctl prints
for f in "$root"/share/man/man*/*.gz; do
    [ -e "$f" ] || continue
    gzip -t "$f" || fail "$f is not gzip"
done
for shell in $shells; do
    f=${completion[$shell]}
    cmp -s "$root/$f" <("$build/client/mgctl" completion "$shell") ||
        fail "$f differs from mgctl completion $shell"
done
# the shells find them there
for shell in $shells; do
    case $shell in
    zsh) zsh_finds "$prefix" "$(dirname "${completion[zsh]}")" ;;
    fish) fish_finds "$prefix" "$(dirname "${completion[fish]}")" /usr/local/share:/usr/share ;;
    esac
done
# the unit names the installed mgd
grep -qx "ExecStart=$prefix/bin/mgd serve .*" "$root/lib/systemd/system/mgd.service" ||
    fail "the unit does not start $prefix/bin/mgd: $(grep ExecStart "$root/lib/systemd/system/mgd.service")"

# ---- the installed programs -------------------------------------------------
# nothing of the build tree on PATH: mg-spt must come from lib/mgd
export PATH=/usr/bin:/bin
version=$(sed -n 's/^project(mgd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$("$root/bin/mgd" --version)" = "mgd $version" ] || fail "mgd --version: $("$root/bin/mgd" --version)"

cp -r "$src/examples/hello" "$tmp/hello"
rm -rf "$tmp/hello/dist"
"$root/bin/mgd" build "$tmp/hello" --target unix --cache "$tmp/cache" -o "$tmp/hello.img" \
    >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "mgd build of examples/hello failed"; }
[ "$("$tmp/hello.img" --count=1)" = "Hello World!" ] || fail "the image built by the installed mgd does not greet"

serve "$tmp/data"
grep -q " $root/lib/mgd/mgd-serve.so\$" "/proc/$mgd_pid/maps" ||
    fail "mgd serve did not load $root/lib/mgd/mgd-serve.so"
if grep -q "$build" "/proc/$mgd_pid/maps"; then fail "mgd serve mapped a file of the build tree"; fi

export MGD_URL=$url MGD_TOKEN=$token
ctl() { "$root/bin/mgctl" "$@"; }
ctl version | grep -q "$version" || fail "mgctl version: $(ctl version 2>&1)"
ctl --json targets >"$tmp/targets.json"
if [ -e "$root/lib/mgd/mg-spt" ]; then
    python3 - "$tmp/targets.json" <<'EOF' || fail "spt is not available: mg-spt not found in lib/mgd"
import json, sys
doc = json.load(open(sys.argv[1]))
targets = doc["targets"] if isinstance(doc, dict) else doc
spt = [t for t in targets if t["name"] == "spt"][0]
arches = spt.get("arches", [])
sys.exit(0 if any(a.get("available") for a in arches) else 1)
EOF
fi
repo=$(hello_repo)
ctl project create hello --repo "$repo" --config "$repo/config.json" >/dev/null
ctl build hello --target unix -o "$tmp/api.img" >"$tmp/ctl-build.log" 2>&1 ||
    { cat "$tmp/ctl-build.log" "$tmp/serve.log"; fail "mgctl build through the installed mgd serve failed"; }
chmod +x "$tmp/api.img"
[ "$("$tmp/api.img" --count=1)" = "Hello World!" ] || fail "the image built through the API does not greet"
echo "install_tree: $(wc -l <"$tmp/files") files installed under $prefix; mgd build, mgd serve and mgctl ran from there"
