/*
 * mgd - the unikernel build service: one binary for the daemon and the
 * local commands (../shared/spec/cli.md). This file only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd COMMAND [ARGS]\n"
               "\n"
               "commands:\n"
               "  describe CONFIG   resolve a config document and print the device graph\n"
               "  build DIR         build the unikernel of a directory\n"
               "  run IMAGE         run an image the way its target needs\n"
               "  cache stats|gc    figures and eviction of the build cache\n"
               "  serve             the build daemon and its REST API\n"
               "  token             manage API tokens offline\n"
               "\n"
               "Run 'mgd COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("mgd %s\n", MGD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "describe")) return mg_cmd_describe(argc - 2, argv + 2);
    if (!strcmp(cmd, "build")) return mg_cmd_build(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) return mg_cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "cache")) return mg_cmd_cache(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve")) return mg_cmd_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "token")) return mg_cmd_token(argc - 2, argv + 2);
    if (!strcmp(cmd, "__fetch")) return mg_cmd_fetch(argc - 2, argv + 2);
    fprintf(stderr, "mgd: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
