# What the per-target tests (spt.sh, virtio.sh) share; sourced after they
# set $mgd. A scratch directory $work (removed on exit), check NAME CMD...
# (counts failures in $fails; `finish` reports them and sets the status),
# build DIR OUT TARGET [args] (mgd build, its log shown on failure) and
# same A B (equal files, else their diff).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
build() { # DIR OUT TARGET [args]
  local dir=$1 out=$2 target=$3; shift 3
  "$mgd" build "$dir" -o "$out" --target "$target" "$@" >"$out.sha" 2>"$out.log" ||
    { cat "$out.log"; return 1; }
}
same() { cmp -s "$1" "$2" || { diff "$1" "$2" | head -20; return 1; }; }
finish() {
  echo "$fails failed"
  test "$fails" -eq 0
}
