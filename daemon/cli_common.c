/* cli_common.c - see cli_common.h. */
#include "daemon/cli_common.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "base/arena.h"
#include "targets/builtin_catalog.h"
#include "graph/describe.h"
#include "toolchain/cache.h"
#include "base/fsutil.h"

const char *mg_cli_check_path(void *vctx, const char *path, char *buf, size_t size)
{
    mg_cli_project *ctx = vctx;
    char full[PATH_MAX * 2], real[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", ctx->root, path);
    struct stat st;
    if (lstat(full, &st) != 0) return NULL; /* missing: the build says so */
    if (!realpath(full, real)) {
        snprintf(buf, size, "cannot be resolved: %s", strerror(errno));
        return buf;
    }
    size_t n = strlen(ctx->root);
    if (n == 1) return NULL; /* the root is "/": nothing can leave it */
    if (strncmp(real, ctx->root, n) || (real[n] != '/' && real[n] != 0)) {
        snprintf(buf, size, "leads outside the project (to %s)", real);
        return buf;
    }
    return NULL;
}

bool mg_cli_parse_key(char *arg, mg_key_setting *out)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return false;
    *eq = 0;
    *out = (mg_key_setting){arg, eq + 1};
    return true;
}

mg_graph *mg_cli_resolve(const char *prog, const char *config, const char *project_dir,
                         mg_resolve_options *opts, bool json_errors, mg_catalog **cat)
{
    size_t len;
    *cat = NULL;
    char *bytes = mg_file_read(config, MG_LIMITS_DEFAULT_BYTES, &len);
    if (!bytes) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, config, strerror(errno));
        return NULL;
    }
    mg_cli_project proj;
    if (realpath(project_dir, proj.root)) {
        opts->check_path = mg_cli_check_path;
        opts->check_path_ctx = &proj;
    }
    mg_errors errs = {0};
    mg_graph *g = NULL;
    *cat = mg_builtin_catalog_load(&errs);
    if (!*cat) {
        char *text = mg_errors_text(&errs);
        fprintf(stderr, "%s: the built-in catalog is broken (a bug):\n%s", prog, text);
        free(text);
    } else if (!(g = mg_resolve(*cat, bytes, len, opts, &errs))) {
        char *json = mg_errors_json(&errs), *text = mg_errors_text(&errs);
        if (json_errors) fputs(json, stdout);
        fprintf(stderr, "%s: %zu error%s:\n%s", config, errs.len, errs.len == 1 ? "" : "s", text);
        free(json);
        free(text);
    }
    mg_errors_free(&errs);
    free(bytes);
    opts->check_path = NULL; /* it pointed at this frame */
    opts->check_path_ctx = NULL;
    return g;
}

mg_graph *mg_cli_resolve_tree(const mg_catalog *cat, const char *doc, size_t len,
                              const char *src_dir, mg_resolve_options *opts, mg_errors *errs)
{
    mg_cli_project proj = {{0}};
    char *real = realpath(src_dir, NULL);
    snprintf(proj.root, sizeof proj.root, "%s", real ? real : src_dir);
    free(real);
    opts->check_path = mg_cli_check_path;
    opts->check_path_ctx = &proj;
    mg_graph *g = mg_resolve(cat, doc, len, opts, errs);
    opts->check_path = NULL; /* it pointed at this frame */
    opts->check_path_ctx = NULL;
    return g;
}

mg_key_setting *mg_cli_keys_from_json(const cJSON *obj, size_t *n)
{
    *n = 0;
    size_t count = cJSON_IsObject(obj) ? (size_t)cJSON_GetArraySize(obj) : 0;
    mg_key_setting *keys = mg_xmalloc((count + 1) * sizeof *keys);
    memset(keys, 0, (count + 1) * sizeof *keys);
    const cJSON *it;
    if (cJSON_IsObject(obj)) cJSON_ArrayForEach(it, obj)
        {
            if (cJSON_IsString(it)) keys[(*n)++] = (mg_key_setting){it->string, it->valuestring};
        }
    return keys;
}

void mg_cli_log_stamp(mg_buf *out, const char *text, size_t len, uint64_t ms, bool *at_line_start)
{
    char stamp[32];
    snprintf(stamp, sizeof stamp, "[%8.3f] ", (double)ms / 1e3);
    for (size_t i = 0; i < len; i++) {
        if (*at_line_start) mg_buf_adds(out, stamp);
        mg_buf_add(out, &text[i], 1);
        *at_line_start = text[i] == '\n';
    }
}

char *mg_cli_default_cache(void)
{
    const char *v = getenv("MGD_CACHE");
    if (v && *v) return mg_xstrdup(v);
    v = getenv("XDG_CACHE_HOME");
    if (v && *v == '/') return mg_xasprintf("%s/mgd", v);
    v = getenv("HOME");
    if (v && *v == '/') return mg_xasprintf("%s/.cache/mgd", v);
    return mg_xstrdup(".mgd-cache");
}

/* One limit option: returns 1 when `opt` is one of them and its value
 * `val` went into *l, 0 when `opt` is not one of them, -1 (with a message
 * on stderr) when the value is missing or wrong. */
static int parse_limit(const char *prog, const char *opt, const char *val, mg_build_limits *l)
{
    static const struct {
        const char *name;
        bool size;
        uint64_t scale, max; /* the value times scale; at most max */
        size_t offset;
    } opts[] = {
        {"--limit-memory", true, 1, 1ull << 50, offsetof(mg_build_limits, memory)},
        {"--limit-cpu", false, 1, 1u << 30, offsetof(mg_build_limits, cpu_s)},
        {"--limit-file-size", true, 1, 1ull << 50, offsetof(mg_build_limits, file_size)},
        {"--limit-procs", false, 1, 1u << 22, offsetof(mg_build_limits, procs)},
        {"--action-timeout", false, 1000, 1u << 30, offsetof(mg_build_limits, action_wall_ms)},
        {"--build-timeout", false, 1000, 1u << 30, offsetof(mg_build_limits, build_wall_ms)},
    };
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (strcmp(opt, opts[i].name)) continue;
        uint64_t v;
        char *end = NULL;
        bool ok = val && *val;
        if (ok && opts[i].size)
            ok = mg_size_parse(val, &v) == 0;
        else if (ok) {
            errno = 0;
            unsigned long long n = strtoull(val, &end, 10);
            ok = !*end && errno == 0 && val[0] != '-';
            v = n;
        }
        if (!ok || v > opts[i].max) {
            fprintf(stderr, "%s: %s takes %s (0: no limit), got '%s'\n", prog, opt,
                    opts[i].size ? "a size such as 2G" : "a whole number", val ? val : "");
            return -1;
        }
        *(uint64_t *)((char *)l + opts[i].offset) = v * opts[i].scale;
        return 1;
    }
    return 0;
}

/* As before the tables, an option given again overrides (repeat), and each
 * takes its value as the next word or after '='. */
const mg_option mg_cli_limit_options[] = {
    {"--limit-memory", 0, "SIZE", true, NULL, "address space of a process (default 2G)"},
    {"--limit-cpu", 0, "SECONDS", true, NULL, "CPU time of a process (default 300)"},
    {"--limit-file-size", 0, "SIZE", true, NULL, "largest file written (default 1G)"},
    {"--limit-procs", 0, "N", true, NULL, "processes (default 256)"},
    {"--action-timeout", 0, "S", true, NULL, "wall time of an action (default 300)"},
    {"--build-timeout", 0, "S", true, NULL, "wall time of a whole build (default 1800)"},
    MG_OPTION_END,
};

int mg_cli_apply_limits(const char *prog, const mg_args *a, mg_build_limits *l)
{
    /* every value is checked, the last one stays */
    for (const mg_option *o = mg_cli_limit_options; o->name; o++) {
        const char *v;
        for (int k = 0; (v = mg_args_nth(a, o->name, k)); k++)
            if (parse_limit(prog, o->name, v, l) < 0) return -1;
    }
    return 0;
}

int mg_cli_parse_options(const char *prog, mg_args *a, const mg_option *const *tables, int ntables,
                         int argc, char **argv)
{
    mg_err err;
    if (mg_args_parse(a, tables, ntables, argc, argv, &err) == 0) return 0;
    fprintf(stderr, "%s: %s\n", prog, err.msg);
    return -1;
}

const mg_option mg_cli_remote_options[] = {
    {"--remote-cache", 0, "URL", true, NULL, "the shared cache's base URL"},
    {"--remote-cache-read-only", 0, NULL, true, NULL, "reads the shared cache, never writes it"},
    {"--remote-cache-credentials", 0, "FILE", true, "@file",
     "the Authorization header for the shared cache"},
    MG_OPTION_END,
};

int mg_cli_remote_config(const char *prog, const mg_args *a, mg_remote_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const char *url = mg_args_get(a, "--remote-cache");
    if (!url) url = getenv("MGD_REMOTE_CACHE");
    bool read_only = mg_args_has(a, "--remote-cache-read-only");
    const char *creds = mg_args_get(a, "--remote-cache-credentials");
    if (!url || !*url) {
        /* an option about a cache that is not there is a mistake worth saying */
        if (read_only || creds) {
            fprintf(stderr,
                    "%s: --remote-cache-read-only and --remote-cache-credentials need "
                    "--remote-cache URL (or $MGD_REMOTE_CACHE)\n",
                    prog);
            return -1;
        }
        return 0;
    }
    mg_err err;
    if (mg_remote_config_init(cfg, url, read_only, creds, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return -1;
    }
    return 1;
}

const mg_option mg_cli_distcc_options[] = {
    {"--distcc", 0, "HOSTS", true, NULL, "distcc hosts for the C compiles"},
    MG_OPTION_END,
};

int mg_cli_distcc_hosts(const char *prog, const mg_args *a, mg_distcc_hosts *hosts)
{
    memset(hosts, 0, sizeof *hosts);
    const char *text = mg_args_get(a, "--distcc");
    if (!text) text = getenv("MGD_DISTCC");
    if (!text || !*text) return 0;
    mg_err err;
    if (mg_distcc_parse(text, hosts, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return -1;
    }
    return 1;
}

typedef struct {
    const char *prog;
} say_ctx;

static void say_stderr(void *ctx, const char *line)
{
    fprintf(stderr, "%s: %s\n", ((say_ctx *)ctx)->prog, line);
}

void mg_cli_distcc_probe(const char *prog, const mg_distcc_hosts *given,
                         const mg_distcc_probe_target *targets, size_t n, bool no_sandbox,
                         mg_distcc_hosts *kept)
{
    say_ctx c = {prog};
    mg_err err;
    /* a probe that cannot run degrades the command to local compiles */
    if (mg_distcc_probe(given, targets, n, no_sandbox, say_stderr, &c, kept, &err) != 0)
        fprintf(stderr, "%s: distcc: off: %s; compiles run here\n", prog, err.msg);
}
