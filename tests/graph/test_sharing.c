/*
 * Instances: sharing of named devices and catalog constants, fresh inline
 * calls, initialisation order and ids, `from`, jobs and sources.
 */
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

FX_SUITE(sharing);

Test(sharing, named_device_used_three_times_is_one_node)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'con': {'device': 'console', 'args': {'name': 'shared'}},\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']},\n"
        "             'two': {'main': 'two', 'type': 'console -> console -> job',\n"
        "                     'sources': ['two.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['con']}, {'apply': 'app', 'to': ['con']},\n"
        "          {'apply': 'two', 'to': ['con', 'con']}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "console");
    cr_assert_str_eq(ARG_TEXT(g, c, "name"), "shared");
    cr_assert_str_eq(g->nodes[c].from, "/devices/con");
    /* Each fully applying expression is its own instance (resolver.md). */
    cr_assert_eq(fx_count_impl(g, "main"), 3);
    cr_assert_eq(g->n_jobs, 3);
    for (size_t j = 0; j < 3; j++) {
        const mg_graph_node *n = &g->nodes[g->jobs[j]];
        cr_assert_str_eq(n->impl, "main");
        for (size_t d = 0; d < n->n_deps; d++)
            cr_assert_eq(n->deps[d], c, "job %zu dep %zu is not the shared console", j, d);
    }
    cr_assert_eq(g->nodes[g->jobs[2]].n_deps, 2);
}

Test(sharing, identical_inline_calls_are_two_nodes)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> console -> job',\n"
        "                     'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': [{'device': 'console', 'args': {'name': 'x'}},\n"
        "                                  {'device': 'console', 'args': {'name': 'x'}}]}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(fx_count_impl(g, "console"), 2, "functoria semantics: two calls, two instances");
    const mg_graph_node *m = &g->nodes[ONLY(g, "main")];
    cr_assert_eq(m->n_deps, 2);
    cr_assert_neq(m->deps[0], m->deps[1]);
    cr_assert_str_eq(g->nodes[m->deps[0]].from, "/jobs/0/to/0");
    cr_assert_str_eq(g->nodes[m->deps[1]].from, "/jobs/0/to/1");
}

Test(sharing, catalog_constant_named_twice_is_one_node)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']},\n"
        "             'other': {'main': 'other', 'type': 'console -> time -> job',\n"
        "                       'sources': ['other.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['default_console']},\n"
        "          {'apply': 'other', 'to': ['default_console', 'default_time']}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "console");
    cr_assert_str_eq(g->nodes[c].from, "default_console");
    cr_assert_str_eq(ARG_TEXT(g, c, "name"), "console", "the param default applies");
    cr_assert_eq(g->nodes[g->jobs[0]].deps[0], c);
    cr_assert_eq(g->nodes[g->jobs[1]].deps[0], c);
    cr_assert_str_eq(g->nodes[ONLY(g, "time")].from, "default_time");
}

Test(sharing, inline_call_inside_named_device_is_one_instance)
{
    mg_graph *g =
        RESOLVE_OK("{'mgd': 1, 'name': 't',\n"
                   " 'devices': {'data': {'device': 'tar_kv_ro',\n"
                   "                      'args': {'block': {'device': 'block_of_file',\n"
                   "                                         'args': {'name': 'disk.img'}}}},\n"
                   "             'app': {'main': 'start', 'type': 'kv_ro -> kv_ro -> job',\n"
                   "                     'sources': ['app.c']}},\n"
                   " 'jobs': [{'apply': 'app', 'to': ['data', 'data']}]}",
                   NULL, NO_KEYS);
    CHECK_GRAPH(g);
    ONLY(g, "tar_kv_ro");
    size_t b = ONLY(g, "block_of_file");
    cr_assert_str_eq(g->nodes[b].from, "/devices/data/args/block");
}

Test(sharing, initialisation_order_and_ids)
{
    /* resolver.md: reporter first, then jobs in order, arguments before the
     * expression; ids are impl + creation number. */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'big',\n"
        " 'devices': {\n"
        "   'stack': {'device': 'generic_stack', 'args': {'network': 'default_network'}},\n"
        "   'web': {'device': 'http_server', 'args': {'stack': 'stack'}},\n"
        "   'data': {'device': 'generic_kv_ro', 'args': {'dir': 'htdocs'}},\n"
        "   'disk': {'device': 'tar_kv_ro', 'args': {'block': {'device': 'cache_block',\n"
        "            'args': {'block': {'device': 'block_of_file', 'args': {'name': "
        "'disk.img'}}}}}},\n"
        "   'spare': {'device': 'kv_rw_mem', 'args': {}},\n"
        "   'app': {'main': 'serve', 'type': 'console -> time -> http -> kv_ro -> kv_ro -> job',\n"
        "           'sources': ['app.c']},\n"
        "   'logger': {'main': 'log_start', 'type': 'console -> job', 'sources': ['log.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['default_console', 'default_time', 'web', 'data', "
        "'disk']},\n"
        "          {'apply': 'logger', 'to': ['default_console']},\n"
        "          'noop']}",
        "unix", NO_KEYS);
    CHECK_GRAPH(g);
    static const char *const want[] = {
        "log_reporter0", "console1",      "time2",        "netif3",  "ethif4",
        "arp5",          "direct_stack6", "http_server7", "crunch8", "block_of_file9",
        "cache_block10", "tar_kv_ro11",   "main12",       "main13",  "noop14"};
    size_t n = sizeof want / sizeof want[0];
    char got[1024] = "";
    for (size_t i = 0; i < g->n_nodes; i++) {
        size_t l = strlen(got);
        snprintf(got + l, sizeof got - l, "%s ", g->nodes[i].id);
    }
    cr_assert_eq(g->n_nodes, n, "expected %zu nodes, got %zu: %s", n, g->n_nodes, got);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(g->nodes[i].id, want[i], "node %zu; all nodes: %s", i, got);
    cr_assert_eq(fx_count_impl(g, "kv_rw_mem"), 0, "an unused named device makes no instance");

    /* deps in parameter order */
    const mg_graph_node *app = &g->nodes[ID(g, "main12")];
    static const char *const app_deps[] = {"console1", "time2", "http_server7", "crunch8",
                                           "tar_kv_ro11"};
    cr_assert_eq(app->n_deps, 5);
    for (size_t d = 0; d < 5; d++)
        cr_assert_str_eq(g->nodes[app->deps[d]].id, app_deps[d], "dep %zu of main12", d);
    cr_assert_str_eq(app->code->symbol, "serve");
    cr_assert_str_eq(app->type, "job");
    cr_assert_str_eq(app->from, "/jobs/0");

    const mg_graph_node *stack = &g->nodes[ID(g, "direct_stack6")];
    cr_assert_eq(stack->n_deps, 3);
    cr_assert_str_eq(g->nodes[stack->deps[0]].id, "netif3");
    cr_assert_str_eq(g->nodes[stack->deps[1]].id, "ethif4");
    cr_assert_str_eq(g->nodes[stack->deps[2]].id, "arp5");
    cr_assert_str_eq(stack->type, "stackv4v6");

    cr_assert_eq(g->n_jobs, 3);
    cr_assert_str_eq(g->nodes[g->jobs[0]].id, "main12");
    cr_assert_str_eq(g->nodes[g->jobs[1]].id, "main13");
    cr_assert_str_eq(g->nodes[g->jobs[2]].id, "noop14");
    cr_assert_str_eq(g->nodes[g->jobs[2]].from, "noop");
    cr_assert_str_eq(g->nodes[0].from, "default_reporter");
}

Test(sharing, simple_ids)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'hello',\n"
        " 'devices': {'main': {'main': 'hello_start', 'type': 'console -> time -> job',\n"
        "                      'sources': ['unikernel.c']}},\n"
        " 'jobs': [{'apply': 'main', 'to': ['default_console', 'default_time']}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(g->n_nodes, 4);
    cr_assert_str_eq(g->nodes[0].id, "log_reporter0");
    cr_assert_str_eq(g->nodes[1].id, "console1");
    cr_assert_str_eq(g->nodes[2].id, "time2");
    cr_assert_str_eq(g->nodes[3].id, "main3");
    cr_assert_eq(mg_graph_find(g, "main3"), 3);
    cr_assert_eq(mg_graph_find(g, "main4"), FX_NONE);
    cr_assert_eq(mg_graph_find(g, "console"), FX_NONE);
}

Test(sharing, explicit_reporter_is_first)
{
    mg_graph *g = RESOLVE_OK("{'mgd': 1, 'name': 't', 'reporter': 'no_reporter', 'jobs': ['noop']}",
                             NULL, NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(g->n_nodes, 2);
    cr_assert_str_eq(g->nodes[0].id, "no_reporter0");
    cr_assert_str_eq(g->nodes[0].from, "no_reporter");
    cr_assert_str_eq(g->nodes[1].id, "noop1");
    cr_assert_eq(fx_count_impl(g, "log_reporter"), 0);

    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't', 'reporter': 'default_console', 'jobs': ['noop']}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/reporter");
}

Test(sharing, partial_application)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> time -> kv_ro -> job',\n"
        "                     'sources': ['app.c']},\n"
        "             'half': {'apply': 'app', 'to': ['default_console']},\n"
        "             'most': {'apply': 'half', 'to': ['default_time']}},\n"
        " 'jobs': [{'apply': 'most', 'to': [{'device': 'crunch', 'args': {'dir': 'a'}}]},\n"
        "          {'apply': 'half', 'to': ['default_time', {'device': 'crunch', 'args': {'dir': "
        "'b'}}]}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(fx_count_impl(g, "main"), 2, "two full applications, two instances");
    ONLY(g, "console");
    ONLY(g, "time");
    cr_assert_eq(fx_count_impl(g, "crunch"), 2);
    for (size_t j = 0; j < 2; j++) {
        const mg_graph_node *m = &g->nodes[g->jobs[j]];
        cr_assert_str_eq(m->impl, "main");
        cr_assert_str_eq(m->code->symbol, "start");
        cr_assert_eq(m->n_deps, 3, "job %zu: all three args, in parameter order", j);
        cr_assert_str_eq(g->nodes[m->deps[0]].impl, "console");
        cr_assert_str_eq(g->nodes[m->deps[1]].impl, "time");
        cr_assert_str_eq(g->nodes[m->deps[2]].impl, "crunch");
        cr_assert_str_eq(ARG_TEXT(g, m->deps[2], "dir"), j == 0 ? "a" : "b");
    }
}

Test(sharing, named_partial_application_shares_its_inline_args)
{
    /* half is evaluated once: its inline console is one instance, used by
     * both full applications (two jobs, two main instances). */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> time -> job',\n"
        "                     'sources': ['app.c']},\n"
        "             'half': {'apply': 'app',\n"
        "                      'to': [{'device': 'console', 'args': {'name': 'half'}}]}},\n"
        " 'jobs': [{'apply': 'half', 'to': ['default_time']},\n"
        "          {'apply': 'half', 'to': [{'device': 'time', 'args': {}}]}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "console");
    cr_assert_str_eq(g->nodes[c].from, "/devices/half/to/0");
    cr_assert_eq(fx_count_impl(g, "main"), 2);
    cr_assert_eq(fx_count_impl(g, "time"), 2);
    cr_assert_eq(g->n_jobs, 2);
    cr_assert_eq(g->nodes[g->jobs[0]].deps[0], c);
    cr_assert_eq(g->nodes[g->jobs[1]].deps[0], c);
    cr_assert_neq(g->nodes[g->jobs[0]].deps[1], g->nodes[g->jobs[1]].deps[1]);
}

Test(sharing, job_listed_twice_is_started_once)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']},\n"
        "             'job': {'apply': 'app', 'to': ['default_console']}},\n"
        " 'jobs': ['job', 'noop', 'job']}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    size_t m = ONLY(g, "main");
    size_t seen = 0;
    for (size_t j = 0; j < g->n_jobs; j++)
        if (g->jobs[j] == m) seen++;
    cr_assert_eq(seen, 1, "the shared job is listed %zu times", seen);
    cr_assert_eq(g->n_jobs, 2);
}

Test(sharing, if_and_match_leave_no_trace)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'fast': {'stage': 'configure', 'type': 'bool', 'default': true}},\n"
        " 'devices': {'data': {'if': 'fast',\n"
        "                      'then': {'device': 'crunch', 'args': {'dir': 'a'}},\n"
        "                      'else': {'device': 'direct_kv_ro', 'args': {'dir': 'a'}}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    size_t c = ONLY(g, "crunch");
    cr_assert_eq(fx_count_impl(g, "direct_kv_ro"), 0);
    cr_assert_str_eq(g->nodes[c].from, "/devices/data/then");
    cr_assert_eq(g->n_nodes, 3, "reporter, crunch, main");
}

Test(sharing, sources_first_seen_without_repeats)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'a': {'main': 'a', 'type': 'console -> job',\n"
        "                   'sources': ['src/a.c', 'src/common.c']},\n"
        "             'b': {'main': 'b', 'type': 'console -> job',\n"
        "                   'sources': ['src/common.c', 'src/b.c']},\n"
        "             'unused': {'main': 'u', 'type': 'console -> job', 'sources': ['u.c']}},\n"
        " 'jobs': [{'apply': 'a', 'to': ['default_console']},\n"
        "          {'apply': 'b', 'to': ['default_console']}]}",
        NULL, NO_KEYS);
    static const char *const want[] = {"src/a.c", "src/common.c", "src/b.c"};
    cr_assert_eq(g->n_sources, 3, "got %zu sources", g->n_sources);
    for (size_t i = 0; i < 3; i++) cr_assert_str_eq(g->sources[i], want[i]);
}

Test(sharing, result_fields)
{
    mg_graph *g = RESOLVE_OK("{'mgd': 1, 'name': 'my-app_2', 'jobs': ['noop']}", "virtio", NO_KEYS);
    cr_assert_str_eq(g->name, "my-app_2");
    cr_assert_str_eq(g->target, "virtio");
    cr_assert_str_eq(g->arch, "x86_64", "the default arch");
    g = RESOLVE_OK("{'mgd': 1, 'name': 't', 'jobs': ['noop']}", NULL, NO_KEYS);
    cr_assert_str_eq(g->target, "unix", "the default target");
}
