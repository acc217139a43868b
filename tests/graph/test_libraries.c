/*
 * Library requirements: merged bounds, the highest version available for
 * the target inside them, and conflicts.
 */
#include <string.h>

#include "fixtures.h"

FX_SUITE(libraries);

static const char *version_at(const mg_graph *g, const char *name, const char *file, int line)
{
    const mg_graph_library *l = fx_library(g, name);
    cr_assert(l != NULL, "%s:%d: library %s not in the output (%zu libraries)", file, line, name,
              g->n_libraries);
    return l->version;
}
#define VERSION(g, name) version_at((g), (name), __FILE__, __LINE__)

#define KV_DOC(ctor, libs)                                                                         \
    "{'mgd': 1, 'name': 'kv', " libs "\n"                                                          \
    " 'devices': {'data': {'device': '" ctor "', 'args': {'dir': 'd'}},\n"                         \
    "             'app': {'main': 'start', 'type': 'console -> kv_ro -> job',\n"                   \
    "                     'sources': ['app.c']}},\n"                                               \
    " 'jobs': [{'apply': 'app', 'to': ['default_console', 'data']}]}"

Test(libraries, highest_version_is_chosen)
{
    mg_graph *g = RESOLVE_OK(KV_DOC("crunch", ""), "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-console"), "1.2.0");
    cr_assert_str_eq(VERSION(g, "mg-kv"), "2.1.0");
    cr_assert_eq(g->n_libraries, 2);
    cr_assert_str_eq(g->libraries[0].name, "mg-console", "libraries are sorted by name");
    cr_assert_str_eq(g->libraries[1].name, "mg-kv");
}

Test(libraries, upper_bound_picks_older_version)
{
    mg_graph *g = RESOLVE_OK(
        KV_DOC("crunch", "'libraries': [{'name': 'mg-console', 'max': '1.1'}],"), "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-console"), "1.0.0");
    g = RESOLVE_OK(
        KV_DOC("crunch", "'libraries': [{'name': 'mg-console', 'min': '1.2', 'max': '1.2.1'}],"),
        "spt", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-console"), "1.2.0");
}

Test(libraries, wider_upper_bound_does_not_widen_a_tighter_one)
{
    /* direct_kv_ro's catalog entry wants mg-kv < 2.0; the document's own
     * max of 3.0 is looser and must not widen it: merged, the bound is
     * the tighter of the two, so 1.0.0 and not 2.1.0. Both orders of
     * discovery (the document's requirement first, then the device's; a
     * device's first, then the user code's). */
    mg_graph *g = RESOLVE_OK(
        KV_DOC("direct_kv_ro", "'libraries': [{'name': 'mg-kv', 'max': '3.0'}],"), "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "1.0.0");
    g = RESOLVE_OK("{'mgd': 1, 'name': 'kv',\n"
                   " 'devices': {'data': {'device': 'direct_kv_ro', 'args': {'dir': 'd'}},\n"
                   "             'app': {'main': 'start', 'type': 'console -> kv_ro -> job',\n"
                   "                     'sources': ['app.c'],\n"
                   "                     'libraries': [{'name': 'mg-kv', 'max': '9'}]}},\n"
                   " 'jobs': [{'apply': 'app', 'to': ['default_console', 'data']}]}",
                   "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "1.0.0");
    /* and a tighter document bound still narrows a looser device's */
    g = RESOLVE_OK(KV_DOC("crunch", "'libraries': [{'name': 'mg-kv', 'max': '2.0'}],"), "unix",
                   NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "1.0.0");
}

Test(libraries, version_depends_on_target)
{
    /* direct_kv_ro wants mg-kv [1.0, 2.0): only 1.0.0, which exists on unix. */
    mg_graph *g = RESOLVE_OK(KV_DOC("direct_kv_ro", ""), "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "1.0.0");
    /* On spt it falls back to crunch, whose requirement is >= 1.0. */
    g = RESOLVE_OK(KV_DOC("direct_kv_ro", ""), "spt", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "2.1.0");
}

Test(libraries, no_version_for_target_is_a_conflict)
{
    const char *doc = KV_DOC("crunch", "'libraries': [{'name': 'mg-kv', 'max': '2.0'}],");
    mg_graph *g = RESOLVE_OK(doc, "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "1.0.0");
    mg_errors *e = RESOLVE_FAIL(doc, "spt", NO_KEYS);
    const mg_error *err =
        EXPECT_ERROR_IN(e, MG_ERR_LIBRARY_CONFLICT, "", "/libraries", "/libraries/0");
    EXPECT_MESSAGE(e, err, "mg-kv");
    EXPECT_MESSAGE(e, err, "crunch");
    EXPECT_MESSAGE(e, err, "/libraries/0");
}

Test(libraries, empty_intersection_names_every_requirement)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 'kv',\n"
        " 'devices': {'a': {'device': 'direct_kv_ro', 'args': {'dir': 'a'}},\n"
        "             'b': {'device': 'fast_kv', 'args': {'dir': 'b'}},\n"
        "             'c': {'device': 'crunch', 'args': {'dir': 'c'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> kv_ro -> kv_ro -> job',\n"
        "                     'sources': ['app.c'],\n"
        "                     'libraries': [{'name': 'mg-kv', 'min': '1.5'}]}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['a', 'b', 'c']}]}",
        "unix", NO_KEYS);
    /* The path is the document, or the document's own requirement. */
    const mg_error *err =
        EXPECT_ERROR_IN(e, MG_ERR_LIBRARY_CONFLICT, "", "/libraries", "/devices/app/libraries/0");
    EXPECT_MESSAGE(e, err, "direct_kv_ro");
    EXPECT_MESSAGE(e, err, "fast_kv");
    EXPECT_MESSAGE(e, err, "crunch");
    EXPECT_MESSAGE(e, err, "/devices/app"); /* the user code's requirement and its origin */
    EXPECT_MESSAGE(e, err, "1.5");
    cr_assert_eq(mg_errors_count(e, MG_ERR_LIBRARY_CONFLICT), 1, "one library, one conflict:\n%s",
                 fx_errs_text(e));
}

Test(libraries, requirements_only_from_resolved_graph)
{
    /* fast_kv is in the untaken branch: its mg-kv >= 2.0 does not count. */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'kv',\n"
        " 'keys': {'fast': {'stage': 'configure', 'type': 'bool', 'default': false}},\n"
        " 'devices': {'data': {'if': 'fast',\n"
        "                      'then': {'device': 'fast_kv', 'args': {'dir': 'a'}},\n"
        "                      'else': {'device': 'direct_kv_ro', 'args': {'dir': 'a'}}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        "unix", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-kv"), "1.0.0");
    cr_assert_null(fx_library(g, "mg-console"), "no console in this graph");
    cr_assert_null(fx_library(g, "mg-net"));
}

Test(libraries, user_code_and_expansion_requirements)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'net',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'stackv4v6 -> job', 'sources': ['app.c'],\n"
        "                     'libraries': [{'name': 'mg-console', 'max': '1.2'}]}},\n"
        " 'jobs': [{'apply': 'app', 'to': [{'device': 'generic_stack',\n"
        "                                   'args': {'network': 'default_network'}}]}]}",
        "virtio", NO_KEYS);
    cr_assert_str_eq(VERSION(g, "mg-net"), "1.0.0");
    cr_assert_str_eq(VERSION(g, "mg-console"), "1.0.0", "user code requirements count too");
    cr_assert_eq(g->n_libraries, 2);
    cr_assert_str_eq(g->libraries[0].name, "mg-console");
    cr_assert_str_eq(g->libraries[1].name, "mg-net");
}

Test(libraries, bad_version_text_is_schema)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                                " 'libraries': [{'name': 'mg-console', 'min': 'one.two'}],\n"
                                " 'jobs': ['noop']}",
                                NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/libraries/0/min", "/libraries/0");
}
