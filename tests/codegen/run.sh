#!/usr/bin/env bash
# End-to-end test of the generated code: `mgd describe --generate` writes
# main.c and mg_keys.h for a nested graph; they are compiled with a test
# double of the runtime (fake/) and run. Checks connect order and args,
# runtime key parsing and --help, and the failure messages.
# usage: run.sh MGD CC
set -euo pipefail
mgd=$1
cc=${2:-cc}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
pass=0

check() { # check NAME EXPECTED_STATUS EXPECTED_REGEX... -- CMD...
    local name=$1 want=$2
    shift 2
    local patterns=()
    while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
    shift
    local out status=0
    out=$("$@" 2>&1) || status=$?
    if [ "$status" != "$want" ]; then
        echo "FAIL $name: exit $status, want $want"; echo "$out" | sed 's/^/    /'
        fails=$((fails + 1)); return
    fi
    for p in "${patterns[@]}"; do
        if ! grep -Eq -- "$p" <<<"$out"; then
            echo "FAIL $name: output lacks /$p/"; echo "$out" | sed 's/^/    /'
            fails=$((fails + 1)); return
        fi
    done
    echo "ok   $name"
    pass=$((pass + 1))
}

build() { # build DIR KEYS...
    local dir=$1
    shift
    mkdir -p "$dir"
    "$mgd" describe "$here/nested/config.json" --generate "$dir" "$@" >"$dir/describe.json"
    # -pedantic-errors: the generated code is ISO C11, nothing compiler-specific
    "$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror -Wno-unused-parameter -I"$dir" -I"$here/fake/include" \
        "$dir/main.c" "$here/fake/fake.c" "$here/nested/user.c" -o "$dir/image"
}

build "$work/file"
img="$work/file/image"

# Connect order: reporter, console, the file disk, the tar store over it;
# then the jobs in the config's order: f, rc (user code whose C name would
# clash with a naive generator's locals), the noop catalog job; then the
# event loop.
order=$("$img" --tag=t | grep -E '^(connect|f:|rc:|run)' | cut -d' ' -f1-2 | tr '\n' ',')
want="connect mg_reporter_connect,connect mg_console_connect,connect mg_block_of_file_connect,connect mg_tar_kv_ro_connect,f: handles,f: greeting=hi,f: addr=0a000002,f: specs=s,rc: started,connect mg_noop_connect,run,"
if [ "$order" = "$want" ]; then echo "ok   order"; pass=$((pass + 1)); else
    echo "FAIL order: got $order"; fails=$((fails + 1)); fi

check defaults 0 'connect mg_reporter_connect \*:info' 'connect mg_block_of_file_connect disk' \
    'greeting=hi "there" count=2 verbose=0 mode=fast' 'addr=0a000002 net=0a000002/24 tag=t' \
    -- "$img" --tag=t
check values 0 'greeting=Yo count=-7 verbose=1 mode=slow' 'addr=c0a80101 net=0a010000/16 tag=x' \
    -- "$img" --greeting=Yo --count -7 --verbose=true --mode=slow --addr=192.168.1.1 \
    --net=10.1.0.0/16 --tag x
check logs-key 0 'connect mg_reporter_connect net:debug' -- "$img" --tag=t --logs=net:debug
check help 0 '--specs=STRING' 'Paths like src/\*\.c' '--count=INT' 'A number\. \(default: 2\)' '--mode=fast\|slow' '--tag=STRING' \
    'Required: no default\. \(required\)' '--addr=A\.B\.C\.D' '--net=A\.B\.C\.D/N' '--help' \
    -- "$img" --help
check required 2 '--tag is required' -- "$img"
check bad-int 2 "bad value 'abc' for --count" -- "$img" --tag=t --count=abc
check int-overflow 2 "bad value '9223372036854775808' for --count" \
    -- "$img" --tag=t --count=9223372036854775808
check int-min 0 'count=-9223372036854775808' -- "$img" --tag=t --count=-9223372036854775808
check bad-bool 2 "bad value 'yes' for --verbose" -- "$img" --tag=t --verbose=yes
check bad-enum 2 "bad value 'medium' for --mode: expected fast\|slow" -- "$img" --tag=t --mode=medium
check bad-ipv4 2 "bad value '300.1.1.1' for --addr" -- "$img" --tag=t --addr=300.1.1.1
check bad-prefix 2 "bad value '10.0.0.0/33' for --net" -- "$img" --tag=t --net=10.0.0.0/33
check prefix-leading-zero 2 "bad value '10.0.0.0/024' for --net" -- "$img" --tag=t --net=10.0.0.0/024
check unknown-key 2 'unknown key --nope' -- "$img" --tag=t --nope=1
check missing-value 2 '--count needs a value' -- "$img" --tag=t --count
check stray-arg 2 "unexpected argument 'stray'" -- "$img" --tag=t stray
check connect-fails 1 'nested: cannot connect device tar_kv_ro3 \(tar_kv_ro, from /devices/data\): input/output error' \
    -- env MG_FAKE_FAIL=mg_tar_kv_ro_connect "$img" --tag=t
if env MG_FAKE_FAIL=mg_tar_kv_ro_connect "$img" --tag=t | grep -q 'connect mg_noop_connect'; then
    echo "FAIL connect-stops: devices after a failed connect were connected"; fails=$((fails + 1))
else echo "ok   connect-stops"; pass=$((pass + 1)); fi
check job-fails 1 'nested: job main4 \(f\) failed with status 3' -- env MG_FAKE_JOB_FAIL=3 "$img" --tag=t

# The configure key switches the disk to a ramdisk; the tar store follows.
build "$work/mem" --key backing=memory
check ramdisk 0 'connect mg_ramdisk_connect mem/4096' 'connect mg_tar_kv_ro_connect block' \
    -- "$work/mem/image" --tag=t

# Jobs as arguments of user code (functoria's `job @-> job`): a job
# argument starts just before the code that takes it, which gets its start
# status (0); the shared noop starts once, though listed again; the inline
# noop is an instance of its own; a failing argument stops the image before
# the code that takes it.
jobs=$work/jobs
mkdir -p "$jobs"
"$mgd" describe "$here/jobs/config.json" --generate "$jobs" >"$jobs/describe.json"
"$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror -I"$jobs" -I"$here/fake/include" \
    "$jobs/main.c" "$here/fake/fake.c" "$here/jobs/user.c" -o "$jobs/image"
order=$("$jobs/image" | grep -E '^(connect|first:|inner:|outer:|run)' | cut -d' ' -f1-5 | tr '\n' ',')
want="connect mg_reporter_connect *:info,connect mg_console_connect console,connect mg_noop_connect -,first: job=0,inner: console,connect mg_noop_connect -,outer: a=0 console=set b=0,run,"
if [ "$order" = "$want" ]; then echo "ok   job-args order"; pass=$((pass + 1)); else
    echo "FAIL job-args order: got $order"; fails=$((fails + 1)); fi
check job-arg-fails 1 'jobs: job main4 \(inner\) failed with status 4' \
    -- env MG_FAKE_INNER_FAIL=4 "$jobs/image"
if env MG_FAKE_INNER_FAIL=4 "$jobs/image" | grep -q '^outer:'; then
    echo "FAIL job-arg-stops: outer ran after its job argument failed"; fails=$((fails + 1))
else echo "ok   job-arg-stops"; pass=$((pass + 1)); fi

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
