/*
 * mgd - the unikernel build service: one binary for the daemon and the
 * local commands (docs/toolchain.md, docs/daemon.md). This file only dispatches.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/commands.h"
#include "base/fsutil.h"

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
               "  worker            build what a coordinator (mgd serve) hands out\n"
               "  gc                retention offline: delete old builds, logs and blobs\n"
               "\n"
               "Run 'mgd COMMAND --help' for a command's options.\n");
}

typedef int (*command_fn)(int argc, char **argv);

/* The daemon's commands live in mgd-serve.so, next to this program in a
 * build tree or in ../lib/mgd once installed (daemon/CMakeLists.txt says
 * why; base/fsutil.h, mg_own_file); loads it and finds `symbol`. */
static command_fn daemon_command(const char *symbol)
{
    char *path = mg_own_file("mgd-serve.so");
    if (!path) {
        fprintf(stderr,
                "mgd: the daemon's half of mgd, mgd-serve.so, is neither next to this program "
                "nor in ../lib/mgd: %s (a broken install?)\n",
                strerror(errno));
        return NULL;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "mgd: the daemon's half of mgd is broken: %s\n", dlerror());
        free(path);
        return NULL;
    }
    command_fn fn;
    *(void **)&fn = dlsym(lib, symbol);
    if (!fn) fprintf(stderr, "mgd: %s has no %s (a mismatched build?)\n", path, symbol);
    free(path);
    return fn;
}

static int run_daemon_command(const char *symbol, int argc, char **argv)
{
    command_fn fn = daemon_command(symbol);
    return fn ? fn(argc, argv) : 1;
}

int main(int argc, char **argv)
{
    /* a database, a cache file, an image's disk or tap must never land on
     * a closed standard descriptor and receive what is printed */
    if (mg_std_fds_open() != 0) return 1;
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
    if (!strcmp(cmd, "serve")) return run_daemon_command("mg_cmd_serve", argc - 2, argv + 2);
    if (!strcmp(cmd, "token")) return run_daemon_command("mg_cmd_token", argc - 2, argv + 2);
    if (!strcmp(cmd, "worker")) return run_daemon_command("mg_cmd_worker", argc - 2, argv + 2);
    if (!strcmp(cmd, "gc")) return run_daemon_command("mg_cmd_gc", argc - 2, argv + 2);
    if (!strcmp(cmd, "__fetch")) return run_daemon_command("mg_cmd_fetch", argc - 2, argv + 2);
    fprintf(stderr, "mgd: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
