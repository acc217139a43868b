/*
 * Jobs as arguments of user code: functoria's `main "App.Make" (job @-> job)
 * $ noop`. The resolver accepts a job parameter, the argument is an
 * instance before the code that takes it, and main.c starts it just before
 * calling the code, passing its start status as an int (generated-code.md).
 */
#include <string.h>

#include "fixtures.h"
#include "graph/codegen.h"

FX_SUITE(job_args);

/* functoria's test unikernel, as a config document. */
#define NOOP_APP                                                                                   \
    "{'mgd': 1, 'name': 't',\n"                                                                    \
    " 'devices': {'main': {'main': 'app_start', 'type': 'job -> job', 'sources': ['app.c']}},\n"   \
    " 'jobs': [{'apply': 'main', 'to': ['noop']}]}"

/* The position of `needle` in `hay`, asserting it is there. */
static size_t at(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    cr_assert_not_null(p, "main.c lacks \"%s\":\n%s", needle, hay);
    return (size_t)(p - hay);
}

Test(job_args, noop_app_resolves_on_every_target)
{
    const char *targets[] = {"unix", "spt", "virtio"};
    for (size_t t = 0; t < 3; t++) {
        mg_graph *g = RESOLVE_OK(NOOP_APP, targets[t], NO_KEYS);
        CHECK_GRAPH(g);
        size_t noop = ONLY(g, "noop"), m = ONLY(g, "main");
        cr_assert_eq(g->nodes[m].n_deps, 1);
        cr_assert_eq(g->nodes[m].deps[0], noop, "main takes the noop job");
        cr_assert_lt(noop, m, "the job argument is an instance before the code");
        cr_assert_eq(g->n_jobs, 1);
        cr_assert_eq(g->jobs[0], m, "only the listed job is in jobs");
    }
}

Test(job_args, checked_in_stage_1)
{
    mg_errors errs = {0};
    const char *doc = fx_json(NOOP_APP);
    bool ok = mg_config_check(fx_cat, doc, strlen(doc), NULL, &errs);
    const char *text = fx_errs_text(&errs);
    mg_errors_free(&errs);
    cr_assert(ok, "job -> job is refused: %s", text);
}

Test(job_args, main_c_starts_the_argument_then_passes_its_status)
{
    mg_graph *g = RESOLVE_OK(NOOP_APP, NULL, NO_KEYS);
    char *c = fx_keep(mg_codegen_main_c(g));
    at(c, "int app_start(int);");
    size_t noop = at(c, "mg__rc = mg_noop_connect();");
    size_t status = at(c, "int mg__job_noop");
    size_t call = at(c, "mg__rc = app_start(mg__job_noop");
    cr_assert(noop < status && status < call, "noop starts, then app_start gets its status:\n%s",
              c);
    cr_assert_eq(fx_count_substr(c, "mg_noop_connect()"), 1, "noop starts once:\n%s", c);
    cr_assert_lt(at(c, "/* Jobs"), noop, "noop starts with the jobs, after the devices:\n%s", c);
}

Test(job_args, user_code_job_as_argument_and_sharing)
{
    /* first takes the shared noop; outer takes inner's job (made inline), a
     * console and a noop of its own; noop listed again starts once. */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'first': {'main': 'first', 'type': 'job -> job'},\n"
        "             'inner': {'main': 'inner', 'type': 'console -> job'},\n"
        "             'outer': {'main': 'outer', 'type': 'job -> console -> job -> job'}},\n"
        " 'jobs': [{'apply': 'first', 'to': ['noop']},\n"
        "          {'apply': 'outer', 'to': [{'apply': 'inner', 'to': ['default_console']},\n"
        "                                    'default_console', {'device': 'noop'}]},\n"
        "          'noop']}",
        NULL, NO_KEYS);
    CHECK_GRAPH(g);
    cr_assert_eq(fx_count_impl(g, "noop"), 2, "the constant is shared, the call is new");
    cr_assert_eq(fx_count_impl(g, "main"), 3);
    cr_assert_eq(g->n_jobs, 3);
    char *c = fx_keep(mg_codegen_main_c(g));
    at(c, "int first(int);");
    at(c, "int inner(mg_console *);");
    at(c, "int outer(int, mg_console *, int);");
    cr_assert_eq(fx_count_substr(c, "mg_noop_connect()"), 2, "each noop instance starts once:\n%s",
                 c);
    size_t first = at(c, "mg__rc = first(mg__job_noop1);");
    size_t inner = at(c, "mg__rc = inner(mg__dev_console3);");
    size_t outer = at(c, "mg__rc = outer(mg__job_main4, mg__dev_console3, mg__job_noop5);");
    cr_assert(first < inner && inner < outer, "jobs in order, arguments first:\n%s", c);
    /* the listed noop1 started as first's argument: nothing after outer */
    cr_assert_null(strstr(c + outer, "mg_noop_connect"), "noop started again:\n%s", c);
}

Test(job_args, job_argument_listed_first_starts_there)
{
    mg_graph *g = RESOLVE_OK("{'mgd': 1, 'name': 't',\n"
                             " 'devices': {'main': {'main': 'app_start', 'type': 'job -> job'}},\n"
                             " 'jobs': ['noop', {'apply': 'main', 'to': ['noop']}]}",
                             NULL, NO_KEYS);
    char *c = fx_keep(mg_codegen_main_c(g));
    cr_assert_eq(fx_count_substr(c, "mg_noop_connect()"), 1, "%s", c);
    cr_assert_lt(at(c, "mg_noop_connect()"), at(c, "app_start(mg__job_noop"), "%s", c);
}

Test(job_args, still_type_checked)
{
    /* a console is not a job, a job is not a console, and the result must
     * still be a job */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'a': {'main': 'a', 'type': 'job -> job'},\n"
        "             'b': {'main': 'b', 'type': 'console -> job'},\n"
        "             'c': {'main': 'c', 'type': 'job -> console'}},\n"
        " 'jobs': [{'apply': 'a', 'to': ['default_console']}, {'apply': 'b', 'to': ['noop']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/jobs/0/to/0");
    EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/jobs/1/to/0");
    EXPECT_ERROR_IN(e, MG_ERR_TYPE_MISMATCH, "/devices/c/type", "/devices/c");
    /* a partial application is not a job */
    e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'a': {'main': 'a', 'type': 'job -> job'},\n"
        "             'b': {'main': 'b', 'type': 'console -> time -> job'}},\n"
        " 'jobs': [{'apply': 'a', 'to': [{'apply': 'b', 'to': ['default_console']}]}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/jobs/0/to/0");
}

Test(job_args, catalog_entry_cannot_take_a_job)
{
    /* devices connect before any job starts: only user code takes jobs */
    const char *bad = fx_json("{ 'devices': [ { 'name': 'after', 'type': 'console', 'doc': 'x',\n"
                              "  'params': [ { 'name': 'j', 'type': 'job', 'doc': 'y' } ],\n"
                              "  'targets': ['unix'], 'connect': 'x_connect',\n"
                              "  'header': 'x.h', 'sources': ['x.c'] } ] }");
    mg_catalog_file files[] = {fx_catalog_file(0), {"test/bad.json", bad, strlen(bad)}};
    mg_errors errs = {0};
    mg_catalog *cat = mg_catalog_load(files, 2, &fx_targets, &errs);
    const char *text = fx_errs_text(&errs);
    bool said = strstr(text, "cannot take a job") != NULL;
    mg_errors_free(&errs);
    if (cat) mg_catalog_free(cat);
    cr_assert(cat == NULL && said, "a catalog entry with a job param loaded: %s", text);
}
