# The remote action cache's server for the tests and benches: nginx with
# the WebDAV config of docs/remote-cache.md, started by the script with a
# prefix of its own (never Debian's service), and the counters a script
# compares (nginx's access log, mgd's summary line and `mgd cache stats`).
# One config for tests/build/remote_cache.sh, tests/ns/cache.sh and
# bench/scale, so that what they measure is what the docs show. Sourced by
# bash scripts that set $mgd (the counters run it).
#
#   rc_nginx_dir DIR    the folders: DIR/store (the cache's root), DIR/logs
#                       (access.log: one line a request), writable by
#                       nginx's workers (nobody; DIR's parent is made
#                       searchable for them); exits 77 without nginx
#   rc_nginx_server DIR LISTEN WRITER...
#                       prints one server block of the documented config:
#                       GET and HEAD for everyone, PUT only from the WRITER
#                       addresses (403 for any other)
#   rc_nginx_conf DIR BLOCK...  writes DIR/nginx.conf: the http settings of
#                       the docs (gzip), the access log's format, the blocks
#   rc_nginx_start DIR PROBE_URL [RUNNER...]
#                       starts nginx in the background (through RUNNER, say
#                       `ns_run cache` or `ip netns exec NS`), sets
#                       $rc_nginx_pid (what runs it) and waits until PROBE_URL answers
#                       (asked through the same RUNNER); 1 if it does not
#   rc_nginx_stop       stops it
#   rc_log_requests LOG [ADDR]  requests in an access log (from ADDR only)
#   rc_log_bytes LOG [ADDR]     the bytes of their answers' bodies
#   rc_counter CACHE FIELD      a counter of `mgd cache stats --json`
#   rc_summary BUILD_LOG        mgd build's summary and remote cache lines
#   rc_mgd_requests BUILD_LOG, rc_mgd_waves BUILD_LOG
#                       the requests and waves the summary line counts

# shellcheck shell=bash
rc_nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
rc_nginx_pid=
rc_nginx_at=

rc_nginx_dir() { # DIR
  [ -x "$rc_nginx_bin" ] || { echo "skipped: nginx is not installed (scripts/deps.sh)"; exit 77; }
  mkdir -p "$1/logs" "$1/tmp" "$1/store"
  # nginx's workers run as nobody: they must reach the store (the folder
  # above DIR is the script's scratch folder, mode 700 from mktemp) and
  # write it
  chmod a+x "$(dirname "$1")"
  chown nobody "$1/store" "$1/tmp"
}

rc_nginx_server() { # DIR LISTEN WRITER...
  local dir=$1 listen=$2 w allow=
  shift 2
  for w in "$@"; do allow="$allow allow $w;"; done
  cat <<EOF
  server {
    listen $listen;
    root $dir/store;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 1g;
      limit_except GET HEAD {$allow deny all; }
    }
  }
EOF
}

rc_nginx_conf() { # DIR BLOCK...
  local dir=$1
  shift
  cat >"$dir/nginx.conf" <<EOF
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
worker_processes 1;
events { worker_connections 256; }
http {
  log_format rc '\$remote_addr "\$request" \$status \$body_bytes_sent \$request_length';
  access_log $dir/logs/access.log rc;
  default_type application/octet-stream;
  gzip on;
  gzip_types application/octet-stream;
  gzip_min_length 1024;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
$(printf '%s\n' "$@")
}
EOF
}

rc_nginx_start() { # DIR PROBE_URL [RUNNER...]
  local dir=$1 probe=$2 _
  shift 2
  rm -f "$dir/nginx.pid"
  "$@" "$rc_nginx_bin" -p "$dir" -c "$dir/nginx.conf" &
  rc_nginx_pid=$! rc_nginx_at=$dir
  for _ in $(seq 50); do
    "$@" curl -s -o /dev/null -m 1 "$probe" && return 0
    sleep 0.1
  done
  echo "nginx did not start:"
  cat "$dir/logs/error.log"
  return 1
}

# nginx's master by its pid file: $rc_nginx_pid may be a subshell that
# runs it (a RUNNER that is a shell function)
rc_nginx_stop() {
  [ -n "$rc_nginx_pid" ] || return 0
  kill "$(cat "$rc_nginx_at/nginx.pid" 2>/dev/null || echo "$rc_nginx_pid")" 2>/dev/null
  wait "$rc_nginx_pid" 2>/dev/null
  rc_nginx_pid=
}

rc_log_requests() { # LOG [ADDR]
  awk -v a="${2-}" 'a == "" || $1 == a { n++ } END { print n + 0 }' "$1"
}

# body bytes: the log's next-to-last field (nginx counts the chunked
# framing of its compressed answers, mgd the bodies: a few bytes more)
rc_log_bytes() { # LOG [ADDR]
  awk -v a="${2-}" 'a == "" || $1 == a { s += $(NF-1) } END { print s + 0 }' "$1"
}

rc_counter() { # CACHE FIELD
  "$mgd" cache stats --cache "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

rc_summary() { grep -E 'remote cache:| actions, ' "$1"; }
rc_mgd_requests() { sed -n 's/.*(\([0-9]*\) requests in .*/\1/p' "$1"; }
rc_mgd_waves() { sed -n 's/.*requests in \([0-9]*\) waves.*/\1/p' "$1"; }
