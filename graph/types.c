#include "graph/types.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The v1 module types (docs/config.md, "Types"); `job` is index 0. */
static const char *const v1_types[] = {
    "job",   "console", "time",      "pclock",   "mclock",   "random", "block",
    "kv_ro", "kv_rw",   "network",   "ethernet", "arpv4",    "ipv4",   "ipv6",
    "udp",   "tcp",     "stackv4v6", "http",     "reporter",
};

void mg_type_table_init(mg_type_table *t)
{
    *t = (mg_type_table){0};
    for (size_t i = 0; i < sizeof v1_types / sizeof *v1_types; i++)
        mg_type_table_intern(t, v1_types[i]);
}

void mg_type_table_free(mg_type_table *t)
{
    for (size_t i = 0; i < t->len; i++) free(t->names[i]);
    free(t->names);
    *t = (mg_type_table){0};
}

mg_base_type mg_type_table_find(const mg_type_table *t, const char *name)
{
    for (size_t i = 0; i < t->len; i++)
        if (!strcmp(t->names[i], name)) return (mg_base_type)i;
    return MG_TYPE_ERROR;
}

mg_base_type mg_type_table_intern(mg_type_table *t, const char *name)
{
    mg_base_type id = mg_type_table_find(t, name);
    if (id != MG_TYPE_ERROR) return id;
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->names = mg_xrealloc(t->names, t->cap * sizeof *t->names);
    }
    t->names[t->len] = mg_xstrdup(name);
    return (mg_base_type)t->len++;
}

const char *mg_type_table_name(const mg_type_table *t, mg_base_type id)
{
    return id < t->len ? t->names[id] : "?";
}

bool mg_type_parse(const mg_type_table *t, mg_arena *arena, const char *text, mg_type *out,
                   mg_err *why)
{
    mg_base_type parts[64];
    size_t n = 0;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        const char *start = p;
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        if (p == start) {
            if (*p)
                mg_err_set(why, MG_E_INVALID, "unexpected '%c' in type \"%s\"", *p, text);
            else
                mg_err_set(why, MG_E_INVALID, "type \"%s\" is missing a module type after '->'",
                           text);
            return false;
        }
        char name[64];
        size_t len = (size_t)(p - start);
        if (len >= sizeof name) {
            mg_err_set(why, MG_E_INVALID, "type name too long in \"%s\"", text);
            return false;
        }
        memcpy(name, start, len);
        name[len] = 0;
        mg_base_type id = mg_type_table_find(t, name);
        if (id == MG_TYPE_ERROR) {
            mg_err_set(why, MG_E_INVALID, "unknown module type \"%s\"", name);
            return false;
        }
        if (n == sizeof parts / sizeof *parts) {
            mg_err_set(why, MG_E_INVALID, "type \"%s\" has too many parameters", text);
            return false;
        }
        parts[n++] = id;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        if (p[0] != '-' || p[1] != '>') {
            mg_err_set(why, MG_E_INVALID,
                       "unexpected '%c' in type \"%s\" (write \"a -> b -> job\")", *p, text);
            return false;
        }
        p += 2;
    }
    out->n_params = n - 1;
    out->result = parts[n - 1];
    out->params = NULL;
    if (n > 1) {
        mg_base_type *params = mg_arena_alloc(arena, (n - 1) * sizeof *params);
        memcpy(params, parts, (n - 1) * sizeof *params);
        out->params = params;
    }
    return true;
}

mg_type mg_type_base(mg_base_type b)
{
    return (mg_type){NULL, 0, b};
}

bool mg_type_is_error(const mg_type *a)
{
    if (a->result == MG_TYPE_ERROR) return true;
    for (size_t i = 0; i < a->n_params; i++)
        if (a->params[i] == MG_TYPE_ERROR) return true;
    return false;
}

bool mg_type_compatible(const mg_type *a, const mg_type *b)
{
    if (mg_type_is_error(a) || mg_type_is_error(b)) return true;
    if (a->n_params != b->n_params || a->result != b->result) return false;
    for (size_t i = 0; i < a->n_params; i++)
        if (a->params[i] != b->params[i]) return false;
    return true;
}

mg_type mg_type_drop(const mg_type *a, size_t n)
{
    if (n >= a->n_params) return mg_type_base(a->result);
    return (mg_type){a->params + n, a->n_params - n, a->result};
}

const char *mg_type_format(const mg_type_table *t, const mg_type *a, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i <= a->n_params && off < size; i++) {
        mg_base_type b = i < a->n_params ? a->params[i] : a->result;
        int n = snprintf(buf + off, size - off, "%s%s", i ? " -> " : "",
                         b == MG_TYPE_ERROR ? "?" : mg_type_table_name(t, b));
        if (n < 0) break;
        off += (size_t)n;
    }
    return buf;
}
