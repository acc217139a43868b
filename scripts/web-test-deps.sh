#!/usr/bin/env bash
# Makes the browser tests of the dashboard (tests/web/) runnable on a fresh
# Debian 12: Node.js and npm, Debian's Chromium (the tests drive it with
# playwright-core and never download a browser of their own), then the
# npm packages of tests/web (`npm ci`, from package-lock.json).
# Idempotent and quiet when everything is present. As root it installs the
# missing Debian packages with apt-get; otherwise it prints the exact command
# to run, as scripts/deps.sh does.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
webdir="$root/tests/web"

# Debian packages: nodejs when node or npm is missing, then npm when it still
# is (Debian's nodejs comes without it; other builds of nodejs bring it),
# and chromium, the browser the tests launch (/usr/bin/chromium).
node_and_npm() { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }
need=()
node_and_npm || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the browser tests need these Debian packages: ${need[*]}" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt_get_install() { apt-get install -y --no-install-recommends -qq "$@" >/dev/null; }
  node_and_npm || apt_get_install nodejs
  command -v npm >/dev/null 2>&1 || apt_get_install npm
  [ -x /usr/bin/chromium ] || apt_get_install chromium
  for tool in node npm /usr/bin/chromium; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is still missing after apt-get install" >&2; exit 1; }
  done
fi

# playwright-core and axe-core from the lock file, when node_modules is
# missing, older than package-lock.json, or lacks a package of package.json
# at its version (a node_modules copied from an older checkout).
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing at
# install time anyway; the variable keeps it that way.
deps_match() {
  node -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1];
    const deps = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies || {};
    for (const [name, version] of Object.entries(deps)) {
      const p = path.join(dir, "node_modules", name, "package.json");
      if (!fs.existsSync(p) || JSON.parse(fs.readFileSync(p, "utf8")).version !== version) process.exit(1);
    }' "$webdir"
}
if [ ! -d "$webdir/node_modules" ] \
   || [ "$webdir/package-lock.json" -nt "$webdir/node_modules" ] \
   || ! deps_match; then
  echo "installing the npm packages of tests/web (npm ci)" >&2
  (cd "$webdir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
     npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # npm ci leaves node_modules' mtime at its creation; touch it so that the
  # check above stays quiet until the lock file changes again.
  touch "$webdir/node_modules"
fi
