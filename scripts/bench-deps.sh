#!/usr/bin/env bash
# What `make bench` needs of nginx (Debian's nginx-light), which bench/net
# measures static_website against. scripts/deps.sh installs nginx too now
# (tests/build/remote_cache.sh serves a remote cache with it), so this only
# matters on a machine set up before. Debian's nginx package starts a web
# server on port 80 when it is installed, which `make run` and `make test`
# have no business doing to a machine: here the package is installed without starting it
# (policy-rc.d says no to service starts during the install, the Debian
# way), and the bench starts its own nginx with its own configuration in
# a network namespace.
# Idempotent and quiet when nginx is there. As root it installs it with
# apt-get; otherwise it prints the command to run, as deps.sh does.
set -euo pipefail

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "make bench needs nginx: run: sudo apt-get update && sudo apt-get install -y --no-install-recommends nginx-light" >&2
  echo "(then 'sudo systemctl disable --now nginx' if you do not want it serving port 80)" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
ours=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by mgd scripts/bench-deps.sh for one install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=true
  trap 'rm -f "$policy"' EXIT
fi
echo "installing: nginx-light (not started)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y --no-install-recommends -qq nginx-light >/dev/null
# with systemd the unit is enabled for the next boot all the same: not ours
if $ours && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable nginx >/dev/null 2>&1 || true
fi
[ -x /usr/sbin/nginx ] || { echo "nginx is still missing after apt-get install" >&2; exit 1; }
