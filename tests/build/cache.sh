#!/usr/bin/env bash
# The action cache as a user meets it through `mgd build`:
#   - a no-op rebuild runs nothing;
#   - changing one source recompiles exactly that file (then link, strip);
#   - changing a header recompiles exactly the files that include it;
#   - a corrupt blob or a truncated entry is detected, removed and rebuilt,
#     and the image is still right;
#   - --force (no cache) gives the same sha256;
#   - mgd cache stats/gc report and evict.
# usage: cache.sh MGD
set -uo pipefail
mgd=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/proj" "$work/proj"
export MGD_CACHE="$work/cache"
fails=0
check() { # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
# build LOGFILE [args]: builds, keeps the verbose log, prints the sha256
build() {
  local log=$1; shift
  "$mgd" build "$work/proj" -o "$work/img" --verbose "$@" 2>"$log" | cut -d' ' -f1
}
ran() { grep -c ': ran in' "$1"; }
ran_compiles() { grep ': ran in' "$1" | grep -o 'compile [^:]*' | sort | tr '\n' ' '; }

sha1=$(build "$work/l1")
check "cold build succeeds" test -n "$sha1"
check "the image runs" bash -c "'$work/img' | grep -qx 'cache test: one'"
check "cold build ran every action" test "$(ran "$work/l1")" -ge 10

sha2=$(build "$work/l2")
check "no-op rebuild runs nothing" test "$(ran "$work/l2")" -eq 0
check "no-op rebuild gives the same image" test "$sha1" = "$sha2"

sed -i 's/"one"/"two"/' "$work/proj/other.c"
build "$work/l3" >/dev/null
check "one changed source: exactly one compile" test "$(ran_compiles "$work/l3")" = "compile other.c "
check "one changed source: then link and strip" test "$(ran "$work/l3")" -eq 3
check "the change is in the image" bash -c "'$work/img' | grep -qx 'cache test: two'"

sed -i 's/"cache test"/"cache TEST"/' "$work/proj/greet.h"
build "$work/l4" >/dev/null
check "header change: only its includer recompiles" test "$(ran_compiles "$work/l4")" = "compile unikernel.c "
check "header change is in the image" bash -c "'$work/img' | grep -qx 'cache TEST: two'"

echo '/* a comment */' >>"$work/proj/other.h"
build "$work/l5" >/dev/null
check "shared header: both includers recompile" test "$(ran_compiles "$work/l5")" = "compile other.c compile unikernel.c "

# an unrelated new file in the project changes nothing
echo 'int unused;' >"$work/proj/unused.c"
build "$work/l6" >/dev/null
check "unrelated file: nothing runs" test "$(ran "$work/l6")" -eq 0

# corrupt the image's blob: detected, removed, strip runs again
good=$(sha256sum "$work/img" | cut -d' ' -f1)
blob="$MGD_CACHE/blobs/${good:0:2}/$good"
check "image blob is in the cache" test -f "$blob"
chmod u+w "$blob"; printf 'XX' | dd of="$blob" bs=1 seek=200 conv=notrunc 2>/dev/null
sha7=$(build "$work/l7")
check "corrupt blob detected" grep -q 'is corrupt; running it again' "$work/l7"
check "corrupt blob: image rebuilt identical" test "$sha7" = "$good"
check "corrupt blob: image file right" test "$(sha256sum "$work/img" | cut -d' ' -f1)" = "$good"

# truncate every record: each is detected and rebuilt, never used
for r in "$MGD_CACHE"/records/*/*; do chmod u+w "$r"; truncate -s 40 "$r"; done
sha8=$(build "$work/l8")
check "truncated entries: everything reruns" test "$(ran "$work/l8")" -eq "$(ran "$work/l1")"
check "truncated entries: same image" test "$sha8" = "$good"
build "$work/l9" >/dev/null
check "after repair: cached again" test "$(ran "$work/l9")" -eq 0

sha10=$(build "$work/l10" --force)
check "--force runs everything" test "$(ran "$work/l10")" -eq "$(ran "$work/l1")"
check "--force gives the same sha256 (reproducible)" test "$sha10" = "$good"

# a failing compile: exit 1 and the compiler's message
echo 'this is not C' >>"$work/proj/other.c"
"$mgd" build "$work/proj" -o "$work/img2" >"$work/o11" 2>"$work/l11"; rc=$?
check "compile error exits 1" test "$rc" -eq 1
check "compile error shows the compiler's message" grep -q 'other.c.*error' "$work/l11"
check "compile error names the action" grep -q 'failed: compile other.c failed' "$work/l11"
check "... and gives the compiler's error line" grep -q 'failed: compile other.c failed.*error' "$work/l11"
check "compile error writes no image" test ! -e "$work/img2"

# regressions from review: a project path with '$' and a header with '#'
# (gcc's depfile escapes them) must still be tracked
odd="$work/pro\$j #x"
cp -r "$here/proj" "$odd"
printf '#define WORD "odd"\n' >"$odd/we#ird.h"
sed -i 's/#include "greet.h"/#include "greet.h"\n#include "we#ird.h"/; s/GREETING, other_word()/WORD, other_word()/' "$odd/unikernel.c"
"$mgd" build "$odd" -o "$work/odd" >/dev/null 2>&1
check "odd paths: builds" bash -c "'$work/odd' | grep -qx 'odd: one'"
sleep 0.01; printf '#define WORD "even"\n' >"$odd/we#ird.h"
"$mgd" build "$odd" -o "$work/odd" -v >/dev/null 2>"$work/l12"
check "odd paths: a change to we#ird.h recompiles" bash -c "'$work/odd' | grep -qx 'even: one'"

# a user's -D value holding the project's path is not a path to map away
for p in a b; do
  mkdir -p "$work/$p" && cp -r "$here/proj" "$work/$p/proj"
  python3 - "$work/$p/proj/config.json" "$work/$p/proj" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["devices"]["main"]["cflags"] = ['-DGREETING_DIR="%s"' % sys.argv[2]]
json.dump(d, open(sys.argv[1], "w"))
PY
  sed -i 's/#define GREETING "cache test"/#define GREETING GREETING_DIR/' "$work/$p/proj/greet.h"
  "$mgd" build "$work/$p/proj" -o "$work/$p/img" >/dev/null 2>&1
done
check "-D with the project path: each checkout gets its own" \
  bash -c "'$work/b/img' | grep -q '$work/b/proj'"

# a file only the assembler reads (.incbin in inline assembly) is a key of
# the compile too: changing it alone recompiles, and the image has the new
# bytes (not another project's, nor the last build's).
# incbin_case LABEL SECTION NAME FILE: unikernel.c gets an .incbin of NAME
# (how the assembler names the project's FILE) in .rodata.SECTION
incbin_case() {
  local label=$1 section=$2 name=$3 file=$4
  printf '__asm__(".pushsection .rodata.%s,\\"aR\\"\\n.incbin \\"%s\\"\\n.popsection");\n' \
    "$section" "$name" >>"$work/inc/unikernel.c"
  echo "$section-first" >"$work/inc/$file"
  "$mgd" build "$work/inc" -o "$work/inc.img" >/dev/null 2>"$work/$section.l1"
  check "$label: built" grep -q "$section-first" "$work/inc.img"
  echo "$section-second" >"$work/inc/$file"
  "$mgd" build "$work/inc" -o "$work/inc.img" --verbose >/dev/null 2>"$work/$section.l2"
  check "$label: only the file changed, its compile runs" \
    test "$(ran_compiles "$work/$section.l2")" = "compile unikernel.c "
  check "$label: the image has the new bytes" \
    bash -c "grep -q $section-second '$work/inc.img' && ! grep -q $section-first '$work/inc.img'"
}
mkdir -p "$work/inc" && cp -r "$here/proj/." "$work/inc/"
incbin_case "incbin" blob src/blob.bin blob.bin
# the same through the sandbox's own absolute path of the workspace (it was
# left out of the key once: another project's bytes came out of the cache)
incbin_case "incbin by /ws path" abs /ws/src/abs.bin abs.bin

# the full key of a compile covers its headers' contents, not only their
# names: a manifest that outlived the entry it led to (a shared or remote
# cache; gc removes records one by one) must not lead a build with the old
# header to the entry the new header made. Here the first build's manifests
# are put back after a build with a changed header.
hk_build() { # LOG: builds the copy with a cache of its own, prints the sha256
  MGD_CACHE="$work/hkcache" "$mgd" build "$work/hkproj" -o "$work/hkimg" --verbose 2>"$1" |
    cut -d' ' -f1
}
cp -r "$here/proj" "$work/hkproj"
hk1=$(hk_build "$work/lh1")
cp -r "$work/hkcache/records" "$work/hkrecords"
sed -i 's/"cache test"/"cache HEADER"/' "$work/hkproj/greet.h"
hk2=$(hk_build "$work/lh2")
check "a changed header: another image" test -n "$hk2" -a "$hk2" != "$hk1"
manifests=$(cd "$work/hkrecords" && grep -rl '"headers"' .)
check "the first build's manifests are found" test -n "$manifests"
for m in $manifests; do cp -f "$work/hkrecords/$m" "$work/hkcache/records/$m"; done
sed -i 's/"cache HEADER"/"cache test"/' "$work/hkproj/greet.h"
hk3=$(hk_build "$work/lh3")
check "an old manifest: the old header's image" test "$hk3" = "$hk1"
check "an old manifest: the old header's greeting" bash -c "'$work/hkimg' | grep -qx 'cache test: one'"

# dist/ must not be a link leading elsewhere
mkdir -p "$work/victim" "$work/linked" && cp -r "$here/proj/." "$work/linked/"
ln -s "$work/victim" "$work/linked/dist"
"$mgd" build "$work/linked" >/dev/null 2>"$work/l13"; rc=$?
check "a dist/ link is refused" bash -c "test $rc -eq 1 && test -z \"\$(ls '$work/victim')\""

"$mgd" cache stats >"$work/stats"
check "cache stats shows hits" grep -Eq '^hits +[1-9]' "$work/stats"
check "cache stats shows corrupt entries" grep -Eq '^corrupt +[1-9]' "$work/stats"
"$mgd" cache gc --max-size 1k >"$work/gc"
check "gc evicts" grep -q 'removed [1-9]' "$work/gc"
"$mgd" cache stats --json >"$work/stats2"
check "gc leaves the cache under the limit" python3 -c "import json,sys; d=json.load(open('$work/stats2')); sys.exit(0 if d['bytes'] <= 1024 else 1)"
"$mgd" cache gc --max-size lots >/dev/null 2>&1; rc=$?
check "gc with a bad size is a usage error" test "$rc" -eq 2

echo "$fails failed"
exit $((fails > 0))
