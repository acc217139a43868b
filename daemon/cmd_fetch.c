/*
 * mgd __fetch MIRROR URL REF DEST ALLOW_LOCAL
 *
 * Not for people: the daemon's workers run this to fetch a project's
 * repository (sources.h) in a process of their own, because libgit2 1.5
 * can neither time out nor be interrupted while a remote sends nothing;
 * a process can be killed. Prints progress lines, then "commit <sha>" and
 * exits 0, or "error: <why>" and exits 1.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "daemon/sources.h"

static void print_line(void *ctx, const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
}

int mg_cmd_fetch(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: mgd __fetch MIRROR URL REF DEST ALLOW_LOCAL (used by mgd serve)\n");
        return 2;
    }
    mg_err err;
    if (mg_sources_global_init(&err)) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    mg_sources_fetch_options fo = {
        .mirror_dir = argv[0],
        .url = argv[1],
        .ref = argv[2],
        .dest_dir = argv[3],
        .log = print_line,
        .allow_local = !strcmp(argv[4], "1"),
    };
    mg_sources_result res;
    int r = mg_sources_fetch(&fo, &res, &err);
    mg_sources_global_shutdown();
    if (r != 0) {
        /* one line, as every mg_err message: the worker reads the last
         * "error: " line */
        printf("error: %s\n", err.msg);
        return 1;
    }
    printf("commit %s\n", res.commit);
    return 0;
}
