#!/usr/bin/env bash
# The installed mgd as the service runs it: an unprivileged user (nobody,
# as DynamicUser= gives one) with a data folder of its own. `mgd serve`
# starts only when it can make the bubblewrap sandbox (it probes at start),
# and builds a git project through the API (fetch and build actions in the
# sandbox); `mgd build` of examples/hello works as that user too; without
# user namespaces, mgd serve refuses to start and says why. Under
# strace, every system call made and every socket family opened must be
# in what the installed unit allows (its SystemCallFilter= groups, per
# `systemd-analyze syscall-filter`, and RestrictAddressFamilies=), so that
# the unit's filter cannot break a build unnoticed (docs/install.md).
# Needs root to switch users: skipped (77) otherwise.
# usage: unprivileged.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
if [ "$(id -u)" -ne 0 ]; then
    echo "unprivileged: not root, cannot switch to an unprivileged user: skipped"
    exit 77
fi
. "$(dirname "$0")/lib.sh"
stage /usr
uid=65534
as_user() { setpriv --reuid=$uid --regid=$uid --clear-groups "$@"; }
mkdir -p "$tmp/data" "$tmp/home"
chown $uid:$uid "$tmp/data" "$tmp/home"
export HOME=$tmp/home PATH=/usr/bin:/bin

# mgd build as that user
cp -r "$src/examples/hello" "$tmp/hello"
rm -rf "$tmp/hello/dist"
chown -R $uid:$uid "$tmp/hello"
as_user "$root/bin/mgd" build "$tmp/hello" --target unix --cache "$tmp/home/cache" \
    -o "$tmp/hello/hello.img" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "mgd build as uid $uid failed"; }
[ "$(as_user "$tmp/hello/hello.img" --count=1)" = "Hello World!" ] ||
    fail "the image built as uid $uid does not greet"

# where the user may not create user namespaces (here: a namespace of
# its own whose limit is 0), mgd serve refuses to start and says why
mkdir -p "$tmp/nodata"
chown $uid:$uid "$tmp/nodata"
if as_user unshare --user --map-root-user sh -c \
    'echo 0 >/proc/sys/user/max_user_namespaces && exec "$0" serve --data "$1" --listen 127.0.0.1:0' \
    "$root/bin/mgd" "$tmp/nodata" >"$tmp/nons.log" 2>&1; then
    fail "mgd serve started without user namespaces"
fi
grep -q '^mgd serve: cannot sandbox builds: .*namespace.*refusing to start' "$tmp/nons.log" ||
    fail "mgd serve without user namespaces does not say why: $(cat "$tmp/nons.log")"

# mgd serve as that user, traced when strace is there
tracer=()
if command -v strace >/dev/null; then
    tracer=(strace -f -qq -o "$tmp/trace")
else
    echo "unprivileged: no strace: the unit's system call filter is not checked"
fi
serve "$tmp/data" "${tracer[@]}" setpriv --reuid=$uid --regid=$uid --clear-groups
[ "$(stat -c %u "$tmp/data/admin.token")" = $uid ] || fail "the admin token is not the user's"
repo=$(hello_repo)
# libgit2 refuses a repository its user does not own
chown -R $uid:$uid "$repo"
export MGD_URL=$url MGD_TOKEN=$token
"$root/bin/mgctl" project create hello --repo "$repo" --config "$repo/config.json" >/dev/null
"$root/bin/mgctl" build hello --target unix -o "$tmp/api.img" >"$tmp/ctl.log" 2>&1 ||
    { cat "$tmp/ctl.log" "$tmp/serve.log"; fail "a build through mgd serve as uid $uid failed"; }
chmod +x "$tmp/api.img"
[ "$("$tmp/api.img" --count=1)" = "Hello World!" ] || fail "the image built through the API does not greet"
kill "$mgd_pid"
wait "$serve_pid" || true
serve_pid=

if [ ${#tracer[@]} -gt 0 ]; then
    unit="$root/../lib/systemd/system/mgd.service"
    [ -f "$unit" ] || unit=$(find "$tmp/root" -name mgd.service | head -1)
    groups=$(sed -n 's/^SystemCallFilter=//p' "$unit")
    families=$(sed -n 's/^RestrictAddressFamilies=//p' "$unit")
    [ -n "$groups" ] && [ -n "$families" ] || fail "$unit has no SystemCallFilter= or RestrictAddressFamilies="
    python3 - "$tmp/trace" "$groups" "$families" <<'EOF' || fail "the unit's filters would break the service"
import re, subprocess, sys
trace, groups, families = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
sets, cur = {}, None
for line in subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    if line.startswith("@"):
        cur = sets.setdefault(line.split()[0], [])
    elif cur is not None and line.strip() and not line.strip().startswith("#"):
        cur.append(line.strip())
def expand(name, seen):
    if name in seen:
        return set()
    seen.add(name)
    out = set()
    for x in sets.get(name, []):
        out |= expand(x, seen) if x.startswith("@") else {x}
    return out
allowed = set()
for g in groups:
    allowed |= expand(g, set()) if g.startswith("@") else {g}
used, fams = set(), set()
for line in open(trace):
    m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)", line)
    if m:
        used.add(m.group(1))
    m = re.match(r"\d+\s+socket\((AF_[A-Z0-9]+)", line)
    if m:
        fams.add(m.group(1))
bad = sorted(used - allowed)
if bad:
    print("system calls outside SystemCallFilter=%s: %s" % (" ".join(groups), " ".join(bad)))
badf = sorted(fams - set(families))
if badf:
    print("socket families outside RestrictAddressFamilies=: %s" % " ".join(badf))
print("unprivileged: %d system calls and %d socket families traced, all allowed by the unit"
      % (len(used), len(fams)) if not bad and not badf else "")
sys.exit(1 if bad or badf else 0)
EOF
fi
echo "unprivileged: mgd build and mgd serve as uid $uid built examples/hello in the sandbox"
