/*
 * mgd build DIR [--config FILE] [--target T] [--arch A] [--key k=v]...
 *               [-o OUT] [--cache DIR] [--force] [--jobs N] [--verbose]
 *               [--no-sandbox] [REMOTE CACHE] [DISTCC] [LIMITS]
 *
 * Resolves DIR/config.json (or --config) and builds the image with the same
 * planner and cache as the daemon (toolchain/build.h). Prints
 * "<sha256>  <path>" on stdout (the format of sha256sum, so `sha256sum -c`
 * can check it) and a one-line summary on stderr; --verbose streams the
 * build log to stderr, and a failed build prints its log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "base/arena.h"
#include "base/buf.h"
#include "toolchain/build.h"
#include "base/fsutil.h"
#include "toolchain/target.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd build DIR [--config FILE] [--target T] [--arch A] [--key k=v]...\n"
               "                 [-o OUT] [--cache DIR] [--force] [--jobs N] [--verbose]\n"
               "                 [--no-sandbox] [REMOTE CACHE] [DISTCC] [LIMITS]\n"
               "\n"
               "Builds the unikernel of DIR (its config.json, or --config FILE) for a target\n"
               "(default: the registry's default target) and arch (default the host's), and\n"
               "prints \"SHA256  PATH\".\n"
               "  -o OUT        where to write the image (default DIR/dist/NAME[.target])\n"
               "  --cache DIR   the action cache (default $MGD_CACHE, else ~/.cache/mgd)\n"
               "  --force       run every action again, bypassing the cache; the image must\n"
               "                come out bit-identical\n"
               "  --jobs N      processes at once here (default: the number of cores); distcc\n"
               "                hosts add their own\n"
               "  --verbose     print the build log (commands and their output)\n"
               "  --no-sandbox  run the actions without the bubblewrap sandbox (for machines\n"
               "                without user namespaces); the limits still apply, the cache\n"
               "                keys and the image are the same\n" MG_CLI_REMOTE_USAGE
                   MG_CLI_DISTCC_USAGE MG_CLI_LIMITS_USAGE
               "Exit status: 0 built, 1 the config has errors or the build failed, 2 usage.\n");
}

typedef struct {
    bool echo;
    mg_buf text;
} log_sink;

static void on_log(void *ctx, const char *text, size_t len)
{
    log_sink *s = ctx;
    if (s->echo)
        fwrite(text, 1, len, stderr);
    else
        mg_buf_add(&s->text, text, len);
}

/* The words of the usage above; an option given again overrides, as
 * before the table (repeat). */
static const mg_option build_options[] = {
    {"--config", 0, "FILE", true, "@file", "the config document (default DIR/config.json)"},
    {"--target", 0, "T", true, NULL, "the target (default: the registry's default)"},
    {"--arch", 0, "A", true, NULL, "the architecture (default the host's)"},
    {"--key", 0, "k=v", true, NULL, "sets a configure key"},
    {"-o", 0, "OUT", true, "@file", "where to write the image"},
    {"--cache", 0, "DIR", true, "@dir", "the action cache"},
    {"--force", 0, NULL, true, NULL, "runs every action again"},
    {"--jobs", 0, "N", true, NULL, "processes at once"},
    {"--verbose", 'v', NULL, true, NULL, "prints the build log"},
    {"--no-sandbox", 0, NULL, true, NULL, "runs the actions without bubblewrap"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

int mg_cmd_build(int argc, char **argv)
{
    /* no target: the resolver takes the registry's default */
    mg_resolve_options opts = {.arch = mg_host_arch()};
    mg_build_options bo = {0};
    mg_build_limits limits = mg_build_limits_default();
    bo.limits = &limits;
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {build_options, mg_cli_limit_options, mg_cli_remote_options,
                                       mg_cli_distcc_options};
    if (mg_cli_parse_options("mgd build", &args, tables, 4, argc, argv) != 0) {
        usage(stderr);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    const char *dir = args.npositional ? args.positional[0] : NULL;
    const char *config = mg_args_get(&args, "--config"), *out = mg_args_get(&args, "-o");
    const char *cache_dir = mg_args_get(&args, "--cache"), *v;
    bo.force = mg_args_has(&args, "--force");
    bo.no_sandbox = mg_args_has(&args, "--no-sandbox");
    bool verbose = mg_args_has(&args, "--verbose");
    if ((v = mg_args_get(&args, "--target"))) opts.target = v;
    if ((v = mg_args_get(&args, "--arch"))) opts.arch = v;
    if (args.npositional > 1) {
        fprintf(stderr, "mgd build: one DIR only ('%s')\n", args.positional[1]);
        return 2;
    }
    if (mg_cli_apply_limits("mgd build", &args, &limits) != 0) return 2;
    mg_remote_config remote;
    int has_remote = mg_cli_remote_config("mgd build", &args, &remote);
    if (has_remote < 0) return 2;
    if (has_remote) bo.remote = &remote;
    mg_distcc_hosts given = {0}, hosts = {0};
    int has_distcc = mg_cli_distcc_hosts("mgd build", &args, &given);
    if (has_distcc < 0) {
        mg_remote_config_free(&remote);
        return 2;
    }
    /* every value is checked, the last one stays */
    for (int k = 0; (v = mg_args_nth(&args, "--jobs", k)); k++) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 1024) {
            fprintf(stderr, "mgd build: --jobs takes a number from 1 to 1024\n");
            return 2;
        }
        bo.jobs = (unsigned)n;
    }
    mg_key_setting *keys = calloc((size_t)args.nvalues + 1, sizeof *keys);
    if (!keys) {
        mg_remote_config_free(&remote);
        mg_distcc_hosts_free(&given);
        return 1;
    }
    int status = 2;
    /* the values point into argv, which mg_cli_parse_key may cut */
    for (int i = 0; (v = mg_args_nth(&args, "--key", i)); i++)
        if (!mg_cli_parse_key((char *)v, &keys[opts.n_keys++])) {
            fprintf(stderr, "mgd build: --key takes NAME=VALUE, got '%s'\n", v);
            goto out;
        }
    if (!dir) {
        usage(stderr);
        goto out;
    }
    opts.keys = keys;
    status = 1;

    char *config_path = config ? mg_xstrdup(config) : mg_path_join(dir, "config.json");
    mg_catalog *cat = NULL;
    mg_targets *targets = NULL;
    mg_cache *cache = NULL;
    mg_graph *g = mg_cli_resolve("mgd build", config_path, dir, &opts, false, &cat);
    mg_err err;
    char *cache_path = cache_dir ? mg_xstrdup(cache_dir) : mg_cli_default_cache();
    char *image = NULL;
    if (!g) goto done;
    if (!(targets = mg_targets_load(&err))) {
        fprintf(stderr, "mgd build: %s\n", err.msg);
        goto done;
    }
    if (!(cache = mg_cache_open(cache_path, &err))) {
        fprintf(stderr, "mgd build: cache %s: %s\n", cache_path, err.msg);
        goto done;
    }
    const mg_target *t = mg_targets_find(targets, g->target);
    if (!out) {
        /* the project chooses what dist/ is: not a link leading elsewhere */
        char *dist = mg_path_join(dir, "dist");
        struct stat st;
        bool link = lstat(dist, &st) == 0 && !S_ISDIR(st.st_mode);
        if (link) fprintf(stderr, "mgd build: %s is not a directory; use -o OUT\n", dist);
        free(dist);
        if (link) goto done;
    }
    image = out ? mg_xstrdup(out)
                : mg_xasprintf("%s/dist/%s%s", dir, g->name, t ? t->image_suffix : "");
    if (has_distcc && t) {
        /* the one target and arch this command builds */
        mg_distcc_probe_target pt = {t, mg_target_find_arch(t, g->arch)};
        if (pt.arch) mg_cli_distcc_probe("mgd build", &given, &pt, 1, bo.no_sandbox, &hosts);
        bo.distcc = &hosts;
    }
    log_sink sink = {.echo = verbose};
    bo.project_dir = dir;
    bo.graph = g;
    bo.catalog = cat;
    bo.targets = targets;
    bo.cache = cache;
    bo.output = image;
    bo.log = on_log;
    bo.log_ctx = &sink;
    mg_build *b = mg_build_new(&bo);
    mg_build_result res;
    int r = mg_build_run(b, &res);
    mg_build_free(b);
    if (r == 0) {
        printf("%s  %s\n", res.sha256, image);
        fprintf(stderr, "mgd build: %s for %s/%s: %u actions, %u cached, %u run, %.2f s\n", g->name,
                g->target, g->arch, res.actions, res.hits, res.misses,
                (double)res.duration_ms / 1000);
        if (res.remote_used) {
            char down[32], up[32];
            mg_size_format(res.remote.bytes_down, down, sizeof down);
            mg_size_format(res.remote.bytes_up, up, sizeof up);
            fprintf(stderr,
                    "mgd build: remote cache: %u hits, %llu misses, %llu errors, %s down, %s up "
                    "(%llu requests in %llu waves)\n",
                    res.remote_hits, (unsigned long long)res.remote.misses,
                    (unsigned long long)res.remote.errors, down, up,
                    (unsigned long long)res.remote.requests, (unsigned long long)res.remote.waves);
        }
        if (res.distcc_used)
            fprintf(stderr, "mgd build: distcc: %u compiles on distcc hosts, %u fallbacks\n",
                    res.distcc_remote, res.distcc_fallbacks);
        status = 0;
    } else {
        /* the log helps when something ran; otherwise the error says it all */
        if (!verbose && res.misses > 0) fwrite(mg_buf_str(&sink.text), 1, sink.text.len, stderr);
        fprintf(stderr, "mgd build: failed: %s\n", res.error.msg);
    }
    mg_buf_free(&sink.text);
done:
    free(image);
    free(cache_path);
    free(config_path);
    mg_cache_close(cache);
    mg_targets_free(targets);
    mg_graph_free(g);
    mg_catalog_free(cat);
out:
    free(keys);
    mg_remote_config_free(&remote);
    mg_distcc_hosts_free(&given);
    mg_distcc_hosts_free(&hosts);
    return status;
}
