/*
 * resolve.c - checking and evaluating config documents (see resolve.h).
 *
 * One resolver state (`rs`) serves three callers: catalog checking
 * (graph/check.c has the entries' expansions type-checked here, by the
 * rules documents follow), stage 1 on a document (check) and stage 2
 * (evaluate). Expressions are checked in a scope: the document (names are
 * devices, then catalog constants) or a catalog entry (names are catalog
 * constants, {"param"} are the entry's params and lets).
 */
#include "graph/resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/codegen.h"
#include "graph/json.h"
#include "graph/strmap.h"

/* ---- resolver state ------------------------------------------------------ */

#define NONE ((size_t)-1)

typedef enum { VAL_ERROR, VAL_NODE, VAL_FUNCTOR } val_kind;

/* What an expression evaluates to: an instance, or user code waiting for
 * more arguments. */
typedef struct value {
    val_kind kind;
    size_t node;              /* VAL_NODE */
    const mg_user_code *code; /* VAL_FUNCTOR */
    const size_t *args;       /* VAL_FUNCTOR: nodes applied so far */
    size_t n_args;
} value;

static const value VERROR = {VAL_ERROR, NONE, NULL, NULL, 0};

typedef struct doc_device {
    const char *name, *path;
    mg_expr *expr;
    int check_state; /* 0 new, 1 on the stack, 2 done */
    bool on_cycle;
    size_t height; /* longest chain of named devices from here, itself included */
    mg_type type;
    int eval_state;
    value val;
} doc_device;

typedef struct key_info {
    const char *name;
    const mg_key_decl *decl; /* NULL for target and arch */
    mg_key_stage stage;
    mg_key_type type;
    const char **values;
    size_t n_values;
    const char *doc;
    bool has_value;
    mg_key_value value;
    bool in_graph; /* runtime keys: belongs to the image */
    bool broken;   /* its declaration had errors (reported): uses stay quiet */
} key_info;

/* Scope of an expression inside a catalog entry: its bound params and
 * lets, with the `from` of the call site for the nodes it makes. */
typedef struct entry_env {
    const mg_catalog_entry *entry;
    value *params;         /* impl params, by param index */
    mg_graph_arg *scalars; /* scalar params, by param index */
    value *lets;
    int *let_state;
    const char *from;
    const char *where; /* JSON pointer of the use in the document, for errors */
} entry_env;

typedef struct rs {
    const mg_catalog *cat;
    mg_arena *arena;
    mg_errors *errs;
    mg_expr_ctx ctx;
    /* document */
    doc_device *devices;
    size_t n_devices;
    mg_strmap device_index;
    key_info *keys;
    size_t n_keys, cap_keys;
    mg_strmap key_index;
    mg_expr **jobs;
    size_t n_jobs;
    mg_expr *reporter;
    mg_library_req *libs;
    size_t n_libs;
    const char *name;
    bool *entry_mentioned; /* by catalog index: the document mentions it */
    size_t *check_stack;
    size_t check_depth;
    size_t child_height; /* while checking a device: the highest device it names */
    bool chain_reported;
    mg_path_check_fn check_path;
    void *check_path_ctx;
    mg_strmap symbols; /* user code symbol -> the first user code expression with it */
    const mg_expr **code_exprs;
    size_t n_code_exprs, cap_code_exprs;
    /* evaluation */
    const char *target, *arch;
    value *const_memo; /* catalog constants named by string, by index */
    int *const_state;
    bool *entry_used; /* by catalog index: evaluated into the graph */
    mg_graph_node *nodes;
    size_t n_nodes, cap_nodes;
    size_t max_nodes;
} rs;

static size_t entry_index(const rs *r, const mg_catalog_entry *e)
{
    return (size_t)(e - r->cat->entries);
}

static const char *type_str(rs *r, const mg_type *t)
{
    char buf[512];
    mg_type_format(&r->cat->types, t, buf, sizeof buf);
    return mg_arena_strdup(r->arena, buf);
}

static key_info *find_key(rs *r, const char *name)
{
    size_t i;
    return mg_strmap_get(&r->key_index, name, &i) ? &r->keys[i] : NULL;
}

static key_info *add_key(rs *r, const char *name)
{
    if (r->n_keys == r->cap_keys) {
        size_t cap = r->cap_keys ? r->cap_keys * 2 : 16;
        r->keys =
            mg_arena_grow(r->arena, r->keys, r->n_keys * sizeof *r->keys, cap * sizeof *r->keys);
        r->cap_keys = cap;
    }
    key_info *k = &r->keys[r->n_keys];
    k->name = name;
    mg_strmap_put(&r->key_index, name, r->n_keys++);
    return k;
}

static void key_from_decl(key_info *k, const mg_key_decl *d)
{
    k->decl = d;
    k->stage = d->stage;
    k->type = d->type;
    k->values = d->values;
    k->n_values = d->n_values;
    k->doc = d->doc;
}

static void add_builtin_keys(rs *r)
{
    key_info *t = add_key(r, "target");
    t->stage = MG_STAGE_CONFIGURE;
    t->type = MG_KEY_ENUM;
    t->values = r->cat->targets;
    t->n_values = r->cat->n_targets;
    t->doc = "The target the unikernel is built for.";
    key_info *a = add_key(r, "arch");
    a->stage = MG_STAGE_CONFIGURE;
    a->type = MG_KEY_ENUM;
    a->values = r->cat->arches;
    a->n_values = r->cat->n_arches;
    a->doc = "The CPU architecture the unikernel is built for.";
}

static bool same_decl(const mg_key_decl *a, const mg_key_decl *b)
{
    if (a->stage != b->stage || a->type != b->type || a->n_values != b->n_values) return false;
    for (size_t i = 0; i < a->n_values; i++)
        if (strcmp(a->values[i], b->values[i])) return false;
    return true;
}

/* ---- stage 1: checking ---------------------------------------------------- */

typedef struct check_scope {
    const mg_catalog_entry *entry; /* NULL: the document */
    mg_type *let_types;
    size_t n_lets_checked;
} check_scope;

static mg_type check_expr(rs *r, check_scope *sc, mg_expr *e);

static const mg_type TERROR = {NULL, 0, MG_TYPE_ERROR};

static mg_type check_device(rs *r, size_t i)
{
    doc_device *d = &r->devices[i];
    if (d->check_state == 2) {
        if (d->height > r->child_height) r->child_height = d->height;
        return d->type;
    }
    if (d->check_state == 1) {
        /* a cycle: the stack from d up to here */
        size_t start = r->check_depth;
        while (start > 0 && r->check_stack[start - 1] != i) start--;
        char msg[MG_ERR_SIZE];
        size_t off = 0;
        for (size_t k = start - 1; k < r->check_depth && off < sizeof msg; k++)
            off += (size_t)snprintf(msg + off, sizeof msg - off, "%s -> ",
                                    r->devices[r->check_stack[k]].name);
        if (off < sizeof msg) snprintf(msg + off, sizeof msg - off, "%s", d->name);
        mg_errors_add(r->errs, MG_ERR_CYCLE, d->path, "devices depend on each other: %s", msg);
        for (size_t k = start - 1; k < r->check_depth; k++)
            r->devices[r->check_stack[k]].on_cycle = true;
        return TERROR;
    }
    d->check_state = 1;
    r->check_stack[r->check_depth++] = i;
    check_scope sc = {0};
    size_t outer = r->child_height;
    r->child_height = 0;
    mg_type t = check_expr(r, &sc, d->expr);
    r->check_depth--;
    d->type = d->on_cycle ? TERROR : t;
    d->check_state = 2;
    /* Evaluation recurses along chains of names (a uses b uses c ...): a
     * bound on their length keeps the stack it needs small and known. */
    d->height = r->child_height + 1;
    if (d->height > MG_MAX_DEVICE_CHAIN && !r->chain_reported) {
        mg_errors_add(r->errs, MG_ERR_LIMIT, d->path,
                      "devices refer to each other more than %d deep", MG_MAX_DEVICE_CHAIN);
        r->chain_reported = true;
    }
    if (d->height > outer) outer = d->height;
    r->child_height = outer;
    return d->type;
}

static const mg_catalog_param *scope_param(check_scope *sc, const char *name, size_t *idx)
{
    for (size_t i = 0; sc->entry && i < sc->entry->n_params; i++)
        if (!strcmp(sc->entry->params[i].name, name)) {
            *idx = i;
            return &sc->entry->params[i];
        }
    return NULL;
}

static mg_type check_param_ref(rs *r, check_scope *sc, const char *name, const char *path)
{
    size_t i;
    const mg_catalog_param *p = scope_param(sc, name, &i);
    if (p) {
        if (!p->is_impl) {
            mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, path,
                          "param %s is a %s value, not a device", name,
                          mg_key_type_name(p->scalar_type));
            return TERROR;
        }
        return mg_type_base(p->impl_type);
    }
    for (size_t k = 0; sc->entry && k < sc->n_lets_checked; k++)
        if (!strcmp(sc->entry->let_names[k], name)) return sc->let_types[k];
    mg_errors_add(r->errs, MG_ERR_UNKNOWN_NAME, path,
                  "no param or earlier let named %s in entry %s", name,
                  sc->entry ? sc->entry->name : "?");
    return TERROR;
}

/* Marks an entry as mentioned, with every entry its expansion mentions,
 * and declares their keys. */
static void mention_expr(rs *r, const mg_expr *e);

static void mention_entry(rs *r, const mg_catalog_entry *e)
{
    size_t i = entry_index(r, e);
    if (r->entry_mentioned[i]) return;
    r->entry_mentioned[i] = true;
    for (size_t k = 0; k < e->n_keys; k++) {
        const mg_key_decl *d = &e->keys[k];
        key_info *ki = find_key(r, d->name);
        if (!ki)
            key_from_decl(add_key(r, d->name), d);
        else if (ki->decl && !ki->decl->origin && !same_decl(ki->decl, d))
            mg_errors_add(r->errs, MG_ERR_DUPLICATE_NAME, ki->decl->path,
                          "key %s is declared by catalog entry %s as a %s %s key; a declaration "
                          "of the same name must have the same stage and type",
                          d->name, e->name, mg_key_stage_name(d->stage), mg_key_type_name(d->type));
    }
    mention_expr(r, e->expand);
    mention_expr(r, e->fallback);
    for (size_t k = 0; k < e->n_lets; k++) mention_expr(r, e->let_exprs[k]);
}

static void mention_expr(rs *r, const mg_expr *e)
{
    if (!e) return;
    const mg_catalog_entry *ce;
    size_t dummy;
    switch (e->kind) {
    case MG_EXPR_NAME:
        if (!mg_strmap_get(&r->device_index, e->name, &dummy) &&
            (ce = mg_catalog_find(r->cat, e->name)))
            mention_entry(r, ce);
        break;
    case MG_EXPR_CALL:
        if (!(ce = mg_catalog_find(r->cat, e->name))) break;
        mention_entry(r, ce);
        for (size_t i = 0; i < e->n_args; i++) {
            const mg_call_arg *a = &e->args[i];
            const mg_catalog_param *p = mg_catalog_entry_param(ce, a->name);
            const mg_catalog_entry *named;
            if (a->kind == MG_ARG_EXPR) mention_expr(r, a->expr);
            /* a string names a device only where the param takes one */
            else if (a->kind == MG_ARG_SCALAR && p && p->is_impl && cJSON_IsString(a->json) &&
                     !mg_strmap_get(&r->device_index, a->json->valuestring, &dummy) &&
                     (named = mg_catalog_find(r->cat, a->json->valuestring)))
                mention_entry(r, named);
        }
        break;
    case MG_EXPR_APPLY:
        mention_expr(r, e->fn);
        for (size_t i = 0; i < e->n_to; i++) mention_expr(r, e->to[i]);
        break;
    case MG_EXPR_IF:
        mention_expr(r, e->then_expr);
        mention_expr(r, e->else_expr);
        break;
    case MG_EXPR_MATCH:
        for (size_t i = 0; i < e->n_cases; i++) mention_expr(r, e->cases[i].expr);
        mention_expr(r, e->default_expr);
        break;
    default:
        break;
    }
}

/* A configure key usable in a choice, or NULL after reporting. */
static key_info *choice_key(rs *r, const char *name, const char *path)
{
    key_info *k = find_key(r, name);
    if (!k) {
        mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, path, "no key named %s is declared", name);
        return NULL;
    }
    if (k->broken) return NULL;
    if (k->stage != MG_STAGE_CONFIGURE) {
        mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, path,
                      "%s is a runtime key; only configure keys can choose devices", name);
        return NULL;
    }
    return k;
}

static void bad_choice_value(rs *r, const key_info *k, const char *path, const char *why)
{
    mg_errors_add(r->errs, MG_ERR_BAD_KEY_VALUE, path, "not a value of key %s (%s): %s", k->name,
                  mg_key_type_name(k->type), why);
}

/* An `equals` value, written as JSON. */
static bool key_value_of_json(rs *r, const key_info *k, const cJSON *json, mg_key_value *out,
                              const char *path)
{
    mg_err why;
    if (mg_key_value_from_json(r->arena, k->type, k->values, k->n_values, json, out, &why))
        return true;
    bad_choice_value(r, k, path, why.msg);
    return false;
}

/* A match case, written as the text of an object member name. */
static bool key_value_of_text(rs *r, const key_info *k, const char *text, mg_key_value *out,
                              const char *path)
{
    mg_err why;
    size_t size = strlen(text) + 64;
    char *canon = mg_arena_alloc(r->arena, size);
    if (mg_key_value_from_text(k->type, k->values, k->n_values, text, out, canon, size, &why))
        return true;
    bad_choice_value(r, k, path, why.msg);
    return false;
}

/* A source's path names one file one way: no "." components (else
 * "a.c" and "./a.c" would be two compiles writing one object), while an
 * include directory may be "." (the project's top). */
static void check_source_path(rs *r, const char *p, const char *path, bool file)
{
    const char *why = NULL;
    if (!*p)
        why = "is empty";
    else if (p[0] == '/')
        why = "is absolute";
    else {
        for (const char *c = p; *c && !why; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                why = "contains a control character";
            else if (*c == '\\')
                why = "contains a backslash";
        }
        for (const char *seg = p; !why && seg;) {
            const char *end = strchr(seg, '/');
            size_t len = end ? (size_t)(end - seg) : strlen(seg);
            if (len == 0)
                why = "has an empty component";
            else if (len == 2 && !strncmp(seg, "..", 2))
                why = "leaves the source root (..)";
            else if (file && len == 1 && seg[0] == '.')
                why = "has a . component (name the file without it)";
            else if (seg[0] == '-')
                why = "has a component starting with - (read as an option)";
            seg = end ? end + 1 : NULL;
        }
    }
    if (why) {
        mg_errors_add(r->errs, MG_ERR_BAD_PATH, path, "path \"%s\" %s", p, why);
        return;
    }
    if (r->check_path) {
        char buf[512];
        const char *msg = r->check_path(r->check_path_ctx, p, buf, sizeof buf);
        if (msg) mg_errors_add(r->errs, MG_ERR_BAD_PATH, path, "path \"%s\": %s", p, msg);
    }
}

static mg_type check_user_code(rs *r, mg_expr *e)
{
    mg_user_code *c = e->code;
    const char *tp = mg_pointer_member(r->arena, e->path, "type");
    if (c->type.result != 0 /* job */) {
        mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, tp,
                      "user code must produce a job (\"... -> job\"), not %s",
                      type_str(r, &c->type));
        return TERROR;
    }
    /* A job parameter (functoria's `job @-> job`) is allowed: the job is
     * started before the code that takes it, which receives its start
     * status as an int (docs/generated-code.md). */
    /* One C symbol has one prototype in main.c. */
    size_t first;
    if (c->symbol && mg_strmap_get(&r->symbols, c->symbol, &first)) {
        const mg_user_code *o = r->code_exprs[first]->code;
        if (!mg_type_compatible(&o->type, &c->type) || o->type.n_params != c->type.n_params)
            mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, tp,
                          "C function %s is also used with type %s at %s", c->symbol,
                          type_str(r, &o->type), r->code_exprs[first]->path);
    } else if (c->symbol) {
        if (r->n_code_exprs == r->cap_code_exprs) {
            size_t cap = r->cap_code_exprs ? r->cap_code_exprs * 2 : 16;
            r->code_exprs =
                mg_arena_grow(r->arena, r->code_exprs, r->n_code_exprs * sizeof *r->code_exprs,
                              cap * sizeof *r->code_exprs);
            r->cap_code_exprs = cap;
        }
        r->code_exprs[r->n_code_exprs] = e;
        mg_strmap_put(&r->symbols, c->symbol, r->n_code_exprs++);
    }
    for (size_t i = 0; i < c->n_runtime_keys; i++) {
        const char *kp =
            mg_pointer_index(r->arena, mg_pointer_member(r->arena, e->path, "runtime_keys"), i);
        key_info *k = find_key(r, c->runtime_keys[i]);
        if (k && k->broken) continue;
        if (!k)
            mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, kp, "no key named %s is declared",
                          c->runtime_keys[i]);
        else if (k->stage != MG_STAGE_RUNTIME)
            mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, kp,
                          "%s is a configure key; runtime_keys lists keys read at boot",
                          c->runtime_keys[i]);
    }
    for (size_t i = 0; i < c->n_sources; i++)
        check_source_path(
            r, c->sources[i],
            mg_pointer_index(r->arena, mg_pointer_member(r->arena, e->path, "sources"), i), true);
    for (size_t i = 0; i < c->n_include_dirs; i++)
        check_source_path(
            r, c->include_dirs[i],
            mg_pointer_index(r->arena, mg_pointer_member(r->arena, e->path, "include_dirs"), i),
            false);
    return c->type;
}

static bool scalar_types_fit(mg_key_type key, mg_key_type param)
{
    return key == param || (key == MG_KEY_ENUM && param == MG_KEY_STRING);
}

/* " (from /devices/x)" for a named device, so a type error says where the
 * offending value was defined; "" otherwise. */
static const char *origin_of(rs *r, const mg_expr *e)
{
    size_t i;
    if (e->kind == MG_EXPR_NAME && mg_strmap_get(&r->device_index, e->name, &i))
        return mg_arena_printf(r->arena, " (from %s)", r->devices[i].path);
    return "";
}

static mg_type check_call(rs *r, check_scope *sc, mg_expr *e)
{
    const mg_catalog_entry *ce = mg_catalog_find(r->cat, e->name);
    if (!ce) {
        mg_errors_add(r->errs, MG_ERR_UNKNOWN_DEVICE,
                      mg_pointer_member(r->arena, e->path, "device"),
                      "no catalog constructor named %s (see docs/catalog.md)", e->name);
        return TERROR;
    }
    bool given[MG_CATALOG_MAX_PARAMS] = {0};
    for (size_t i = 0; i < e->n_args; i++) {
        mg_call_arg *a = &e->args[i];
        const mg_catalog_param *p = mg_catalog_entry_param(ce, a->name);
        if (!p) {
            const char *names[MG_CATALOG_MAX_PARAMS];
            for (size_t k = 0; k < ce->n_params; k++) names[k] = ce->params[k].name;
            mg_errors_add(r->errs, MG_ERR_UNKNOWN_PARAM, a->path, "%s has no param %s (params: %s)",
                          ce->name, a->name,
                          ce->n_params ? mg_arena_join(r->arena, names, ce->n_params, ", ")
                                       : "none");
            continue;
        }
        size_t pi = (size_t)(p - ce->params);
        given[pi] = true;
        if (p->is_impl) {
            mg_type want = mg_type_base(p->impl_type);
            if (a->kind == MG_ARG_SCALAR && cJSON_IsString(a->json)) {
                a->expr = mg_arena_alloc(r->arena, sizeof *a->expr);
                a->expr->kind = MG_EXPR_NAME;
                a->expr->path = a->path;
                a->expr->name = a->json->valuestring;
                a->kind = MG_ARG_EXPR;
            } else if (a->kind == MG_ARG_PARAM) {
                a->expr = mg_arena_alloc(r->arena, sizeof *a->expr);
                a->expr->kind = MG_EXPR_PARAM;
                a->expr->path = a->path;
                a->expr->name = a->ref;
                a->kind = MG_ARG_EXPR;
            }
            if (a->kind != MG_ARG_EXPR) {
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, a->path,
                              "param %s of %s expects a %s device, got %s", a->name, ce->name,
                              type_str(r, &want),
                              a->kind == MG_ARG_KEY ? "a key" : "a plain value");
                continue;
            }
            mg_type got = check_expr(r, sc, a->expr);
            if (!mg_type_compatible(&got, &want))
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, a->path,
                              "param %s of %s expects %s, got %s%s", a->name, ce->name,
                              type_str(r, &want), type_str(r, &got),
                              sc->entry ? "" : origin_of(r, a->expr));
            continue;
        }
        /* scalar param */
        const char *tn = mg_key_type_name(p->scalar_type);
        mg_err why;
        switch (a->kind) {
        case MG_ARG_SCALAR:
            if (!mg_key_value_from_json(r->arena, p->scalar_type, NULL, 0, a->json, &a->value,
                                        &why))
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, a->path, "param %s of %s (%s): %s",
                              a->name, ce->name, tn, why.msg);
            else
                a->has_value = true;
            break;
        case MG_ARG_KEY: {
            key_info *k = find_key(r, a->ref);
            if (k && k->broken) break;
            if (!k)
                mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, a->path, "no key named %s is declared",
                              a->ref);
            else if (!scalar_types_fit(k->type, p->scalar_type))
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, a->path,
                              "param %s of %s is a %s; key %s is a %s", a->name, ce->name, tn,
                              a->ref, mg_key_type_name(k->type));
            break;
        }
        case MG_ARG_PARAM: {
            size_t idx;
            const mg_catalog_param *sp = scope_param(sc, a->ref, &idx);
            if (!sp || sp->is_impl || !scalar_types_fit(sp->scalar_type, p->scalar_type))
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, a->path,
                              "param %s of %s needs a %s param of the entry, and %s is not one",
                              a->name, ce->name, tn, a->ref);
            break;
        }
        case MG_ARG_EXPR:
            mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, a->path,
                          "param %s of %s expects a %s value, not a device", a->name, ce->name, tn);
            break;
        }
    }
    const char *missing[MG_CATALOG_MAX_PARAMS];
    size_t n_missing = 0;
    for (size_t k = 0; k < ce->n_params; k++)
        if (!given[k] && !ce->params[k].default_json) missing[n_missing++] = ce->params[k].name;
    if (n_missing)
        mg_errors_add(r->errs, MG_ERR_MISSING_PARAM, e->path, "%s needs %s %s", ce->name,
                      n_missing > 1 ? "params" : "param",
                      mg_arena_join(r->arena, missing, n_missing, ", "));
    return mg_type_base(ce->type);
}

static mg_type check_name(rs *r, check_scope *sc, mg_expr *e)
{
    size_t i;
    if (!sc->entry && mg_strmap_get(&r->device_index, e->name, &i)) return check_device(r, i);
    const mg_catalog_entry *ce = mg_catalog_find(r->cat, e->name);
    if (!ce) {
        mg_errors_add(r->errs, MG_ERR_UNKNOWN_NAME, e->path, "no device or catalog entry named %s",
                      e->name);
        return TERROR;
    }
    for (size_t k = 0; k < ce->n_params; k++)
        if (!ce->params[k].default_json) {
            mg_errors_add(r->errs, MG_ERR_MISSING_PARAM, e->path,
                          "%s needs param %s: call it as {\"device\": \"%s\", \"args\": {...}}",
                          ce->name, ce->params[k].name, ce->name);
            break;
        }
    return mg_type_base(ce->type);
}

static mg_type check_expr(rs *r, check_scope *sc, mg_expr *e)
{
    switch (e->kind) {
    case MG_EXPR_BAD:
        return TERROR;
    case MG_EXPR_NAME:
        return check_name(r, sc, e);
    case MG_EXPR_PARAM:
        return check_param_ref(r, sc, e->name, e->path);
    case MG_EXPR_CALL:
        return check_call(r, sc, e);
    case MG_EXPR_MAIN:
        return check_user_code(r, e);
    case MG_EXPR_APPLY: {
        mg_type f = check_expr(r, sc, e->fn);
        mg_type *args = mg_arena_alloc(r->arena, e->n_to * sizeof *args);
        for (size_t i = 0; i < e->n_to; i++) args[i] = check_expr(r, sc, e->to[i]);
        if (mg_type_is_error(&f)) return TERROR;
        if (!f.n_params) {
            mg_errors_add(r->errs, MG_ERR_NOT_A_FUNCTOR,
                          mg_pointer_member(r->arena, e->path, "apply"),
                          "this has type %s, which takes no arguments", type_str(r, &f));
            return TERROR;
        }
        if (e->n_to > f.n_params) {
            mg_errors_add(r->errs, MG_ERR_ARITY, mg_pointer_member(r->arena, e->path, "to"),
                          "%s takes %zu argument%s, got %zu", type_str(r, &f), f.n_params,
                          f.n_params > 1 ? "s" : "", e->n_to);
            return TERROR;
        }
        for (size_t i = 0; i < e->n_to; i++) {
            mg_type want = mg_type_base(f.params[i]);
            if (!mg_type_compatible(&args[i], &want))
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, e->to[i]->path,
                              "argument %zu: expected %s, got %s%s", i + 1, type_str(r, &want),
                              type_str(r, &args[i]), sc->entry ? "" : origin_of(r, e->to[i]));
        }
        return mg_type_drop(&f, e->n_to);
    }
    case MG_EXPR_IF: {
        const char *ip = mg_pointer_member(r->arena, e->path, "if");
        key_info *k =
            choice_key(r, e->key, e->equals ? mg_pointer_member(r->arena, ip, "key") : ip);
        if (k && !e->equals && k->type != MG_KEY_BOOL)
            mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, mg_pointer_member(r->arena, e->path, "if"),
                          "key %s is a %s key; use {\"key\": \"%s\", \"equals\": value}", k->name,
                          mg_key_type_name(k->type), k->name);
        if (k && e->equals) {
            mg_key_value v;
            key_value_of_json(
                r, k, e->equals, &v,
                mg_pointer_member(r->arena, mg_pointer_member(r->arena, e->path, "if"), "equals"));
        }
        mg_type a = check_expr(r, sc, e->then_expr), b = check_expr(r, sc, e->else_expr);
        if (!mg_type_compatible(&a, &b))
            mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, e->else_expr->path,
                          "both branches must have the same type: then is %s, else is %s",
                          type_str(r, &a), type_str(r, &b));
        return mg_type_is_error(&a) ? b : a;
    }
    case MG_EXPR_MATCH: {
        key_info *k = choice_key(r, e->key, mg_pointer_member(r->arena, e->path, "match"));
        mg_key_value *vals = mg_arena_alloc(r->arena, (e->n_cases + 1) * sizeof *vals);
        bool all_ok = k != NULL;
        mg_strmap seen = {0};
        for (size_t i = 0; k && i < e->n_cases; i++) {
            size_t first;
            if (!key_value_of_text(r, k, e->cases[i].value, &vals[i], e->cases[i].path)) {
                all_ok = false;
            } else if (mg_strmap_get(&seen, vals[i].text, &first)) {
                /* "1" and "01" are one int: the second case could never match */
                mg_errors_add(r->errs, MG_ERR_SCHEMA, e->cases[i].path,
                              "this case is the same value as case \"%s\"", e->cases[first].value);
                all_ok = false;
            } else {
                mg_strmap_put(&seen, vals[i].text, i);
            }
        }
        mg_strmap_free(&seen);
        if (k && all_ok && !e->default_expr) {
            /* exhaustive only over finite key types */
            size_t n_all = k->type == MG_KEY_BOOL ? 2 : k->type == MG_KEY_ENUM ? k->n_values : 0;
            char missing[512] = "";
            size_t off = 0, n_missing = 0;
            for (size_t v = 0; v < n_all; v++) {
                const char *name = k->type == MG_KEY_BOOL ? (v ? "true" : "false") : k->values[v];
                bool covered = false;
                for (size_t i = 0; i < e->n_cases; i++)
                    if (!strcmp(vals[i].text, name)) covered = true;
                if (!covered && off < sizeof missing) {
                    off += (size_t)snprintf(missing + off, sizeof missing - off, "%s%s",
                                            n_missing ? ", " : "", name);
                    n_missing++;
                }
            }
            if (!n_all)
                mg_errors_add(r->errs, MG_ERR_NON_EXHAUSTIVE, e->path,
                              "a match on %s key %s needs a \"default\"", mg_key_type_name(k->type),
                              k->name);
            else if (n_missing)
                mg_errors_add(r->errs, MG_ERR_NON_EXHAUSTIVE, e->path,
                              "match on %s misses %s; add cases or a \"default\"", k->name,
                              missing);
        }
        mg_type t = TERROR;
        const char *first_path = NULL;
        mg_type first = TERROR;
        for (size_t i = 0; i <= e->n_cases; i++) {
            mg_expr *x = i < e->n_cases ? e->cases[i].expr : e->default_expr;
            if (!x) continue;
            mg_type xt = check_expr(r, sc, x);
            if (mg_type_is_error(&first) && !mg_type_is_error(&xt)) {
                first = xt;
                first_path = x->path;
            } else if (!mg_type_compatible(&first, &xt)) {
                mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, x->path,
                              "every case must have the same type: %s is %s, this is %s",
                              first_path, type_str(r, &first), type_str(r, &xt));
            }
        }
        t = first;
        return t;
    }
    }
    return TERROR;
}

/* ---- the types of catalog entries (for graph/check.c) -------------------- */

bool mg_check_catalog_types(mg_catalog *cat, mg_errors *errs)
{
    size_t before = errs->len;
    rs r = {.cat = cat, .arena = &cat->arena, .errs = errs};
    r.entry_mentioned = mg_arena_alloc(r.arena, cat->n_entries + 1);
    add_builtin_keys(&r);
    /* every catalog key is in scope for catalog expressions */
    for (size_t i = 0; i < cat->n_entries; i++)
        for (size_t k = 0; k < cat->entries[i].n_keys; k++) {
            const mg_key_decl *d = &cat->entries[i].keys[k];
            key_info *ki = find_key(&r, d->name);
            if (!ki)
                key_from_decl(add_key(&r, d->name), d);
            else if (!ki->decl || !same_decl(ki->decl, d))
                mg_errors_add(errs, MG_ERR_DUPLICATE_NAME, cat->entries[i].path,
                              "key %s of entry %s differs from its other declaration", d->name,
                              cat->entries[i].name);
        }
    for (size_t i = 0; i < cat->n_entries; i++) {
        mg_catalog_entry *e = &cat->entries[i];
        for (size_t p = 0; p < e->n_params; p++) {
            mg_call_arg *d = &e->params[p].dflt;
            key_info *k;
            if (e->params[p].default_json && d->kind == MG_ARG_KEY &&
                (!(k = find_key(&r, d->ref)) ||
                 !scalar_types_fit(k->type, e->params[p].scalar_type)))
                mg_errors_add(errs, MG_ERR_UNKNOWN_KEY, e->path,
                              "default of param %s of %s names key %s, which no entry declares "
                              "with that type",
                              e->params[p].name, e->name, d->ref);
        }
        check_scope sc = {.entry = e};
        sc.let_types = mg_arena_alloc(r.arena, (e->n_lets + 1) * sizeof *sc.let_types);
        for (size_t k = 0; k < e->n_lets; k++) {
            sc.let_types[k] = check_expr(&r, &sc, e->let_exprs[k]);
            sc.n_lets_checked++;
        }
        mg_type want = mg_type_base(e->type);
        mg_expr *x = e->expand ? e->expand : e->fallback;
        if (x) {
            mg_type got = check_expr(&r, &sc, x);
            if (mg_type_is_error(&got) || !mg_type_compatible(&got, &want))
                mg_errors_add(errs, MG_ERR_TYPE_MISMATCH, x->path, "entry %s (%s) expands to %s",
                              e->name, type_str(&r, &want), type_str(&r, &got));
        }
    }
    mg_strmap_free(&r.key_index);
    return errs->len == before;
}

/* ---- stage 1 on a document ----------------------------------------------- */

static bool parse_document(rs *r, const char *bytes, size_t len, const mg_limits *lim,
                           cJSON **root_out)
{
    static const char *const fields[] = {"mgd",  "name",      "keys",     "devices",
                                         "jobs", "libraries", "reporter", NULL};
    cJSON *root = mg_json_parse(bytes, len, lim->max_bytes, lim->max_depth, "", r->errs);
    *root_out = root;
    if (!root) return false;
    mg_expr_ctx *ctx = &r->ctx;
    if (!cJSON_IsObject(root)) {
        mg_errors_add(r->errs, MG_ERR_SCHEMA, "", "a config document is a JSON object");
        return false;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "mgd");
    if (!ver) {
        mg_errors_add(r->errs, MG_ERR_SCHEMA, "", "missing \"mgd\": 1 (the format version)");
        return false;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
        mg_errors_add(r->errs, MG_ERR_UNSUPPORTED_VERSION, "/mgd",
                      "this mgd reads config format version 1");
        return false;
    }
    mg_check_members(ctx, root, "", fields);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(name) || !mg_valid_name(name->valuestring, true))
        mg_errors_add(r->errs, MG_ERR_SCHEMA, name ? "/name" : "",
                      "\"name\" must match [a-z][a-z0-9_-]{0,62}");
    else
        r->name = name->valuestring;

    add_builtin_keys(r);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
    if (keys && !cJSON_IsObject(keys)) {
        mg_errors_add(r->errs, MG_ERR_SCHEMA, "/keys", "\"keys\" is an object");
    } else if (keys) {
        mg_check_members(ctx, keys, "/keys", NULL);
        for (const cJSON *c = keys->child; c; c = c->next) {
            const char *kp = mg_pointer_member(r->arena, "/keys", c->string);
            if (!mg_valid_name(c->string, false) || !strcmp(c->string, "help")) {
                mg_errors_add(r->errs, MG_ERR_SCHEMA, kp,
                              "key names match [a-z][a-z0-9_]{0,62} and \"help\" is reserved");
                continue;
            }
            key_info *known = find_key(r, c->string);
            if (known && !known->decl) {
                mg_errors_add(r->errs, MG_ERR_DUPLICATE_NAME, kp,
                              "%s is a built-in key and cannot be declared", c->string);
                continue;
            }
            if (known) continue; /* a repeated member, reported as schema */
            mg_key_decl *d = mg_arena_alloc(r->arena, sizeof *d);
            if (!mg_key_decl_parse(ctx, c->string, c, kp, d)) {
                key_info *k = add_key(r, c->string);
                key_from_decl(k, d);
                k->broken = true;
                continue;
            }
            for (size_t t = 0; d->dflt.kind == MG_DEFAULT_BY_TARGET && t < d->dflt.n_targets; t++)
                if (strcmp(d->dflt.targets[t], "*") &&
                    !mg_catalog_has_target(r->cat, d->dflt.targets[t]))
                    mg_errors_add(
                        r->errs, MG_ERR_BAD_KEY_VALUE,
                        mg_pointer_member(
                            r->arena,
                            mg_pointer_member(r->arena, mg_pointer_member(r->arena, kp, "default"),
                                              "by_target"),
                            d->dflt.targets[t]),
                        "unknown target %s in by_target of key %s", d->dflt.targets[t], c->string);
            key_from_decl(add_key(r, c->string), d);
        }
    }

    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(root, "devices");
    if (devs && !cJSON_IsObject(devs)) {
        mg_errors_add(r->errs, MG_ERR_SCHEMA, "/devices", "\"devices\" is an object");
    } else if (devs) {
        mg_check_members(ctx, devs, "/devices", NULL);
        size_t n = (size_t)cJSON_GetArraySize(devs);
        if (n > lim->max_devices) {
            mg_errors_add(r->errs, MG_ERR_LIMIT, "/devices", "%zu devices; the limit is %zu", n,
                          lim->max_devices);
            return false;
        }
        r->devices = mg_arena_alloc(r->arena, (n ? n : 1) * sizeof *r->devices);
        for (const cJSON *c = devs->child; c; c = c->next) {
            const char *dp = mg_pointer_member(r->arena, "/devices", c->string);
            size_t dummy;
            /* a bad name is reported, but the device is still declared
             * so that its uses are not reported again */
            if (!mg_valid_name(c->string, false))
                mg_errors_add(r->errs, MG_ERR_SCHEMA, dp,
                              "device names match [a-z][a-z0-9_]{0,62}");
            else if (mg_catalog_find(r->cat, c->string))
                mg_errors_add(r->errs, MG_ERR_DUPLICATE_NAME, dp,
                              "%s is the name of a catalog entry; choose another name", c->string);
            if (mg_strmap_get(&r->device_index, c->string, &dummy)) continue; /* reported above */
            doc_device *d = &r->devices[r->n_devices];
            d->name = c->string;
            d->path = dp;
            d->expr = mg_expr_parse(ctx, c, dp);
            mg_strmap_put(&r->device_index, d->name, r->n_devices++);
        }
    }

    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(root, "jobs");
    if (!cJSON_IsArray(jobs) || !jobs->child) {
        mg_errors_add(r->errs, MG_ERR_SCHEMA, jobs ? "/jobs" : "",
                      "\"jobs\" must be a non-empty array of impl expressions");
    } else {
        size_t n = (size_t)cJSON_GetArraySize(jobs), i = 0;
        r->jobs = mg_arena_alloc(r->arena, n * sizeof *r->jobs);
        for (const cJSON *c = jobs->child; c; c = c->next, i++)
            r->jobs[r->n_jobs++] = mg_expr_parse(ctx, c, mg_pointer_index(r->arena, "/jobs", i));
    }
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(root, "reporter");
    if (rep)
        r->reporter = mg_expr_parse(ctx, rep, "/reporter");
    else {
        r->reporter = mg_arena_alloc(r->arena, sizeof *r->reporter);
        r->reporter->kind = MG_EXPR_NAME;
        r->reporter->name = "default_reporter";
        r->reporter->path = "/reporter";
    }
    mg_library_reqs_parse(ctx, cJSON_GetObjectItemCaseSensitive(root, "libraries"), "/libraries",
                          &r->libs, &r->n_libs);
    if (r->n_devices + ctx->inline_devices > lim->max_devices) {
        mg_errors_add(r->errs, MG_ERR_LIMIT, "/devices",
                      "%zu devices (named and inline); the limit is %zu",
                      r->n_devices + ctx->inline_devices, lim->max_devices);
        return false;
    }
    return true;
}

static void check_document(rs *r)
{
    r->entry_mentioned = mg_arena_alloc(r->arena, r->cat->n_entries + 1);
    for (size_t i = 0; i < r->n_devices; i++) mention_expr(r, r->devices[i].expr);
    for (size_t i = 0; i < r->n_jobs; i++) mention_expr(r, r->jobs[i]);
    mention_expr(r, r->reporter);
    r->check_stack = mg_arena_alloc(r->arena, (r->n_devices + 1) * sizeof *r->check_stack);
    for (size_t i = 0; i < r->n_devices; i++) check_device(r, i);
    check_scope sc = {0};
    for (size_t i = 0; i < r->n_jobs; i++) {
        mg_type t = check_expr(r, &sc, r->jobs[i]);
        if (!mg_type_is_error(&t) && (t.n_params || t.result != 0))
            mg_errors_add(r->errs, MG_ERR_JOB_TYPE, r->jobs[i]->path,
                          "a job must have type job, this has type %s%s", type_str(r, &t),
                          t.n_params ? " (apply it to its arguments)" : "");
    }
    mg_type rt = check_expr(r, &sc, r->reporter);
    mg_base_type rep = mg_type_table_find(&r->cat->types, "reporter");
    mg_type want = mg_type_base(rep);
    if (!mg_type_compatible(&rt, &want))
        mg_errors_add(r->errs, MG_ERR_TYPE_MISMATCH, r->reporter->path,
                      "the reporter must have type reporter, not %s", type_str(r, &rt));
}

static mg_limits effective_limits(const mg_limits *in)
{
    mg_limits l = in ? *in : (mg_limits){0};
    if (!l.max_bytes) l.max_bytes = MG_LIMITS_DEFAULT_BYTES;
    if (!l.max_depth) l.max_depth = MG_LIMITS_DEFAULT_DEPTH;
    if (!l.max_devices) l.max_devices = MG_LIMITS_DEFAULT_DEVICES;
    return l;
}

static void rs_init(rs *r, const mg_catalog *cat, mg_arena *arena, mg_errors *errs)
{
    *r = (rs){.cat = cat, .arena = arena, .errs = errs};
    r->ctx = (mg_expr_ctx){.arena = arena, .errs = errs, .types = &cat->types};
}

static void rs_free(rs *r)
{
    mg_strmap_free(&r->symbols);
    mg_strmap_free(&r->device_index);
    mg_strmap_free(&r->key_index);
}

bool mg_config_check(const mg_catalog *cat, const char *bytes, size_t len, const mg_limits *limits,
                     mg_errors *errs)
{
    mg_arena arena = {0};
    rs r;
    rs_init(&r, cat, &arena, errs);
    size_t before = errs->len;
    mg_limits lim = effective_limits(limits);
    cJSON *root;
    if (parse_document(&r, bytes, len, &lim, &root)) check_document(&r);
    bool ok = errs->len == before;
    cJSON_Delete(root);
    rs_free(&r);
    mg_arena_free(&arena);
    return ok;
}

/* ---- stage 2: evaluation ------------------------------------------------- */

static size_t new_node(rs *r, const char *impl, const char *type, const char *from,
                       const mg_catalog_entry *entry, const mg_user_code *code, const size_t *deps,
                       size_t n_deps, mg_graph_arg *args, size_t n_args)
{
    if (r->n_nodes == r->cap_nodes) {
        size_t cap = r->cap_nodes ? r->cap_nodes * 2 : 64;
        r->nodes = mg_arena_grow(r->arena, r->nodes, r->n_nodes * sizeof *r->nodes,
                                 cap * sizeof *r->nodes);
        r->cap_nodes = cap;
    }
    mg_graph_node *n = &r->nodes[r->n_nodes];
    n->impl = impl;
    n->type = type;
    n->from = from;
    n->entry = entry;
    n->code = code;
    n->n_deps = n_deps;
    n->deps = mg_arena_alloc(r->arena, (n_deps ? n_deps : 1) * sizeof *n->deps);
    if (n_deps) memcpy(n->deps, deps, n_deps * sizeof *deps);
    n->args = args;
    n->n_args = n_args;
    n->id = mg_arena_printf(r->arena, "%s%zu", impl, r->n_nodes);
    return r->n_nodes++;
}

/* Instances are bounded too: `apply` and catalog expansions make nodes
 * that the document's device count does not see. */
static bool room_for_node(rs *r)
{
    if (r->n_nodes < r->max_nodes) return true;
    mg_errors_add(r->errs, MG_ERR_LIMIT, "",
                  "the graph has more than %zu instances (4 per allowed device)", r->max_nodes);
    return false;
}

static value eval_expr(rs *r, entry_env *env, const mg_expr *e);

static value node_value(size_t n)
{
    return (value){VAL_NODE, n, NULL, NULL, 0};
}

static value eval_device(rs *r, size_t i)
{
    doc_device *d = &r->devices[i];
    if (d->eval_state == 2) return d->val;
    if (d->eval_state == 1) return VERROR; /* cycles were reported in stage 1 */
    d->eval_state = 1;
    d->val = eval_expr(r, NULL, d->expr);
    d->eval_state = 2;
    return d->val;
}

/* A scalar argument's value for the node: a configure value or a runtime key. */
static bool scalar_arg(rs *r, entry_env *env, const mg_call_arg *a, mg_key_type type,
                       mg_graph_arg *out)
{
    out->type = type;
    switch (a->kind) {
    case MG_ARG_SCALAR:
        out->value = a->value;
        return a->has_value;
    case MG_ARG_KEY: {
        key_info *k = find_key(r, a->ref);
        if (!k) return false;
        if (k->stage == MG_STAGE_RUNTIME) {
            out->runtime_key = true;
            out->key = k->name;
            k->in_graph = true;
            return true;
        }
        if (!k->has_value) return false;
        out->value = k->value;
        out->value.type = type;
        return true;
    }
    case MG_ARG_PARAM: {
        if (!env) return false;
        const mg_catalog_param *p = mg_catalog_entry_param(env->entry, a->ref);
        if (!p) return false;
        const char *name = out->name;
        *out = env->scalars[p - env->entry->params];
        out->name = name;
        out->type = type;
        if (!out->runtime_key) out->value.type = type;
        return true;
    }
    default:
        return false;
    }
}

/* Instantiates a catalog entry: binds its params, then expands it, falls
 * back, or makes the node. `from` is what the node will say it came from;
 * `where` is the document position errors point at (the two differ for
 * catalog constants, whose `from` is their name). */
static value eval_entry(rs *r, const mg_catalog_entry *ce, entry_env *caller,
                        const mg_call_arg *args, size_t n_args, const char *from, const char *where)
{
    entry_env env = {.entry = ce, .from = from, .where = where};
    env.params = mg_arena_alloc(r->arena, (ce->n_params + 1) * sizeof *env.params);
    env.scalars = mg_arena_alloc(r->arena, (ce->n_params + 1) * sizeof *env.scalars);
    bool ok = true;
    for (size_t p = 0; p < ce->n_params; p++) {
        const mg_catalog_param *cp = &ce->params[p];
        const mg_call_arg *a = NULL;
        for (size_t i = 0; i < n_args; i++)
            if (!strcmp(args[i].name, cp->name)) a = &args[i];
        env.scalars[p].name = cp->name;
        if (cp->is_impl) {
            env.params[p] = a && a->kind == MG_ARG_EXPR ? eval_expr(r, caller, a->expr) : VERROR;
            if (env.params[p].kind != VAL_NODE) ok = false;
            continue;
        }
        if (!a) a = &cp->dflt;
        /* a default's {"key"} is read in the entry's own scope */
        if (!scalar_arg(r, a == &cp->dflt ? NULL : caller, a, cp->scalar_type, &env.scalars[p]))
            ok = false;
    }
    bool supported = !ce->concrete || mg_catalog_entry_supports(ce, r->target);
    if (!supported && !ce->fallback) {
        /* reported even when a dependency failed too: every device the
         * target lacks is named at once */
        const char *list = mg_arena_join(r->arena, ce->targets, ce->n_targets, ", ");
        mg_errors_add(r->errs, MG_ERR_UNSUPPORTED_TARGET, where,
                      "device %s (from %s) is not available on target %s; targets that "
                      "implement it: %s",
                      ce->name, from, r->target, ce->n_targets ? list : "none yet");
        return VERROR;
    }
    if (!ok) return VERROR;
    bool fallback = !supported;
    if (!fallback) {
        /* The entry is part of the image (a fallen-back entry is not): its
         * libraries and runtime keys are the image's. */
        r->entry_used[entry_index(r, ce)] = true;
        for (size_t k = 0; k < ce->n_keys; k++) {
            key_info *ki = find_key(r, ce->keys[k].name);
            if (ki && ki->stage == MG_STAGE_RUNTIME) ki->in_graph = true;
        }
    }
    if (ce->expand) {
        env.lets = mg_arena_alloc(r->arena, (ce->n_lets + 1) * sizeof *env.lets);
        env.let_state = mg_arena_alloc(r->arena, (ce->n_lets + 1) * sizeof *env.let_state);
        return eval_expr(r, &env, ce->expand);
    }
    if (fallback) return eval_expr(r, &env, ce->fallback);
    size_t deps[MG_CATALOG_MAX_PARAMS], n_deps = 0, n_scalars = 0;
    for (size_t p = 0; p < ce->n_params; p++) {
        if (ce->params[p].is_impl) {
            deps[n_deps++] = env.params[p].node;
        } else {
            n_scalars++;
        }
    }
    if (!room_for_node(r)) return VERROR;
    mg_graph_arg *gargs = mg_arena_alloc(r->arena, (n_scalars + 1) * sizeof *gargs);
    size_t g = 0;
    for (size_t p = 0; p < ce->n_params; p++)
        if (!ce->params[p].is_impl) gargs[g++] = env.scalars[p];
    size_t n = new_node(r, ce->name, mg_type_table_name(&r->cat->types, ce->type), from, ce, NULL,
                        deps, n_deps, gargs, n_scalars);
    return node_value(n);
}

static const mg_key_value *choice_value(rs *r, const char *key)
{
    key_info *k = find_key(r, key);
    return k && k->has_value ? &k->value : NULL;
}

static value make_user_node(rs *r, const mg_user_code *code, const size_t *args, size_t n,
                            const char *from)
{
    if (!room_for_node(r)) return VERROR;
    /* keys the code reads are in the image even when the catalog entry that
     * declares them is not (a `logs` read without a reporter) */
    for (size_t k = 0; k < code->n_runtime_keys; k++) {
        key_info *ki = find_key(r, code->runtime_keys[k]);
        if (ki) ki->in_graph = true;
    }
    size_t id = new_node(r, "main", "job", from, NULL, code, args, n, NULL, 0);
    return node_value(id);
}

static value eval_expr(rs *r, entry_env *env, const mg_expr *e)
{
    const char *from = env ? env->from : e->path;
    switch (e->kind) {
    case MG_EXPR_BAD:
        return VERROR;
    case MG_EXPR_NAME: {
        size_t i;
        if (!env && mg_strmap_get(&r->device_index, e->name, &i)) return eval_device(r, i);
        const mg_catalog_entry *ce = mg_catalog_find(r->cat, e->name);
        if (!ce) return VERROR;
        i = entry_index(r, ce);
        if (r->const_state[i] == 2) return r->const_memo[i];
        if (r->const_state[i] == 1) return VERROR;
        r->const_state[i] = 1;
        r->const_memo[i] = eval_entry(r, ce, NULL, NULL, 0, ce->name, env ? env->where : e->path);
        r->const_state[i] = 2;
        return r->const_memo[i];
    }
    case MG_EXPR_PARAM: {
        if (!env) return VERROR;
        const mg_catalog_param *p = mg_catalog_entry_param(env->entry, e->name);
        if (p) return env->params[p - env->entry->params];
        for (size_t k = 0; k < env->entry->n_lets; k++)
            if (!strcmp(env->entry->let_names[k], e->name)) {
                if (env->let_state[k] == 0) {
                    env->let_state[k] = 1;
                    env->lets[k] = eval_expr(r, env, env->entry->let_exprs[k]);
                    env->let_state[k] = 2;
                }
                return env->let_state[k] == 2 ? env->lets[k] : VERROR;
            }
        return VERROR;
    }
    case MG_EXPR_CALL: {
        const mg_catalog_entry *ce = mg_catalog_find(r->cat, e->name);
        return ce ? eval_entry(r, ce, env, e->args, e->n_args, from, env ? env->where : e->path)
                  : VERROR;
    }
    case MG_EXPR_MAIN:
        if (!e->code->type.n_params) return make_user_node(r, e->code, NULL, 0, from);
        return (value){VAL_FUNCTOR, NONE, e->code, NULL, 0};
    case MG_EXPR_APPLY: {
        value f = eval_expr(r, env, e->fn);
        size_t *args = mg_arena_alloc(r->arena, (f.n_args + e->n_to + 1) * sizeof *args);
        if (f.n_args) memcpy(args, f.args, f.n_args * sizeof *args);
        bool ok = f.kind == VAL_FUNCTOR;
        for (size_t i = 0; i < e->n_to; i++) {
            value a = eval_expr(r, env, e->to[i]);
            if (a.kind != VAL_NODE) ok = false;
            args[f.n_args + i] = a.node;
        }
        if (!ok) return VERROR;
        size_t n = f.n_args + e->n_to;
        if (n < f.code->type.n_params) return (value){VAL_FUNCTOR, NONE, f.code, args, n};
        return make_user_node(r, f.code, args, n, from);
    }
    case MG_EXPR_IF: {
        const mg_key_value *v = choice_value(r, e->key);
        if (!v) return VERROR;
        bool yes;
        if (e->equals) {
            key_info *k = find_key(r, e->key);
            mg_key_value want;
            mg_err why;
            if (!mg_key_value_from_json(r->arena, k->type, k->values, k->n_values, e->equals, &want,
                                        &why))
                return VERROR;
            yes = mg_key_value_equal(v, &want);
        } else {
            yes = v->b;
        }
        return eval_expr(r, env, yes ? e->then_expr : e->else_expr);
    }
    case MG_EXPR_MATCH: {
        const mg_key_value *v = choice_value(r, e->key);
        if (!v) return VERROR;
        key_info *k = find_key(r, e->key);
        for (size_t i = 0; i < e->n_cases; i++) {
            mg_key_value cv;
            size_t size = strlen(e->cases[i].value) + 64;
            char *canon = mg_arena_alloc(r->arena, size);
            mg_err why;
            if (mg_key_value_from_text(k->type, k->values, k->n_values, e->cases[i].value, &cv,
                                       canon, size, &why) &&
                mg_key_value_equal(v, &cv))
                return eval_expr(r, env, e->cases[i].expr);
        }
        return e->default_expr ? eval_expr(r, env, e->default_expr) : VERROR;
    }
    }
    return VERROR;
}

/* Values of configure keys: given, else default for the target, else missing. */
static void settle_keys(rs *r, const mg_resolve_options *o)
{
    key_info *t = find_key(r, "target"), *a = find_key(r, "arch");
    t->has_value = a->has_value = true;
    t->value = (mg_key_value){.type = MG_KEY_ENUM, .text = r->target};
    a->value = (mg_key_value){.type = MG_KEY_ENUM, .text = r->arch};
    bool *given = mg_arena_alloc(r->arena, r->n_keys + 1);
    for (size_t i = 0; i < o->n_keys; i++) {
        const char *name = o->keys[i].name, *text = o->keys[i].value ? o->keys[i].value : "";
        key_info *k = find_key(r, name);
        if (k && (!strcmp(name, "target") || !strcmp(name, "arch"))) {
            mg_errors_add(r->errs, MG_ERR_BAD_KEY_VALUE, name,
                          "%s is chosen with the build's own %s setting, not as a key", name, name);
            continue;
        }
        if (!k) {
            mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, name, "the config declares no key %s", name);
            continue;
        }
        if (k->stage == MG_STAGE_RUNTIME) {
            mg_errors_add(r->errs, MG_ERR_UNKNOWN_KEY, name,
                          "%s is a runtime key: give it to the image at boot (--%s=%s)", name, name,
                          text);
            continue;
        }
        size_t idx = (size_t)(k - r->keys);
        if (given[idx]) {
            mg_errors_add(r->errs, MG_ERR_BAD_KEY_VALUE, name, "key %s is given twice", name);
            continue;
        }
        given[idx] = true;
        size_t size = strlen(text) + 64;
        char *canon = mg_arena_alloc(r->arena, size);
        mg_err why;
        if (!mg_key_value_from_text(k->type, k->values, k->n_values, text, &k->value, canon, size,
                                    &why)) {
            mg_errors_add(r->errs, MG_ERR_BAD_KEY_VALUE, name, "key %s (%s): %s", name,
                          mg_key_type_name(k->type), why.msg);
            continue;
        }
        k->has_value = true;
    }
    for (size_t i = 0; i < r->n_keys; i++) {
        key_info *k = &r->keys[i];
        if (k->has_value || given[i] || !k->decl) continue;
        const mg_key_default *d = &k->decl->dflt;
        const mg_key_value *v = NULL;
        if (d->kind == MG_DEFAULT_VALUE) v = &d->value;
        for (size_t j = 0; d->kind == MG_DEFAULT_BY_TARGET && j < d->n_targets; j++)
            if (!strcmp(d->targets[j], r->target)) v = &d->values[j];
        for (size_t j = 0; !v && d->kind == MG_DEFAULT_BY_TARGET && j < d->n_targets; j++)
            if (!strcmp(d->targets[j], "*")) v = &d->values[j];
        if (v) {
            k->value = *v;
            k->has_value = true;
        } else if (k->stage == MG_STAGE_CONFIGURE) {
            mg_errors_add(r->errs, MG_ERR_MISSING_KEY, k->name,
                          d->kind == MG_DEFAULT_BY_TARGET
                              ? "key %s has no default for target %s; give it with the build"
                              : "key %s has no default; give it with the build%s",
                          k->name, d->kind == MG_DEFAULT_BY_TARGET ? r->target : "");
        }
    }
}

/* ---- libraries ----------------------------------------------------------- */

typedef struct req_ref {
    const mg_library_req *req;
} req_ref;

static int cmp_req(const void *a, const void *b)
{
    const mg_library_req *x = ((const req_ref *)a)->req, *y = ((const req_ref *)b)->req;
    return strcmp(x->name, y->name);
}

static void describe_req(char *buf, size_t size, const mg_library_req *q)
{
    if (q->min_text && q->max_text)
        snprintf(buf, size, ">= %s, < %s (%s)", q->min_text, q->max_text, q->origin);
    else if (q->min_text)
        snprintf(buf, size, ">= %s (%s)", q->min_text, q->origin);
    else if (q->max_text)
        snprintf(buf, size, "< %s (%s)", q->max_text, q->origin);
    else
        snprintf(buf, size, "any version (%s)", q->origin);
}

static void merge_libraries(rs *r, mg_graph *g)
{
    size_t cap = r->n_libs + 8, n = 0;
    req_ref *reqs = mg_xmalloc(cap * sizeof *reqs);
    for (size_t i = 0; i < r->n_libs; i++) reqs[n++].req = &r->libs[i];
    for (size_t i = 0; i < r->cat->n_entries; i++) {
        if (!r->entry_used[i]) continue;
        const mg_catalog_entry *e = &r->cat->entries[i];
        for (size_t k = 0; k < e->n_libraries; k++) {
            if (n == cap) reqs = mg_xrealloc(reqs, (cap *= 2) * sizeof *reqs);
            reqs[n++].req = &e->libraries[k];
        }
    }
    for (size_t i = 0; i < r->n_nodes; i++) {
        const mg_user_code *c = r->nodes[i].code;
        bool seen = false;
        for (size_t j = 0; c && j < i; j++) seen |= r->nodes[j].code == c;
        for (size_t k = 0; c && !seen && k < c->n_libraries; k++) {
            if (n == cap) reqs = mg_xrealloc(reqs, (cap *= 2) * sizeof *reqs);
            reqs[n++].req = &c->libraries[k];
        }
    }
    /* stable: same-name requirements keep their order of discovery */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_req(&reqs[j - 1], &reqs[j]) > 0; j--) {
            req_ref t = reqs[j];
            reqs[j] = reqs[j - 1];
            reqs[j - 1] = t;
        }
    g->libraries = mg_arena_alloc(&g->arena, (n + 1) * sizeof *g->libraries);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        const char *name = reqs[i].req->name;
        bool has_min = false, has_max = false;
        mg_version lo = {0}, hi = {0};
        for (; j < n && !strcmp(reqs[j].req->name, name); j++) {
            const mg_library_req *q = reqs[j].req;
            if (q->min_text && (!has_min || mg_version_compare(&q->min, &lo) > 0))
                lo = q->min, has_min = true;
            if (q->max_text && (!has_max || mg_version_compare(&q->max, &hi) < 0))
                hi = q->max, has_max = true;
        }
        const mg_catalog_library *best = NULL;
        char avail[256] = "";
        size_t off = 0;
        for (size_t l = 0; l < r->cat->n_libraries; l++) {
            const mg_catalog_library *cl = &r->cat->libraries[l];
            bool on_target = false;
            for (size_t t = 0; t < cl->n_targets; t++)
                on_target |= !strcmp(cl->targets[t], r->target);
            if (strcmp(cl->name, name) || !on_target) continue;
            if (off < sizeof avail)
                off += (size_t)snprintf(avail + off, sizeof avail - off, "%s%s", off ? ", " : "",
                                        cl->version_text);
            if (has_min && mg_version_compare(&cl->version, &lo) < 0) continue;
            if (has_max && mg_version_compare(&cl->version, &hi) >= 0) continue;
            if (!best || mg_version_compare(&cl->version, &best->version) > 0) best = cl;
        }
        if (best) {
            g->libraries[g->n_libraries++] = (mg_graph_library){best->name, best->version_text};
        } else {
            char msg[MG_ERR_SIZE];
            size_t mo = (size_t)snprintf(msg, sizeof msg,
                                         "no version of %s satisfies every requirement: ", name);
            const char *path = "";
            for (size_t k = i; k < j && mo < sizeof msg; k++) {
                char one[300];
                describe_req(one, sizeof one, reqs[k].req);
                mo += (size_t)snprintf(msg + mo, sizeof msg - mo, "%s%s", k > i ? "; " : "", one);
                if (!path[0] && reqs[k].req->origin[0] == '/') path = reqs[k].req->origin;
            }
            mg_errors_add(r->errs, MG_ERR_LIBRARY_CONFLICT, path, "%s; available on %s: %s", msg,
                          r->target, off ? avail : "none");
        }
        i = j;
    }
    free(reqs);
}

/* ---- output -------------------------------------------------------------- */

static int cmp_graph_key(const void *a, const void *b)
{
    return strcmp(((const mg_graph_key *)a)->name, ((const mg_graph_key *)b)->name);
}

static mg_graph_key graph_key(const key_info *k)
{
    return (mg_graph_key){k->name,   k->stage,    k->type,      k->doc,
                          k->values, k->n_values, k->has_value, k->value};
}

static void fill_keys(rs *r, mg_graph *g)
{
    g->keys = mg_arena_alloc(&g->arena, (r->n_keys + 1) * sizeof *g->keys);
    g->runtime_keys = mg_arena_alloc(&g->arena, (r->n_keys + 1) * sizeof *g->runtime_keys);
    for (size_t i = 0; i < r->n_keys; i++) {
        key_info *k = &r->keys[i];
        if (k->stage == MG_STAGE_CONFIGURE)
            g->keys[g->n_keys++] = graph_key(k);
        else if (!k->decl->origin || k->in_graph)
            g->runtime_keys[g->n_runtime_keys++] = graph_key(k);
    }
    /* target and arch were added first; sort the rest */
    qsort(g->keys + 2, g->n_keys - 2, sizeof *g->keys, cmp_graph_key);
    qsort(g->runtime_keys, g->n_runtime_keys, sizeof *g->runtime_keys, cmp_graph_key);
}

/* The build's target or arch: checked as the value of the built-in enum
 * key it is, so the error lists the valid values as for any enum key. */
static void check_builtin_value(rs *r, const char *key, const char *const *values, size_t n,
                                const char *given)
{
    mg_key_value v;
    size_t size = strlen(given) + 64;
    char *canon = mg_arena_alloc(r->arena, size);
    mg_err why;
    if (!mg_key_value_from_text(MG_KEY_ENUM, values, n, given, &v, canon, size, &why))
        mg_errors_add(r->errs, MG_ERR_BAD_KEY_VALUE, key, "unknown %s %s: %s", key, given, why.msg);
}

/* Drops the devices that no job and not the reporter reaches, as
 * functoria does: a catalog expansion may ignore a param (the socket
 * stack ignores generic_stackv4v6's network), and a device nothing uses
 * must not be connected (a netif would want a tap). Nodes are made after
 * their deps, so one backward sweep finds what the roots reach. Ids are
 * renumbered, and the libraries and the catalog's runtime keys of what
 * was dropped leave the image with it. */
static void prune_unreached(rs *r, size_t reporter, bool has_reporter, size_t *jobs, size_t n_jobs)
{
    size_t n = r->n_nodes;
    bool *keep = mg_arena_alloc(r->arena, n + 1);
    size_t *to = mg_arena_alloc(r->arena, (n + 1) * sizeof *to);
    if (has_reporter) keep[reporter] = true;
    for (size_t i = 0; i < n_jobs; i++) keep[jobs[i]] = true;
    for (size_t i = n; i-- > 0;)
        for (size_t d = 0; keep[i] && d < r->nodes[i].n_deps; d++) keep[r->nodes[i].deps[d]] = true;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        to[i] = m;
        mg_graph_node node = r->nodes[i];
        for (size_t d = 0; d < node.n_deps; d++) node.deps[d] = to[node.deps[d]];
        if (m != i) node.id = mg_arena_printf(r->arena, "%s%zu", node.impl, m);
        r->nodes[m++] = node;
    }
    if (m == n) return;
    r->n_nodes = m;
    for (size_t i = 0; i < n_jobs; i++) jobs[i] = to[jobs[i]];
    /* concrete entries are used by their nodes; expansions keep their mark */
    for (size_t i = 0; i < r->cat->n_entries; i++)
        if (r->cat->entries[i].concrete) r->entry_used[i] = false;
    for (size_t i = 0; i < m; i++)
        if (r->nodes[i].entry) r->entry_used[entry_index(r, r->nodes[i].entry)] = true;
    for (size_t k = 0; k < r->n_keys; k++) {
        key_info *ki = &r->keys[k];
        if (ki->stage != MG_STAGE_RUNTIME || !ki->decl->origin) continue;
        ki->in_graph = false;
        for (size_t i = 0; i < m && !ki->in_graph; i++) {
            const mg_graph_node *nd = &r->nodes[i];
            for (size_t a = 0; a < nd->n_args; a++)
                if (nd->args[a].runtime_key && !strcmp(nd->args[a].key, ki->name))
                    ki->in_graph = true;
            for (size_t e = 0; nd->entry && e < nd->entry->n_keys; e++)
                if (!strcmp(nd->entry->keys[e].name, ki->name)) ki->in_graph = true;
            for (size_t c = 0; nd->code && c < nd->code->n_runtime_keys; c++)
                if (!strcmp(nd->code->runtime_keys[c], ki->name)) ki->in_graph = true;
        }
    }
}

mg_graph *mg_resolve(const mg_catalog *cat, const char *bytes, size_t len,
                     const mg_resolve_options *opts, mg_errors *errs)
{
    mg_resolve_options o = opts ? *opts : (mg_resolve_options){0};
    mg_graph *g = mg_xmalloc(sizeof *g);
    *g = (mg_graph){0};
    rs r;
    rs_init(&r, cat, &g->arena, errs);
    r.check_path = o.check_path;
    r.check_path_ctx = o.check_path_ctx;
    size_t before = errs->len;
    mg_limits lim = effective_limits(&o.limits);
    cJSON *root = NULL;
    r.max_nodes = 4 * lim.max_devices;
    r.target = o.target ? o.target : cat->default_target;
    r.arch = o.arch ? o.arch : "x86_64";
    check_builtin_value(&r, "target", cat->targets, cat->n_targets, r.target);
    check_builtin_value(&r, "arch", cat->arches, cat->n_arches, r.arch);
    if (parse_document(&r, bytes, len, &lim, &root)) check_document(&r);
    if (errs->len == before) settle_keys(&r, &o);
    if (errs->len == before) {
        r.const_memo = mg_arena_alloc(r.arena, (cat->n_entries + 1) * sizeof *r.const_memo);
        r.const_state = mg_arena_alloc(r.arena, (cat->n_entries + 1) * sizeof *r.const_state);
        r.entry_used = mg_arena_alloc(r.arena, cat->n_entries + 1);
        value reporter = eval_expr(&r, NULL, r.reporter);
        size_t *jobs = mg_arena_alloc(r.arena, (r.n_jobs + 1) * sizeof *jobs), n = 0;
        for (size_t i = 0; i < r.n_jobs; i++) {
            value v = eval_expr(&r, NULL, r.jobs[i]);
            if (v.kind == VAL_NODE) jobs[n++] = v.node;
        }
        /* an instance listed twice starts once */
        bool *listed = mg_arena_alloc(r.arena, r.n_nodes + 1);
        for (size_t i = 0; i < n; i++)
            if (!listed[jobs[i]]) {
                listed[jobs[i]] = true;
                jobs[g->n_jobs++] = jobs[i];
            }
        g->jobs = jobs;
        if (errs->len == before)
            prune_unreached(&r, reporter.node, reporter.kind == VAL_NODE, jobs, g->n_jobs);
        if (errs->len == before) merge_libraries(&r, g);
    }
    if (errs->len == before) {
        g->name = r.name;
        g->target = r.target;
        g->arch = r.arch;
        g->nodes = r.nodes;
        g->n_nodes = r.n_nodes;
        fill_keys(&r, g);
        g->sources = mg_arena_alloc(&g->arena, 8 * sizeof *g->sources);
        size_t cap = 8, dummy;
        mg_strmap seen = {0};
        for (size_t i = 0; i < g->n_nodes; i++) {
            const mg_user_code *c = g->nodes[i].code;
            for (size_t s = 0; c && s < c->n_sources; s++) {
                if (mg_strmap_get(&seen, c->sources[s], &dummy)) continue;
                mg_strmap_put(&seen, c->sources[s], 0);
                if (g->n_sources == cap) {
                    g->sources = mg_arena_grow(&g->arena, g->sources, cap * sizeof *g->sources,
                                               2 * cap * sizeof *g->sources);
                    cap *= 2;
                }
                g->sources[g->n_sources++] = c->sources[s];
            }
        }
        mg_strmap_free(&seen);
        size_t most = 0;
        for (size_t i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].entry) most += g->nodes[i].entry->n_notices;
        g->notices = mg_arena_alloc(&g->arena, (most + 1) * sizeof *g->notices);
        for (size_t i = 0; i < g->n_nodes; i++) {
            const mg_catalog_entry *e = g->nodes[i].entry;
            for (size_t k = 0; e && k < e->n_notices; k++) {
                /* relative to the catalog file's folder, like its sources */
                const char *slash = strrchr(e->file, '/');
                int dir = slash ? (int)(slash - e->file) + 1 : 0;
                const char *p = mg_arena_printf(&g->arena, "%.*s%s", dir, e->file, e->notices[k]);
                bool dup = false;
                for (size_t j = 0; j < g->n_notices; j++) dup |= !strcmp(g->notices[j], p);
                if (!dup) g->notices[g->n_notices++] = p;
            }
        }
        /* The graph points into the JSON tree (names, strings): keep it
         * alive by copying it into the arena's lifetime. */
        g->root = root;
        root = NULL;
    }
    cJSON_Delete(root);
    rs_free(&r);
    if (errs->len > before) {
        mg_graph_free(g);
        return NULL;
    }
    return g;
}

void mg_graph_free(mg_graph *g)
{
    if (!g) return;
    cJSON_Delete(g->root);
    mg_arena_free(&g->arena);
    free(g);
}

size_t mg_graph_find(const mg_graph *g, const char *id)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].id, id)) return i;
    return NONE;
}
