#!/usr/bin/env bash
# The .deb: cpack -G DEB from the build tree (into a temporary folder),
# lintian with no error and no warning (but no-manual-page while the tree
# has no docs/man/), and, from an optimised tree without sanitizers, no
# hardening remark either (-I: relro, bind now, fortified calls), its control fields (name, version, Debian 12
# dependencies, maintainer scripts, md5sums) and file list (/usr, the unit
# in /lib/systemd/system naming /usr/bin/mgd, the copyright and
# changelog, stripped binaries, nothing of /usr/local, the completions
# where zsh and fish find them unconfigured), then the mgd
# unpacked from it runs, finding its module in usr/lib/mgd
# (docs/install.md).
# usage: deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
for tool in cpack dpkg-deb dpkg-shlibdeps lintian; do
    command -v $tool >/dev/null || { echo "deb: no $tool (scripts/deps.sh installs it): skipped"; exit 77; }
done
. "$(dirname "$0")/lib.sh"
version=$(sed -n 's/^project(mgd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
(cd "$tmp" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log"; fail "cpack -G DEB failed"; }
deb=$tmp/pkg/mgd_${version}-1_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "no $(basename "$deb"): $(ls "$tmp/pkg")"

# lintian: errors and warnings fail, and remarks of hardening where the
# tree builds hardened (the top CMakeLists.txt: _FORTIFY_SOURCE in
# optimised builds without sanitizers or the fuzzer; relro and bind now in
# all, cmake/install.cmake)
suppress=()
[ -e "$src/docs/man/mgd.1" ] || suppress=(--suppress-tags no-manual-page)
lintian -I --fail-on error,warning "${suppress[@]}" "$deb" >"$tmp/lintian.log" 2>&1 ||
    { cat "$tmp/lintian.log"; fail "lintian fails the package"; }
if grep -E '^[EW]: ' "$tmp/lintian.log"; then fail "lintian has errors or warnings"; fi
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
hardening='hardening-no-(bindnow|relro|pie)'
if [[ "$(cache CMAKE_BUILD_TYPE)" =~ ^(Release|RelWithDebInfo|MinSizeRel)$ ]] &&
    [[ ! "$(cache MGD_SANITIZE)$(cache MGD_FUZZ)" =~ ON ]]; then
    hardening='hardening-no-(bindnow|relro|pie|fortify-functions)'
fi
if grep -E "^I: .*$hardening" "$tmp/lintian.log"; then fail "the binaries are not hardened"; fi

# control
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = mgd ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version-1" ] || fail "Version: $(field Version)"
[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] || fail "no Maintainer or Description"
depends=$(field Depends)
for dep in bubblewrap gcc binutils libc6-dev 'libc6 (>=' 'libgit2-1.5' 'libmicrohttpd12' \
    'libsqlite3-0' 'libcurl4' 'libcjson1'; do
    [[ ", $depends" == *", $dep"* ]] || fail "Depends lacks $dep: $depends"
done
for dep in graphviz qemu-system-x86; do
    [[ "$(field Recommends)" == *"$dep"* ]] || fail "Recommends lacks $dep: $(field Recommends)"
done
dpkg-deb -I "$deb" >"$tmp/info"
for f in md5sums postinst prerm postrm; do
    grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? +$f( |$)" "$tmp/info" || fail "no $f in the control archive"
done

# files
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/files"
for f in /usr/bin/mgd /usr/bin/mgctl /usr/lib/mgd/mgd-serve.so /lib/systemd/system/mgd.service \
    /usr/share/doc/mgd/copyright /usr/share/doc/mgd/changelog.Debian.gz \
    /usr/share/bash-completion/completions/mgctl /usr/share/zsh/vendor-completions/_mgctl \
    /usr/share/fish/vendor_completions.d/mgctl.fish /usr/share/lintian/overrides/mgd; do
    grep -qx "$f" "$tmp/files" || fail "$f is not in the package"
done
if grep -E '^/usr/local|/tests?/|bench' "$tmp/files"; then fail "the package has files it must not"; fi

# unpacked: stripped, the unit names /usr/bin/mgd, mgd runs and loads its module
dpkg-deb -x "$deb" "$tmp/x"
grep -qx 'ExecStart=/usr/bin/mgd serve .*' "$tmp/x/lib/systemd/system/mgd.service" ||
    fail "the unit does not start /usr/bin/mgd"
for f in usr/bin/mgd usr/bin/mgctl usr/lib/mgd/mgd-serve.so; do
    if readelf -S "$tmp/x/$f" | grep -q '\.symtab'; then fail "$f is not stripped"; fi
done
[ "$("$tmp/x/usr/bin/mgd" --version)" = "mgd $version" ] || fail "the packaged mgd: $("$tmp/x/usr/bin/mgd" --version 2>&1)"
# zsh and fish find the completions with no configuration (XDG_DATA_DIRS unset)
root=$tmp/x/usr
zsh_finds /usr share/zsh/vendor-completions
fish_finds /usr share/fish/vendor_completions.d
# serve's help is the module's
help=$("$tmp/x/usr/bin/mgd" serve --help 2>&1) || true
[[ "$help" == "usage: mgd serve"* ]] || fail "the packaged mgd cannot run its daemon module: $help"
echo "deb: $(basename "$deb"), $(wc -l <"$tmp/files") entries, lintian: $(grep -c '^[A-Z]: ' "$tmp/lintian.log" || true) remarks"
