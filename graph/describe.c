#include "graph/describe.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "graph/codegen.h"
#include "graph/json.h"
#include "graph/strbuf.h"

/* A JSON string. Text from the command line (--key, --target) was never
 * checked as UTF-8, so invalid bytes become U+FFFD: the output is always
 * valid JSON. */
static void json_str(mg_strbuf *b, const char *s)
{
    mg_strbuf_append(b, "\"");
    size_t left = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, left--) {
        if (*p >= 0x80) {
            size_t n = mg_utf8_len(p, left);
            if (n) {
                mg_strbuf_appendn(b, (const char *)p, n);
                p += n - 1;
                left -= n - 1;
            } else {
                mg_strbuf_append(b, "\xef\xbf\xbd");
            }
            continue;
        }
        switch (*p) {
        case '"':
            mg_strbuf_append(b, "\\\"");
            break;
        case '\\':
            mg_strbuf_append(b, "\\\\");
            break;
        case '\n':
            mg_strbuf_append(b, "\\n");
            break;
        case '\r':
            mg_strbuf_append(b, "\\r");
            break;
        case '\t':
            mg_strbuf_append(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                mg_strbuf_printf(b, "\\u%04x", *p);
            else
                mg_strbuf_appendn(b, (const char *)p, 1);
        }
    }
    mg_strbuf_append(b, "\"");
}

/* A key value as JSON: bools and ints bare, everything else a string. An
 * int beyond +-(2^53 - 1) is a string too, as documents must write it: a
 * JSON number would not carry it exactly (resolver.md). */
static void json_value(mg_strbuf *b, const mg_key_value *v)
{
    if (v->type == MG_KEY_BOOL)
        mg_strbuf_append(b, v->b ? "true" : "false");
    else if (v->type == MG_KEY_INT && v->i > -9007199254740992 && v->i < 9007199254740992)
        mg_strbuf_printf(b, "%" PRId64, v->i);
    else if (v->type == MG_KEY_INT)
        mg_strbuf_printf(b, "\"%" PRId64 "\"", v->i);
    else
        json_str(b, v->text);
}

static void json_runtime_key(mg_strbuf *b, const mg_graph_key *k)
{
    mg_strbuf_append(b, "{\"name\": ");
    json_str(b, k->name);
    mg_strbuf_append(b, ", \"type\": ");
    json_str(b, mg_key_type_name(k->type));
    if (k->n_values) {
        mg_strbuf_append(b, ", \"values\": [");
        for (size_t i = 0; i < k->n_values; i++) {
            if (i) mg_strbuf_append(b, ", ");
            json_str(b, k->values[i]);
        }
        mg_strbuf_append(b, "]");
    }
    if (k->has_value) {
        mg_strbuf_append(b, ", \"default\": ");
        json_value(b, &k->value);
    }
    mg_strbuf_append(b, ", \"doc\": ");
    json_str(b, k->doc ? k->doc : "");
    mg_strbuf_append(b, "}");
}

static void json_node(mg_strbuf *b, const mg_graph *g, const mg_graph_node *n)
{
    mg_strbuf_append(b, "{\"id\": ");
    json_str(b, n->id);
    mg_strbuf_append(b, ", \"impl\": ");
    json_str(b, n->impl);
    mg_strbuf_append(b, ", \"type\": ");
    json_str(b, n->type);
    if (n->code) {
        mg_strbuf_append(b, ", \"symbol\": ");
        json_str(b, n->code->symbol);
    }
    mg_strbuf_append(b, ", \"deps\": [");
    for (size_t i = 0; i < n->n_deps; i++) {
        if (i) mg_strbuf_append(b, ", ");
        json_str(b, g->nodes[n->deps[i]].id);
    }
    mg_strbuf_append(b, "], \"args\": {");
    for (size_t i = 0; i < n->n_args; i++) {
        const mg_graph_arg *a = &n->args[i];
        if (i) mg_strbuf_append(b, ", ");
        json_str(b, a->name);
        mg_strbuf_append(b, ": ");
        if (a->runtime_key) {
            mg_strbuf_append(b, "{\"key\": ");
            json_str(b, a->key);
            mg_strbuf_append(b, "}");
        } else {
            json_value(b, &a->value);
        }
    }
    mg_strbuf_append(b, "}, \"from\": ");
    json_str(b, n->from);
    mg_strbuf_append(b, "}");
}

char *mg_describe_json(const mg_graph *g)
{
    mg_strbuf b = {0};
    mg_strbuf_append(&b, "{\n  \"name\": ");
    json_str(&b, g->name);
    mg_strbuf_append(&b, ",\n  \"target\": ");
    json_str(&b, g->target);
    mg_strbuf_append(&b, ",\n  \"arch\": ");
    json_str(&b, g->arch);
    mg_strbuf_append(&b, ",\n  \"keys\": {");
    for (size_t i = 0; i < g->n_keys; i++) {
        mg_strbuf_append(&b, i ? ", " : " ");
        json_str(&b, g->keys[i].name);
        mg_strbuf_append(&b, ": ");
        json_value(&b, &g->keys[i].value);
    }
    mg_strbuf_append(&b, " },\n  \"runtime_keys\": [");
    for (size_t i = 0; i < g->n_runtime_keys; i++) {
        mg_strbuf_append(&b, i ? ",\n    " : "\n    ");
        json_runtime_key(&b, &g->runtime_keys[i]);
    }
    mg_strbuf_append(&b, g->n_runtime_keys ? "\n  ],\n  \"devices\": [" : "],\n  \"devices\": [");
    for (size_t i = 0; i < g->n_nodes; i++) {
        mg_strbuf_append(&b, i ? ",\n    " : "\n    ");
        json_node(&b, g, &g->nodes[i]);
    }
    mg_strbuf_append(&b, "\n  ],\n  \"jobs\": [");
    for (size_t i = 0; i < g->n_jobs; i++) {
        mg_strbuf_append(&b, i ? ", " : " ");
        json_str(&b, g->nodes[g->jobs[i]].id);
    }
    mg_strbuf_append(&b, " ],\n  \"libraries\": [");
    for (size_t i = 0; i < g->n_libraries; i++) {
        mg_strbuf_append(&b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        json_str(&b, g->libraries[i].name);
        mg_strbuf_append(&b, ", \"version\": ");
        json_str(&b, g->libraries[i].version);
        mg_strbuf_append(&b, "}");
    }
    mg_strbuf_append(&b, g->n_libraries ? "\n  ],\n  \"sources\": [" : "],\n  \"sources\": [");
    for (size_t i = 0; i < g->n_sources; i++) {
        mg_strbuf_append(&b, i ? ", " : " ");
        json_str(&b, g->sources[i]);
    }
    mg_strbuf_append(&b, g->n_sources ? " ],\n  \"files\": [" : "],\n  \"files\": [");
    for (size_t i = 0; i < MG_CODEGEN_N_FILES; i++) {
        mg_strbuf_append(&b, i ? ", " : " ");
        json_str(&b, mg_codegen_files[i]);
    }
    mg_strbuf_append(&b, " ]\n}\n");
    return mg_strbuf_take(&b);
}

static void dot_str(mg_strbuf *b, const char *s)
{
    mg_strbuf_append(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') mg_strbuf_append(b, "\\");
        mg_strbuf_appendn(b, s, 1);
    }
    mg_strbuf_append(b, "\"");
}

char *mg_describe_dot(const mg_graph *g)
{
    mg_strbuf b = {0};
    mg_strbuf_append(&b, "digraph ");
    dot_str(&b, g->name);
    mg_strbuf_append(&b, " {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_graph_node *n = &g->nodes[i];
        mg_strbuf_append(&b, "  ");
        dot_str(&b, n->id);
        mg_strbuf_append(&b, " [label=\"");
        /* label: id, then impl (and the C symbol for user code) */
        mg_strbuf_printf(&b, "%s\\n%s", n->id, n->impl);
        if (n->code) mg_strbuf_printf(&b, " (%s)", n->code->symbol);
        mg_strbuf_append(&b, "\"];\n");
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t d = 0; d < g->nodes[i].n_deps; d++) {
            mg_strbuf_append(&b, "  ");
            dot_str(&b, g->nodes[i].id);
            mg_strbuf_append(&b, " -> ");
            dot_str(&b, g->nodes[g->nodes[i].deps[d]].id);
            mg_strbuf_append(&b, ";\n");
        }
    mg_strbuf_append(&b, "}\n");
    return mg_strbuf_take(&b);
}

char *mg_errors_json(const mg_errors *errs)
{
    mg_strbuf b = {0};
    mg_strbuf_append(&b, "{\"errors\": [");
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        mg_strbuf_append(&b, i ? ",\n  {\"code\": " : "\n  {\"code\": ");
        json_str(&b, mg_error_code_name(e->code));
        mg_strbuf_append(&b, ", \"path\": ");
        json_str(&b, e->path);
        mg_strbuf_append(&b, ", \"message\": ");
        json_str(&b, e->message);
        mg_strbuf_append(&b, "}");
    }
    mg_strbuf_append(&b, errs->len ? "\n]}\n" : "]}\n");
    return mg_strbuf_take(&b);
}

char *mg_errors_text(const mg_errors *errs)
{
    mg_strbuf b = {0};
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        mg_strbuf_printf(&b, "%s: %s: %s\n", e->path[0] ? e->path : "(document)",
                         mg_error_code_name(e->code), e->message);
    }
    return mg_strbuf_take(&b);
}
