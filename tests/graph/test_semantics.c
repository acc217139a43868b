/*
 * Meaning of a config document where it is subtle: a string given to a
 * scalar is not a mention, equal int cases collide, a broken declaration
 * is reported once, and errors point at the member at fault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "graph/describe.h"
#include "graph/json.h"

FX_SUITE(semantics);

/* A string given to a *scalar* param was taken as a mention of the catalog
 * entry of that name, adding its keys to the output. */
Test(semantics, scalar_string_arg_is_not_a_mention)
{
    mg_graph *g =
        RESOLVE_OK("{'mgd': 1, 'name': 's',\n"
                   " 'devices': {'d': {'device': 'crunch', 'args': {'dir': 'generic_kv_ro'}}},\n"
                   " 'jobs': [{'apply': {'main': 'f', 'type': 'kv_ro -> job'}, 'to': ['d']}]}",
                   NULL, NO_KEYS);
    cr_assert_null(fx_key(g, "kv_ro"), "kv_ro came from a string that is a directory name");
}

/* "1" and "01" are the same int: the second case could never be chosen. */
Test(semantics, repeated_match_case_value)
{
    mg_errors *errs = RESOLVE_FAIL(
        "{'mgd': 1, 'name': 'm', 'keys': {'n': {'stage': 'configure', 'type': 'int', 'default': "
        "1}},\n"
        " 'jobs': [{'match': 'n', 'cases': {'1': 'noop', '01': 'noop'}, 'default': 'noop'}]}",
        NULL, NO_KEYS);
    EXPECT_ERROR(errs, MG_ERR_SCHEMA, "/jobs/0/cases/01");
}

/* A declaration with a mistake made every use of its name an error too. */
Test(semantics, broken_declarations_do_not_cascade)
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

/* Errors pointed at the enclosing member instead of the offending one. */
Test(semantics, precise_pointers_for_keys)
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
