/* Limits (size, depth, device count): the `limit` error, defaults and options. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

FX_SUITE(limits);

/* A document whose jobs[0] is wrapped in `depth` arrays. */
static char *nested_doc(int depth)
{
    size_t cap = 128 + 2 * (size_t)depth;
    char *s = fx_keep(malloc(cap));
    strcpy(s, "{\"mgd\": 1, \"name\": \"t\", \"jobs\": [");
    size_t l = strlen(s);
    for (int i = 0; i < depth; i++) s[l++] = '[';
    strcpy(s + l, "\"noop\"");
    l += 6;
    for (int i = 0; i < depth; i++) s[l++] = ']';
    strcpy(s + l, "]}");
    return s;
}

Test(limits, depth_over_64)
{
    char *doc = nested_doc(70);
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_errors *e = FAIL(fx_resolve_raw(doc, strlen(doc), &o));
    const mg_error *err = EXPECT_ERROR_PREFIX(e, MG_ERR_LIMIT, "");
    cr_assert(err->path[0] == '\0' || strncmp(err->path, "/jobs", 5) == 0,
              "depth limit at an odd path:\n%s", fx_errs_text(e));
}

Test(limits, depth_64_is_allowed_65_is_not)
{
    /* The top-level object is depth 1, jobs 2, so 62 arrays make 64. At
     * 64 the nested arrays are only a schema problem, not a limit. */
    char *doc = nested_doc(62);
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_errors *e = FAIL(fx_resolve_raw(doc, strlen(doc), &o));
    cr_assert_null(fx_find_error(e, MG_ERR_LIMIT, NULL), "depth 64 is within the limit:\n%s",
                   fx_errs_text(e));
    doc = nested_doc(63);
    e = FAIL(fx_resolve_raw(doc, strlen(doc), &o));
    EXPECT_ERROR_PREFIX(e, MG_ERR_LIMIT, "");
}

Test(limits, depth_is_an_option)
{
    /* 12 levels of nested if: fine by default, too deep with max_depth 8. */
    const char *inner = "'default_console'";
    char *expr = fx_json(inner);
    for (int i = 0; i < 12; i++)
        expr = fx_jsonf("{'if': 'b', 'then': %s, 'else': 'default_console'}", expr);
    char *doc = fx_jsonf(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'b': {'stage': 'configure', 'type': 'bool', 'default': true}},\n"
        " 'devices': {'d': %s,\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        expr);
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_graph *g = OK(fx_resolve_raw(doc, strlen(doc), &o));
    ONLY(g, "console");

    o.limits.max_depth = 8;
    mg_errors *e = FAIL(fx_resolve_raw(doc, strlen(doc), &o));
    EXPECT_ERROR_PREFIX(e, MG_ERR_LIMIT, "");
}

Test(limits, max_devices_option)
{
    const char *doc =
        "{'mgd': 1, 'name': 't',\n"
        " 'devices': {'a': {'device': 'console', 'args': {'name': 'a'}},\n"
        "             'b': {'device': 'console', 'args': {'name': 'b'}},\n"
        "             'c': {'device': 'console', 'args': {'name': 'c'}},\n"
        "             'app': {'main': 'start', 'type': 'console -> console -> console -> job',\n"
        "                     'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['a', 'b', 'c']}]}";
    RESOLVE_OK(doc, NULL, NO_KEYS);
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    o.limits.max_devices = 2;
    mg_errors *e = FAIL(fx_resolve_opts(doc, &o));
    const mg_error *err = EXPECT_ERROR_PREFIX(e, MG_ERR_LIMIT, "");
    cr_assert(err->path[0] == '\0' || strncmp(err->path, "/devices", 8) == 0 ||
                  strncmp(err->path, "/jobs", 5) == 0,
              "device limit at an odd path:\n%s", fx_errs_text(e));
}

Test(limits, default_max_devices_is_1000)
{
    size_t n = 1001, cap = 256 + n * 64;
    char *doc = fx_keep(malloc(cap));
    strcpy(doc, "{\"mgd\": 1, \"name\": \"t\", \"devices\": {");
    size_t l = strlen(doc);
    for (size_t i = 0; i < n; i++)
        l += (size_t)snprintf(doc + l, cap - l,
                              "%s\"d%zu\": {\"device\": \"kv_rw_mem\", \"args\": {}}",
                              i ? ", " : "", i);
    strcpy(doc + l, "}, \"jobs\": [\"noop\"]}");
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_errors *e = FAIL(fx_resolve_raw(doc, strlen(doc), &o));
    EXPECT_ERROR_PREFIX(e, MG_ERR_LIMIT, "");
}

Test(limits, max_bytes_option)
{
    const char *doc = fx_json("{'mgd': 1, 'name': 'a-reasonably-long-name', 'jobs': ['noop'],\n"
                              " 'reporter': 'default_reporter'}");
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    OK(fx_resolve_raw(doc, strlen(doc), &o));
    o.limits.max_bytes = 40;
    mg_errors *e = FAIL(fx_resolve_raw(doc, strlen(doc), &o));
    EXPECT_ERROR(e, MG_ERR_LIMIT, "");
}

Test(limits, default_max_bytes_is_1mib)
{
    const char *head = "{\"mgd\": 1, \"name\": \"t\", \"jobs\": [\"noop\"]";
    size_t len = (1u << 20) + 1;
    char *doc = fx_keep(malloc(len + 1));
    memset(doc, ' ', len);
    memcpy(doc, head, strlen(head));
    doc[len - 1] = '}';
    doc[len] = '\0';
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    mg_errors *e = FAIL(fx_resolve_raw(doc, len, &o));
    EXPECT_ERROR(e, MG_ERR_LIMIT, "");

    /* The same document within the limit (blanks trimmed) resolves. */
    size_t small = (1u << 20) - 16;
    doc[small - 1] = '}';
    OK(fx_resolve_raw(doc, small, &o));
}

Test(limits, check_honours_limits)
{
    const char *doc = fx_json("{'mgd': 1, 'name': 't', 'jobs': ['noop']}");
    mg_errors errs = {0};
    mg_limits lim = {.max_bytes = 10};
    bool ok = mg_config_check(fx_cat, doc, strlen(doc), &lim, &errs);
    const mg_error *e = fx_find_error(&errs, MG_ERR_LIMIT, "");
    const char *text = fx_errs_text(&errs);
    bool found = e != NULL;
    mg_errors_free(&errs);
    cr_assert(!ok, "mg_config_check accepted a document over max_bytes");
    cr_assert(found, "expected limit at \"\"; got:\n%s", text);
}
