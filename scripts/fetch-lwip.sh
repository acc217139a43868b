#!/usr/bin/env bash
# Fetches lwIP, the direct stack's TCP/IP (runtime/tcpip/), from Debian's
# source package (lwip 2.1.3) into third_party/lwip-2.1.3/, git-ignored:
# lwIP's sources are never committed. CMake embeds them into mgd when the
# folder exists (runtime/CMakeLists.txt). Debian's patches serve its hosted
# shared library and are not applied: only the pinned orig tarball is used.
#
# Idempotent and fast: a stamp holding the checksum says the tree is there.
# As root it enables source packages (a deb-src entry beside the machine's
# deb one) when none is present; otherwise it prints what to run.
set -euo pipefail

version=2.1.3
tarball="lwip_${version}+dfsg1.orig.tar.xz"
sha256=0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/lwip-$version"
stamp="$root/third_party/.lwip-$version.sha256"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha256" ] && [ -f "$dest/COPYING" ]; then
  exit 0
fi

# Is there any deb-src entry (one-line or deb822 format)?
has_deb_src() {
  grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list ||
    grep -qsE '^[[:space:]]*Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources
}

if [ "$(id -u)" -ne 0 ] && ! has_deb_src; then
  echo "lwIP (the direct stack) comes from Debian's lwip source package, and apt has no deb-src entry" >&2
  echo "run: sudo $0" >&2
  exit 1
fi
if ! has_deb_src; then
  # A deb-src twin of each deb entry the machine already uses, in our own file.
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1 &&
    grep -qsE '^[[:space:]]*Types:.*\bdeb\b' /etc/apt/sources.list.d/*.sources; then
    for f in /etc/apt/sources.list.d/*.sources; do
      # (POSIX awk: Debian's default awk is mawk, which has no \< \>)
      awk 'BEGIN{RS=""; ORS="\n\n"} /(^|\n)Types:([^\n]*[ \t])?deb([ \t][^\n]*)?(\n|$)/ && /deb\.debian\.org|debian/ {
             sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
    done >/etc/apt/sources.list.d/mgd-deb-src.sources
  else
    grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      grep -i debian | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' >/etc/apt/sources.list.d/mgd-deb-src.list
  fi
  echo "enabled Debian source packages for lwIP: $(ls /etc/apt/sources.list.d/mgd-deb-src.*)" >&2
  apt-get update -qq >/dev/null
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
if ! apt-get source --download-only -qq lwip >/dev/null 2>"$tmp/err"; then
  # the lists may predate the deb-src entry
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >/dev/null; fi
  apt-get source --download-only -qq lwip >/dev/null 2>"$tmp/err" || {
    cat "$tmp/err" >&2
    echo "cannot fetch Debian's lwip $version source package (run apt-get update as root?)" >&2
    exit 1
  }
fi
[ -f "$tarball" ] || { echo "the lwip source package has no $tarball" >&2; exit 1; }
got="$(sha256sum "$tarball" | cut -d' ' -f1)"
if [ "$got" != "$sha256" ]; then
  echo "$tarball: sha256 $got, expected $sha256: refusing it" >&2
  exit 1
fi
mkdir -p "$root/third_party"
rm -rf "$dest" "$tmp/x"
mkdir "$tmp/x"
tar -xJf "$tarball" -C "$tmp/x"
[ -f "$tmp/x/lwip-$version/COPYING" ] || { echo "$tarball does not unpack to lwip-$version/" >&2; exit 1; }
mv "$tmp/x/lwip-$version" "$dest"
echo "$sha256" >"$stamp"
echo "lwIP $version unpacked into $dest" >&2
