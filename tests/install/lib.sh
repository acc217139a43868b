# What the installation tests share (tests/install/*.sh): a staging root
# filled by `cmake --install` from the build tree, and the installed mgd
# serving from there. Sourced; the caller sets `build` and `src`.

tmp=$(mktemp -d /tmp/mgd-install-XXXXXX)
# the unprivileged test's user walks through it
chmod 755 "$tmp"
serve_pid=
mgd_pid=
# the processes started under $1 (by pid: those of this test only)
descendants() {
    local p
    for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        echo "$p"
        descendants "$p"
    done
}
cleanup() {
    if [ -n "$serve_pid" ]; then
        # mgd itself, not only the prefix command: strace -o blocks fatal
        # signals and would leave it running
        kill $(descendants "$serve_pid") "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# stage PREFIX: installs into $tmp/root with that prefix (copies: nothing
# installed is a link into the build tree); sets $root to the installed
# prefix seen from here
stage() {
    DESTDIR="$tmp/root" cmake --install "$build" --prefix "$1" >"$tmp/install.log" ||
        { cat "$tmp/install.log"; fail "cmake --install failed"; }
    root="$tmp/root$1"
}

# serve DATA [PREFIX-COMMAND...]: starts the installed mgd serve on a free
# port (under the command prefix, if any: setpriv, strace) and waits for
# it; sets $serve_pid (the whole), $mgd_pid (mgd itself), $url and $token
serve() {
    local data=$1
    shift
    # the log exists before the loop reads it (the background job opens
    # it when it gets to run)
    : >"$tmp/serve.log"
    "$@" "$root/bin/mgd" serve --data "$data" --listen 127.0.0.1:0 --workers 1 \
        >"$tmp/serve.log" 2>&1 &
    serve_pid=$!
    local port=
    # minutes: a loaded machine, mgd under strace
    for _ in $(seq 1200); do
        port=$(sed -n 's|^mgd: listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$tmp/serve.log")
        [ -n "$port" ] && break
        kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.log"; fail "mgd serve exited"; }
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$tmp/serve.log"; fail "mgd serve did not listen within 120 s"; }
    # under a prefix, mgd is the one child (setpriv execs it)
    mgd_pid=$serve_pid
    while [ "$(readlink "/proc/$mgd_pid/exe")" != "$root/bin/mgd" ]; do
        mgd_pid=$(cat /proc/"$mgd_pid"/task/*/children | awk '{print $1; exit}')
        [ -n "$mgd_pid" ] || fail "cannot find the mgd process under $*"
    done
    url="http://127.0.0.1:$port"
    token=$(cat "$data/admin.token")
}

# a git repository of examples/hello, for a build through the API that
# fetches (in the fetch sandbox, which binds mgd and its module by the
# paths they were found at)
hello_repo() {
    local repo=$tmp/hello.git
    mkdir -p "$repo"
    cp -r "$src/examples/hello/." "$repo/"
    rm -rf "$repo/dist"
    git -C "$repo" init -q -b main
    git -C "$repo" add .
    git -C "$repo" -c user.name=t -c user.email=t@t commit -qm hello
    echo "$repo"
}

# The environment of a shell run by the checks below: a home of its own,
# with no user configuration, and the installed mgctl on PATH
shell_env() {
    mkdir -p "$tmp/home"
    env -u XDG_DATA_DIRS -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$tmp/home" \
        PATH="$root/bin:/usr/bin:/bin" "$@"
}

# zsh_finds PREFIX DIR: DIR (under the prefix) is in the $fpath of a zsh
# with no startup files, and that zsh, DIR in $fpath replaced by the
# staged one, autoloads the _mgctl installed there for mgctl
zsh_finds() {
    local prefix=$1 dir=$2 out
    command -v zsh >/dev/null || fail "no zsh (scripts/deps.sh installs it)"
    zsh -f -c 'print -rl -- $fpath' | grep -qx "$prefix/$dir" ||
        fail "zsh's \$fpath lacks $prefix/$dir: $(zsh -f -c 'print -r -- $fpath')"
    out=$(shell_env zsh -f -c '
        local -a fp; local d
        for d in $fpath; do [[ $d == "$1" ]] && d=$2; fp+=($d); done
        fpath=($fp)
        autoload -Uz compinit && compinit -u -D
        print -r -- "mgctl: $_comps[mgctl]"
        autoload +X _mgctl && whence -v _mgctl' zsh "$prefix/$dir" "$root/$dir" 2>&1) ||
        fail "zsh cannot load the installed completion: $out"
    [ "$out" = "mgctl: _mgctl
_mgctl is a shell function from $root/$dir/_mgctl" ] ||
        fail "zsh does not complete mgctl with $prefix/$dir/_mgctl: $out"
}

# fish_finds PREFIX DIR [XDG_DATA_DIRS]: DIR (under the prefix) is one of
# fish's vendor completion folders (with XDG_DATA_DIRS unset, or as
# given), and a fish reading the staged share/ first completes mgctl with
# the mgctl.fish installed there
fish_finds() {
    local prefix=$1 dir=$2 xdg=${3:-} out
    command -v fish >/dev/null || fail "no fish (scripts/deps.sh installs it)"
    out=$(shell_env ${xdg:+XDG_DATA_DIRS=$xdg} fish -c 'printf "%s\n" $__fish_vendor_completionsdirs')
    grep -qx "$prefix/$dir" <<<"$out" ||
        fail "fish's vendor completion folders${xdg:+ (XDG_DATA_DIRS=$xdg)} lack $prefix/$dir: $out"
    out=$(shell_env XDG_DATA_DIRS="$root/share:${xdg:-/usr/share}" fish -c '
        complete -C "mgctl proj"; functions --details __mgctl_complete' 2>&1) ||
        fail "fish cannot load the installed completion: $out"
    [ "$out" = "project	subcommands: create list show delete
$root/$dir/mgctl.fish" ] || fail "fish does not complete mgctl with $prefix/$dir/mgctl.fish: $out"
}
