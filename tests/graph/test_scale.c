/*
 * Configs built to exhaust the resolver: many keys, errors, instances and
 * chains of names stay within linear time and bounded memory, and long
 * messages stay whole and valid UTF-8. Each case once cost seconds or
 * gigabytes, or crashed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "graph/describe.h"
#include "base/utf8.h"
#include "graph/json.h"

FX_SUITE(scale);

/* Keys were appended by copying the whole array each time: 8000 keys
 * took 12 s and 3 GB. 20000 keys must resolve well inside the timeout. */
Test(scale, many_keys_resolve_in_linear_space, .timeout = 30)
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
Test(scale, errors_are_capped_with_a_note)
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
Test(scale, long_messages_stay_whole_and_valid_utf8)
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

/* `apply` made instances the device count did not see: 41000 jobs from
 * one functor. Instances are now limited to 4 per allowed device. */
Test(scale, instances_are_limited)
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

/* The bound is exact: with 5 allowed devices the largest graph that
 * resolves has exactly 20 instances, and one `apply` more is refused (a
 * mutant that let one instance more through survived the test above). */
Test(scale, instance_bound_is_exact)
{
    mg_resolve_options o = fx_options(NULL, NO_KEYS);
    o.limits.max_devices = 5;
    size_t largest = 0;
    bool refused = false;
    for (int n = 1; n <= 30 && !refused; n++) {
        char doc[4096];
        size_t off = (size_t)snprintf(doc, sizeof doc,
                                      "{'mgd': 1, 'name': 'a', 'devices': {'p': {'main': 'f', "
                                      "'type': 'console -> job'}}, 'jobs': [");
        for (int i = 0; i < n; i++)
            off += (size_t)snprintf(doc + off, sizeof doc - off,
                                    "%s{'apply': 'p', 'to': ['default_console']}", i ? ", " : "");
        snprintf(doc + off, sizeof doc - off, "]}");
        fx_run *r = fx_resolve_opts(doc, &o);
        if (r->g)
            largest = r->g->n_nodes;
        else
            refused = EXPECT_ERROR(&r->errs, MG_ERR_LIMIT, "") != NULL;
    }
    cr_assert(refused, "30 applications of a functor resolved with 5 devices allowed");
    cr_assert_eq(largest, 20, "the largest graph that resolved has %zu instances, not 20", largest);
}

/* Evaluation recursed once per named device along a chain: 1000 devices,
 * each naming the previous one, overflowed a 2 MiB stack under ASan.
 * Chains are now limited; checking memoised devices in document order had
 * hidden the depth. */
Test(scale, long_chains_of_names_are_limited)
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
