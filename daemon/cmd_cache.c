/*
 * mgd cache stats [--cache DIR] [--json]
 * mgd cache gc --max-size SIZE [--cache DIR]
 *
 * Figures of the action cache (what it holds, hits and misses since it was
 * created, the time hits saved) and eviction, least recently used first.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "base/arena.h"
#include "toolchain/cache.h"
#include "base/fsutil.h"
#include "toolchain/runtime_src.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd cache stats [--cache DIR] [--json]\n"
               "       mgd cache gc --max-size SIZE [--cache DIR]\n"
               "\n"
               "stats  what the cache holds and how well it works\n"
               "gc     evicts the least recently used entries until the cache fits SIZE\n"
               "       (bytes, or with a unit: 500M, 2G)\n"
               "The cache is $MGD_CACHE, else ~/.cache/mgd, unless --cache says.\n");
}

static int stats(mg_cache *c, bool json)
{
    mg_cache_stats s;
    char size[32];
    mg_err err;
    if (mg_cache_stats_get(c, &s, &err) != 0) {
        fprintf(stderr, "mgd cache stats: %s\n", err.msg);
        return 1;
    }
    uint64_t lookups = s.hits + s.misses;
    double rate = lookups ? 100.0 * (double)s.hits / (double)lookups : 0;
    if (json) {
        cJSON *item = cJSON_CreateString(mg_cache_path(c));
        char *path = cJSON_PrintUnformatted(item);
        cJSON_Delete(item);
        printf("{\"path\": %s, \"records\": %llu, \"blobs\": %llu, \"bytes\": %llu, "
               "\"hits\": %llu, \"misses\": %llu, \"corrupt\": %llu, \"saved_ms\": %llu, "
               "\"executed_ms\": %llu, \"remote_hits\": %llu, \"remote_misses\": %llu, "
               "\"remote_errors\": %llu, \"remote_bytes_down\": %llu, \"remote_bytes_up\": %llu}\n",
               path, (unsigned long long)s.records, (unsigned long long)s.blobs,
               (unsigned long long)s.bytes, (unsigned long long)s.hits,
               (unsigned long long)s.misses, (unsigned long long)s.corrupt,
               (unsigned long long)s.saved_ms, (unsigned long long)s.executed_ms,
               (unsigned long long)s.remote_hits, (unsigned long long)s.remote_misses,
               (unsigned long long)s.remote_errors, (unsigned long long)s.remote_bytes_down,
               (unsigned long long)s.remote_bytes_up);
        free(path);
        return 0;
    }
    mg_size_format(s.bytes, size, sizeof size);
    printf("cache       %s\n", mg_cache_path(c));
    printf("size        %s (%llu records, %llu blobs)\n", size, (unsigned long long)s.records,
           (unsigned long long)s.blobs);
    printf("hits        %llu (%.1f%% of %llu lookups)\n", (unsigned long long)s.hits, rate,
           (unsigned long long)lookups);
    printf("misses      %llu\n", (unsigned long long)s.misses);
    printf("corrupt     %llu (detected, removed and rebuilt)\n", (unsigned long long)s.corrupt);
    printf("time saved  %.1f s (by hits)\n", (double)s.saved_ms / 1000);
    printf("time spent  %.1f s (running actions)\n", (double)s.executed_ms / 1000);
    /* only for a cache that has used a remote one: the others have nothing to say */
    if (s.remote_hits + s.remote_misses + s.remote_errors + s.remote_bytes_up > 0) {
        char down[32], up[32];
        mg_size_format(s.remote_bytes_down, down, sizeof down);
        mg_size_format(s.remote_bytes_up, up, sizeof up);
        printf("remote      %llu hits, %llu misses, %llu errors; %s down, %s up\n",
               (unsigned long long)s.remote_hits, (unsigned long long)s.remote_misses,
               (unsigned long long)s.remote_errors, down, up);
    }
    return 0;
}

/* The runtime's sources are written into the cache once per runtime
 * version (toolchain/runtime_src.h); trees of other versions come from
 * other mgd binaries, older or newer. A tree not used for a day (its
 * stamp's time, refreshed by every build) is removed; one another mgd
 * uses now is kept. Returns how many were removed. */
static unsigned remove_old_runtimes(mg_cache *c)
{
    char *dir = mg_path_join(mg_cache_path(c), "runtime");
    DIR *d = opendir(dir);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, mg_runtime_version())) continue;
        char *p = mg_path_join(dir, e->d_name), *stamp = mg_path_join(p, ".complete");
        struct stat st;
        bool stale = stat(stamp, &st) != 0 || time(NULL) - st.st_mtime > 24 * 3600;
        if (stale && mg_rm_rf(p) == 0) n++;
        free(stamp);
        free(p);
    }
    if (d) closedir(d);
    free(dir);
    return n;
}

/* The words after stats or gc; an option given again overrides, as
 * before the table (repeat). */
static const mg_option cache_options[] = {
    {"--cache", 0, "DIR", true, "@dir", "the action cache"},
    {"--max-size", 0, "SIZE", true, NULL, "what gc makes the cache fit"},
    {"--json", 0, NULL, true, NULL, "stats as JSON"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

int mg_cmd_cache(int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        usage(sub ? stdout : stderr);
        return sub ? 0 : 2;
    }
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {cache_options};
    if (mg_cli_parse_options("mgd cache", &args, tables, 1, argc - 1, argv + 1) != 0) {
        usage(stderr);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    if (args.npositional) {
        fprintf(stderr, "mgd cache: unexpected '%s'\n", args.positional[0]);
        usage(stderr);
        return 2;
    }
    const char *dir = mg_args_get(&args, "--cache"), *max = mg_args_get(&args, "--max-size");
    bool json = mg_args_has(&args, "--json");
    bool is_stats = !strcmp(sub, "stats"), is_gc = !strcmp(sub, "gc");
    uint64_t max_bytes = 0;
    if (!is_stats && !is_gc) {
        fprintf(stderr, "mgd cache: unknown command '%s' (stats or gc)\n", sub);
        return 2;
    }
    if (is_gc && (!max || mg_size_parse(max, &max_bytes) != 0)) {
        fprintf(stderr, "mgd cache gc: --max-size takes a size such as 500M or 2G%s%s\n",
                max ? ", not " : "", max ? max : "");
        return 2;
    }
    char *path = dir ? mg_xstrdup(dir) : mg_cli_default_cache();
    mg_err err;
    mg_cache *c = mg_cache_open(path, &err);
    free(path);
    if (!c) {
        fprintf(stderr, "mgd cache: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    if (is_stats)
        status = stats(c, json);
    else {
        mg_cache_gc_result r;
        char before[32], after[32];
        if (mg_cache_gc(c, max_bytes, &r, &err) != 0) {
            fprintf(stderr, "mgd cache gc: %s\n", err.msg);
            status = 1;
        } else {
            mg_size_format(r.bytes_before, before, sizeof before);
            mg_size_format(r.bytes_after, after, sizeof after);
            unsigned runtimes = remove_old_runtimes(c);
            printf("removed %llu records and %llu blobs: %s -> %s\n",
                   (unsigned long long)r.records_removed, (unsigned long long)r.blobs_removed,
                   before, after);
            if (runtimes)
                printf("removed the sources of %u older runtime version%s\n", runtimes,
                       runtimes == 1 ? "" : "s");
        }
    }
    mg_cache_close(c);
    return status;
}
