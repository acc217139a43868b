/* Stage 1 (mg_config_check): whole-document checks independent of target and keys. */
#include <string.h>

#include "fixtures.h"

FX_SUITE(check);

typedef struct check_result {
    bool ok;
    mg_errors *errs;
} check_result;

static check_result check(const char *doc_sq)
{
    const char *doc = fx_json(doc_sq);
    fx_run *r = fx_new_run();
    mg_limits lim = {0};
    bool ok = mg_config_check(fx_cat, doc, strlen(doc), &lim, &r->errs);
    return (check_result){ok, &r->errs};
}

#define UNTAKEN_BRANCH_DOC                                                                         \
    "{'mgd': 1, 'name': 't',\n"                                                                    \
    " 'keys': {'flag': {'stage': 'configure', 'type': 'bool', 'default': false}},\n"               \
    " 'devices': {'c': {'if': 'flag',\n"                                                           \
    "                   'then': {'device': 'console', 'args': {'nmae': 'x'}},\n"                   \
    "                   'else': 'default_console'},\n"                                             \
    "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}},\n"    \
    " 'jobs': [{'apply': 'app', 'to': ['c']}]}"

Test(check, reports_errors_in_untaken_branch)
{
    check_result r = check(UNTAKEN_BRANCH_DOC);
    cr_assert(!r.ok, "mg_config_check accepted a typo in the then branch");
    EXPECT_ERROR(r.errs, MG_ERR_UNKNOWN_PARAM, "/devices/c/then/args/nmae");
}

Test(check, resolve_also_reports_untaken_branch)
{
    /* flag is false: the else branch is built, but stage 1 checks both. */
    mg_errors *e = RESOLVE_FAIL(UNTAKEN_BRANCH_DOC, NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_PARAM, "/devices/c/then/args/nmae");
}

Test(check, reports_errors_in_match_cases_and_unused_devices)
{
    check_result r = check(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'e': {'stage': 'configure', 'type': 'enum', 'values': ['x', 'y'],\n"
        "                'default': 'x'}},\n"
        " 'devices': {'c': {'match': 'e', 'cases': {'x': 'default_console', 'y': "
        "'no_such_name'}},\n"
        "             'unused': {'device': 'tar_kv_ro', 'args': {'block': 'default_time'}},\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c']}]}");
    cr_assert(!r.ok);
    EXPECT_ERROR(r.errs, MG_ERR_UNKNOWN_NAME, "/devices/c/cases/y");
    EXPECT_ERROR(r.errs, MG_ERR_TYPE_MISMATCH, "/devices/unused/args/block");
}

Test(check, valid_document_passes_without_keys_or_target)
{
    /* A required configure key and a unix-only device: valid for some
     * target and keys, so the check passes. */
    const char *doc =
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'dir': {'stage': 'configure', 'type': 'string'}},\n"
        " 'devices': {'store': {'device': 'direct_kv_rw', 'args': {'dir': {'key': 'dir'}}},\n"
        "             'app': {'main': 'start', 'type': 'kv_rw -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['store']}]}";
    check_result r = check(doc);
    cr_assert(r.ok && r.errs->len == 0, "expected the check to pass; got:\n%s",
              fx_errs_text(r.errs));
    /* Resolution needs the key... */
    mg_errors *e = RESOLVE_FAIL(doc, "unix", NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_MISSING_KEY, "dir");
    /* ...and a target that implements direct_kv_rw. */
    mg_graph *g = RESOLVE_OK(doc, "unix", KEYS("dir=/var/db"));
    cr_assert_str_eq(ARG_TEXT(g, ONLY(g, "direct_kv_rw"), "dir"), "/var/db");
}

Test(check, stage1_errors_stop_before_stage2)
{
    /* A stage 1 error (unknown_param) and what would be stage 2 errors
     * (missing key, unsupported target): only stage 1 is reported. */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'need': {'stage': 'configure', 'type': 'int'}},\n"
        " 'devices': {'store': {'device': 'direct_kv_rw', 'args': {'dir': 'db', 'oops': 1}},\n"
        "             'app': {'main': 'start', 'type': 'kv_rw -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['store']}]}",
        "spt", NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_PARAM, "/devices/store/args/oops");
    cr_assert_eq(mg_errors_count(e, MG_ERR_MISSING_KEY), 0, "stage 2 ran after stage 1 errors:\n%s",
                 fx_errs_text(e));
    cr_assert_eq(mg_errors_count(e, MG_ERR_UNSUPPORTED_TARGET), 0,
                 "stage 2 ran after stage 1 errors:\n%s", fx_errs_text(e));
}

Test(check, parse_error_in_check)
{
    check_result r = check("{'mgd': 1,");
    cr_assert(!r.ok);
    EXPECT_ERROR(r.errs, MG_ERR_PARSE_ERROR, "");
}
