/*
 * expr.h - impl expressions and key declarations, as parsed from JSON.
 *
 * Config documents and catalog entries share one expression language
 * (docs/config.md, "Impl expressions"): names, constructor calls, `apply`,
 * `if`, `match` and user code (`main`). Catalog entries may also refer to
 * their own parameters and local bindings with {"param": "name"}, and may
 * not contain user code. This module turns cJSON trees into these structs,
 * reporting schema problems with JSON pointers; typing and evaluation live
 * in resolve.c. Everything is allocated from the caller's arena.
 */
#ifndef MG_GRAPH_EXPR_H
#define MG_GRAPH_EXPR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "graph/errors.h"
#include "graph/keys.h"
#include "graph/types.h"
#include "graph/version.h"

/* A key's default: none, one value, or a value per target ("*" = fallback). */
typedef struct mg_key_default {
    enum { MG_DEFAULT_NONE, MG_DEFAULT_VALUE, MG_DEFAULT_BY_TARGET } kind;
    mg_key_value value;   /* MG_DEFAULT_VALUE */
    const char **targets; /* MG_DEFAULT_BY_TARGET: target names or "*" */
    mg_key_value *values;
    size_t n_targets;
} mg_key_default;

typedef struct mg_key_decl {
    const char *name;
    const char *path; /* JSON pointer of the declaration */
    mg_key_stage stage;
    mg_key_type type;
    const char **values; /* enum only */
    size_t n_values;
    mg_key_default dflt;
    const char *doc;
    const char *origin; /* NULL for the document; the catalog entry's name otherwise */
} mg_key_decl;

typedef struct mg_library_req {
    const char *name;
    const char *min_text, *max_text; /* NULL when unbounded */
    mg_version min, max;
    const char *origin; /* JSON pointer, or "catalog entry NAME" */
} mg_library_req;

typedef struct mg_expr mg_expr;

/* An argument of a constructor call. */
typedef struct mg_call_arg {
    const char *name;
    const char *path;
    const cJSON *json; /* the argument as written, typed against the param later */
    enum { MG_ARG_EXPR, MG_ARG_SCALAR, MG_ARG_KEY, MG_ARG_PARAM } kind;
    mg_expr *expr;   /* MG_ARG_EXPR: filled once the param is known to be impl-typed */
    const char *ref; /* MG_ARG_KEY: key name; MG_ARG_PARAM: param name */
    bool has_value;  /* MG_ARG_SCALAR: set once checked against a scalar param */
    mg_key_value value;
} mg_call_arg;

typedef struct mg_match_case {
    const char *value; /* as written (object member name) */
    const char *path;
    mg_expr *expr;
} mg_match_case;

typedef struct mg_user_code {
    const char *symbol;
    const char *type_text;
    mg_type type;
    const char **sources, **include_dirs, **runtime_keys, **cflags;
    size_t n_sources, n_include_dirs, n_runtime_keys, n_cflags;
    mg_library_req *libraries;
    size_t n_libraries;
} mg_user_code;

typedef enum mg_expr_kind {
    MG_EXPR_NAME,  /* "name" */
    MG_EXPR_CALL,  /* {"device": ..., "args": {...}} */
    MG_EXPR_APPLY, /* {"apply": E, "to": [...]} */
    MG_EXPR_IF,    /* {"if": COND, "then": E, "else": E} */
    MG_EXPR_MATCH, /* {"match": k, "cases": {...}, "default": E} */
    MG_EXPR_MAIN,  /* user code */
    MG_EXPR_PARAM, /* {"param": p}: catalog entries only */
    MG_EXPR_BAD,   /* could not be parsed; already reported */
} mg_expr_kind;

struct mg_expr {
    mg_expr_kind kind;
    const char *path;
    const char *name; /* NAME, PARAM; CALL: constructor */
    mg_call_arg *args;
    size_t n_args;
    mg_expr *fn; /* APPLY */
    mg_expr **to;
    size_t n_to;
    const char *key;     /* IF, MATCH */
    const cJSON *equals; /* IF with {"key", "equals"}; NULL for a bool key */
    mg_expr *then_expr, *else_expr;
    mg_match_case *cases;
    size_t n_cases;
    mg_expr *default_expr; /* MATCH; may be NULL */
    mg_user_code *code;    /* MAIN */
};

typedef struct mg_expr_ctx {
    mg_arena *arena;
    mg_errors *errs;
    const mg_type_table *types;
    bool in_catalog;       /* allow {"param"}, forbid user code */
    size_t inline_devices; /* count of constructor calls and user code seen */
} mg_expr_ctx;

/* Parses an impl expression at `path`; never NULL (MG_EXPR_BAD on errors). */
mg_expr *mg_expr_parse(mg_expr_ctx *ctx, const cJSON *json, const char *path);

/* Parses the declaration of key `name` at `path`; false after reporting errors. */
bool mg_key_decl_parse(mg_expr_ctx *ctx, const char *name, const cJSON *json, const char *path,
                       mg_key_decl *out);

/* Parses an array of library requirements at `path`. */
bool mg_library_reqs_parse(mg_expr_ctx *ctx, const cJSON *json, const char *path,
                           mg_library_req **out, size_t *n_out);

/* Reads a JSON scalar as a value of a key type (enum values checked). An
 * int is a JSON number within +-(2^53 - 1), the integers a JSON number
 * surely carries exactly, or a string of decimal digits (full int64).
 * On failure writes the reason into `why`. Text comes from the arena. */
bool mg_key_value_from_json(mg_arena *arena, mg_key_type type, const char *const *values,
                            size_t n_values, const cJSON *json, mg_key_value *out, mg_err *why);

/* JSON pointer of member `name` under `base` (escapes '~' and '/'). */
const char *mg_pointer_member(mg_arena *arena, const char *base, const char *name);
const char *mg_pointer_index(mg_arena *arena, const char *base, size_t index);

/* Reports members of `obj` that are not in the NULL-terminated `allowed`
 * list, and repeated members, as schema errors. Returns false if any. */
bool mg_check_members(mg_expr_ctx *ctx, const cJSON *obj, const char *path,
                      const char *const *allowed);

/* Whether `s` matches [a-z][a-z0-9_]{0,62} (plus '-' when `dash`). */
bool mg_valid_name(const char *s, bool dash);

#endif
