/*
 * cli_common.h - what mgd's local commands share: loading and resolving a
 * config document the way describe and build both do, option helpers, and
 * the default cache location.
 */
#ifndef MG_DAEMON_CLI_COMMON_H
#define MG_DAEMON_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/opt.h"
#include "graph/catalog.h"
#include "graph/errors.h"
#include "graph/resolve.h"
#include "toolchain/distcc.h"
#include "toolchain/remote_cache.h"
#include "toolchain/sandbox.h"

/* Rejects source paths that are symlinks leaving `root` (the callback of
 * mg_resolve_options.check_path). */
typedef struct mg_cli_project {
    char root[4096];
} mg_cli_project;
const char *mg_cli_check_path(void *ctx, const char *path, char *buf, size_t size);

/* Parses "NAME=VALUE" of --key into a setting (modifies `arg`). */
bool mg_cli_parse_key(char *arg, mg_key_setting *out);

/* Reads and resolves a config document whose sources live under
 * `project_dir`. On errors prints them (JSON on stdout when `json_errors`,
 * a readable list on stderr) and returns NULL. `*cat` receives the loaded
 * catalog (freed by the caller, also on failure). */
mg_graph *mg_cli_resolve(const char *prog, const char *config, const char *project_dir,
                         mg_resolve_options *opts, bool json_errors, mg_catalog **cat);

/* Resolves config document `doc` (len bytes) for the settings of `opts`
 * (target, arch, keys) against a source tree written under `src_dir`, as
 * the daemon's workers and `mgd worker` both do: paths the config names
 * must not lead out of the tree (mg_cli_check_path, rooted at the real
 * path of `src_dir`). The graph, or NULL with the errors in `errs`.
 * `opts->check_path` is set and reset here. */
mg_graph *mg_cli_resolve_tree(const mg_catalog *cat, const char *doc, size_t len,
                              const char *src_dir, mg_resolve_options *opts, mg_errors *errs);

/* The string members of JSON object `obj` (a build's keys, {name: text})
 * as key settings pointing into it; calloc'd (one spare entry), count in
 * *n. Members that are not strings are skipped. */
struct cJSON;
mg_key_setting *mg_cli_keys_from_json(const struct cJSON *obj, size_t *n);

/* A build log's time stamp: appends `text` to `out`, starting each line
 * with "[  12.345] " (the seconds `ms` stand for), the one form of the
 * daemon's build logs, whoever runs the build. `*at_line_start` carries
 * the state from one call to the next (true for a new log). */
void mg_cli_log_stamp(mg_buf *out, const char *text, size_t len, uint64_t ms, bool *at_line_start);

/* Parses a command's arguments against its option tables (base/opt.h):
 * 0, or -1 after printing "PROG: what is wrong" on stderr (the caller
 * adds its usage and exits 2). */
int mg_cli_parse_options(const char *prog, mg_args *a, const mg_option *const *tables, int ntables,
                         int argc, char **argv);

/* The limit options that mgd build, serve and worker share (one line each in
 * MG_CLI_LIMITS_USAGE), as an option table to parse with the command's. */
extern const mg_option mg_cli_limit_options[];
/* Puts the limit options given in `a` into *l: 0, or -1 (with a message on
 * stderr) when a value is wrong. 0 means no limit. */
int mg_cli_apply_limits(const char *prog, const mg_args *a, mg_build_limits *l);
#define MG_CLI_LIMITS_USAGE                                                                        \
    "Limits of each build action (every process of it), 0 for none:\n"                             \
    "  --limit-memory SIZE     address space of a process (default 2G)\n"                          \
    "  --limit-cpu SECONDS     CPU time of a process (default 300)\n"                              \
    "  --limit-file-size SIZE  largest file written (default 1G)\n"                                \
    "  --limit-procs N         processes (default 256; Linux does not apply it to root)\n"         \
    "  --action-timeout S      wall time of an action (default 300)\n"                             \
    "  --build-timeout S       wall time of a whole build (default 1800)\n"

/* The remote cache options that mgd build, serve and worker share (one line
 * each in MG_CLI_REMOTE_USAGE): --remote-cache URL (else $MGD_REMOTE_CACHE),
 * --remote-cache-read-only, --remote-cache-credentials FILE. */
extern const mg_option mg_cli_remote_options[];
/* Fills *cfg from them: 1 when a remote cache is configured, 0 when none
 * is, -1 (with "PROG: why" on stderr) for a bad URL or credentials file. */
int mg_cli_remote_config(const char *prog, const mg_args *a, mg_remote_config *cfg);
#define MG_CLI_REMOTE_USAGE                                                                        \
    "A shared cache over HTTP (docs/remote-cache.md), after the local one:\n"                      \
    "  --remote-cache URL      its base URL, http:// or https:// (default $MGD_REMOTE_CACHE)\n"    \
    "  --remote-cache-read-only  read it, never write it\n"                                        \
    "  --remote-cache-credentials FILE  the Authorization header's value, on the first line\n"     \
    "                          of FILE (which other users must not be able to read)\n"

/* The distcc option that mgd build, mgd serve and mgd worker share
 * (docs/distcc.md):
 * --distcc HOSTS (else $MGD_DISTCC), in distcc's host syntax. */
extern const mg_option mg_cli_distcc_options[];
/* Parses it into *hosts: 1 when hosts are given, 0 when none are, -1 (with
 * "PROG: why" on stderr) for a bad list. */
int mg_cli_distcc_hosts(const char *prog, const mg_args *a, mg_distcc_hosts *hosts);
/* Probes `given` for the targets and arches a command builds, printing
 * "PROG: distcc: ..." lines on stderr, and keeps the hosts that agree with
 * the local compiler in *kept (empty when the probe cannot run: said too). */
void mg_cli_distcc_probe(const char *prog, const mg_distcc_hosts *given,
                         const mg_distcc_probe_target *targets, size_t n, bool no_sandbox,
                         mg_distcc_hosts *kept);
#define MG_CLI_DISTCC_USAGE                                                                        \
    "distcc hosts for the C compiles (docs/distcc.md):\n"                                          \
    "  --distcc HOSTS          distcc's host syntax, \"10.0.0.2:3632/4 10.0.0.3/4\" (default\n"    \
    "                          $MGD_DISTCC); a host whose compiler differs is dropped\n"

/* The cache directory: $MGD_CACHE, else $XDG_CACHE_HOME/mgd, else
 * $HOME/.cache/mgd, else ./.mgd-cache. malloc'd. */
char *mg_cli_default_cache(void);

#endif
