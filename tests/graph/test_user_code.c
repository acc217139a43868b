/*
 * What a config says about the user's own code (symbols, cflags, source
 * paths, runtime keys it reads) is checked before anything is generated or
 * compiled: nothing it names may break main.c or reach the compiler as an
 * option or a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "graph/describe.h"
#include "graph/json.h"

FX_SUITE(user_code);

/* User symbols that broke the generated main.c are refused up front. */
Test(user_code, user_symbols_that_main_c_cannot_declare)
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
Test(user_code, cflags_that_touch_files_are_refused)
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
Test(user_code, source_path_starting_with_dash)
{
    mg_errors *errs =
        RESOLVE_FAIL("{'mgd': 1, 'name': 'd', 'devices': {'m': {'main': 'f', 'type': 'job',"
                     " 'sources': ['ok.c', 'sub/-fplugin=x.c']}}, 'jobs': ['m']}",
                     NULL, NO_KEYS);
    EXPECT_ERROR(errs, MG_ERR_BAD_PATH, "/devices/m/sources/1");
    cr_assert_eq(errs->len, 1, "%s", fx_errs_text(errs));
}

/* User code could list a catalog runtime key whose entry was not in the
 * graph: describe succeeded but no accessor was generated. */
Test(user_code, runtime_key_read_by_code_is_in_the_image)
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
