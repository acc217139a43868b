/*
 * mgd gc [--data DIR] [--cache DIR] [--keep-builds N] [--json]
 *
 * Retention offline: one gc run (daemon/gc.h) on a data directory no
 * daemon serves, for a store that grew while no daemon collected it, or a
 * daemon started with --gc-interval 0 that is stopped for maintenance. It
 * takes the data directory's lock as `mgd serve` does, so it refuses
 * while a daemon holds it (POST /gc is the way then), and a daemon
 * started meanwhile refuses to start until it is done.
 *
 * Exit status: 0 done, 1 the directory is busy or the run failed, 2 a
 * mistake on the command line (docs/cli.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "daemon/daemon.h"
#include "daemon/gc.h"
#include "daemon/store.h"
#include "toolchain/cache.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mgd gc [--data DIR] [--cache DIR] [--keep-builds N] [--json]\n"
            "\n"
            "Deletes the builds retention does not keep, with their logs, the blobs\n"
            "nothing references any more and the git mirrors of deleted projects, in\n"
            "a data directory no daemon serves (default DIR: ./var; a running daemon\n"
            "does it on POST /gc). Kept: queued and running builds, pinned ones, the\n"
            "last N finished builds per project, target and arch (default %d, or the\n"
            "project's own; 0 keeps all), the newest succeeded one of each, and the\n"
            "builds those refer to. Prints what it deleted and the bytes freed.\n",
            MG_GC_DEFAULT_KEEP_BUILDS);
}

static const mg_option gc_options[] = {
    {"--data", 0, "DIR", true, "@dir", "the daemon's data directory (default ./var)"},
    {"--cache", 0, "DIR", true, "@dir", "its action cache and image store (default DATA/cache)"},
    {"--keep-builds", 0, "N", true, NULL, "finished builds kept per project, target and arch"},
    {"--json", 0, NULL, true, NULL, "prints the report as JSON"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

int mg_cmd_gc(int argc, char **argv)
{
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {gc_options};
    if (mg_cli_parse_options("mgd gc", &args, tables, 1, argc, argv) != 0) {
        usage(stderr);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    if (args.npositional) {
        fprintf(stderr, "mgd gc: unexpected '%s'\n", args.positional[0]);
        usage(stderr);
        return 2;
    }
    const char *data = mg_args_get(&args, "--data"), *cache_dir = mg_args_get(&args, "--cache"),
               *keep_arg = mg_args_get(&args, "--keep-builds");
    if (!data) data = "var";
    int64_t keep = MG_GC_DEFAULT_KEEP_BUILDS;
    if (keep_arg) {
        char *end;
        errno = 0;
        long long v = strtoll(keep_arg, &end, 10);
        if (!keep_arg[0] || *end || errno || v < 0 || v > MG_GC_MAX_KEEP_BUILDS) {
            fprintf(stderr,
                    "mgd gc: --keep-builds takes a number from 0 (keep all) to %d, not '%s'\n",
                    MG_GC_MAX_KEEP_BUILDS, keep_arg);
            return 2;
        }
        keep = v;
    }
    bool json = mg_args_has(&args, "--json");

    char *db = mg_path_join(data, "mgd.sqlite3");
    struct stat st;
    if (stat(db, &st) != 0) {
        fprintf(stderr, "mgd gc: no database at %s (nothing to collect)\n", db);
        free(db);
        return 1;
    }
    mg_err err;
    int lock = mg_daemon_lock(data, &err);
    if (lock < 0) {
        if (err.code == MG_E_BUSY)
            fprintf(stderr,
                    "mgd gc: a daemon serves %s (it holds %s/mgd.lock): ask it with POST /gc, or "
                    "stop it first\n",
                    data, data);
        else
            fprintf(stderr, "mgd gc: %s\n", err.msg);
        free(db);
        return 1;
    }
    int status = 1;
    mg_cache *cache = NULL;
    mg_store *s = mg_store_open(db, true, &err);
    if (!s) {
        fprintf(stderr, "mgd gc: database %s: %s\n", db, err.msg);
        goto out;
    }
    char *cache_path = cache_dir ? mg_xstrdup(cache_dir) : mg_path_join(data, "cache");
    cache = mg_cache_open(cache_path, &err);
    if (!cache) fprintf(stderr, "mgd gc: cache %s: %s\n", cache_path, err.msg);
    free(cache_path);
    if (!cache) goto out;
    mg_gc_options o = {.store = s, .cache = cache, .data_dir = data, .keep_builds = keep};
    mg_gc_report r;
    int rc = mg_gc_run(&o, &r, &err);
    if (json) {
        mg_buf b = {0};
        mg_jw w;
        mg_jw_init(&w, &b);
        mg_gc_report_json(&w, &r);
        if (!b.failed) printf("%.*s\n", (int)b.len, b.data);
        mg_buf_free(&b);
    } else {
        char line[256];
        mg_gc_report_line(&r, line, sizeof line);
        printf("%s\n", line);
    }
    if (rc != 0)
        fprintf(stderr, "mgd gc: %s\n", err.msg);
    else
        status = 0;
out:
    mg_cache_close(cache);
    mg_store_close(s);
    close(lock);
    free(db);
    return status;
}
