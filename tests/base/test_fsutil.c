/*
 * base/fsutil.h: atomic writes stay atomic with several writers (a
 * review found two threads sharing one temporary name), never write
 * through a link planted where the temporary file goes, rm -rf does not
 * follow links, and mgd's own files are found in a build tree and in an
 * installed one (bin/ beside lib/mgd/), the build tree first.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"

static char dir[64];
static char target[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mgd-fsutil-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(target, sizeof target, "%s/out", dir);
}

static void teardown(void)
{
    mg_rm_rf(dir);
}

TestSuite(fsutil, .init = setup, .fini = teardown);

#define WRITES 300
#define SIZE 8192

static void *writer(void *arg)
{
    char fill = (char)(intptr_t)arg;
    char *buf = malloc(SIZE);
    memset(buf, fill, SIZE);
    intptr_t failures = 0;
    for (int i = 0; i < WRITES; i++)
        if (mg_file_write_atomic(target, buf, SIZE, 0644) != 0) failures++;
    free(buf);
    return (void *)failures;
}

Test(fsutil, concurrent_writers_never_fail_or_mix)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, writer, (void *)('a' + i));
    for (int i = 0; i < 4; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        cr_expect_eq((intptr_t)failures, 0, "writer %d had failed writes", i);
    }
    size_t len;
    char *data = mg_file_read(target, SIZE * 2, &len);
    cr_assert(data);
    cr_assert_eq(len, SIZE);
    for (size_t i = 1; i < len; i++) cr_assert_eq(data[i], data[0], "mixed content at %zu", i);
    free(data);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    cr_assert_eq(system(cmd), 0, "temporary files were left behind");
}

Test(fsutil, no_write_through_a_planted_link)
{
    char victim[128], link[160];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    cr_assert_eq(mg_file_write_atomic(victim, "precious", 8, 0600), 0);
    /* the old fixed temporary name was OUT.tmp-PID */
    snprintf(link, sizeof link, "%s.tmp-%ld", target, (long)getpid());
    cr_assert_eq(symlink(victim, link), 0);
    cr_assert_eq(mg_file_write_atomic(target, "image", 5, 0755), 0);
    size_t len;
    char *v = mg_file_read(victim, 100, &len);
    cr_assert(v);
    cr_assert_str_eq(v, "precious");
    free(v);
    struct stat st;
    cr_assert_eq(stat(target, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0755);
}

Test(fsutil, rm_rf_does_not_follow_links)
{
    char keep[128], tree[128], inner[160], link[200];
    snprintf(keep, sizeof keep, "%s/keep", dir);
    snprintf(tree, sizeof tree, "%s/tree", dir);
    snprintf(inner, sizeof inner, "%s/tree/sub", dir);
    snprintf(link, sizeof link, "%s/tree/sub/link", dir);
    cr_assert_eq(mg_mkdir_p(keep), 0);
    char file[160];
    snprintf(file, sizeof file, "%s/file", keep);
    cr_assert_eq(mg_file_write_atomic(file, "x", 1, 0644), 0);
    cr_assert_eq(mg_mkdir_p(inner), 0);
    cr_assert_eq(symlink(keep, link), 0);
    cr_assert_eq(mg_rm_rf(tree), 0);
    struct stat st;
    cr_assert_neq(lstat(tree, &st), 0);
    cr_assert_eq(stat(file, &st), 0, "rm -rf followed the link");
}

static void touch(const char *path)
{
    char *slash = strrchr(path, '/');
    char *parent = strndup(path, (size_t)(slash - path));
    cr_assert_eq(mg_mkdir_p(parent), 0, "mkdir -p %s", parent);
    free(parent);
    cr_assert_eq(mg_file_write_atomic(path, "x", 1, 0755), 0, "write %s", path);
}

Test(fsutil, own_file_in_the_build_tree_then_in_lib_mgd)
{
    char exe[128], beside[128], installed[128];
    snprintf(exe, sizeof exe, "%s/usr/bin/mgd", dir);
    snprintf(beside, sizeof beside, "%s/usr/bin/mgd-serve.so", dir);
    snprintf(installed, sizeof installed, "%s/usr/lib/mgd/mgd-serve.so", dir);
    touch(exe);

    errno = 0;
    cr_expect_null(mg_own_file_beside(exe, "mgd-serve.so"), "found in neither place");
    cr_expect_eq(errno, ENOENT);

    touch(installed);
    char *found = mg_own_file_beside(exe, "mgd-serve.so");
    cr_assert(found, "not found in ../lib/mgd");
    cr_expect_str_eq(found, installed); /* canonical: no "bin/.." */
    free(found);

    touch(beside);
    found = mg_own_file_beside(exe, "mgd-serve.so");
    cr_assert(found);
    cr_expect_str_eq(found, beside, "the build tree's file comes first");
    free(found);
    cr_expect_null(mg_own_file_beside(exe, "mg-spt"), "another name is not found");
}

Test(fsutil, own_file_resolves_links)
{
    /* a sandbox binds the path it is given: a link in it would leave the
     * file it names outside */
    char exe[128], real[128], link[128], want[160];
    snprintf(exe, sizeof exe, "%s/p/bin/mgd", dir);
    snprintf(real, sizeof real, "%s/elsewhere/mg-spt", dir);
    snprintf(link, sizeof link, "%s/p/lib/mgd", dir);
    touch(exe);
    touch(real);
    cr_assert_eq(mg_mkdir_p(link), 0);
    cr_assert_eq(rmdir(link), 0);
    cr_assert_eq(symlink("../../elsewhere", link), 0);
    char *found = mg_own_file_beside(exe, "mg-spt");
    cr_assert(found);
    char *canonical = realpath(real, NULL);
    snprintf(want, sizeof want, "%s", canonical);
    cr_expect_str_eq(found, want);
    free(canonical);
    free(found);
}
