#!/usr/bin/env bash
# Installs the Debian packages mgd needs to build, test and run.
# Idempotent and quiet when everything is present. As root it installs what
# is missing with apt-get; otherwise it prints the exact command to run.
set -euo pipefail

packages=(
  build-essential   # gcc, make: the compiler for mgd and for the images
  cmake
  pkg-config
  libcjson-dev      # JSON documents (graph/, daemon/, api/)
  libmicrohttpd-dev # the daemon's HTTP server (api/)
  libsqlite3-dev    # the daemon's database (daemon/store)
  libgit2-dev       # project repositories (daemon/sources)
  libseccomp-dev    # mg-spt, the spt tender's sandbox (runtime/tender/spt)
  bubblewrap        # the sandbox of every build action (toolchain/sandbox.h)
  util-linux        # prlimit: the limits of every build action
  qemu-system-x86   # boots virtio images (mgd run, the virtio tests)
  # cross-builds (targets/unix.json's arches; tests/build/cross.sh): the
  # compilers (binutils come with them) and C libraries for unix images on
  # aarch64 and riscv64, and qemu-user, which mgd run runs them under
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
  qemu-user-static
  # QEMU's aarch64 and riscv64 virt machines (qemu-system-aarch64 and
  # qemu-system-riscv64), which virtio images for those arches boot on
  # (docs/toolchain.md, "Arches and cross-builds")
  qemu-system-arm qemu-system-misc
  libcurl4-openssl-dev # mgctl, the client (client/)
  curl              # make run checks that the daemon answers
  graphviz          # the daemon draws device graphs as SVG with dot (api/graphviz.c)
  libcriterion-dev  # unit tests
  iproute2          # the network tests make namespaces and tap devices (ip)
  iputils-ping      # the network tests ping the ping example
  procps            # tests/ns stops every process of its hosts (ps)
  python3           # test scripts check JSON output with it
  python3-jsonschema # the config schema test validates documents with it; the API tests check every answer against api/openapi.json with it
  wrk               # bench/api measures the API with it
  dnsmasq-base      # tests/build/net_stack.sh leases an address to an image by DHCP
  iperf             # bench/net: TCP throughput into echo (iperf 2) and the kernel's floor
  nginx             # tests/build/remote_cache.sh serves the remote cache with it
                    # (Debian 12's nginx has the WebDAV PUT module): installed
                    # without starting Debian's service, see below
  distcc            # --distcc: the client, and distccd for tests/build/distcc.sh
                    # (Debian 12's 3.4, whose distccd runs only the compilers of
                    # /usr/lib/distcc, cross gcc among them): installed without
                    # starting Debian's service, see below
  clang-format      # the style check (tests/format.sh, make format)
  clang libclang-rt-dev # libFuzzer and the sanitizers' runtimes: scripts/fuzz.sh
  git               # the style check lists the tracked sources
  zsh fish          # tests/client/test_completion.py runs mgctl's zsh and fish
                    # completion in the real shells (bash's too)
  groff-base        # tests/docs/man_pages.py renders the man pages (docs/man/)
                    # with groff and fails on any warning
  # packaging (docs/install.md, tests/install/): cpack -G DEB's
  # dpkg-shlibdeps, lintian to check the .deb, systemd-analyze to verify
  # the unit, strace to check the unit's system call filter against what
  # the service really calls
  dpkg-dev
  lintian
  systemd
  strace
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
  if [ "$(id -u)" -ne 0 ]; then
    echo "mgd needs these Debian packages: ${missing[*]}" >&2
    echo "run: sudo apt-get update && sudo ${cmd[*]}" >&2
    [[ " ${missing[*]} " == *" nginx "* ]] &&
      echo "(then 'sudo systemctl disable --now nginx' if you do not want it serving port 80)" >&2
    [[ " ${missing[*]} " == *" distcc "* ]] &&
      echo "(then 'sudo systemctl disable --now distcc' if you do not want distccd running)" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's nginx package starts a web server on port 80 when installed
  # (and distcc's a distccd), which building and testing mgd have no
  # business doing to a machine: a
  # policy-rc.d says no to service starts during the install (the Debian
  # way); the tests start their own nginx with their own config
  policy=/usr/sbin/policy-rc.d
  ours=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by mgd scripts/deps.sh for one install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=true
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq >/dev/null
  "${cmd[@]}" -qq >/dev/null
  # with systemd the unit is enabled for the next boot all the same: not ours
  if $ours && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for unit in nginx distcc; do
      [[ " ${missing[*]} " == *" $unit "* ]] && systemctl disable "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

# lwIP, the direct stack, from Debian's source package (not a binary one).
"$(dirname "$0")/fetch-lwip.sh"
