/*
 * Catalog expansions (generic_*, default_*, let), fallbacks and target
 * support.
 */
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

FX_SUITE(expand);

#define KV_DOC(expr)                                                                               \
    "{'mgd': 1, 'name': 'kv',\n"                                                                   \
    " 'devices': {'data': " expr ",\n"                                                             \
    "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"      \
    " 'jobs': [{'apply': 'app', 'to': ['data']}]}"

#define GENERIC KV_DOC("{'device': 'generic_kv_ro', 'args': {'dir': 'htdocs'}}")

Test(expand, generic_entry_default_choice)
{
    mg_graph *g = RESOLVE_OK(GENERIC, "unix", NO_KEYS);
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "crunch");
    cr_assert_str_eq(ARG_TEXT(g, c, "dir"), "htdocs", "the param flows into the expansion");
    cr_assert_str_eq(g->nodes[c].from, "/devices/data",
                     "instances of an expansion take its call site");
    cr_assert_eq(fx_count_impl(g, "direct_kv_ro"), 0);
    cr_assert_str_eq(fx_key(g, "kv_ro")->value.text, "crunch");
}

Test(expand, generic_entry_key_given_unix_keeps_entry)
{
    mg_graph *g = RESOLVE_OK(GENERIC, "unix", KEYS("kv_ro=direct"));
    CHECK_GRAPH(g);
    size_t d = ONLY(g, "direct_kv_ro");
    cr_assert_str_eq(ARG_TEXT(g, d, "dir"), "htdocs");
    cr_assert_eq(fx_count_impl(g, "crunch"), 0);
    cr_assert_str_eq(fx_key(g, "kv_ro")->value.text, "direct");
}

Test(expand, generic_entry_key_given_spt_takes_fallback)
{
    mg_graph *g = RESOLVE_OK(GENERIC, "spt", KEYS("kv_ro=direct"));
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "crunch");
    cr_assert_str_eq(ARG_TEXT(g, c, "dir"), "htdocs", "the fallback receives the param");
    cr_assert_eq(fx_count_impl(g, "direct_kv_ro"), 0);
}

Test(expand, fallback_of_a_direct_call)
{
    const char *doc = KV_DOC("{'device': 'direct_kv_ro', 'args': {'dir': 'www'}}");
    mg_graph *g = RESOLVE_OK(doc, "unix", NO_KEYS);
    CHECK_GRAPH(g);
    size_t d = ONLY(g, "direct_kv_ro");
    cr_assert_str_eq(g->nodes[d].from, "/devices/data");
    cr_assert_eq(g->nodes[d].entry, mg_catalog_find(fx_cat, "direct_kv_ro"));

    g = RESOLVE_OK(doc, "virtio", NO_KEYS);
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "crunch");
    cr_assert_str_eq(ARG_TEXT(g, c, "dir"), "www");
    cr_assert_str_eq(g->nodes[c].from, "/devices/data");
    cr_assert_eq(g->nodes[c].entry, mg_catalog_find(fx_cat, "crunch"));
    cr_assert_eq(fx_count_impl(g, "direct_kv_ro"), 0);
}

Test(expand, unsupported_target_without_fallback)
{
    const char *doc =
        "{'mgd': 1, 'name': 'kv',\n"
        " 'devices': {'store': {'device': 'direct_kv_rw', 'args': {'dir': 'db'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_rw -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['store']}]}";
    mg_graph *g = RESOLVE_OK(doc, "unix", NO_KEYS);
    ONLY(g, "direct_kv_rw");
    for (int i = 0; i < 2; i++) {
        const char *t = i ? "virtio" : "spt";
        mg_errors *e = RESOLVE_FAIL(doc, t, NO_KEYS);
        const mg_error *err = EXPECT_ERROR(e, MG_ERR_UNSUPPORTED_TARGET, "/devices/store");
        EXPECT_MESSAGE(e, err, "direct_kv_rw");
        EXPECT_MESSAGE(e, err, "unix");
    }
}

Test(expand, let_binding_is_shared_inside_the_expansion)
{
    mg_graph *g = RESOLVE_OK("{'mgd': 1, 'name': 'net',\n"
                             " 'devices': {'stack': {'device': 'generic_stack', 'args': "
                             "{'network': 'default_network'}},\n"
                             "             'app': {'main': 'start', 'type': 'stackv4v6 -> job', "
                             "'sources': ['app.c']}},\n"
                             " 'jobs': [{'apply': 'app', 'to': ['stack']}]}",
                             NULL, NO_KEYS);
    CHECK_GRAPH(g);
    size_t net = ONLY(g, "netif"), eth = ONLY(g, "ethif"), arp = ONLY(g, "arp");
    size_t st = ONLY(g, "direct_stack");
    cr_assert_eq(g->nodes[eth].n_deps, 1);
    cr_assert_eq(g->nodes[eth].deps[0], net);
    cr_assert_eq(g->nodes[arp].deps[0], eth, "arp uses the let-bound ethif");
    cr_assert_eq(g->nodes[st].n_deps, 3);
    cr_assert_eq(g->nodes[st].deps[0], net);
    cr_assert_eq(g->nodes[st].deps[1], eth, "the stack uses the same ethif as arp");
    cr_assert_eq(g->nodes[st].deps[2], arp);
    cr_assert_str_eq(g->nodes[net].from, "default_network");
    cr_assert_str_eq(ARG_TEXT(g, net, "name"), "tap0");
    cr_assert_str_eq(g->nodes[eth].from, "/devices/stack");
    cr_assert_str_eq(g->nodes[arp].from, "/devices/stack");
    cr_assert_str_eq(g->nodes[st].from, "/devices/stack");
    cr_assert_eq(g->n_nodes, 6, "reporter, netif, ethif, arp, direct_stack, main");
}

Test(expand, each_call_of_an_expansion_has_its_own_lets)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'net',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'stackv4v6 -> stackv4v6 -> job',\n"
        "                     'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': [\n"
        "   {'device': 'generic_stack', 'args': {'network': 'default_network'}},\n"
        "   {'device': 'generic_stack', 'args': {'network': {'device': 'netif',\n"
        "                                                    'args': {'name': 'tap1'}}}}]}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(fx_count_impl(g, "netif"), 2);
    cr_assert_eq(fx_count_impl(g, "ethif"), 2);
    cr_assert_eq(fx_count_impl(g, "arp"), 2);
    cr_assert_eq(fx_count_impl(g, "direct_stack"), 2);
    const mg_graph_node *m = &g->nodes[ONLY(g, "main")];
    const mg_graph_node *s1 = &g->nodes[m->deps[1]];
    cr_assert_str_eq(ARG_TEXT(g, s1->deps[0], "name"), "tap1");
    cr_assert_str_eq(g->nodes[m->deps[0]].from, "/jobs/0/to/0");
    cr_assert_str_eq(s1->from, "/jobs/0/to/1");
}

Test(expand, default_entries_disappear)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> time -> network -> job',\n"
        "                     'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['default_console', 'default_time', "
        "'default_network']}]}",
        "spt", NO_KEYS);
    CHECK_GRAPH(g); /* asserts no generic_* / default_* impl is left */
    ONLY(g, "console");
    ONLY(g, "time");
    ONLY(g, "netif");
    ONLY(g, "log_reporter");
    cr_assert_str_eq(g->nodes[ONLY(g, "log_reporter")].type, "reporter");
}

Test(expand, expansion_with_key_inside_if_branch_untaken)
{
    /* The kv_ro key exists because the document mentions generic_kv_ro,
     * even in a branch not taken. */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'kv',\n"
        " 'keys': {'gen': {'stage': 'configure', 'type': 'bool', 'default': false}},\n"
        " 'devices': {'data': {'if': 'gen',\n"
        "                      'then': {'device': 'generic_kv_ro', 'args': {'dir': 'a'}},\n"
        "                      'else': {'device': 'fast_kv', 'args': {'dir': 'a'}}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        "unix", KEYS("kv_ro=direct"));
    ONLY(g, "fast_kv");
    cr_assert_not_null(fx_key(g, "kv_ro"));
}

#define STACK_DOC                                                                                  \
    "{'mgd': 1, 'name': 'web',\n"                                                                  \
    " 'devices': {'app': {'main': 'start', 'type': 'stackv4v6 -> job', 'sources': ['app.c']}},\n"  \
    " 'jobs': [{'apply': 'app', 'to': [{'device': 'any_stack', 'args': {'network': "               \
    "'default_network'}}]}]}"

Test(expand, a_param_the_expansion_ignores_is_not_in_the_graph)
{
    /* the socket branch never mentions the network: its netif would be
     * connected (and want a tap) if it stayed */
    mg_graph *g = RESOLVE_OK(STACK_DOC, "unix", NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(fx_count_impl(g, "netif"), 0, "no job reaches the network");
    ONLY(g, "socket_stack");
    for (size_t i = 0; i < g->n_nodes; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s%zu", g->nodes[i].impl, i);
        cr_assert_str_eq(g->nodes[i].id, want, "ids stay impl + position");
        for (size_t d = 0; d < g->n_nodes && d < g->nodes[i].n_deps; d++)
            cr_assert_lt(g->nodes[i].deps[d], i, "deps still point at earlier nodes");
    }
    for (size_t i = 0; i < g->n_libraries; i++)
        cr_assert_str_neq(g->libraries[i].name, "mg-net", "the dropped netif's library goes too");
    bool backlog = false;
    for (size_t i = 0; i < g->n_runtime_keys; i++)
        backlog |= !strcmp(g->runtime_keys[i].name, "socket_backlog");
    cr_assert(backlog, "the kept entry's runtime key stays");

    g = RESOLVE_OK(STACK_DOC, "unix", KEYS("stack=direct"));
    CHECK_GRAPH(g);
    size_t n = ONLY(g, "netif");
    size_t s = ONLY(g, "direct_stack");
    cr_assert_eq(g->nodes[s].deps[0], n, "the direct branch keeps its network");
    cr_assert_eq(fx_count_impl(g, "socket_stack"), 0);
    for (size_t i = 0; i < g->n_runtime_keys; i++)
        cr_assert_str_neq(g->runtime_keys[i].name, "socket_backlog",
                          "a key of an entry not in the image is not the image's");
}
