#!/usr/bin/env bash
# Renders docs/architecture.dot into docs/architecture.svg with Graphviz and
# records the sha256 of the .dot in the SVG, so that tests/docs/check.py can
# tell a stale drawing from a fresh one without Graphviz (and without caring
# which Graphviz version drew it). Run it after every change to the .dot.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dot_file=$here/architecture.dot
svg_file=$here/architecture.svg
command -v dot >/dev/null || {
    echo "render.sh: Graphviz's dot is missing (scripts/deps.sh installs it)" >&2
    exit 1
}
sum=$(sha256sum "$dot_file" | cut -d' ' -f1)
tmp=$(mktemp "$svg_file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# The comment goes after the XML declaration, which must stay first.
dot -Tsvg "$dot_file" | sed "1a <!-- rendered from architecture.dot sha256 $sum by docs/render.sh -->" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$svg_file"
trap - EXIT
echo "docs/architecture.svg: rendered from architecture.dot ($sum)"
