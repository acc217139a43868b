#!/bin/sh
# run_image.sh - `mgd run` on images whose note lies: it must refuse them
# before launching anything, saying the file is not an mgd image. The
# images are the fuzz corpus's seeds (tests/fuzz/make_corpus.py): a valid
# note (read, then refused for its old ABI: proof that the reader got
# through it), and the same note with a descriptor that runs past its
# segment (refused as not an mgd image), then a file that is not ELF.
#
#     run_image.sh MGD CORPUS_DIR
set -u
mgd=$1
dir=$2
fail=0

expect() { # expect STATUS TEXT IMAGE
    out=$("$mgd" run "$dir/$3" 2>&1)
    rc=$?
    case $out in
    *"$2"*) ;;
    *) echo "FAIL: mgd run $3: wanted '$2' in: $out"; fail=1 ;;
    esac
    if [ "$rc" != "$1" ]; then
        echo "FAIL: mgd run $3: exit status $rc, wanted $1 ($out)"
        fail=1
    fi
}

expect 2 "is built for unix ABI 1" seed-valid
expect 1 "is not an mgd image (an ELF file without mgd's note)" seed-desc-past-segment
expect 1 "is not an mgd image (not a 64-bit little-endian ELF file)" seed-not-elf
[ $fail = 0 ] && echo "ok: mgd run refuses images whose note lies"
exit $fail
