/*
 * catalog_view.c - the device catalog as JSON for GET /devices.
 *
 * Each entry shows what a config author needs: its name, module type,
 * kind (concrete code or an expansion into other entries), doc, params,
 * the keys it declares, and the targets it can be used on. A concrete
 * entry's targets are those its runtime code supports, plus every target
 * its fallback works on; a concrete entry also says whether this mgd
 * carries its code (`available`: lwIP may be missing); an expansion's
 * are computed by walking what it
 * expands to: an `if` or `match` on the `target` key takes the branch of
 * each target, a choice on any other key counts a target when some branch
 * works there (the author picks the key), and a {"param"} counts as
 * working (the caller supplies it).
 */
#include <string.h>

#include "api/internal.h"
#include "graph/expr.h"
#include "graph/keys.h"
#include "toolchain/runtime_src.h"

/* Deep enough for any real catalog; a deeper (or cyclic) chain counts as
 * unsupported rather than recursing without end. */
#define WALK_MAX_DEPTH 32

typedef struct walk {
    const mg_catalog *cat;
    const mg_catalog_entry *entry; /* whose lets are in scope */
    const char *target;
} walk;

static bool entry_on(const mg_catalog *cat, const mg_catalog_entry *e, const char *target,
                     int depth);

static bool expr_on(const walk *k, const mg_expr *e, int depth)
{
    if (!e || depth > WALK_MAX_DEPTH) return e == NULL;
    switch (e->kind) {
    case MG_EXPR_NAME: {
        const mg_catalog_entry *in = k->entry;
        for (size_t i = 0; in && i < in->n_lets; i++)
            if (!strcmp(in->let_names[i], e->name)) return expr_on(k, in->let_exprs[i], depth + 1);
        const mg_catalog_entry *c = mg_catalog_find(k->cat, e->name);
        return c ? entry_on(k->cat, c, k->target, depth + 1) : true;
    }
    case MG_EXPR_CALL: {
        const mg_catalog_entry *c = mg_catalog_find(k->cat, e->name);
        if (c && !entry_on(k->cat, c, k->target, depth + 1)) return false;
        for (size_t i = 0; i < e->n_args; i++)
            if (e->args[i].kind == MG_ARG_EXPR && !expr_on(k, e->args[i].expr, depth + 1))
                return false;
        return true;
    }
    case MG_EXPR_APPLY:
        if (!expr_on(k, e->fn, depth + 1)) return false;
        for (size_t i = 0; i < e->n_to; i++)
            if (!expr_on(k, e->to[i], depth + 1)) return false;
        return true;
    case MG_EXPR_IF:
        if (e->key && !strcmp(e->key, "target") && e->equals && cJSON_IsString(e->equals))
            return expr_on(k,
                           !strcmp(e->equals->valuestring, k->target) ? e->then_expr : e->else_expr,
                           depth + 1);
        return expr_on(k, e->then_expr, depth + 1) || expr_on(k, e->else_expr, depth + 1);
    case MG_EXPR_MATCH:
        if (e->key && !strcmp(e->key, "target")) {
            for (size_t i = 0; i < e->n_cases; i++)
                if (!strcmp(e->cases[i].value, k->target))
                    return expr_on(k, e->cases[i].expr, depth + 1);
            return e->default_expr && expr_on(k, e->default_expr, depth + 1);
        }
        for (size_t i = 0; i < e->n_cases; i++)
            if (expr_on(k, e->cases[i].expr, depth + 1)) return true;
        return e->default_expr && expr_on(k, e->default_expr, depth + 1);
    default: /* params, user code */
        return true;
    }
}

static bool entry_on(const mg_catalog *cat, const mg_catalog_entry *e, const char *target,
                     int depth)
{
    if (depth > WALK_MAX_DEPTH) return false;
    walk k = {cat, e, target};
    if (e->concrete)
        return mg_catalog_entry_supports(e, target) ||
               (e->fallback && expr_on(&k, e->fallback, depth + 1));
    return expr_on(&k, e->expand, depth + 1);
}

static void key_value(mg_jw *w, const mg_key_value *v)
{
    switch (v->type) {
    case MG_KEY_BOOL:
        mg_jw_bool(w, v->b);
        break;
    case MG_KEY_INT:
        mg_jw_int(w, v->i);
        break;
    default:
        mg_jw_string(w, v->text);
    }
}

static void keys(mg_jw *w, const mg_key_decl *keys, size_t n)
{
    mg_jw_object(w);
    for (size_t i = 0; i < n; i++) {
        const mg_key_decl *d = &keys[i];
        mg_jw_key(w, d->name);
        mg_jw_object(w);
        mg_jw_kstring(w, "stage", mg_key_stage_name(d->stage));
        mg_jw_kstring(w, "type", mg_key_type_name(d->type));
        if (d->n_values) {
            mg_jw_key(w, "values");
            mg_jw_array(w);
            for (size_t v = 0; v < d->n_values; v++) mg_jw_string(w, d->values[v]);
            mg_jw_array_end(w);
        }
        if (d->dflt.kind == MG_DEFAULT_VALUE) {
            mg_jw_key(w, "default");
            key_value(w, &d->dflt.value);
        } else if (d->dflt.kind == MG_DEFAULT_BY_TARGET) {
            mg_jw_key(w, "default");
            mg_jw_object(w);
            for (size_t t = 0; t < d->dflt.n_targets; t++) {
                mg_jw_key(w, d->dflt.targets[t]);
                key_value(w, &d->dflt.values[t]);
            }
            mg_jw_object_end(w);
        }
        if (d->doc) mg_jw_kstring(w, "doc", d->doc);
        mg_jw_object_end(w);
    }
    mg_jw_object_end(w);
}

/* A default as written in the catalog (a scalar or {"key": k}). */
static void json_value(mg_jw *w, const cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    if (!text) {
        w->b->failed = true;
        return;
    }
    mg_jw_raw(w, text, "null");
    cJSON_free(text);
}

static void entry(mg_jw *w, const mg_catalog *cat, const mg_catalog_entry *e)
{
    mg_jw_object(w);
    mg_jw_kstring(w, "name", e->name);
    mg_jw_kstring(w, "type", mg_type_table_name(&cat->types, e->type));
    mg_jw_kstring(w, "kind", e->concrete ? "concrete" : "expansion");
    if (e->concrete) {
        /* what this mgd was built with: the direct stack needs lwIP */
        mg_err why;
        bool available = mg_runtime_entry_available(e, &why);
        mg_jw_kbool(w, "available", available);
        if (!available) mg_jw_kstring(w, "unavailable_reason", why.msg);
    }
    mg_jw_kstring(w, "doc", e->doc);
    mg_jw_key(w, "params");
    mg_jw_array(w);
    for (size_t i = 0; i < e->n_params; i++) {
        const mg_catalog_param *p = &e->params[i];
        mg_jw_object(w);
        mg_jw_kstring(w, "name", p->name);
        mg_jw_kstring(w, "type",
                      p->is_impl ? mg_type_table_name(&cat->types, p->impl_type)
                                 : mg_key_type_name(p->scalar_type));
        mg_jw_kbool(w, "required", p->default_json == NULL);
        if (p->default_json) {
            mg_jw_key(w, "default");
            json_value(w, p->default_json);
        }
        if (p->doc) mg_jw_kstring(w, "doc", p->doc);
        mg_jw_object_end(w);
    }
    mg_jw_array_end(w);
    mg_jw_key(w, "keys");
    keys(w, e->keys, e->n_keys);
    mg_jw_key(w, "targets");
    mg_jw_array(w);
    for (size_t t = 0; t < cat->n_targets; t++)
        if (entry_on(cat, e, cat->targets[t], 0)) mg_jw_string(w, cat->targets[t]);
    mg_jw_array_end(w);
    mg_jw_object_end(w);
}

void mg_view_catalog(mg_jw *w, const mg_catalog *cat)
{
    mg_jw_object(w);
    mg_jw_key(w, "targets");
    mg_jw_array(w);
    for (size_t i = 0; i < cat->n_targets; i++) mg_jw_string(w, cat->targets[i]);
    mg_jw_array_end(w);
    mg_jw_key(w, "arches");
    mg_jw_array(w);
    for (size_t i = 0; i < cat->n_arches; i++) mg_jw_string(w, cat->arches[i]);
    mg_jw_array_end(w);
    mg_jw_key(w, "types");
    mg_jw_array(w);
    for (size_t i = 0; i < cat->types.len; i++) mg_jw_string(w, cat->types.names[i]);
    mg_jw_array_end(w);
    mg_jw_key(w, "entries");
    mg_jw_array(w);
    for (size_t i = 0; i < cat->n_entries; i++) entry(w, cat, &cat->entries[i]);
    mg_jw_array_end(w);
    mg_jw_object_end(w);
}
