#!/usr/bin/env bash
# What `make run` does after building: starts `mgd serve` in the foreground
# with its data under the checkout (var/), creates a project for each
# example (inline sources, with mgctl; a local git repository under
# build/repos/ for one with files that are not text) so there is something
# to build at once, and prints the URL and where the admin token is. Ctrl-C stops the
# daemon.
#   scripts/run-daemon.sh MGD MGCTL
# MGD_LISTEN (default 127.0.0.1:8080) and MGD_DATA (default var/) override
# the address and the data directory.
set -euo pipefail

if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
  echo "usage: $0 MGD MGCTL   (e.g. build/release/daemon/mgd build/release/client/mgctl)" >&2
  exit 2
fi
bin=$(realpath "$1")
mgctl=$(realpath "$2")
cd "$(dirname "$0")/.."
listen=${MGD_LISTEN:-127.0.0.1:8080}
data=${MGD_DATA:-$PWD/var}
url=http://$listen

"$bin" serve --listen "$listen" --data "$data" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' INT TERM EXIT

for _ in $(seq 100); do
  curl -fsS "$url/health" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "mgd did not start (see above)" >&2; exit 1; }
  sleep 0.1
done
token=$(cat "$data/admin.token" 2>/dev/null || true)
if [ -z "$token" ]; then
  echo "run: no admin token in $data/admin.token; create one with:" >&2
  echo "  $bin token create --scope admin --data $data" >&2
else
  export MGD_URL=$url MGD_TOKEN=$token
  for dir in examples/*/; do
    name=$(basename "$dir")
    "$mgctl" project show "$name" >/dev/null 2>&1 && continue
    # inline sources carry text files only: an example with others (the
    # website's PNG) becomes a local git repository of its own, which the
    # daemon fetches like any other (docs/daemon.md, "Repositories")
    if [ -n "$(grep -rLI --exclude-dir=dist '' "$dir")" ]; then
      repo="$PWD/build/repos/$name" # outside the data directory, which the daemon refuses
      if [ ! -d "$repo/.git" ]; then
        mkdir -p "$repo"
        (cd "$dir" && tar --exclude=./dist -cf - .) | tar -C "$repo" -xf -
        git -C "$repo" init -q && git -C "$repo" add -A &&
          git -C "$repo" -c user.name=mgd -c user.email=mgd@localhost commit -qm "examples/$name"
      fi
      "$mgctl" project create "$name" --config "$dir/config.json" --repo "$repo" |
        sed 's/^/run: /' || echo "run: could not create the project $name (see above)" >&2
      continue
    fi
    "$mgctl" project create "$name" --sources "$dir" | sed 's/^/run: /' ||
      echo "run: could not create the project $name (see above)" >&2
  done
fi
cat <<MSG

mgd is serving $url (data in $data)
the dashboard is at $url/ ; the admin token is in $data/admin.token; try:
  export MGD_URL=$url MGD_TOKEN=\$(cat $data/admin.token)
  curl -X POST -H "Authorization: Bearer \$MGD_TOKEN" $url/projects/hello/build
or with the client:
  ${mgctl#$PWD/} build hello --follow -o hello && ./hello
Ctrl-C stops it.
MSG
trap - EXIT
wait $pid
