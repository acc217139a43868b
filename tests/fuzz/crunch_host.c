/* crunch_host.c - see crunch_host.h. */
#include "crunch_host.h"

#include <stdio.h>

#include "base/fsutil.h"
#include "toolchain/crunch.h"

char *mg_fuzz_crunch_generate(const char *root, const char *dir, size_t *files, char *why,
                              size_t why_size)
{
    const char *dirs[] = {dir};
    mg_crunch_summary sum = {0};
    mg_err err = {0};
    char *c = mg_crunch_generate(root, dirs, 1, &sum, &err);
    if (!c) snprintf(why, why_size, "%s", err.msg);
    *files = sum.files;
    return c;
}

int mg_fuzz_rm_rf(const char *path)
{
    return mg_rm_rf(path);
}
