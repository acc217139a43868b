/*
 * The target registry (targets/registry.h) and what names targets agree:
 * the catalog's targets and arches are exactly the registry's, every
 * target an entry or a library names is in the registry, every target has
 * the bindings folder its description names among the runtime's sources
 * mgd carries, and the launcher it names has what it needs.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/alloc.h"
#include "targets/builtin_catalog.h"
#include "graph/check.h"
#include "graph/describe.h"
#include "graph/embedded.h"
#include "targets/registry.h"
#include "toolchain/runtime_src.h"

MG_EMBEDDED_FILES(mg_runtime_files);

static mg_targets *reg;
static mg_catalog *cat;

static void setup(void)
{
    mg_err err = {0};
    reg = mg_targets_load(&err);
    cr_assert_not_null(reg, "%s", err.msg);
    mg_errors errs = {0};
    cat = mg_builtin_catalog_load(&errs);
    char *text = errs.len ? mg_errors_text(&errs) : NULL;
    cr_assert_not_null(cat, "the built-in catalog does not load: %s", text ? text : "");
    free(text);
    mg_errors_free(&errs);
}

static void teardown(void)
{
    mg_catalog_free(cat);
    mg_targets_free(reg);
}

TestSuite(registry, .init = setup, .fini = teardown);

static bool carried(const char *path)
{
    for (size_t i = 0; i < mg_runtime_files_count; i++)
        if (!strcmp(mg_runtime_files[i].path, path)) return true;
    return false;
}

Test(registry, one_default_target_which_the_catalog_lists_first)
{
    const mg_target *d = mg_targets_default(reg);
    cr_assert_not_null(d);
    size_t n = 0;
    for (size_t i = 0; i < mg_targets_count(reg); i++) n += mg_targets_get(reg, i)->is_default;
    cr_assert_eq(n, 1, "%zu targets say \"default\": true", n);
    cr_assert_str_eq(cat->default_target, d->name);
    cr_assert_str_eq(cat->targets[0], d->name);
}

Test(registry, catalog_targets_and_arches_are_the_registrys)
{
    cr_assert_eq(cat->n_targets, mg_targets_count(reg));
    for (size_t i = 0; i < mg_targets_count(reg); i++) {
        const mg_target *t = mg_targets_get(reg, i);
        cr_assert(mg_catalog_has_target(cat, t->name), "the catalog lacks target %s", t->name);
        for (size_t a = 0; a < t->n_arches; a++)
            cr_assert(mg_catalog_has_arch(cat, t->arches[a].name), "the catalog lacks arch %s",
                      t->arches[a].name);
    }
    for (size_t i = 0; i < cat->n_arches; i++) {
        bool some = false;
        for (size_t k = 0; k < mg_targets_count(reg); k++)
            if (mg_target_find_arch(mg_targets_get(reg, k), cat->arches[i])) some = true;
        cr_assert(some, "the catalog's arch %s is no target's", cat->arches[i]);
    }
}

/* GET /targets lists every arch of every target: each one the target
 * does not build is in its unsupported_arches, with a reason */
Test(registry, every_target_builds_each_arch_or_says_why_not)
{
    for (size_t i = 0; i < mg_targets_count(reg); i++) {
        const mg_target *t = mg_targets_get(reg, i);
        for (size_t a = 0; a < cat->n_arches; a++) {
            size_t unsupported = 0;
            for (size_t u = 0; u < t->n_unsupported; u++)
                if (!strcmp(t->unsupported[u].name, cat->arches[a])) {
                    unsupported++;
                    cr_assert(t->unsupported[u].reason[0], "%s/%s: no reason", t->name,
                              cat->arches[a]);
                }
            bool built = mg_target_find_arch(t, cat->arches[a]) != NULL;
            cr_assert_eq(built + unsupported, 1, "%s/%s is built %d, unsupported %zu times",
                         t->name, cat->arches[a], built, unsupported);
        }
    }
}

/* spt stays on x86_64: a build asking says so; an arch nobody lists gets
 * the target's arches */
Test(registry, an_unsupported_arch_is_refused_with_its_reason)
{
    mg_err e;
    const mg_target *spt = mg_targets_find(reg, "spt");
    cr_assert_null(mg_target_find_arch(spt, "aarch64"));
    cr_assert_eq(mg_target_no_arch(spt, "aarch64", &e), -1);
    cr_assert_eq(e.code, MG_E_INVALID);
    cr_assert(strstr(e.msg, "spt/aarch64: not supported: spt's tender"), "%s", e.msg);
    mg_target_no_arch(spt, "riscv64", &e);
    cr_assert(strstr(e.msg, "spt/riscv64: not supported: spt's tender"), "%s", e.msg);
    mg_target_no_arch(spt, "sparc", &e);
    cr_assert_str_eq(e.msg, "target spt has no arch \"sparc\" (its arches: x86_64)");
}

Test(registry, every_target_the_catalog_names_is_in_the_registry)
{
    for (size_t i = 0; i < cat->n_entries; i++) {
        const mg_catalog_entry *e = &cat->entries[i];
        for (size_t t = 0; t < e->n_targets; t++)
            cr_assert_not_null(mg_targets_find(reg, e->targets[t]),
                               "entry %s names the target %s, which is not in targets/", e->name,
                               e->targets[t]);
    }
    for (size_t i = 0; i < cat->n_libraries; i++) {
        const mg_catalog_library *l = &cat->libraries[i];
        for (size_t t = 0; t < l->n_targets; t++)
            cr_assert_not_null(mg_targets_find(reg, l->targets[t]),
                               "library %s names the target %s, which is not in targets/", l->name,
                               l->targets[t]);
    }
}

Test(registry, every_target_has_its_bindings_among_the_runtime_sources)
{
    for (size_t i = 0; i < mg_targets_count(reg); i++) {
        const mg_target *t = mg_targets_get(reg, i);
        char *dir = mg_target_bindings_dir(t);
        size_t n = 0;
        for (size_t f = 0; f < mg_runtime_files_count; f++)
            if (!strncmp(mg_runtime_files[f].path, dir, strlen(dir))) n++;
        cr_assert(n > 0, "target %s: no runtime source under %s", t->name, dir);
        for (size_t a = 0; a < t->n_arches; a++) {
            const mg_target_arch *ar = &t->arches[a];
            if (ar->linker_script)
                cr_assert(carried(ar->linker_script),
                          "target %s/%s: its linker script %s is not carried", t->name, ar->name,
                          ar->linker_script);
            /* each subfolder an arch names holds sources */
            for (size_t k = 0; k < ar->n_bindings; k++) {
                char *sub = mg_xasprintf("%s%s/", dir, ar->bindings[k]);
                size_t m = 0;
                for (size_t f = 0; f < mg_runtime_files_count; f++)
                    if (!strncmp(mg_runtime_files[f].path, sub, strlen(sub))) m++;
                cr_assert(m > 0, "target %s/%s: no runtime source under %s", t->name, ar->name,
                          sub);
                free(sub);
            }
        }
        free(dir);
    }
}

Test(registry, every_launcher_has_what_it_needs)
{
    for (size_t i = 0; i < mg_targets_count(reg); i++) {
        const mg_target *t = mg_targets_get(reg, i);
        const char *kind = mg_launcher_kind_name(t->launcher);
        cr_assert_eq(t->tender != NULL, t->launcher == MG_LAUNCHER_TENDER,
                     "target %s: launcher %s and \"tender\" go together", t->name, kind);
        for (size_t a = 0; a < t->n_arches; a++) {
            const mg_target_arch *ar = &t->arches[a];
            cr_assert_eq(ar->n_vm > 0, t->launcher == MG_LAUNCHER_VM,
                         "target %s/%s: launcher %s and \"vm\" go together", t->name, ar->name,
                         kind);
            cr_assert_eq(ar->vm_block_device && ar->vm_net_device, t->launcher == MG_LAUNCHER_VM,
                         "target %s/%s: launcher %s and the VM's devices go together", t->name,
                         ar->name, kind);
            cr_assert(!ar->vm_max_devices || t->launcher == MG_LAUNCHER_VM,
                      "target %s/%s: \"vm_max_devices\" is for VMs only", t->name, ar->name);
        }
    }
}

/* virtio/riscv64's board has 8 virtio-mmio transports, aarch64's 32 of
 * which the exit's console takes the last: mgd run is told, and x86_64
 * keeps only the per-kind limits */
Test(registry, virtio_riscv64_and_aarch64_limit_the_devices_in_all)
{
    const mg_target *t = mg_targets_find(reg, "virtio");
    cr_assert_not_null(t);
    for (size_t a = 0; a < t->n_arches; a++) {
        const char *name = t->arches[a].name;
        size_t want = !strcmp(name, "riscv64") ? 8 : !strcmp(name, "aarch64") ? 31 : 0;
        cr_assert_eq(t->arches[a].vm_max_devices, want, "virtio/%s", name);
    }
}

Test(registry, a_catalog_naming_a_target_outside_the_registry_does_not_load)
{
    static const char bad[] =
        "{ \"devices\": [ { \"name\": \"on_xen\", \"type\": \"job\", \"doc\": \"x\",\n"
        "  \"targets\": [\"xen\"], \"connect\": \"x_connect\", \"header\": \"x.h\" } ] }";
    static const char *const names[] = {"unix", "spt"};
    static const char *const arches[] = {"x86_64"};
    mg_catalog_targets targets = {names, 2, "unix", arches, 1};
    mg_catalog_file file = {"test/xen.json", bad, strlen(bad)};
    mg_errors errs = {0};
    mg_catalog *c = mg_catalog_load(&file, 1, &targets, &errs);
    char *text = mg_errors_text(&errs);
    bool said = strstr(text, "unknown target xen") != NULL;
    free(text);
    mg_errors_free(&errs);
    mg_catalog_free(c);
    cr_assert_null(c);
    cr_assert(said);
}

Test(registry, an_entry_whose_sources_mgd_lacks_is_unavailable_saying_why)
{
    /* every built-in entry is there (make test fetches lwIP first) */
    mg_err why;
    for (size_t i = 0; i < cat->n_entries; i++)
        if (cat->entries[i].concrete)
            cr_assert(mg_runtime_entry_available(&cat->entries[i], &why), "%s", why.msg);
    /* an lwIP file this mgd does not have: the reason says how to get lwIP */
    const char *lwip[] = {"lwip/core/no_such_file.c"};
    mg_catalog_entry e = {.name = "fake_stack",
                          .file = "runtime/tcpip/catalog.json",
                          .concrete = true,
                          .sources = lwip,
                          .n_sources = 1};
    cr_assert_not(mg_runtime_entry_available(&e, &why));
    cr_assert(strstr(why.msg, "fake_stack: ") && strstr(why.msg, "scripts/deps.sh"), "%s", why.msg);
    /* any other missing file is a bug of mgd, and says so */
    const char *other[] = {"../random/gone.c"};
    e.sources = other;
    cr_assert_not(mg_runtime_entry_available(&e, &why));
    cr_assert(strstr(why.msg, "runtime/random/gone.c") && strstr(why.msg, "a bug in mgd"), "%s",
              why.msg);
}
