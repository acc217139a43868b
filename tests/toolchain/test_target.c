/*
 * Target availability (toolchain/target.h): what a machine can build and
 * run, and why not, as GET /targets shows it. PATH is pointed at a
 * directory of links made here, so each case controls which tools exist.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "toolchain/target.h"

static char dir[256];
static char *old_path;
static mg_targets *targets;

/* links `name` in dir to the host's program `real` (found on the old PATH) */
static void provide(const char *name, const char *real)
{
    char *found = NULL;
    char *copy = strdup(old_path);
    for (char *p = strtok(copy, ":"); p && !found; p = strtok(NULL, ":")) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", p, real);
        if (access(path, X_OK) == 0) found = strdup(path);
    }
    free(copy);
    cr_assert_not_null(found, "%s is not on PATH", real);
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/%s", dir, name);
    cr_assert_eq(symlink(found, link), 0);
    free(found);
}

/* gcc, ar and strip under the names the x86_64 arch asks for */
static void provide_compiler(void)
{
    provide("x86_64-linux-gnu-gcc", "gcc");
    provide("x86_64-linux-gnu-ar", "ar");
    provide("x86_64-linux-gnu-strip", "strip");
}

static void setup(void)
{
    old_path = strdup(getenv("PATH"));
    snprintf(dir, sizeof dir, "/tmp/mgd-target-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    setenv("PATH", dir, 1);
    mg_err err = {0};
    targets = mg_targets_load(&err);
    cr_assert_not_null(targets, "%s", err.msg);
}

static void teardown(void)
{
    setenv("PATH", old_path, 1);
    free(old_path);
    mg_targets_free(targets);
    mg_rm_rf(dir);
}

static bool available(const char *target, const char *arch, bool *can_run, mg_err *why)
{
    const mg_target *t = mg_targets_find(targets, target);
    cr_assert_not_null(t);
    const mg_target_arch *a = mg_target_find_arch(t, arch);
    cr_assert_not_null(a);
    return mg_target_available(t, a, can_run, why);
}

TestSuite(target, .init = setup, .fini = teardown);

Test(target, no_compiler_names_the_package)
{
    mg_err why = {0};
    bool can_run = true;
    cr_assert_not(available("unix", "x86_64", &can_run, &why));
    cr_assert_not(can_run);
    cr_assert(strstr(why.msg, "gcc not found"), "%s", why.msg);
    cr_assert(strstr(why.msg, "install the Debian package"), "%s", why.msg);
}

Test(target, unix_on_its_own_arch_runs)
{
    provide_compiler();
    mg_err why = {0};
    mg_err_set(&why, MG_E_INTERNAL, "stale");
    bool can_run = false;
    cr_assert(available("unix", "x86_64", &can_run, &why), "%s", why.msg);
    cr_assert(can_run);
    cr_assert_str_empty(why.msg);
}

Test(target, virtio_builds_without_qemu_and_says_why_it_cannot_run)
{
    provide_compiler();
    mg_err why = {0};
    bool can_run = true;
    cr_assert(available("virtio", "x86_64", &can_run, &why));
    cr_assert_not(can_run);
    cr_assert(strstr(why.msg, "qemu-system-x86_64, which is not installed"), "%s", why.msg);
    cr_assert(strstr(why.msg, "the Debian package qemu-system-x86"), "%s", why.msg);

    provide("qemu-system-x86_64", "true");
    cr_assert(available("virtio", "x86_64", &can_run, &why));
    cr_assert(can_run);
    cr_assert_str_empty(why.msg);
}

Test(target, spt_without_its_tender_is_unavailable)
{
    provide_compiler();
    mg_err why = {0};
    bool can_run = true;
    /* the test program has no mg-spt beside it, and PATH has none */
    cr_assert_not(available("spt", "x86_64", &can_run, &why));
    cr_assert_not(can_run);
    cr_assert(strstr(why.msg, "mg-spt not found"), "%s", why.msg);

    provide("mg-spt", "true");
    cr_assert(available("spt", "x86_64", &can_run, &why));
    cr_assert(can_run);
}
