/*
 * Regressions: each test here failed before the fix it names (found by
 * review and fuzzing), and keeps the bug from coming back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "fixtures.h"
#include "graph/describe.h"

FX_SUITE(regressions);

/* Keys were appended by copying the whole array each time: 8000 keys
 * took 12 s and 3 GB. 20000 keys must resolve well inside the timeout. */
Test(regressions, many_keys_resolve_in_linear_space, .timeout = 30)
{
    size_t n = 20000, cap = n * 64 + 256, off = 0;
    char *doc = fx_keep(malloc(cap));
    off += (size_t)snprintf(doc + off, cap - off, "{\"mgd\": 1, \"name\": \"k\", \"keys\": {");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(doc + off, cap - off,
                                "%s\"k%zu\": {\"stage\": \"runtime\", \"type\": \"bool\"}",
                                i ? "," : "", i);
    off += (size_t)snprintf(doc + off, cap - off, "}, \"jobs\": [\"noop\"]}");
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_graph *g = OK(fx_resolve_raw(doc, off, &o));
    cr_assert_eq(g->n_runtime_keys, n);
}

/* Error lists are capped: 1000 unknown names give MG_ERRORS_MAX errors and
 * one `limit` note, not a quadratic report. */
Test(regressions, errors_are_capped_with_a_note)
{
    size_t n = 1000, cap = n * 16 + 128, off = 0;
    char *doc = fx_keep(malloc(cap));
    off += (size_t)snprintf(doc + off, cap - off, "{\"mgd\": 1, \"name\": \"e\", \"jobs\": [");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(doc + off, cap - off, "%s\"x%zu\"", i ? "," : "", i);
    off += (size_t)snprintf(doc + off, cap - off, "]}");
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_errors *errs = FAIL(fx_resolve_raw(doc, off, &o));
    cr_assert_eq(errs->len, MG_ERRORS_MAX + 1);
    cr_assert_eq(errs->items[MG_ERRORS_MAX].code, MG_ERR_LIMIT);
    cr_assert_eq(mg_errors_count(errs, MG_ERR_UNKNOWN_NAME), MG_ERRORS_MAX);
}

/* Messages were cut at 1023 bytes, possibly inside a UTF-8 sequence,
 * making the errors JSON invalid. */
Test(regressions, long_messages_stay_whole_and_valid_utf8)
{
    char name[2048] = "a";
    for (size_t i = 0; i < 700; i++) strcat(name, "\xc3\xa9");
    mg_errors *errs =
        FAIL(fx_resolve(fx_jsonf("{'mgd': 1, 'name': 'u', 'jobs': ['%s']}", name), NULL, NO_KEYS));
    const mg_error *e = EXPECT_ERROR(errs, MG_ERR_UNKNOWN_NAME, "/jobs/0");
    cr_assert(strstr(e->message, name), "the message lost part of the name");
    char *json = fx_keep(mg_errors_json(errs));
    size_t len = strlen(json);
    for (size_t i = 0; i < len;) {
        size_t k = mg_utf8_len(json + i, len - i);
        cr_assert(k, "invalid UTF-8 at byte %zu of the errors JSON", i);
        i += k;
    }
}

/* A string given to a *scalar* param was taken as a mention of the catalog
 * entry of that name, adding its keys to the output. */
Test(regressions, scalar_string_arg_is_not_a_mention)
{
    mg_graph *g =
        RESOLVE_OK("{'mgd': 1, 'name': 's',\n"
                   " 'devices': {'d': {'device': 'crunch', 'args': {'dir': 'generic_kv_ro'}}},\n"
                   " 'jobs': [{'apply': {'main': 'f', 'type': 'kv_ro -> job'}, 'to': ['d']}]}",
                   NULL, NO_KEYS);
    cr_assert_null(fx_key(g, "kv_ro"), "kv_ro came from a string that is a directory name");
}

/* User code could list a catalog runtime key whose entry was not in the
 * graph: describe succeeded but no accessor was generated. */
Test(regressions, runtime_key_read_by_code_is_in_the_image)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'p',\n"
        " 'devices': {'unused': {'device': 'http_server', 'args': {'stack':\n"
        "                {'device': 'generic_stack', 'args': {'network': 'default_network'}}}},\n"
        "             'app': {'main': 'f', 'type': 'job', 'runtime_keys': ['port']}},\n"
        " 'jobs': ['app']}",
        NULL, NO_KEYS);
    cr_assert_eq(fx_count_impl(g, "http_server"), 0);
    const mg_graph_key *k = fx_runtime_key(g, "port");
    cr_assert_not_null(k, "port is read by the code but not in runtime_keys");
    cr_assert_eq(k->value.i, 80);
}

/* `apply` made instances the device count did not see: 41000 jobs from
 * one functor. Instances are now limited to 4 per allowed device. */
Test(regressions, instances_are_limited)
{
    char doc[4096];
    size_t off = (size_t)snprintf(doc, sizeof doc,
                                  "{'mgd': 1, 'name': 'a', 'devices': {'p': {'main': 'f', 'type': "
                                  "'console -> job'}}, 'jobs': [");
    for (int i = 0; i < 30; i++)
        off += (size_t)snprintf(doc + off, sizeof doc - off,
                                "%s{'apply': 'p', 'to': ['default_console']}", i ? ", " : "");
    snprintf(doc + off, sizeof doc - off, "]}");
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    o.limits.max_devices = 5;
    mg_errors *errs = FAIL(fx_resolve_opts(doc, &o));
    const mg_error *e = EXPECT_ERROR(errs, MG_ERR_LIMIT, "");
    EXPECT_MESSAGE(errs, e, "20 instances");
}

/* A declaration with a mistake made every use of its name an error too. */
Test(regressions, broken_declarations_do_not_cascade)
{
    mg_errors *errs = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 'b',\n"
        " 'keys': {'fast': {'stage': 'configure', 'type': 'bool', 'doc': 5},\n"
        "          'port': {'stage': 'runtime', 'type': 'int', 'default': 'eighty'}},\n"
        " 'devices': {'Disk': 'default_console',\n"
        "             'c': {'if': 'fast', 'then': 'default_console', 'else': 'Disk'},\n"
        "             'app': {'main': 'f', 'type': 'console -> job', 'runtime_keys': ['port']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c']}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(errs, MG_ERR_SCHEMA, "/keys/fast/doc");
    EXPECT_ERROR(errs, MG_ERR_BAD_KEY_VALUE, "/keys/port/default");
    EXPECT_ERROR(errs, MG_ERR_SCHEMA, "/devices/Disk");
    cr_assert_eq(errs->len, 3, "follow-on errors:\n%s", fx_errs_text(errs));
}

/* "1" and "01" are the same int: the second case could never be chosen. */
Test(regressions, repeated_match_case_value)
{
    mg_errors *errs = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 'm', 'keys': {'n': {'stage': 'configure', 'type': 'int', 'default': "
        "1}},\n"
        " 'jobs': [{'match': 'n', 'cases': {'1': 'noop', '01': 'noop'}, 'default': 'noop'}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(errs, MG_ERR_SCHEMA, "/jobs/0/cases/01");
}

/* Errors pointed at the enclosing member instead of the offending one. */
Test(regressions, precise_pointers_for_keys)
{
    mg_errors *errs = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 'k',\n"
        " 'keys': {'s': {'stage': 'configure', 'type': 'string',\n"
        "                'default': {'by_target': {'unix': 'a', 'nope': 'b'}}}},\n"
        " 'jobs': [{'if': {'key': 'nokey', 'equals': 1}, 'then': 'noop', 'else': 'noop'}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(errs, MG_ERR_UNKNOWN_KEY, "/jobs/0/if/key");
    EXPECT_ERROR(errs, MG_ERR_BAD_KEY_VALUE, "/keys/s/default/by_target/nope");
}

/* User symbols that broke the generated main.c are refused up front. */
Test(regressions, user_symbols_that_main_c_cannot_declare)
{
    static const char *const bad[] = {"strcmp", "int",  "_start",  "size_t", "MG_X",
                                      "mg_y",   "bool", "INT64_C", "9lives"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mg_errors *errs = RESOLVE_FAIL(
            fx_jsonf("{'mgd': 1, 'name': 's', 'devices': {'m': {'main': '%s', 'type': 'job'}},"
                     " 'jobs': ['m']}",
                     bad[i]),
            NULL, NO_KEYS);
        EXPECT_ERROR(errs, MG_ERR_SCHEMA, "/devices/m/main");
    }
    RESOLVE_OK("{'mgd': 1, 'name': 's', 'devices': {'m': {'main': 'rc', 'type': 'job'}},"
               " 'jobs': ['m']}",
               NULL, NO_KEYS);
}

/* Flags that make the compiler read or write files were allowed. */
Test(regressions, cflags_that_touch_files_are_refused)
{
    static const char *const bad[] = {"-fplugin=x.so",
                                      "-fprofile-use=d",
                                      "-gsplit-dwarf",
                                      "-ffile-prefix-map=a=b",
                                      "-Wl,-T,x",
                                      "-o",
                                      "-D",
                                      "-O9",
                                      "-gabc1", /* looked like -ggdb1 by its length once */
                                      "-gx"};
    static const char *const good[] = {"-O2",    "-Os",         "-g3",
                                       "-ggdb1", "-DX=1",       "-UY",
                                       "-fPIC",  "-fno-common", "-fvisibility=hidden",
                                       "-Wall",  "-std=c11"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mg_errors *errs = RESOLVE_FAIL(
            fx_jsonf("{'mgd': 1, 'name': 'c', 'devices': {'m': {'main': 'f', 'type': 'job',"
                     " 'cflags': ['%s']}}, 'jobs': ['m']}",
                     bad[i]),
            NULL, NO_KEYS);
        EXPECT_ERROR(errs, MG_ERR_SCHEMA, "/devices/m/cflags/0");
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        RESOLVE_OK(fx_jsonf("{'mgd': 1, 'name': 'c', 'devices': {'m': {'main': 'f', 'type': 'job',"
                            " 'cflags': ['%s']}}, 'jobs': ['m']}",
                            good[i]),
                   NULL, NO_KEYS);
}

/* A source named like an option would reach the compiler as one. */
Test(regressions, source_path_starting_with_dash)
{
    mg_errors *errs =
        RESOLVE_FAIL("{'mgd': 1, 'name': 'd', 'devices': {'m': {'main': 'f', 'type': 'job',"
                     " 'sources': ['ok.c', 'sub/-fplugin=x.c']}}, 'jobs': ['m']}",
                     NULL, NO_KEYS);
    EXPECT_ERROR(errs, MG_ERR_BAD_PATH, "/devices/m/sources/1");
    cr_assert_eq(errs->len, 1, "%s", fx_errs_text(errs));
}

/* Evaluation recursed once per named device along a chain: 1000 devices,
 * each naming the previous one, overflowed a 2 MiB stack under ASan.
 * Chains are now limited; checking memoised devices in document order had
 * hidden the depth. */
Test(regressions, long_chains_of_names_are_limited)
{
    size_t cap = 200 * 96 + 512, off = 0;
    char *doc = fx_keep(malloc(cap));
    off += (size_t)snprintf(doc + off, cap - off,
                            "{\"mgd\": 1, \"name\": \"c\", \"devices\": {\"d0\": "
                            "\"default_console\"");
    for (int i = 1; i < 200; i++)
        off += (size_t)snprintf(doc + off, cap - off, ", \"d%d\": \"d%d\"", i, i - 1);
    off += (size_t)snprintf(doc + off, cap - off,
                            "}, \"jobs\": [{\"apply\": {\"main\": \"f\", \"type\": \"console -> "
                            "job\"}, \"to\": [\"d199\"]}]}");
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_errors *errs = FAIL(fx_resolve_raw(doc, off, &o));
    EXPECT_ERROR(errs, MG_ERR_LIMIT, "/devices/d128");
    cr_assert_eq(errs->len, 1, "%s", fx_errs_text(errs));
    /* exactly at the limit is fine */
    off = (size_t)snprintf(doc, cap,
                           "{\"mgd\": 1, \"name\": \"c\", \"devices\": {\"d0\": "
                           "\"default_console\"");
    for (int i = 1; i < MG_MAX_DEVICE_CHAIN; i++)
        off += (size_t)snprintf(doc + off, cap - off, ", \"d%d\": \"d%d\"", i, i - 1);
    off += (size_t)snprintf(doc + off, cap - off,
                            "}, \"jobs\": [{\"apply\": {\"main\": \"f\", \"type\": \"console -> "
                            "job\"}, \"to\": [\"d%d\"]}]}",
                            MG_MAX_DEVICE_CHAIN - 1);
    OK(fx_resolve_raw(doc, off, &o));
}
