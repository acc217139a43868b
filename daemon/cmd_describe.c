/*
 * mgd describe CONFIG [--target T] [--arch A] [--key k=v]... [--format json|dot]
 *                     [--generate DIR]
 *
 * Resolves a config document with the built-in catalog and prints the
 * resolution (config.md's describe format) or its DOT drawing. On errors
 * prints {"errors": [...]} on stdout and one line per error on stderr, and
 * exits 1. --generate also writes the generated C files into DIR (made if
 * missing; its parent must exist).
 */
#define _GNU_SOURCE /* realpath's PATH_MAX buffers, O_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "graph/builtin_catalog.h"
#include "graph/codegen.h"
#include "graph/describe.h"
#include "graph/resolve.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd describe CONFIG [--target T] [--arch A] [--key k=v]...\n"
               "                    [--format json|dot] [--generate DIR]\n"
               "\n"
               "Resolves CONFIG for a target (default unix) and arch (default the host's)\n"
               "and prints the device graph. --key sets a configure key; --generate DIR\n"
               "also writes the generated main.c and mg_keys.h into DIR.\n"
               "Exit status: 0 resolved, 1 the config has errors, 2 usage error.\n");
}

/* Reads a whole file, at most `max` + 1 bytes (so the resolver can report
 * the size limit). */
static char *read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (r == 0 || (n += (size_t)r) > max) break;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    *len = n;
    return buf;
}

/* Rejects source paths that are symlinks leaving the project root. A path
 * that does not exist is fine here: the build reports missing files. */
typedef struct {
    char root[PATH_MAX];
} path_ctx;

static const char *check_path(void *vctx, const char *path, char *buf, size_t size)
{
    path_ctx *ctx = vctx;
    char full[PATH_MAX * 2], real[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", ctx->root, path);
    struct stat st;
    if (lstat(full, &st) != 0) return NULL;
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

static const char *host_arch(void)
{
    static struct utsname u;
    if (uname(&u) != 0) return "x86_64";
    if (!strcmp(u.machine, "arm64")) return "aarch64";
    return u.machine;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int mg_cmd_describe(int argc, char **argv)
{
    const char *config = NULL, *format = "json", *generate = NULL;
    mg_resolve_options opts = {.target = "unix", .arch = host_arch()};
    mg_key_setting *keys = calloc((size_t)argc + 1, sizeof *keys);
    if (!keys) return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(keys);
            return 0;
        }
        bool takes = !strcmp(a, "--target") || !strcmp(a, "--arch") || !strcmp(a, "--key") ||
                     !strcmp(a, "--format") || !strcmp(a, "--generate");
        if (takes && !val) {
            fprintf(stderr, "mgd describe: %s needs a value\n", a);
            free(keys);
            return 2;
        }
        if (!strcmp(a, "--target"))
            opts.target = argv[++i];
        else if (!strcmp(a, "--arch"))
            opts.arch = argv[++i];
        else if (!strcmp(a, "--format"))
            format = argv[++i];
        else if (!strcmp(a, "--generate"))
            generate = argv[++i];
        else if (!strcmp(a, "--key")) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "mgd describe: --key takes NAME=VALUE, got '%s'\n", kv);
                free(keys);
                return 2;
            }
            *eq = 0;
            keys[opts.n_keys++] = (mg_key_setting){kv, eq + 1};
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mgd describe: unknown option '%s'\n", a);
            usage(stderr);
            free(keys);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "mgd describe: one CONFIG only ('%s')\n", a);
            free(keys);
            return 2;
        }
    }
    opts.keys = keys;
    if (!config || (strcmp(format, "json") && strcmp(format, "dot"))) {
        if (config) fprintf(stderr, "mgd describe: --format is json or dot, not '%s'\n", format);
        usage(stderr);
        free(keys);
        return 2;
    }

    size_t len;
    char *bytes = read_file(config, MG_LIMITS_DEFAULT_BYTES, &len);
    if (!bytes) {
        fprintf(stderr, "mgd describe: cannot read %s: %s\n", config, strerror(errno));
        free(keys);
        return 1;
    }
    path_ctx pctx;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", config);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0; /* "/x.json": the root directory */
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (realpath(dir, pctx.root)) {
        opts.check_path = check_path;
        opts.check_path_ctx = &pctx;
    }

    int status = 1;
    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    if (!cat) {
        char *text = mg_errors_text(&errs);
        fprintf(stderr, "mgd describe: the built-in catalog is broken (a bug):\n%s", text);
        free(text);
        goto out;
    }
    mg_graph *g = mg_resolve(cat, bytes, len, &opts, &errs);
    if (!g) {
        char *json = mg_errors_json(&errs), *text = mg_errors_text(&errs);
        fputs(json, stdout);
        fprintf(stderr, "%s: %zu error%s:\n%s", config, errs.len, errs.len == 1 ? "" : "s", text);
        free(json);
        free(text);
    } else {
        char *out = !strcmp(format, "dot") ? mg_describe_dot(g) : mg_describe_json(g);
        fputs(out, stdout);
        free(out);
        status = 0;
        if (generate && mkdir(generate, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "mgd describe: cannot create %s: %s\n", generate, strerror(errno));
            status = 1;
        } else if (generate) {
            char *files[MG_CODEGEN_N_FILES] = {mg_codegen_main_c(g), mg_codegen_keys_h(g)};
            for (int i = 0; i < MG_CODEGEN_N_FILES; i++) {
                if (status == 0 && write_text(generate, mg_codegen_files[i], files[i]) != 0) {
                    fprintf(stderr, "mgd describe: cannot write %s/%s: %s\n", generate,
                            mg_codegen_files[i], strerror(errno));
                    status = 1;
                }
                free(files[i]);
            }
        }
        mg_graph_free(g);
    }
    mg_catalog_free(cat);
out:
    mg_errors_free(&errs);
    free(bytes);
    free(keys);
    return status;
}
