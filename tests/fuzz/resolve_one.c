#include "resolve_one.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/codegen.h"
#include "graph/describe.h"
#include "graph/resolve.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz: %s\n", what);
    abort();
}

static void one(const mg_catalog *cat, const char *bytes, size_t len, const mg_resolve_options *o)
{
    mg_errors errs = {0};
    mg_graph *g = mg_resolve(cat, bytes, len, o, &errs);
    if (!g) {
        if (!errs.len) fail("resolve failed without an error");
        for (size_t i = 0; i < errs.len; i++) {
            if (errs.items[i].code >= MG_ERR_CODE_COUNT) fail("unknown error code");
            if (!errs.items[i].message[0]) fail("empty error message");
        }
        char *json = mg_errors_json(&errs);
        cJSON *back = cJSON_Parse(json);
        if (!back) fail("errors JSON does not parse");
        cJSON_Delete(back);
        free(json);
        mg_errors_free(&errs);
        return;
    }
    if (errs.len) fail("a graph came with errors");
    char *json = mg_describe_json(g), *dot = mg_describe_dot(g);
    char *main_c = mg_codegen_main_c(g), *keys_h = mg_codegen_keys_h(g);
    cJSON *back = cJSON_Parse(json);
    if (!back) fail("describe JSON does not parse");
    cJSON_Delete(back);
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t d = 0; d < g->nodes[i].n_deps; d++)
            if (g->nodes[i].deps[d] >= i) fail("a dep does not come before its node");
    mg_graph *g2 = mg_resolve(cat, bytes, len, o, &errs);
    if (!g2) fail("second resolve failed");
    char *json2 = mg_describe_json(g2);
    if (strcmp(json, json2)) fail("describe output is not stable");
    free(json2);
    mg_graph_free(g2);
    free(json);
    free(dot);
    free(main_c);
    free(keys_h);
    mg_graph_free(g);
    mg_errors_free(&errs);
}

void mg_fuzz_resolve_one(const mg_catalog *cat, const char *bytes, size_t len, int variants)
{
    mg_resolve_options o = {.target = "unix", .arch = "x86_64"};
    one(cat, bytes, len, &o);
    if (!variants) return;
    static const mg_key_setting keys[] = {
        {"kv_ro", "direct"}, {"block", "ramdisk"}, {"backing", "memory"}, {"x", "1"}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        o.keys = &keys[i];
        o.n_keys = 1;
        one(cat, bytes, len, &o);
    }
    o = (mg_resolve_options){.target = "spt", .arch = "aarch64"};
    one(cat, bytes, len, &o);
    o.limits = (mg_limits){.max_bytes = 512, .max_depth = 4, .max_devices = 3};
    one(cat, bytes, len, &o);
}
