/*
 * The toolchain identity (toolchain/build.h): stable while nothing
 * changes, memoised (no process runs the second time), and changed by a
 * new tool version or by new content in a file every link reads (libc).
 * The tools here are small shell scripts standing in for gcc, ar and strip.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "toolchain/build.h"
#include "base/fsutil.h"

static char dir[256];

static void write_file(const char *name, const char *text, unsigned mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(mg_file_write_atomic(path, text, strlen(text), mode), 0);
}

/* gcc: logs each run, answers the version queries and -print-file-name */
static void write_gcc(const char *version)
{
    char script[2048];
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "echo run >> '%s/runs'\n"
             "case \"$1\" in\n"
             "  --version) echo '%s' ;;\n"
             "  -dumpmachine) echo x86_64-fake-linux ;;\n"
             "  -print-file-name=libc.so.6) echo '%s/libc.so.6' ;;\n"
             "  -print-file-name=*) echo \"${1#-print-file-name=}\" ;;\n"
             "esac\n",
             dir, version, dir);
    write_file("fake-gcc", script, 0755);
}

static size_t runs(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/runs", dir);
    size_t len = 0;
    char *text = mg_file_read(path, 1 << 20, &len);
    size_t n = 0;
    for (size_t i = 0; text && i < len; i++) n += text[i] == '\n';
    free(text);
    return n;
}

static char *identity(mg_cache *c)
{
    char prefix[300];
    mg_err err;
    snprintf(prefix, sizeof prefix, "%s/fake-", dir);
    mg_target_arch arch = {
        .name = "x86_64", .prefix = prefix, .package = "gcc", .binutils_package = "binutils"};
    char *id = mg_toolchain_identity(c, &arch, &err);
    cr_assert(id, "identity failed: %s", err.msg);
    return id;
}

static mg_cache *open_cache(void)
{
    char cdir[300];
    mg_err err;
    snprintf(cdir, sizeof cdir, "%s/cache", dir);
    mg_cache *c = mg_cache_open(cdir, &err);
    cr_assert(c, "%s", err.msg);
    return c;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mgd-identity-XXXXXX");
    cr_assert(mkdtemp(dir));
    write_gcc("fake gcc 12.2");
    write_file("fake-ar", "#!/bin/sh\necho 'fake ar 2.40'\n", 0755);
    write_file("fake-strip", "#!/bin/sh\necho 'fake strip 2.40'\n", 0755);
    write_file("libc.so.6", "libc version one", 0644);
}

static void teardown(void)
{
    mg_rm_rf(dir);
}

TestSuite(identity, .init = setup, .fini = teardown);

Test(identity, stable_and_memoised)
{
    mg_cache *c = open_cache();
    char *a = identity(c);
    size_t after_first = runs();
    cr_assert_gt(after_first, 0);
    char *b = identity(c);
    cr_assert_str_eq(a, b);
    cr_assert_eq(runs(), after_first, "the memo should spare running the tools");
    free(a);
    free(b);
    mg_cache_close(c);
}

Test(identity, changes_with_libc_content)
{
    mg_cache *c = open_cache();
    char *a = identity(c);
    write_file("libc.so.6", "libc version two, longer", 0644);
    char *b = identity(c);
    cr_assert_str_neq(a, b, "a new libc must change the identity");
    free(a);
    free(b);
    mg_cache_close(c);
}

Test(identity, changes_with_tool_version)
{
    mg_cache *c = open_cache();
    char *a = identity(c);
    write_gcc("fake gcc 13.1, a longer version line");
    char *b = identity(c);
    cr_assert_str_neq(a, b, "a new compiler must change the identity");
    free(a);
    free(b);
    mg_cache_close(c);
}

Test(identity, missing_tool_is_a_clear_error)
{
    mg_cache *c = open_cache();
    mg_err err;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/absent-", dir);
    mg_target_arch arch = {
        .name = "aarch64", .prefix = prefix, .package = "gcc-absent", .binutils_package = "bu"};
    char *id = mg_toolchain_identity(c, &arch, &err);
    cr_assert_null(id);
    cr_assert(strstr(err.msg, "gcc-absent"), "the message names the package: %s", err.msg);
    mg_cache_close(c);
}
