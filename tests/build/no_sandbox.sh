#!/usr/bin/env bash
# Where no sandbox can be made (user namespaces refused: here, a user
# namespace of the test's own whose limit of further ones is 0):
#   - mgd build fails at its first action with one line saying why and how
#     to build anyway, and --no-sandbox builds the same image as the
#     sandbox does elsewhere (the same cache keys: all of it from the cache);
#   - mgd serve refuses to start, in one line, and --insecure-no-sandbox
#     starts it.
# usage: no_sandbox.sh MGD EXAMPLES
set -uo pipefail
mgd=$(realpath "$1")
examples=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! unshare -U -r true 2>/dev/null; then
  echo "skipped: this kernel refuses user namespaces here"
  exit 77
fi
mkdir -p "$work/proj" && cp -r "$examples/hello/." "$work/proj/"
rm -rf "$work/proj/dist"
export MGD_CACHE="$work/cache"
fails=0
check() { # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

# the reference: sandboxed, here
sha=$("$mgd" build "$work/proj" -o "$work/sandboxed" 2>"$work/l0" | cut -d' ' -f1)
check "sandboxed build succeeds here" test -n "$sha"

# the same, where user namespaces cannot be made
cat >"$work/inside.sh" <<'INNER'
echo 0 >/proc/sys/user/max_user_namespaces
mgd=$1 work=$2
MGD_CACHE="$work/cache2" "$mgd" build "$work/proj" -o "$work/refused" >/dev/null 2>"$work/l1"
echo "build $?" >"$work/rc"
MGD_CACHE="$work/cache" "$mgd" build "$work/proj" --no-sandbox -o "$work/plain" \
  >"$work/plain.sha" 2>"$work/l2"
echo "plain $?" >>"$work/rc"
timeout 20 "$mgd" serve --listen 127.0.0.1:0 --data "$work/data1" >/dev/null 2>"$work/l3"
echo "serve $?" >>"$work/rc"
timeout 20 "$mgd" serve --listen 127.0.0.1:0 --data "$work/data2" --insecure-no-sandbox \
  >/dev/null 2>"$work/l4" &
for _ in $(seq 100); do grep -q 'listening on' "$work/l4" && break; sleep 0.1; done
kill -TERM %1 2>/dev/null
wait
INNER
unshare -U -r --fork bash "$work/inside.sh" "$mgd" "$work"
check "mgd build fails" grep -qx "build 1" "$work/rc"
check "  saying why, in one line" \
  grep -q "failed: cannot sandbox the build: bwrap: .*build without the sandbox" "$work/l1"
check "  and no image" test ! -e "$work/refused"
check "mgd build --no-sandbox succeeds" grep -qx "plain 0" "$work/rc"
check "  with the sandbox's image" test "$(cut -d' ' -f1 "$work/plain.sha")" = "$sha"
check "  all of it from the sandboxed build's cache entries" grep -q ' 0 run,' "$work/l2"
check "mgd serve refuses to start" grep -qx "serve 1" "$work/rc"
check "  in one line, naming the way out" \
  bash -c "test \$(wc -l <'$work/l3') -eq 1 && grep -q 'cannot sandbox builds: .*--insecure-no-sandbox' '$work/l3'"
check "mgd serve --insecure-no-sandbox starts" grep -q 'listening on' "$work/l4"
check "  and warns" grep -q 'insecure-no-sandbox: build actions run unsandboxed' "$work/l4"

echo "$fails failed"
exit $((fails > 0))
