/* The catalog loader: the test catalog, the built-in catalog, broken catalogs. */
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "targets/builtin_catalog.h"
#include "graph/describe.h"

FX_SUITE(catalog);

Test(catalog, test_catalog_loads_with_its_entries)
{
    /* fx_init() already asserted that it loads without errors. */
    static const char *const names[] = {
        "console",       "default_console",  "time",          "default_time",    "log_reporter",
        "no_reporter",   "default_reporter", "noop",          "crunch",          "direct_kv_ro",
        "generic_kv_ro", "fast_kv",          "block_of_file", "cache_block",     "tar_kv_ro",
        "kv_rw_mem",     "direct_kv_rw",     "netif",         "default_network", "ethif",
        "arp",           "direct_stack",     "generic_stack", "socket_stack",    "any_stack",
        "http_server"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert(mg_catalog_find(fx_cat, names[i]) != NULL, "test catalog lacks %s", names[i]);
    cr_assert_eq(fx_cat->n_entries, sizeof names / sizeof names[0]);
    cr_assert_null(mg_catalog_find(fx_cat, "no_such_entry"));

    /* Entries are sorted by name (catalog.h). */
    for (size_t i = 1; i < fx_cat->n_entries; i++)
        cr_assert(strcmp(fx_cat->entries[i - 1].name, fx_cat->entries[i].name) < 0,
                  "entries not sorted: %s before %s", fx_cat->entries[i - 1].name,
                  fx_cat->entries[i].name);

    cr_assert(mg_catalog_has_target(fx_cat, "spt"));
    cr_assert(!mg_catalog_has_target(fx_cat, "xen"));
    cr_assert(mg_catalog_has_arch(fx_cat, "aarch64"));
    cr_assert(!mg_catalog_has_arch(fx_cat, "riscv64"));

    const mg_catalog_entry *d = mg_catalog_find(fx_cat, "direct_kv_ro");
    cr_assert(d->concrete);
    cr_assert(mg_catalog_entry_supports(d, "unix"));
    cr_assert(!mg_catalog_entry_supports(d, "spt"));
    cr_assert_not_null(d->fallback);
    cr_assert(!mg_catalog_find(fx_cat, "generic_kv_ro")->concrete);
    cr_assert_eq(mg_catalog_find(fx_cat, "generic_stack")->n_lets, 2);

    const mg_catalog_param *p = mg_catalog_entry_param(mg_catalog_find(fx_cat, "console"), "name");
    cr_assert_not_null(p);
    cr_assert(!p->is_impl);
    cr_assert_eq(p->scalar_type, MG_KEY_STRING);
    cr_assert_not_null(p->default_json);
    p = mg_catalog_entry_param(mg_catalog_find(fx_cat, "tar_kv_ro"), "block");
    cr_assert(p->is_impl);
    cr_assert_str_eq(mg_type_table_name(&fx_cat->types, p->impl_type), "block");
    cr_assert_null(p->default_json, "an impl param without default is required");

    /* Five library versions over three names. */
    cr_assert_eq(fx_cat->n_libraries, 5);
}

Test(catalog, builtin_catalog_loads_and_has_default_console)
{
    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    const char *text = fx_errs_text(&errs);
    size_t n = errs.len;
    mg_errors_free(&errs);
    cr_assert(cat != NULL && n == 0, "the built-in catalog does not load (%zu files):\n%s",
              mg_builtin_catalog_file_count(), text);
    const mg_catalog_entry *e = mg_catalog_find(cat, "default_console");
    bool found = e != NULL;
    bool console = found && strcmp(mg_type_table_name(&cat->types, e->type), "console") == 0;
    mg_catalog_free(cat);
    cr_assert(found, "the built-in catalog has no default_console");
    cr_assert(console, "default_console is not of type console");
}

Test(catalog, broken_catalog_reports_file_and_pointer)
{
    /* An expansion naming an entry that does not exist. */
    const char *bad =
        fx_json("{ 'devices': [ { 'name': 'broken_console', 'type': 'console', 'doc': 'x',\n"
                "  'params': [], 'expand': { 'device': 'no_such_ctor', 'args': {} } } ] }");
    mg_catalog_file files[] = {fx_catalog_file(0), {"test/bad.json", bad, strlen(bad)}};
    mg_errors errs = {0};
    mg_catalog *cat = mg_catalog_load(files, 2, &fx_targets, &errs);
    const char *text = fx_errs_text(&errs);
    bool prefixed = errs.len > 0 && strncmp(errs.items[0].path, "test/bad.json#/devices/0",
                                            strlen("test/bad.json#/devices/0")) == 0;
    size_t n = errs.len;
    mg_errors_free(&errs);
    if (cat) mg_catalog_free(cat);
    cr_assert(cat == NULL, "a catalog with an unknown device in an expansion loaded");
    cr_assert(n > 0, "no error for the broken catalog");
    cr_assert(prefixed, "catalog error paths should be FILE#/pointer; got:\n%s", text);
}

Test(catalog, duplicate_entry_across_files_is_an_error)
{
    const char *dup = fx_json("{ 'devices': [ { 'name': 'noop', 'type': 'job', 'doc': 'again',\n"
                              "  'params': [], 'targets': ['unix'], 'connect': 'x_connect',\n"
                              "  'header': 'x.h', 'sources': ['x.c'] } ] }");
    mg_catalog_file files[5];
    for (size_t i = 0; i < 4; i++) files[i] = fx_catalog_file(i);
    files[4] = (mg_catalog_file){"test/dup.json", dup, strlen(dup)};
    mg_errors errs = {0};
    mg_catalog *cat = mg_catalog_load(files, 5, &fx_targets, &errs);
    const char *text = fx_errs_text(&errs);
    size_t n = errs.len;
    bool in_file = false;
    for (size_t i = 0; i < errs.len; i++)
        if (strstr(errs.items[i].path, "test/dup.json#") == errs.items[i].path ||
            strstr(errs.items[i].path, "test/console/catalog.json#") == errs.items[i].path)
            in_file = true;
    mg_errors_free(&errs);
    if (cat) mg_catalog_free(cat);
    cr_assert(cat == NULL && n > 0, "two entries named noop loaded without error");
    cr_assert(in_file, "the error should point into one of the two files; got:\n%s", text);
}

Test(catalog, an_entry_or_a_library_without_targets_is_on_every_target)
{
    /* the test catalog's console and mg-console say no "targets" */
    const mg_catalog_entry *e = mg_catalog_find(fx_cat, "console");
    cr_assert_eq(e->n_targets, fx_targets.n_names);
    for (size_t i = 0; i < fx_targets.n_names; i++)
        cr_assert(mg_catalog_entry_supports(e, fx_targets.names[i]), "console is not on %s",
                  fx_targets.names[i]);
    bool found = false;
    for (size_t i = 0; i < fx_cat->n_libraries; i++)
        if (!strcmp(fx_cat->libraries[i].name, "mg-console")) {
            found = true;
            cr_assert_eq(fx_cat->libraries[i].n_targets, fx_targets.n_names);
        }
    cr_assert(found);
    /* one that names its targets has those only */
    cr_assert_eq(mg_catalog_find(fx_cat, "direct_kv_ro")->n_targets, 1);
    cr_assert_str_eq(fx_cat->default_target, "unix");
}

Test(catalog, malformed_sources_or_notices_are_errors)
{
    /* each must fail the load with an error at the member, never drop the
     * entry silently */
    static const char *const members[] = {"'sources': 5", "'sources': [1]", "'notices': 'x'",
                                          "'notices': ['ok', 2]", "'notices': ['']"};
    for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
        const char *bad = fx_jsonf(
            "{ 'devices': [ { 'name': 'x', 'type': 'console', 'doc': 'x', 'connect': 'x_c',\n"
            "  'header': 'x.h', %s } ] }",
            members[i]);
        mg_catalog_file files[] = {fx_catalog_file(0), {"test/bad.json", bad, strlen(bad)}};
        mg_errors errs = {0};
        mg_catalog *cat = mg_catalog_load(files, 2, &fx_targets, &errs);
        bool at_member = errs.len > 0 && strstr(errs.items[0].path, "/devices/0/") != NULL;
        size_t n = errs.len;
        mg_errors_free(&errs);
        if (cat) mg_catalog_free(cat);
        cr_assert(cat == NULL && n > 0, "%s: the catalog loaded", members[i]);
        cr_assert(at_member, "%s: the error does not point at the member", members[i]);
    }
}
