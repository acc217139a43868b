#!/usr/bin/env zsh
# zsh_complete.zsh - what zsh's own completion system offers for a command
# line, for tests/client/test_completion.py: a real interactive zsh (on a
# pseudo-terminal of the zsh/zpty module, with compinit and the _mgctl
# found in $fpath) gets each line and a TAB, and every candidate that
# completion adds, after zsh matched it against the word, is printed, one
# per line, and a line <<end>> after those of each command line. A wrapper of
# compadd sees them (the -O option hands back the matches without adding
# them twice); comppostfuncs says when completion is over. One shell takes
# every line (compinit is the slow part), each typed on an empty line.
#
#   zsh -f zsh_complete.zsh FPATH_DIR 'mgctl project cr' 'mgctl build p --'...
emulate -L zsh
zmodload zsh/zpty || exit 2
(( $# >= 2 )) || { print -u2 "usage: $0 FPATH_DIR LINE..."; exit 2 }
fpath_dir=$1
shift
setup=$(mktemp) || exit 2
trap 'rm -f $setup' EXIT
cat >$setup <<SETUP
PS1='> '
fpath=(${(q)fpath_dir} \$fpath)
autoload -Uz compinit && compinit -u -D
compadd() {
    local -a found
    # the calls that only ask (-O, -A, -D) pass through untouched
    if (( \${@[(I)-[OAD]*]} )); then builtin compadd "\$@"; return; fi
    builtin compadd -O found "\$@"
    local w
    for w in \$found; do print -r -- "<<match>>\$w"; done
    builtin compadd "\$@"
}
# _main_complete empties comppostfuncs before it calls them: the function
# puts itself back for the next line
_mgctl_test_done() { print -r -- '<<done>>'; comppostfuncs+=(_mgctl_test_done) }
comppostfuncs=(_mgctl_test_done)
bindkey -e
bindkey '^I' complete-word
bindkey '^U' kill-whole-line
print -r -- '<<ready>>'
SETUP
zpty mgz zsh -f -i || exit 2
zpty -w mgz "source ${(q)setup}"
zpty -r mgz out '*<<ready>>*' || exit 2
local -a matches
local line m
for line in "$@"; do
    # ^U empties the line that the last TAB may have changed
    zpty -wn mgz $'\x15'"$line"$'\t'
    zpty -r mgz out '*<<done>>*' || exit 2
    matches=(${(f)out})
    for m in $matches; do
        [[ $m == *'<<match>>'* ]] || continue
        m=${m#*<<match>>}
        print -r -- ${m%%$'\r'}
    done
    print -r -- '<<end>>'
done
zpty -wn mgz $'\x15exit\n'
zpty -d mgz
