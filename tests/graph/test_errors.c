/*
 * Every error code of docs/config.md, each with its code and JSON pointer, and
 * documents with several errors (all of them are reported).
 *
 * Where docs/config.md and docs/resolver.md leave the exact pointer open between
 * equally sensible ones (the member or the object holding it, the call or
 * its "device" member), the tests accept each of them (EXPECT_ERROR_IN).
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

FX_SUITE(errors);

/* User code taking a console. */
#define APP "'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}"
#define APP_JOB "{'apply': 'app', 'to': ['default_console']}"

/* ---------------------------------------------------------------- parsing */

Test(errors, parse_error_has_line_and_column)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1,\n"
                                "  'name': 't',\n"
                                "  'jobs': [ 'noop' ,, ]\n"
                                "}\n",
                                NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_PARSE_ERROR, "");
    EXPECT_MESSAGE(e, err, "line");
    EXPECT_MESSAGE(e, err, "column");
    /* 1-based lines and columns (resolver.md): the second ',' is at column 21. */
    EXPECT_MESSAGE(e, err, "line 3, column 21");
    cr_assert_eq(e->len, 1, "a parse error should be the only error:\n%s", fx_errs_text(e));
}

Test(errors, parse_error_for_truncated_document)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['noop']", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_PARSE_ERROR, "");
    EXPECT_MESSAGE(e, err, "line 1");
    EXPECT_MESSAGE(e, err, "column");
}

Test(errors, parse_error_columns_count_bytes)
{
    /* "é" is two bytes: the stray x is at byte column 25 (character 24). */
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': '\xc3\xa9' x, 'jobs': ['noop']}", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_PARSE_ERROR, "");
    EXPECT_MESSAGE(e, err, "line 1, column 25");
}

Test(errors, invalid_utf8_is_a_parse_error)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['noop'],\n"
                                " 'keys': {'k': {'stage': 'runtime', 'type': 'string',\n"
                                "                'default': 'caf\xe9'}}}",
                                NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_PARSE_ERROR, "");
    EXPECT_MESSAGE(e, err, "line 3");
}

Test(errors, top_level_must_be_an_object)
{
    mg_errors *e = RESOLVE_FAIL("['noop']", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "");
}

Test(errors, nul_escape_is_a_parse_error)
{
    /* resolver.md: "\u0000" cannot be carried by C strings. */
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['no\\u0000op']}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_PARSE_ERROR, "");
}

Test(errors, unsupported_version)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 2, 'name': 't', 'jobs': ['noop']}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_UNSUPPORTED_VERSION, "/mgd");
}

/* ----------------------------------------------------------------- schema */

Test(errors, schema_unknown_top_level_field)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['noop'], 'devcies': {}}", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/devcies", "");
    EXPECT_MESSAGE(e, err, "devcies");
}

Test(errors, schema_unknown_field_in_expression)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                                " 'devices': {'c': {'device': 'console', 'args': {}, 'agrs': {}},\n"
                                "             " APP "},\n"
                                " 'jobs': [{'apply': 'app', 'to': ['c']}]}",
                                NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/devices/c/agrs", "/devices/c");
    EXPECT_MESSAGE(e, err, "agrs");
}

Test(errors, schema_unknown_field_in_key_declaration)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                                " 'keys': {'k': {'stage': 'configure', 'type': 'bool',\n"
                                "                'default': false, 'dco': 'typo'}},\n"
                                " 'jobs': ['noop']}",
                                NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/keys/k/dco", "/keys/k");
}

Test(errors, schema_wrong_types)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 5, 'jobs': 'noop'}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/name");
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/jobs");
}

Test(errors, schema_wrong_type_in_user_code)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> job', 'sources': 'app.c'}},\n"
        " 'jobs': [" APP_JOB "]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/devices/app/sources");
}

Test(errors, schema_duplicate_member)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'name': 'u', 'jobs': ['noop']}", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/name", "");
    EXPECT_MESSAGE(e, err, "name");
}

Test(errors, schema_duplicate_member_nested)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'c': {'device': 'console', 'args': {'name': 'a', 'name': 'b'}}, " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/devices/c/args/name", "/devices/c/args");
}

Test(errors, schema_missing_and_empty_jobs)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't'}", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "", "/jobs");
    EXPECT_MESSAGE(e, err, "jobs");

    e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': []}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/jobs");
}

Test(errors, schema_bad_image_name)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 'Hello World', 'jobs': ['noop']}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/name");
}

Test(errors, schema_forbidden_cflags)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c'],\n"
        "                     'cflags': ['-O2', '-Wl,-rpath,/tmp', '-fplugin=evil.so', "
        "'-DX=1']}},\n"
        " 'jobs': [" APP_JOB "]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/devices/app/cflags/1");
    EXPECT_ERROR(e, MG_ERR_SCHEMA, "/devices/app/cflags/2");
    cr_assert_null(fx_find_error(e, MG_ERR_SCHEMA, "/devices/app/cflags/0"), "-O2 is allowed");
    cr_assert_null(fx_find_error(e, MG_ERR_SCHEMA, "/devices/app/cflags/3"), "-D is allowed");
}

/* ------------------------------------------------------------------ names */

Test(errors, duplicate_name_device_named_like_catalog_entry)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'devices': {'console': {'device': 'console', 'args': {}}, " APP "},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['console']}]}",
                     NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_DUPLICATE_NAME, "/devices/console");
}

Test(errors, duplicate_name_builtin_key_redeclared)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'target': {'stage': 'configure', 'type': 'string', 'default': 'unix'}},\n"
        " 'jobs': ['noop']}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_DUPLICATE_NAME, "/keys/target");
}

Test(errors, duplicate_name_catalog_key_with_other_type)
{
    /* generic_kv_ro declares kv_ro as a configure enum; a bool is another key. */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'kv_ro': {'stage': 'configure', 'type': 'bool', 'default': true}},\n"
        " 'devices': {'data': {'device': 'generic_kv_ro', 'args': {'dir': 'htdocs'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_DUPLICATE_NAME, "/keys/kv_ro");
}

Test(errors, unknown_name)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['nosuch']}", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_UNKNOWN_NAME, "/jobs/0");
    EXPECT_MESSAGE(e, err, "nosuch");
}

Test(errors, unknown_device)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't', 'jobs': [{'device': 'no_such_ctor', 'args': {}}]}", NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_UNKNOWN_DEVICE, "/jobs/0", "/jobs/0/device");
    EXPECT_MESSAGE(e, err, "no_such_ctor");
    /* An unknown device has an error type: no job_type error on top. */
    cr_assert_null(fx_find_error(e, MG_ERR_JOB_TYPE, NULL), "one mistake, one error:\n%s",
                   fx_errs_text(e));
}

Test(errors, unknown_param)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'devices': {'c': {'device': 'console', 'args': {'nmae': 'x'}}, " APP "},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['c']}]}",
                     NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_UNKNOWN_PARAM, "/devices/c/args/nmae");
    EXPECT_MESSAGE(e, err, "nmae");
}

Test(errors, missing_param_in_call)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'k': {'device': 'crunch', 'args': {}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['k']}]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_MISSING_PARAM, "/devices/k", "/devices/k/args");
    EXPECT_MESSAGE(e, err, "dir");
}

Test(errors, missing_param_when_named_as_constant)
{
    /* resolver.md: a catalog entry named as a constant must have no required params. */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['crunch']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_MISSING_PARAM, "/jobs/0/to/0");
}

/* ------------------------------------------------------------------ types */

Test(errors, unknown_type)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> jbo', 'sources': ['app.c']}},\n"
        " 'jobs': [" APP_JOB "]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_UNKNOWN_TYPE, "/devices/app/type");
    EXPECT_MESSAGE(e, err, "jbo");
}

Test(errors, higher_order_type_is_unknown_type)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                                " 'devices': {'app': {'main': 'start',\n"
                                "     'type': '(console -> time) -> job', 'sources': ['app.c']}},\n"
                                " 'jobs': ['noop']}",
                                NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_TYPE, "/devices/app/type");
}

Test(errors, type_mismatch_in_application)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'devices': {" APP "},\n"
                                " 'jobs': [{'apply': 'app', 'to': ['default_time']}]}",
                                NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/jobs/0/to/0");
    EXPECT_MESSAGE(e, err, "console");
    EXPECT_MESSAGE(e, err, "time");
}

Test(errors, type_mismatch_in_constructor_arg)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'data': {'device': 'tar_kv_ro', 'args': {'block': 'default_console'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/devices/data/args/block");
    EXPECT_MESSAGE(e, err, "block");
    EXPECT_MESSAGE(e, err, "console");
}

Test(errors, type_mismatch_user_code_not_job)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> time', 'sources': ['app.c']}},\n"
        " 'jobs': ['noop']}",
        NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_TYPE_MISMATCH, "/devices/app/type", "/devices/app");
}

Test(errors, type_mismatch_between_branches)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'flag': {'stage': 'configure', 'type': 'bool', 'default': false}},\n"
        " 'devices': {'d': {'if': 'flag', 'then': 'default_console', 'else': 'default_time'},\n"
        "             " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_TYPE_MISMATCH, "/devices/d", "/devices/d/else", "/devices/d/then");
}

Test(errors, type_mismatch_key_bound_to_param_of_other_type)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'n': {'stage': 'configure', 'type': 'int', 'default': 3}},\n"
        " 'devices': {'c': {'device': 'console', 'args': {'name': {'key': 'n'}}}, " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/devices/c/args/name");
}

Test(errors, type_mismatch_if_on_non_bool_key)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'n': {'stage': 'configure', 'type': 'int', 'default': 3}},\n"
        " 'devices': {'d': {'if': 'n', 'then': 'default_console', 'else': 'default_console'},\n"
        "             " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_TYPE_MISMATCH, "/devices/d/if", "/devices/d");
}

Test(errors, not_a_functor)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                                " 'jobs': [{'apply': 'default_console', 'to': ['default_time']}]}",
                                NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_NOT_A_FUNCTOR, "/jobs/0", "/jobs/0/apply");
}

Test(errors, arity_too_many_arguments)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'devices': {" APP "},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['default_console', 'default_time']}]}",
                     NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_ARITY, "/jobs/0/to/1", "/jobs/0", "/jobs/0/to");
}

Test(errors, non_exhaustive_enum_match)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'e': {'stage': 'configure', 'type': 'enum', 'values': ['x', 'y', 'z'],\n"
        "                'default': 'x'}},\n"
        " 'devices': {'d': {'match': 'e', 'cases': {'x': 'default_console',\n"
        "                                          'y': 'default_console'}},\n"
        "             " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        NULL, NO_KEYS);
    const mg_error *err =
        EXPECT_ERROR_IN(e, MG_ERR_NON_EXHAUSTIVE, "/devices/d", "/devices/d/cases");
    EXPECT_MESSAGE(e, err, "z");
}

Test(errors, non_exhaustive_bool_and_string_match)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'keys': {'b': {'stage': 'configure', 'type': 'bool', 'default': true},\n"
                     "          's': {'stage': 'configure', 'type': 'string', 'default': 'a'}},\n"
                     " 'devices': {'d': {'match': 'b', 'cases': {'true': 'default_console'}},\n"
                     "             'f': {'match': 's', 'cases': {'a': 'default_console'}},\n"
                     "             " APP "},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['d']}, {'apply': 'app', 'to': ['f']}]}",
                     NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_NON_EXHAUSTIVE, "/devices/d", "/devices/d/cases");
    /* A string key has no finite set of values: default is required. */
    EXPECT_ERROR_IN(e, MG_ERR_NON_EXHAUSTIVE, "/devices/f", "/devices/f/cases");
}

Test(errors, job_type)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['noop', 'default_console']}", NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_JOB_TYPE, "/jobs/1");
    cr_assert_null(fx_find_error(e, MG_ERR_JOB_TYPE, "/jobs/0"));
}

Test(errors, job_type_for_partial_application)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'devices': {'app': {'main': 'start', 'type': 'console -> time -> job',\n"
                     "                     'sources': ['app.c']},\n"
                     "             'half': {'apply': 'app', 'to': ['default_console']}},\n"
                     " 'jobs': ['half', 'app']}",
                     NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_JOB_TYPE, "/jobs/0");
    EXPECT_ERROR(e, MG_ERR_JOB_TYPE, "/jobs/1");
}

Test(errors, cycle_names_every_device_on_it)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'alpha': {'device': 'cache_block', 'args': {'block': 'beta'}},\n"
        "             'beta': {'device': 'cache_block', 'args': {'block': 'gamma'}},\n"
        "             'gamma': {'device': 'cache_block', 'args': {'block': 'alpha'}},\n"
        "             'data': {'device': 'tar_kv_ro', 'args': {'block': 'alpha'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_PREFIX(e, MG_ERR_CYCLE, "/devices/");
    cr_assert(strncmp(err->path, "/devices/alpha", 14) == 0 ||
                  strncmp(err->path, "/devices/beta", 13) == 0 ||
                  strncmp(err->path, "/devices/gamma", 14) == 0,
              "the cycle should be reported on one of its devices:\n%s", fx_errs_text(e));
    EXPECT_MESSAGE(e, err, "alpha");
    EXPECT_MESSAGE(e, err, "beta");
    EXPECT_MESSAGE(e, err, "gamma");
    cr_assert_eq(mg_errors_count(e, MG_ERR_CYCLE), 1, "one cycle, one error:\n%s", fx_errs_text(e));
}

Test(errors, cycle_through_untaken_branch)
{
    /* Stage 1 sees both branches: alpha and beta refer to each other even
     * though flag=false never follows the cycle. */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'flag': {'stage': 'configure', 'type': 'bool', 'default': false}},\n"
        " 'devices': {'alpha': {'if': 'flag', 'then': 'beta', 'else': 'default_console'},\n"
        "             'beta': {'if': 'flag', 'then': 'default_console', 'else': 'alpha'},\n"
        "             " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['alpha']}]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_PREFIX(e, MG_ERR_CYCLE, "/devices/");
    EXPECT_MESSAGE(e, err, "alpha");
    EXPECT_MESSAGE(e, err, "beta");
}

Test(errors, self_cycle)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'loop': {'device': 'cache_block', 'args': {'block': 'loop'}},\n"
        "             'data': {'device': 'tar_kv_ro', 'args': {'block': 'loop'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_PREFIX(e, MG_ERR_CYCLE, "/devices/loop");
    EXPECT_MESSAGE(e, err, "loop");
}

/* ------------------------------------------------------------------- keys */

#define KEYS_DOC                                                                                   \
    "{'mgd': 1, 'name': 't',\n"                                                                    \
    " 'keys': {'n': {'stage': 'configure', 'type': 'int', 'default': 3},\n"                        \
    "          'flag': {'stage': 'configure', 'type': 'bool', 'default': false},\n"                \
    "          'ip': {'stage': 'configure', 'type': 'ipv4', 'default': '10.0.0.1'},\n"             \
    "          'net': {'stage': 'configure', 'type': 'ipv4_prefix', 'default': '10.0.0.0/8'},\n"   \
    "          'e': {'stage': 'configure', 'type': 'enum', 'values': ['x', 'y'], 'default': "      \
    "'x'},\n"                                                                                      \
    "          'hello': {'stage': 'runtime', 'type': 'string', 'default': 'hi'}},\n"               \
    " 'jobs': ['noop']}"

Test(errors, unknown_key_undeclared_build_key)
{
    mg_errors *e = RESOLVE_FAIL(KEYS_DOC, NULL, KEYS("nokey=1"));
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_KEY, "nokey");
}

Test(errors, unknown_key_runtime_key_given_with_build)
{
    mg_errors *e = RESOLVE_FAIL(KEYS_DOC, NULL, KEYS("hello=bonjour"));
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_UNKNOWN_KEY, "hello");
    EXPECT_MESSAGE(e, err, "runtime");
}

Test(errors, unknown_key_catalog_key_of_unmentioned_entry)
{
    /* kv_ro exists only when generic_kv_ro is mentioned (resolver.md). */
    mg_errors *e = RESOLVE_FAIL(KEYS_DOC, NULL, KEYS("kv_ro=direct"));
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_KEY, "kv_ro");
}

Test(errors, unknown_key_runtime_key_in_match_and_if)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'port': {'stage': 'runtime', 'type': 'int', 'default': 80},\n"
        "          'debug': {'stage': 'runtime', 'type': 'bool', 'default': false}},\n"
        " 'devices': {'d': {'match': 'port', 'cases': {'80': 'default_console'},\n"
        "                   'default': 'default_console'},\n"
        "             'f': {'if': 'debug', 'then': 'default_console', 'else': 'default_console'},\n"
        "             " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}, {'apply': 'app', 'to': ['f']}]}",
        NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_UNKNOWN_KEY, "/devices/d/match", "/devices/d");
    EXPECT_MESSAGE(e, err, "runtime");
    err = EXPECT_ERROR_IN(e, MG_ERR_UNKNOWN_KEY, "/devices/f/if", "/devices/f");
    EXPECT_MESSAGE(e, err, "runtime");
}

Test(errors, unknown_key_undeclared_in_if_and_user_code)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'d': {'if': 'nokey', 'then': 'default_console', 'else': 'default_console'},\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c'],\n"
        "                     'runtime_keys': ['nokey2']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR_IN(e, MG_ERR_UNKNOWN_KEY, "/devices/d/if", "/devices/d");
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_KEY, "/devices/app/runtime_keys/0");
}

Test(errors, missing_key_without_default)
{
    const char *doc = "{'mgd': 1, 'name': 't',\n"
                      " 'keys': {'mode': {'stage': 'configure', 'type': 'string'}},\n"
                      " 'jobs': ['noop']}";
    mg_errors *e = RESOLVE_FAIL(doc, NULL, NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_MISSING_KEY, "mode");
    EXPECT_MESSAGE(e, err, "mode");
    /* Given with the build, it resolves. */
    RESOLVE_OK(doc, NULL, KEYS("mode=fast"));
}

Test(errors, missing_key_by_target_without_entry_nor_star)
{
    const char *doc = "{'mgd': 1, 'name': 't',\n"
                      " 'keys': {'store': {'stage': 'configure', 'type': 'enum',\n"
                      "                    'values': ['crunch', 'direct'],\n"
                      "                    'default': {'by_target': {'unix': 'direct'}}}},\n"
                      " 'jobs': ['noop']}";
    RESOLVE_OK(doc, "unix", NO_KEYS);
    mg_errors *e = RESOLVE_FAIL(doc, "spt", NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_MISSING_KEY, "store");
}

Test(errors, bad_key_value_from_build)
{
    mg_errors *e = RESOLVE_FAIL(
        KEYS_DOC, NULL, KEYS("n=abc", "flag=yes", "ip=300.1.2.3", "net=10.0.0.0/33", "e=w"));
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "n");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "flag");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "ip");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "net");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "e");
}

Test(errors, bad_key_value_unknown_target)
{
    /* target is a built-in enum key of the catalog's targets. */
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['noop']}", "xen", NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "target");
    /* the valid values are listed as for any enum key */
    EXPECT_MESSAGE(e, err, "unknown target xen");
    EXPECT_MESSAGE(e, err, "\"xen\" is not one of unix, spt, virtio");
    mg_resolve_options o = fx_options("unix", NO_KEYS);
    o.arch = "riscv64";
    e = FAIL(fx_resolve_opts("{'mgd': 1, 'name': 't', 'jobs': ['noop']}", &o));
    err = EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "arch");
    EXPECT_MESSAGE(e, err, "unknown arch riscv64");
    EXPECT_MESSAGE(e, err, "\"riscv64\" is not one of x86_64, aarch64");
    /* both at once: each names its own list */
    o.target = "nonexistent";
    e = FAIL(fx_resolve_opts("{'mgd': 1, 'name': 't', 'jobs': ['noop']}", &o));
    EXPECT_MESSAGE(e, EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "target"), "unix, spt, virtio");
    EXPECT_MESSAGE(e, EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "arch"), "x86_64, aarch64");
}

Test(errors, bad_key_value_in_declaration_default)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'n': {'stage': 'configure', 'type': 'int', 'default': 'many'},\n"
        "          'e': {'stage': 'configure', 'type': 'enum', 'values': ['x'], 'default': 'y'},\n"
        "          'f': {'stage': 'configure', 'type': 'int', 'default': 1.5},\n"
        "          'g': {'stage': 'configure', 'type': 'int', 'default': 1e17},\n"
        "          'h': {'stage': 'runtime', 'type': 'ipv4_prefix', 'default': '10.0.0.1'}},\n"
        " 'jobs': ['noop']}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/keys/n/default");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/keys/e/default");
    /* ints in JSON must be integers within +-(2^53 - 1) (resolver.md) */
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/keys/f/default");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/keys/g/default");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/keys/h/default");
}

Test(errors, bad_key_value_int_json_cannot_carry)
{
    /* 2^53 + 1 reads as 2^53: from 2^53 on, a JSON number may not be the
     * one written, and the message says to send a string */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'a': {'stage': 'configure', 'type': 'int', 'default': 9007199254740993},\n"
        "          'b': {'stage': 'configure', 'type': 'int', 'default': 9007199254740992},\n"
        "          'c': {'stage': 'runtime', 'type': 'int', 'default': -9007199254740992},\n"
        "          'd': {'stage': 'configure', 'type': 'int',\n"
        "                'default': {'by_target': {'unix': 1e18, '*': 1}}},\n"
        "          'e': {'stage': 'configure', 'type': 'int', 'default': 1e19},\n"
        "          'ok': {'stage': 'configure', 'type': 'int', 'default': 9007199254740991},\n"
        "          'ok2': {'stage': 'configure', 'type': 'int', 'default': -9007199254740991}},\n"
        " 'jobs': ['noop']}",
        NULL, NO_KEYS);
    const char *big[] = {"/keys/a/default", "/keys/b/default", "/keys/c/default",
                         "/keys/d/default/by_target/unix"};
    for (size_t i = 0; i < 4; i++) {
        const mg_error *err = EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, big[i]);
        EXPECT_MESSAGE(e, err, "2^53 - 1");
        EXPECT_MESSAGE(e, err, "send it as a string of decimal digits");
    }
    /* beyond 64 bits a string would not do either */
    EXPECT_MESSAGE(e, EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/keys/e/default"),
                   "expected a 64-bit integer");
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_KEY_VALUE, "/keys/ok/default"));
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_KEY_VALUE, "/keys/ok2/default"));
    cr_assert_eq(e->len, 5, "%s", fx_errs_text(e));
}

Test(errors, bad_key_value_int_strings)
{
    /* an int given as a string is decimal digits, an optional '-' first,
     * within 64 bits: nothing strtoll would also take */
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'a': {'stage': 'configure', 'type': 'int', 'default': 'many'},\n"
        "          'b': {'stage': 'configure', 'type': 'int', 'default': ' 1'},\n"
        "          'c': {'stage': 'configure', 'type': 'int', 'default': '\\t1'},\n"
        "          'd': {'stage': 'configure', 'type': 'int', 'default': '+1'},\n"
        "          'e': {'stage': 'configure', 'type': 'int', 'default': ''},\n"
        "          'f': {'stage': 'configure', 'type': 'int', 'default': '1.5'},\n"
        "          'g': {'stage': 'configure', 'type': 'int', 'default': '9223372036854775808'},\n"
        "          'h': {'stage': 'configure', 'type': 'int', 'default': '-'}},\n"
        " 'jobs': ['noop']}",
        NULL, NO_KEYS);
    const char *paths[] = {"/keys/a/default", "/keys/b/default", "/keys/c/default",
                           "/keys/d/default", "/keys/e/default", "/keys/f/default",
                           "/keys/g/default", "/keys/h/default"};
    for (size_t i = 0; i < 8; i++) EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, paths[i]);
    /* the same rule for a build key given as text */
    e = RESOLVE_FAIL(KEYS_DOC, NULL, KEYS("n= 1"));
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "n");
}

Test(errors, bad_key_value_in_match_on_target)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'devices': {'d': {'match': 'target', 'cases': {'unix': 'default_console',\n"
                     "                                               'xen': 'default_console'},\n"
                     "                   'default': 'default_console'},\n"
                     "             " APP "},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
                     NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/devices/d/cases/xen");
}

Test(errors, bad_key_value_in_match_case_and_equals)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'e': {'stage': 'configure', 'type': 'enum', 'values': ['x', 'y'],\n"
        "                'default': 'x'},\n"
        "          'ip': {'stage': 'configure', 'type': 'ipv4', 'default': '10.0.0.1'}},\n"
        " 'devices': {'d': {'match': 'e', 'cases': {'x': 'default_console', 'w': "
        "'default_console'},\n"
        "                   'default': 'default_console'},\n"
        "             'f': {'if': {'key': 'ip', 'equals': '300.0.0.1'},\n"
        "                   'then': 'default_console', 'else': 'default_console'},\n"
        "             " APP "},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}, {'apply': 'app', 'to': ['f']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "/devices/d/cases/w");
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_KEY_VALUE, "/devices/d/cases/x"));
    EXPECT_ERROR_IN(e, MG_ERR_BAD_KEY_VALUE, "/devices/f/if/equals", "/devices/f/if", "/devices/f");
}

/* ------------------------------------------------------------------ paths */

Test(errors, bad_path)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'app': {'main': 'start', 'type': 'console -> job',\n"
        "                     'sources': ['../x.c', '/abs.c', 'src/ok.c', 'a/../b.c', 'a//b.c',\n"
        "                                 '', 'src\\\\x.c', 'lib/.hidden/ok.c', './x.c', "
        "'a/./b.c'],\n"
        "                     'include_dirs': ['/usr/include', 'include', '.']}},\n"
        " 'jobs': [" APP_JOB "]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/0");
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/1");
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/3");
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/4");
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/5"); /* empty */
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/6"); /* backslash */
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_PATH, "/devices/app/sources/7"),
                   "lib/.hidden/ok.c is a fine path:\n%s", fx_errs_text(e));
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/include_dirs/0");
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_PATH, "/devices/app/sources/2"),
                   "src/ok.c is a fine path:\n%s", fx_errs_text(e));
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_PATH, "/devices/app/include_dirs/1"));
    /* one file, one name: "./x.c" would be a second compile of x.c into the
     * same object folder; an include directory may be the top, "." */
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/8");
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/9");
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_PATH, "/devices/app/include_dirs/2"));
}

static const char *reject_link(void *ctx, const char *path, char *buf, size_t size)
{
    (*(int *)ctx)++;
    if (strcmp(path, "link.c") != 0) return NULL;
    snprintf(buf, size, "symlink leaves the source root");
    return buf;
}

Test(errors, bad_path_from_path_check_callback)
{
    int calls = 0;
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    o.check_path = reject_link;
    o.check_path_ctx = &calls;
    fx_run *r = fx_resolve_opts("{'mgd': 1, 'name': 't',\n"
                                " 'devices': {'app': {'main': 'start', 'type': 'console -> job',\n"
                                "                     'sources': ['app.c', 'link.c']}},\n"
                                " 'jobs': [" APP_JOB "]}",
                                &o);
    mg_errors *e = FAIL(r);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/1");
    EXPECT_MESSAGE(e, err, "symlink leaves the source root");
    cr_assert_null(fx_find_error(e, MG_ERR_BAD_PATH, "/devices/app/sources/0"));
    cr_assert(calls >= 2, "the callback should see every source (saw %d)", calls);
}

/* --------------------------------------------------- targets and libraries */

Test(errors, unsupported_target_names_device_and_targets)
{
    const char *doc =
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'store': {'device': 'direct_kv_rw', 'args': {'dir': 'data'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_rw -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['store']}]}";
    RESOLVE_OK(doc, "unix", NO_KEYS);
    mg_errors *e = RESOLVE_FAIL(doc, "spt", NO_KEYS);
    const mg_error *err = EXPECT_ERROR(e, MG_ERR_UNSUPPORTED_TARGET, "/devices/store");
    EXPECT_MESSAGE(e, err, "direct_kv_rw");
    EXPECT_MESSAGE(e, err, "unix");
    EXPECT_MESSAGE(e, err, "spt");
}

Test(errors, library_conflict_between_entries)
{
    /* direct_kv_ro wants mg-kv [1.0, 2.0) on unix, fast_kv wants >= 2.0. */
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'devices': {'a': {'device': 'direct_kv_ro', 'args': {'dir': 'a'}},\n"
                     "             'b': {'device': 'fast_kv', 'args': {'dir': 'b'}},\n"
                     "             'app': {'main': 'start', 'type': 'kv_ro -> kv_ro -> job',\n"
                     "                     'sources': ['app.c']}},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['a', 'b']}]}",
                     "unix", NO_KEYS);
    const mg_error *err = EXPECT_ERROR_IN(e, MG_ERR_LIBRARY_CONFLICT, "", "/libraries");
    EXPECT_MESSAGE(e, err, "mg-kv");
    EXPECT_MESSAGE(e, err, "direct_kv_ro");
    EXPECT_MESSAGE(e, err, "fast_kv");
    EXPECT_MESSAGE(e, err, "2.0");
}

Test(errors, library_conflict_with_document_requirement)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'libraries': [{'name': 'mg-kv', 'min': '3.0'}],\n"
        " 'devices': {'a': {'device': 'crunch', 'args': {'dir': 'a'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['a']}]}",
        "unix", NO_KEYS);
    const mg_error *err =
        EXPECT_ERROR_IN(e, MG_ERR_LIBRARY_CONFLICT, "", "/libraries", "/libraries/0");
    EXPECT_MESSAGE(e, err, "mg-kv");
    EXPECT_MESSAGE(e, err, "crunch");
    EXPECT_MESSAGE(e, err, "/libraries/0");
    EXPECT_MESSAGE(e, err, "3.0");
    /* "the versions that exist" (resolver.md) */
    EXPECT_MESSAGE(e, err, "2.1.0");
}

Test(errors, library_unknown_name_is_a_conflict)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                                " 'libraries': [{'name': 'mg-nosuch', 'min': '1.0'}],\n"
                                " 'jobs': ['noop']}",
                                NULL, NO_KEYS);
    const mg_error *err =
        EXPECT_ERROR_IN(e, MG_ERR_LIBRARY_CONFLICT, "", "/libraries", "/libraries/0");
    EXPECT_MESSAGE(e, err, "mg-nosuch");
}

/* ------------------------------------------------------------ many errors */

Test(errors, all_check_errors_of_a_document_are_reported)
{
    mg_errors *e = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'c': {'device': 'console', 'args': {'nmae': 'x'}},\n"
        "             'c2': {'device': 'console', 'args': {}, 'bogus': 1},\n"
        "             'other': {'main': 'other', 'type': 'tiem -> job', 'sources': ['o.c']},\n"
        "             'app': {'main': 'start', 'type': 'console -> job',\n"
        "                     'sources': ['../escape.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c']}, 'nosuch', {'device': 'no_ctor', 'args': {}},\n"
        "          {'apply': 'app', 'to': ['default_time']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_PARAM, "/devices/c/args/nmae");
    EXPECT_ERROR_IN(e, MG_ERR_SCHEMA, "/devices/c2/bogus", "/devices/c2");
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_TYPE, "/devices/other/type");
    EXPECT_ERROR(e, MG_ERR_BAD_PATH, "/devices/app/sources/0");
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_NAME, "/jobs/1");
    EXPECT_ERROR_IN(e, MG_ERR_UNKNOWN_DEVICE, "/jobs/2", "/jobs/2/device");
    EXPECT_ERROR(e, MG_ERR_TYPE_MISMATCH, "/jobs/3/to/0");
}

Test(errors, all_evaluation_errors_are_reported)
{
    mg_errors *e =
        RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'keys': {'m1': {'stage': 'configure', 'type': 'int'},\n"
                     "          'm2': {'stage': 'configure', 'type': 'bool'}},\n"
                     " 'devices': {'s1': {'device': 'direct_kv_rw', 'args': {'dir': 'a'}},\n"
                     "             's2': {'device': 'direct_kv_rw', 'args': {'dir': 'b'}},\n"
                     "             'app': {'main': 'start', 'type': 'kv_rw -> kv_rw -> job',\n"
                     "                     'sources': ['app.c']}},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['s1', 's2']}]}",
                     "virtio", NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_MISSING_KEY, "m1");
    EXPECT_ERROR(e, MG_ERR_MISSING_KEY, "m2");
    /* With the keys given, both unsupported devices are still reported. */
    e = RESOLVE_FAIL("{'mgd': 1, 'name': 't',\n"
                     " 'devices': {'s1': {'device': 'direct_kv_rw', 'args': {'dir': 'a'}},\n"
                     "             's2': {'device': 'direct_kv_rw', 'args': {'dir': 'b'}},\n"
                     "             'app': {'main': 'start', 'type': 'kv_rw -> kv_rw -> job',\n"
                     "                     'sources': ['app.c']}},\n"
                     " 'jobs': [{'apply': 'app', 'to': ['s1', 's2']}]}",
                     "virtio", NO_KEYS);
    EXPECT_ERROR(e, MG_ERR_UNSUPPORTED_TARGET, "/devices/s1");
    EXPECT_ERROR(e, MG_ERR_UNSUPPORTED_TARGET, "/devices/s2");
}

Test(errors, several_bad_build_keys_are_all_reported)
{
    mg_errors *e = RESOLVE_FAIL(KEYS_DOC, NULL, KEYS("nokey=1", "hello=x", "n=abc"));
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_KEY, "nokey");
    EXPECT_ERROR(e, MG_ERR_UNKNOWN_KEY, "hello");
    EXPECT_ERROR(e, MG_ERR_BAD_KEY_VALUE, "n");
}

Test(errors, every_code_has_its_spec_name)
{
    static const char *const names[MG_ERR_CODE_COUNT] = {"parse_error",
                                                         "unsupported_version",
                                                         "schema",
                                                         "duplicate_name",
                                                         "unknown_name",
                                                         "unknown_device",
                                                         "unknown_param",
                                                         "missing_param",
                                                         "unknown_type",
                                                         "type_mismatch",
                                                         "not_a_functor",
                                                         "arity",
                                                         "non_exhaustive",
                                                         "job_type",
                                                         "cycle",
                                                         "unknown_key",
                                                         "missing_key",
                                                         "bad_key_value",
                                                         "bad_path",
                                                         "unsupported_target",
                                                         "library_conflict",
                                                         "limit"};
    for (int c = 0; c < MG_ERR_CODE_COUNT; c++)
        cr_assert_str_eq(mg_error_code_name((mg_error_code)c), names[c]);
}

Test(errors, same_error_is_recorded_once)
{
    mg_errors e = {0};
    mg_errors_add(&e, MG_ERR_CYCLE, "/devices/a", "cycle: %s -> %s", "a", "a");
    mg_errors_add(&e, MG_ERR_CYCLE, "/devices/a", "cycle: %s -> %s", "a", "a");
    mg_errors_add(&e, MG_ERR_CYCLE, "/devices/b", "cycle: %s -> %s", "a", "a");
    size_t n = e.len, n_cycle = mg_errors_count(&e, MG_ERR_CYCLE);
    mg_errors_free(&e);
    cr_assert_eq(n, 2);
    cr_assert_eq(n_cycle, 2);
}
