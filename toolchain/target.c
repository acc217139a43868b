/*
 * target.c - what the host offers a target (toolchain/target.h): the
 * host's arch, programs on PATH, mgd's own tender, and whether a target
 * can build and run here.
 */
#include "toolchain/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsutil.h"

const char *mg_host_arch(void)
{
    static struct utsname u;
    static const char *arch;
    if (arch) return arch;
    if (uname(&u) != 0) return "x86_64";
    arch = !strcmp(u.machine, "arm64") ? "aarch64" : u.machine;
    return arch;
}

char *mg_find_program(const char *prog)
{
    if (strchr(prog, '/')) return access(prog, X_OK) == 0 ? mg_xstrdup(prog) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        /* an empty or relative entry would mean the build's working
         * directory, which is the project's: never look there */
        if (n && p[0] == '/') {
            char *full = mg_xasprintf("%.*s/%s", (int)n, p, prog);
            if (access(full, X_OK) == 0) return full;
            free(full);
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

char *mg_find_tender(const char *name)
{
    char *own = mg_own_file(name);
    if (own && access(own, X_OK) == 0) return own;
    free(own);
    return mg_find_program(name);
}

bool mg_target_available(const mg_target *t, const mg_target_arch *a, bool *can_run, mg_err *why)
{
    static const char *const tools[] = {"gcc", "ar", "strip"};
    *can_run = false;
    mg_err_clear(why);
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        char *name = mg_xasprintf("%s%s", a->prefix, tools[i]);
        char *found = mg_find_program(name);
        if (!found) {
            mg_err_set(why, MG_E_NOT_FOUND, "%s/%s: %s not found (install the Debian package %s)",
                       t->name, a->name, name, i == 0 ? a->package : a->binutils_package);
            free(name);
            return false;
        }
        free(found);
        free(name);
    }
    if (t->tender) {
        /* built with mgd and put next to it: its absence is an mgd built
         * without it (libseccomp missing at build time) */
        char *found = mg_find_tender(t->tender);
        if (!found) {
            mg_err_set(why, MG_E_NOT_FOUND,
                       "%s/%s: %s not found next to mgd, in ../lib/mgd or on PATH (build mgd "
                       "with libseccomp-dev installed)",
                       t->name, a->name, t->tender);
            return false;
        }
        free(found);
        *can_run = !strcmp(a->name, mg_host_arch());
        if (!*can_run)
            mg_err_set(why, MG_E_NOT_FOUND, "%s runs %s images on the host's arch only (%s)",
                       t->tender, t->name, mg_host_arch());
        return true;
    }
    const char *runner = a->n_vm ? a->vm[0] : a->n_run ? a->run[0] : NULL;
    if (!runner) {
        *can_run = !strcmp(a->name, mg_host_arch());
        if (!*can_run)
            mg_err_set(why, MG_E_NOT_FOUND, "%s/%s images run on %s hosts only (this one is %s)",
                       t->name, a->name, a->name, mg_host_arch());
        return true;
    }
    /* building needs no VM or emulator; running does */
    char *found = mg_find_program(runner);
    *can_run = found != NULL;
    free(found);
    if (!*can_run) {
        const char *package = a->n_vm ? a->vm_package : a->run_package;
        mg_err_set(why, MG_E_NOT_FOUND, "%s/%s images run under %s, which is not installed%s%s%s",
                   t->name, a->name, runner, package ? " (the Debian package " : "",
                   package ? package : "", package ? ")" : "");
    }
    return true;
}
