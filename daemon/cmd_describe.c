/*
 * mgd describe CONFIG [--target T] [--arch A] [--key k=v]... [--format json|dot]
 *                     [--generate DIR]
 *
 * Resolves a config document with the built-in catalog and prints the
 * resolution (docs/config.md's describe format) or its DOT drawing. On errors
 * prints {"errors": [...]} on stdout and one line per error on stderr, and
 * exits 1. --generate also writes the generated C files into DIR (made if
 * missing; its parent must exist).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "targets/builtin_catalog.h"
#include "graph/codegen.h"
#include "graph/describe.h"
#include "graph/resolve.h"
#include "base/fsutil.h"
#include "toolchain/target.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd describe CONFIG [--target T] [--arch A] [--key k=v]...\n"
               "                    [--format json|dot] [--generate DIR]\n"
               "\n"
               "Resolves CONFIG for a target (default: the registry's default target) and\n"
               "arch (default the host's) and prints the device graph. --key sets a configure key; "
               "--generate DIR\n"
               "also writes the generated main.c and mg_keys.h into DIR.\n"
               "Exit status: 0 resolved, 1 the config has errors, 2 usage error.\n");
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char *path = mg_path_join(dir, name);
    int r = mg_file_write_atomic(path, text, strlen(text), 0644);
    free(path);
    return r;
}

/* The words of the usage above; an option given again overrides, as
 * before the table (repeat). */
static const mg_option describe_options[] = {
    {"--target", 0, "T", true, NULL, "the target (default: the registry's default)"},
    {"--arch", 0, "A", true, NULL, "the architecture (default the host's)"},
    {"--key", 0, "k=v", true, NULL, "sets a configure key"},
    {"--format", 0, "F", true, "json dot", "json (default) or dot"},
    {"--generate", 0, "DIR", true, "@dir", "also writes the generated C files into DIR"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

int mg_cmd_describe(int argc, char **argv)
{
    /* no target: the resolver takes the registry's default */
    mg_resolve_options opts = {.arch = mg_host_arch()};
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {describe_options};
    if (mg_cli_parse_options("mgd describe", &args, tables, 1, argc, argv) != 0) {
        usage(stderr);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    const char *config = args.npositional ? args.positional[0] : NULL, *v;
    const char *format = mg_args_get(&args, "--format");
    const char *generate = mg_args_get(&args, "--generate");
    if (!format) format = "json";
    if ((v = mg_args_get(&args, "--target"))) opts.target = v;
    if ((v = mg_args_get(&args, "--arch"))) opts.arch = v;
    if (args.npositional > 1) {
        fprintf(stderr, "mgd describe: one CONFIG only ('%s')\n", args.positional[1]);
        return 2;
    }
    mg_key_setting *keys = calloc((size_t)args.nvalues + 1, sizeof *keys);
    if (!keys) return 1;
    /* the values point into argv, which mg_cli_parse_key may cut */
    for (int i = 0; (v = mg_args_nth(&args, "--key", i)); i++)
        if (!mg_cli_parse_key((char *)v, &keys[opts.n_keys++])) {
            fprintf(stderr, "mgd describe: --key takes NAME=VALUE, got '%s'\n", v);
            free(keys);
            return 2;
        }
    opts.keys = keys;
    if (!config || (strcmp(format, "json") && strcmp(format, "dot"))) {
        if (config) fprintf(stderr, "mgd describe: --format is json or dot, not '%s'\n", format);
        usage(stderr);
        free(keys);
        return 2;
    }

    char *dir = mg_path_dirname(config);
    mg_catalog *cat;
    mg_graph *g = mg_cli_resolve("mgd describe", config, dir, &opts, true, &cat);
    free(dir);
    int status = 1;
    if (g) {
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
    free(keys);
    return status;
}
