#include "graph/describe.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "graph/codegen.h"

/* A JSON string. Text from the command line (--key, --target) was never
 * checked as UTF-8, so the escaper's U+FFFD for invalid bytes keeps the
 * output valid JSON. */
static void json_str(mg_buf *b, const char *s)
{
    mg_buf_json_string(b, s, strlen(s));
}

/* A key value as JSON: bools and ints bare, everything else a string. An
 * int beyond +-(2^53 - 1) is a string too, as documents must write it: a
 * JSON number would not carry it exactly (resolver.md). */
static void json_value(mg_buf *b, const mg_key_value *v)
{
    if (v->type == MG_KEY_BOOL)
        mg_buf_adds(b, v->b ? "true" : "false");
    else if (v->type == MG_KEY_INT && v->i > -9007199254740992 && v->i < 9007199254740992)
        mg_buf_printf(b, "%" PRId64, v->i);
    else if (v->type == MG_KEY_INT)
        mg_buf_printf(b, "\"%" PRId64 "\"", v->i);
    else
        json_str(b, v->text);
}

static void json_runtime_key(mg_buf *b, const mg_graph_key *k)
{
    mg_buf_adds(b, "{\"name\": ");
    json_str(b, k->name);
    mg_buf_adds(b, ", \"type\": ");
    json_str(b, mg_key_type_name(k->type));
    if (k->n_values) {
        mg_buf_adds(b, ", \"values\": [");
        for (size_t i = 0; i < k->n_values; i++) {
            if (i) mg_buf_adds(b, ", ");
            json_str(b, k->values[i]);
        }
        mg_buf_adds(b, "]");
    }
    if (k->has_value) {
        mg_buf_adds(b, ", \"default\": ");
        json_value(b, &k->value);
    }
    mg_buf_adds(b, ", \"doc\": ");
    json_str(b, k->doc ? k->doc : "");
    mg_buf_adds(b, "}");
}

static void json_node(mg_buf *b, const mg_graph *g, const mg_graph_node *n)
{
    mg_buf_adds(b, "{\"id\": ");
    json_str(b, n->id);
    mg_buf_adds(b, ", \"impl\": ");
    json_str(b, n->impl);
    mg_buf_adds(b, ", \"type\": ");
    json_str(b, n->type);
    if (n->code) {
        mg_buf_adds(b, ", \"symbol\": ");
        json_str(b, n->code->symbol);
    }
    mg_buf_adds(b, ", \"deps\": [");
    for (size_t i = 0; i < n->n_deps; i++) {
        if (i) mg_buf_adds(b, ", ");
        json_str(b, g->nodes[n->deps[i]].id);
    }
    mg_buf_adds(b, "], \"args\": {");
    for (size_t i = 0; i < n->n_args; i++) {
        const mg_graph_arg *a = &n->args[i];
        if (i) mg_buf_adds(b, ", ");
        json_str(b, a->name);
        mg_buf_adds(b, ": ");
        if (a->runtime_key) {
            mg_buf_adds(b, "{\"key\": ");
            json_str(b, a->key);
            mg_buf_adds(b, "}");
        } else {
            json_value(b, &a->value);
        }
    }
    mg_buf_adds(b, "}, \"from\": ");
    json_str(b, n->from);
    mg_buf_adds(b, "}");
}

char *mg_describe_json(const mg_graph *g)
{
    mg_buf b = {0};
    mg_buf_adds(&b, "{\n  \"name\": ");
    json_str(&b, g->name);
    mg_buf_adds(&b, ",\n  \"target\": ");
    json_str(&b, g->target);
    mg_buf_adds(&b, ",\n  \"arch\": ");
    json_str(&b, g->arch);
    mg_buf_adds(&b, ",\n  \"keys\": {");
    for (size_t i = 0; i < g->n_keys; i++) {
        mg_buf_adds(&b, i ? ", " : " ");
        json_str(&b, g->keys[i].name);
        mg_buf_adds(&b, ": ");
        json_value(&b, &g->keys[i].value);
    }
    mg_buf_adds(&b, " },\n  \"runtime_keys\": [");
    for (size_t i = 0; i < g->n_runtime_keys; i++) {
        mg_buf_adds(&b, i ? ",\n    " : "\n    ");
        json_runtime_key(&b, &g->runtime_keys[i]);
    }
    mg_buf_adds(&b, g->n_runtime_keys ? "\n  ],\n  \"devices\": [" : "],\n  \"devices\": [");
    for (size_t i = 0; i < g->n_nodes; i++) {
        mg_buf_adds(&b, i ? ",\n    " : "\n    ");
        json_node(&b, g, &g->nodes[i]);
    }
    mg_buf_adds(&b, "\n  ],\n  \"jobs\": [");
    for (size_t i = 0; i < g->n_jobs; i++) {
        mg_buf_adds(&b, i ? ", " : " ");
        json_str(&b, g->nodes[g->jobs[i]].id);
    }
    mg_buf_adds(&b, " ],\n  \"libraries\": [");
    for (size_t i = 0; i < g->n_libraries; i++) {
        mg_buf_adds(&b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        json_str(&b, g->libraries[i].name);
        mg_buf_adds(&b, ", \"version\": ");
        json_str(&b, g->libraries[i].version);
        mg_buf_adds(&b, "}");
    }
    mg_buf_adds(&b, g->n_libraries ? "\n  ],\n  \"sources\": [" : "],\n  \"sources\": [");
    for (size_t i = 0; i < g->n_sources; i++) {
        mg_buf_adds(&b, i ? ", " : " ");
        json_str(&b, g->sources[i]);
    }
    mg_buf_adds(&b, g->n_sources ? " ],\n  \"notices\": [" : "],\n  \"notices\": [");
    for (size_t i = 0; i < g->n_notices; i++) {
        mg_buf_adds(&b, i ? ", " : " ");
        json_str(&b, g->notices[i]);
    }
    mg_buf_adds(&b, g->n_notices ? " ],\n  \"files\": [" : "],\n  \"files\": [");
    for (size_t i = 0; i < MG_CODEGEN_N_FILES; i++) {
        mg_buf_adds(&b, i ? ", " : " ");
        json_str(&b, mg_codegen_files[i]);
    }
    mg_buf_adds(&b, " ]\n}\n");
    return mg_buf_xtake(&b);
}

static void dot_str(mg_buf *b, const char *s)
{
    mg_buf_adds(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') mg_buf_adds(b, "\\");
        mg_buf_add(b, s, 1);
    }
    mg_buf_adds(b, "\"");
}

char *mg_describe_dot(const mg_graph *g)
{
    mg_buf b = {0};
    mg_buf_adds(&b, "digraph ");
    dot_str(&b, g->name);
    mg_buf_adds(&b, " {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_graph_node *n = &g->nodes[i];
        mg_buf_adds(&b, "  ");
        dot_str(&b, n->id);
        mg_buf_adds(&b, " [label=\"");
        /* label: id, then impl (and the C symbol for user code) */
        mg_buf_printf(&b, "%s\\n%s", n->id, n->impl);
        if (n->code) mg_buf_printf(&b, " (%s)", n->code->symbol);
        mg_buf_adds(&b, "\"];\n");
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t d = 0; d < g->nodes[i].n_deps; d++) {
            mg_buf_adds(&b, "  ");
            dot_str(&b, g->nodes[i].id);
            mg_buf_adds(&b, " -> ");
            dot_str(&b, g->nodes[g->nodes[i].deps[d]].id);
            mg_buf_adds(&b, ";\n");
        }
    mg_buf_adds(&b, "}\n");
    return mg_buf_xtake(&b);
}

char *mg_errors_json(const mg_errors *errs)
{
    mg_buf b = {0};
    mg_buf_adds(&b, "{\"errors\": [");
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        mg_buf_adds(&b, i ? ",\n  {\"code\": " : "\n  {\"code\": ");
        json_str(&b, mg_error_code_name(e->code));
        mg_buf_adds(&b, ", \"path\": ");
        json_str(&b, e->path);
        mg_buf_adds(&b, ", \"message\": ");
        json_str(&b, e->message);
        mg_buf_adds(&b, "}");
    }
    mg_buf_adds(&b, errs->len ? "\n]}\n" : "]}\n");
    return mg_buf_xtake(&b);
}

char *mg_errors_text(const mg_errors *errs)
{
    mg_buf b = {0};
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        mg_buf_printf(&b, "%s: %s: %s\n", e->path[0] ? e->path : "(document)",
                      mg_error_code_name(e->code), e->message);
    }
    return mg_buf_xtake(&b);
}
