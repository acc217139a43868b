#include "graph/expr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mg_pointer_member(mg_arena *arena, const char *base, const char *name)
{
    size_t extra = 0;
    for (const char *p = name; *p; p++) extra += *p == '~' || *p == '/';
    size_t blen = strlen(base), nlen = strlen(name);
    char *out = mg_arena_alloc(arena, blen + 1 + nlen + extra + 1);
    memcpy(out, base, blen);
    char *o = out + blen;
    *o++ = '/';
    for (const char *p = name; *p; p++) {
        if (*p == '~')
            *o++ = '~', *o++ = '0';
        else if (*p == '/')
            *o++ = '~', *o++ = '1';
        else
            *o++ = *p;
    }
    *o = 0;
    return out;
}

const char *mg_pointer_index(mg_arena *arena, const char *base, size_t index)
{
    return mg_arena_printf(arena, "%s/%zu", base, index);
}

bool mg_valid_name(const char *s, bool dash)
{
    if (!s || !(*s >= 'a' && *s <= 'z')) return false;
    size_t n = 1;
    for (const char *p = s + 1; *p; p++, n++) {
        if (n > 62) return false;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              (dash && *p == '-')))
            return false;
    }
    return true;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool mg_check_members(mg_expr_ctx *ctx, const cJSON *obj, const char *path,
                      const char *const *allowed)
{
    bool ok = true;
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next, n++) {
        if (!allowed) continue;
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, c->string)) known = true;
        if (!known) {
            size_t n_allowed = 0;
            while (allowed[n_allowed]) n_allowed++;
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, c->string),
                          "unknown field \"%s\" (expected one of: %s)", c->string,
                          mg_arena_join(ctx->arena, allowed, n_allowed, ", "));
            ok = false;
        }
    }
    /* Repeated members: sort a copy of the names when there are many. */
    if (n < 2) return ok;
    const char **names = mg_xmalloc(n * sizeof *names);
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) names[i++] = c->string;
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (i = 1; i < n; i++)
        if (!strcmp(names[i], names[i - 1]) && (i < 2 || strcmp(names[i], names[i - 2]))) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, names[i]),
                          "field \"%s\" is given more than once", names[i]);
            ok = false;
        }
    free(names);
    return ok;
}

static const char *json_kind(const cJSON *j)
{
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    return "an object";
}

static void schema_type(mg_expr_ctx *ctx, const char *path, const cJSON *j, const char *want)
{
    mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "expected %s, got %s", want, json_kind(j));
}

bool mg_key_value_from_json(mg_arena *arena, mg_key_type type, const char *const *values,
                            size_t n_values, const cJSON *json, mg_key_value *out, mg_err *why)
{
    char canon[128];
    switch (type) {
    case MG_KEY_BOOL:
        if (!cJSON_IsBool(json)) break;
        *out = (mg_key_value){.type = type, .b = cJSON_IsTrue(json)};
        out->text = out->b ? "true" : "false";
        return true;
    case MG_KEY_INT: {
        if (cJSON_IsString(json)) {
            /* the form for integers JSON numbers cannot carry exactly */
            size_t size = strlen(json->valuestring) + 64;
            char *buf = size > sizeof canon ? mg_arena_alloc(arena, size) : canon;
            if (!mg_key_value_from_text(type, NULL, 0, json->valuestring, out, buf, size, why))
                return false;
            out->text = mg_arena_strdup(arena, buf);
            return true;
        }
        if (!cJSON_IsNumber(json)) break;
        double d = json->valuedouble;
        /* A double holds every integer up to 2^53 exactly, but 2^53 + 1
         * reads as 2^53 too: only |d| < 2^53 is surely the number written
         * (I-JSON's range, RFC 7493). The range check comes first: the cast
         * below is only defined inside int64. */
        if (!(d > -9007199254740992.0 && d < 9007199254740992.0)) {
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
                mg_err_set(why, MG_E_INVALID, "expected a 64-bit integer, got %g", d);
            else
                mg_err_set(why, MG_E_INVALID,
                           "%.17g is beyond +-(2^53 - 1), where JSON numbers stop being exact "
                           "(it may not be the number written): send it as a string of decimal "
                           "digits instead, like \"9007199254740993\"",
                           d);
            return false;
        }
        if ((double)(int64_t)d != d) {
            mg_err_set(why, MG_E_INVALID, "expected an integer, got %g", d);
            return false;
        }
        *out = (mg_key_value){.type = type, .i = (int64_t)d};
        out->text = mg_arena_printf(arena, "%lld", (long long)out->i);
        return true;
    }
    default:
        if (!cJSON_IsString(json)) break;
        {
            size_t size = strlen(json->valuestring) + 64;
            char *buf = size > sizeof canon ? mg_arena_alloc(arena, size) : canon;
            if (!mg_key_value_from_text(type, values, n_values, json->valuestring, out, buf, size,
                                        why))
                return false;
            out->text = mg_arena_strdup(arena, buf);
            return true;
        }
    }
    mg_err_set(why, MG_E_INVALID, "expected %s value, got %s",
               type == MG_KEY_BOOL  ? "a boolean (true or false)"
               : type == MG_KEY_INT ? "an integer"
                                    : "a string",
               json_kind(json));
    return false;
}

/* Reads an array of strings; false after reporting. */
static bool string_array(mg_expr_ctx *ctx, const cJSON *json, const char *path, const char ***out,
                         size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!json) return true;
    if (!cJSON_IsArray(json)) {
        schema_type(ctx, path, json, "an array of strings");
        return false;
    }
    size_t n = (size_t)cJSON_GetArraySize(json), i = 0;
    const char **a = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *a);
    bool ok = true;
    for (const cJSON *c = json->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c)) {
            schema_type(ctx, mg_pointer_index(ctx->arena, path, i), c, "a string");
            ok = false;
            continue;
        }
        a[(*n_out)++] = c->valuestring;
    }
    *out = a;
    return ok;
}

/* Names the generated main.c cannot use for a user function: C keywords,
 * what the headers it includes declare, and reserved spellings. The
 * generated code's own names all start with mg_/mg__/MG_, which user
 * symbols cannot. */
static const char *const reserved_symbols[] = {
    "auto",     "break",   "case",    "char",     "const",    "continue", "default",  "do",
    "double",   "else",    "enum",    "extern",   "float",    "for",      "goto",     "if",
    "inline",   "int",     "long",    "register", "restrict", "return",   "short",    "signed",
    "sizeof",   "static",  "struct",  "switch",   "typedef",  "union",    "unsigned", "void",
    "volatile", "while",   "bool",    "true",     "false",    "NULL",     "main",     "offsetof",
    "memchr",   "memcmp",  "memcpy",  "memmove",  "memset",   "strcat",   "strchr",   "strcmp",
    "strcoll",  "strcpy",  "strcspn", "strerror", "strlen",   "strncat",  "strncmp",  "strncpy",
    "strpbrk",  "strrchr", "strspn",  "strstr",   "strtok",   "strxfrm",  "strdup",   "strndup",
    "strnlen",  NULL};

/* NULL when `s` can name a user C function, else why not. */
static const char *bad_c_symbol(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return "is not a C identifier";
    size_t n = 0;
    for (const char *p = s; *p; p++, n++)
        if (!(isalnum((unsigned char)*p) || *p == '_') || n > 127)
            return "is not a C identifier (letters, digits and _, at most 128)";
    if (s[0] == '_') return "starts with _ (reserved for the C implementation)";
    if ((s[0] == 'm' || s[0] == 'M') && (s[1] == 'g' || s[1] == 'G') && s[2] == '_')
        return "starts with mg_ (reserved for mgd's runtime and generated code)";
    if (n >= 2 && !strcmp(s + n - 2, "_t")) return "ends in _t (reserved for types)";
    if (!strncmp(s, "INT", 3) || !strncmp(s, "UINT", 4)) return "looks like a stdint.h macro";
    for (const char *const *r = reserved_symbols; *r; r++)
        if (!strcmp(s, *r)) return "is a C keyword or a name the generated main.c uses";
    return NULL;
}

bool mg_library_reqs_parse(mg_expr_ctx *ctx, const cJSON *json, const char *path,
                           mg_library_req **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!json) return true;
    if (!cJSON_IsArray(json)) {
        schema_type(ctx, path, json, "an array of library requirements");
        return false;
    }
    size_t n = (size_t)cJSON_GetArraySize(json), i = 0;
    mg_library_req *reqs = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *reqs);
    static const char *const fields[] = {"name", "min", "max", NULL};
    bool ok = true;
    for (const cJSON *c = json->child; c; c = c->next, i++) {
        const char *p = mg_pointer_index(ctx->arena, path, i);
        if (!cJSON_IsObject(c)) {
            schema_type(ctx, p, c, "an object {\"name\", \"min\", \"max\"}");
            ok = false;
            continue;
        }
        if (!mg_check_members(ctx, c, p, fields)) ok = false;
        mg_library_req r = {.origin = p};
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsString(name) || !mg_valid_name(name->valuestring, true)) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, p, "name"),
                          "a library needs a \"name\" like \"mg-kv\"");
            ok = false;
            continue;
        }
        r.name = name->valuestring;
        const char *bound_names[2] = {"min", "max"};
        for (int b = 0; b < 2; b++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, bound_names[b]);
            if (!v) continue;
            mg_version *ver = b ? &r.max : &r.min;
            if (!cJSON_IsString(v) || !mg_version_parse(v->valuestring, ver)) {
                mg_errors_add(
                    ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, p, bound_names[b]),
                    "\"%s\" must be a dotted numeric version like \"1.2\"", bound_names[b]);
                ok = false;
                continue;
            }
            if (b)
                r.max_text = v->valuestring;
            else
                r.min_text = v->valuestring;
        }
        reqs[(*n_out)++] = r;
    }
    *out = reqs;
    return ok;
}

bool mg_key_decl_parse(mg_expr_ctx *ctx, const char *name, const cJSON *json, const char *path,
                       mg_key_decl *out)
{
    static const char *const fields[] = {"stage", "type", "values", "default", "doc", NULL};
    *out = (mg_key_decl){.name = name, .path = path};
    if (!cJSON_IsObject(json)) {
        schema_type(ctx, path, json, "a key declaration object");
        return false;
    }
    bool ok = mg_check_members(ctx, json, path, fields);
    const cJSON *stage = cJSON_GetObjectItemCaseSensitive(json, "stage");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(json, "values");
    const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(json, "default");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(json, "doc");
    if (cJSON_IsString(stage) && !strcmp(stage->valuestring, "configure"))
        out->stage = MG_STAGE_CONFIGURE;
    else if (cJSON_IsString(stage) && !strcmp(stage->valuestring, "runtime"))
        out->stage = MG_STAGE_RUNTIME;
    else {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, "stage"),
                      "\"stage\" must be \"configure\" or \"runtime\"");
        ok = false;
    }
    bool typed = cJSON_IsString(type) && mg_key_type_parse(type->valuestring, &out->type);
    if (!typed) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, "type"),
                      "\"type\" must be one of bool, int, string, enum, ipv4, ipv4_prefix");
        return false;
    }
    if (doc && !cJSON_IsString(doc)) {
        schema_type(ctx, mg_pointer_member(ctx->arena, path, "doc"), doc, "a string");
        ok = false;
    } else if (doc) {
        out->doc = doc->valuestring;
    }
    if (out->type == MG_KEY_ENUM) {
        const char *vp = mg_pointer_member(ctx->arena, path, "values");
        if (!values) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, vp, "an enum key needs \"values\"");
            return false;
        }
        if (!string_array(ctx, values, vp, &out->values, &out->n_values)) return false;
        if (!out->n_values) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, vp, "an enum key needs at least one value");
            return false;
        }
        /* sorted copy: repeated values are neighbours */
        const char **sorted = mg_xmalloc(out->n_values * sizeof *sorted);
        memcpy(sorted, out->values, out->n_values * sizeof *sorted);
        qsort(sorted, out->n_values, sizeof *sorted, cmp_str_ptr);
        for (size_t i = 1; i < out->n_values; i++)
            if (!strcmp(sorted[i], sorted[i - 1]) && (i < 2 || strcmp(sorted[i], sorted[i - 2]))) {
                mg_errors_add(ctx->errs, MG_ERR_SCHEMA, vp, "value \"%s\" is listed twice",
                              sorted[i]);
                ok = false;
            }
        free(sorted);
    } else if (values) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, "values"),
                      "only enum keys have \"values\"");
        ok = false;
    }
    if (!dflt) return ok;
    const char *dp = mg_pointer_member(ctx->arena, path, "default");
    mg_err why;
    const cJSON *by =
        cJSON_IsObject(dflt) ? cJSON_GetObjectItemCaseSensitive(dflt, "by_target") : NULL;
    if (cJSON_IsObject(dflt)) {
        static const char *const dfields[] = {"by_target", NULL};
        if (!mg_check_members(ctx, dflt, dp, dfields) || !cJSON_IsObject(by)) {
            if (!by)
                schema_type(ctx, dp, dflt, "a value or {\"by_target\": {...}}");
            else if (!cJSON_IsObject(by))
                schema_type(ctx, mg_pointer_member(ctx->arena, dp, "by_target"), by, "an object");
            return false;
        }
        const char *bp = mg_pointer_member(ctx->arena, dp, "by_target");
        if (!mg_check_members(ctx, by, bp, NULL)) return false;
        size_t n = (size_t)cJSON_GetArraySize(by);
        out->dflt.kind = MG_DEFAULT_BY_TARGET;
        out->dflt.targets = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(char *));
        out->dflt.values = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(mg_key_value));
        for (const cJSON *c = by->child; c; c = c->next) {
            const char *cp = mg_pointer_member(ctx->arena, bp, c->string);
            size_t k = out->dflt.n_targets;
            if (!mg_key_value_from_json(ctx->arena, out->type, out->values, out->n_values, c,
                                        &out->dflt.values[k], &why)) {
                mg_errors_add(ctx->errs, MG_ERR_BAD_KEY_VALUE, cp, "default of key %s: %s", name,
                              why.msg);
                ok = false;
                continue;
            }
            out->dflt.targets[k] = c->string;
            out->dflt.n_targets++;
        }
        return ok;
    }
    if (!mg_key_value_from_json(ctx->arena, out->type, out->values, out->n_values, dflt,
                                &out->dflt.value, &why)) {
        mg_errors_add(ctx->errs, MG_ERR_BAD_KEY_VALUE, dp, "default of key %s: %s", name, why.msg);
        return false;
    }
    out->dflt.kind = MG_DEFAULT_VALUE;
    return ok;
}

static mg_expr *new_expr(mg_expr_ctx *ctx, mg_expr_kind kind, const char *path)
{
    mg_expr *e = mg_arena_alloc(ctx->arena, sizeof *e);
    e->kind = kind;
    e->path = path;
    return e;
}

static mg_expr *bad(mg_expr_ctx *ctx, const char *path)
{
    return new_expr(ctx, MG_EXPR_BAD, path);
}

/* A single-member object {"key": k} or {"param": p}. */
static const char *ref_member(const cJSON *j, const char *member)
{
    if (!cJSON_IsObject(j) || !j->child || j->child->next) return NULL;
    if (strcmp(j->child->string, member) || !cJSON_IsString(j->child)) return NULL;
    return j->child->valuestring;
}

static mg_expr *parse_call(mg_expr_ctx *ctx, const cJSON *json, const char *path)
{
    static const char *const fields[] = {"device", "args", NULL};
    bool ok = mg_check_members(ctx, json, path, fields);
    ctx->inline_devices++;
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(json, "device");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(json, "args");
    if (!cJSON_IsString(dev)) {
        schema_type(ctx, mg_pointer_member(ctx->arena, path, "device"), dev,
                    "a catalog constructor name");
        return bad(ctx, path);
    }
    mg_expr *e = new_expr(ctx, MG_EXPR_CALL, path);
    e->name = dev->valuestring;
    if (args) {
        const char *ap = mg_pointer_member(ctx->arena, path, "args");
        if (!cJSON_IsObject(args)) {
            schema_type(ctx, ap, args, "an object of named arguments");
            return bad(ctx, path);
        }
        if (!mg_check_members(ctx, args, ap, NULL)) ok = false;
        size_t n = (size_t)cJSON_GetArraySize(args);
        e->args = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *e->args);
        for (const cJSON *c = args->child; c; c = c->next) {
            mg_call_arg *a = &e->args[e->n_args++];
            a->name = c->string;
            a->path = mg_pointer_member(ctx->arena, ap, c->string);
            a->json = c;
            const char *ref;
            if ((ref = ref_member(c, "key"))) {
                a->kind = MG_ARG_KEY;
                a->ref = ref;
            } else if (ctx->in_catalog && (ref = ref_member(c, "param"))) {
                a->kind = MG_ARG_PARAM;
                a->ref = ref;
            } else if (cJSON_IsObject(c)) {
                a->kind = MG_ARG_EXPR;
                a->expr = mg_expr_parse(ctx, c, a->path);
            } else if (cJSON_IsString(c) || cJSON_IsNumber(c) || cJSON_IsBool(c)) {
                a->kind = MG_ARG_SCALAR; /* a name or a value: the param's type decides */
            } else {
                schema_type(ctx, a->path, c, "an impl expression, a value or {\"key\": k}");
                ok = false;
                e->n_args--;
            }
        }
    }
    return ok ? e : bad(ctx, path);
}

static mg_expr *parse_apply(mg_expr_ctx *ctx, const cJSON *json, const char *path)
{
    static const char *const fields[] = {"apply", "to", NULL};
    bool ok = mg_check_members(ctx, json, path, fields);
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(json, "to");
    const char *tp = mg_pointer_member(ctx->arena, path, "to");
    mg_expr *e = new_expr(ctx, MG_EXPR_APPLY, path);
    e->fn = mg_expr_parse(ctx, cJSON_GetObjectItemCaseSensitive(json, "apply"),
                          mg_pointer_member(ctx->arena, path, "apply"));
    if (!cJSON_IsArray(to) || !to->child) {
        if (!to)
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "\"apply\" needs \"to\"");
        else
            schema_type(ctx, tp, to, "a non-empty array of impl expressions");
        return bad(ctx, path);
    }
    size_t n = (size_t)cJSON_GetArraySize(to), i = 0;
    e->to = mg_arena_alloc(ctx->arena, n * sizeof *e->to);
    for (const cJSON *c = to->child; c; c = c->next, i++) {
        e->to[i] = mg_expr_parse(ctx, c, mg_pointer_index(ctx->arena, tp, i));
        if (e->to[i]->kind == MG_EXPR_BAD) ok = false;
    }
    e->n_to = n;
    return ok && e->fn->kind != MG_EXPR_BAD ? e : bad(ctx, path);
}

static mg_expr *parse_if(mg_expr_ctx *ctx, const cJSON *json, const char *path)
{
    static const char *const fields[] = {"if", "then", "else", NULL};
    static const char *const cond_fields[] = {"key", "equals", NULL};
    bool ok = mg_check_members(ctx, json, path, fields);
    mg_expr *e = new_expr(ctx, MG_EXPR_IF, path);
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(json, "if");
    const char *cp = mg_pointer_member(ctx->arena, path, "if");
    if (cJSON_IsString(cond)) {
        e->key = cond->valuestring;
    } else if (cJSON_IsObject(cond)) {
        if (!mg_check_members(ctx, cond, cp, cond_fields)) ok = false;
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(cond, "key");
        e->equals = cJSON_GetObjectItemCaseSensitive(cond, "equals");
        if (!cJSON_IsString(k) || !e->equals) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, cp,
                          "a condition is a bool key name or {\"key\": k, \"equals\": value}");
            ok = false;
        } else {
            e->key = k->valuestring;
        }
    } else {
        schema_type(ctx, cp, cond, "a key name or {\"key\": k, \"equals\": value}");
        ok = false;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(json, "then");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(json, "else");
    if (!t || !f) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "\"if\" needs both \"then\" and \"else\"");
        return bad(ctx, path);
    }
    e->then_expr = mg_expr_parse(ctx, t, mg_pointer_member(ctx->arena, path, "then"));
    e->else_expr = mg_expr_parse(ctx, f, mg_pointer_member(ctx->arena, path, "else"));
    if (e->then_expr->kind == MG_EXPR_BAD || e->else_expr->kind == MG_EXPR_BAD) ok = false;
    return ok ? e : bad(ctx, path);
}

static mg_expr *parse_match(mg_expr_ctx *ctx, const cJSON *json, const char *path)
{
    static const char *const fields[] = {"match", "cases", "default", NULL};
    bool ok = mg_check_members(ctx, json, path, fields);
    mg_expr *e = new_expr(ctx, MG_EXPR_MATCH, path);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(json, "match");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(json, "cases");
    const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(json, "default");
    if (!cJSON_IsString(k)) {
        schema_type(ctx, mg_pointer_member(ctx->arena, path, "match"), k, "a key name");
        ok = false;
    } else {
        e->key = k->valuestring;
    }
    const char *csp = mg_pointer_member(ctx->arena, path, "cases");
    if (!cJSON_IsObject(cases)) {
        if (!cases)
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "\"match\" needs \"cases\"");
        else
            schema_type(ctx, csp, cases, "an object from key values to impl expressions");
        return bad(ctx, path);
    }
    if (!mg_check_members(ctx, cases, csp, NULL)) ok = false;
    size_t n = (size_t)cJSON_GetArraySize(cases);
    e->cases = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *e->cases);
    for (const cJSON *c = cases->child; c; c = c->next) {
        mg_match_case *mc = &e->cases[e->n_cases++];
        mc->value = c->string;
        mc->path = mg_pointer_member(ctx->arena, csp, c->string);
        mc->expr = mg_expr_parse(ctx, c, mc->path);
        if (mc->expr->kind == MG_EXPR_BAD) ok = false;
    }
    if (dflt) {
        e->default_expr = mg_expr_parse(ctx, dflt, mg_pointer_member(ctx->arena, path, "default"));
        if (e->default_expr->kind == MG_EXPR_BAD) ok = false;
    }
    if (!e->n_cases && !dflt) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, csp, "a match needs at least one case");
        ok = false;
    }
    return ok ? e : bad(ctx, path);
}

/* Flags that change the code compiled, never what the compiler reads or
 * writes: -D, -U, -O, -g, -std=, warnings (not -Wl, -Wa, -Wp, which pass
 * options on), and -f options without a value (so no -fplugin=, no
 * -fprofile-use=DIR, no -ffile-prefix-map=, which would also break
 * reproducible builds), except a few harmless valued ones. */
static bool allowed_cflag(const char *f)
{
    static const char *const f_with_value[] = {"-fvisibility=", "-fstack-protector",
                                               "-fmax-errors=", "-fdiagnostics-color=", NULL};
    static const char *const f_denied[] = {
        "-fplugin",   "-fprofile",      "-fsanitize",   "-fdump",      "-fcrash", "-fmodules",
        "-fcoverage", "-fauto-profile", "-finstrument", "-fcallgraph", "-fsave",  "-frecord",
        "-fdebug",    "-ffile",         "-fmacro",      "-flto",       NULL};
    if (f[0] != '-' || !f[1]) return false;
    if (f[1] == 'D' || f[1] == 'U') return f[2] != 0;
    if (f[1] == 'O') return !f[2] || (!f[3] && strchr("0123sgz", f[2])) || !strcmp(f, "-Ofast");
    if (f[1] == 'g') /* not -gsplit-dwarf and the like, which write files */
        return !strcmp(f, "-g") || !strcmp(f, "-ggdb") ||
               (strlen(f) == 3 && f[2] && strchr("0123", f[2])) ||
               (strlen(f) == 6 && !strncmp(f, "-ggdb", 5) && f[5] && strchr("0123", f[5]));
    if (!strncmp(f, "-std=", 5)) return true;
    if (f[1] == 'W') return strncmp(f, "-Wl,", 4) && strncmp(f, "-Wa,", 4) && strncmp(f, "-Wp,", 4);
    if (f[1] != 'f') return false;
    for (const char *const *d = f_denied; *d; d++)
        if (!strncmp(f, *d, strlen(*d))) return false;
    if (!strchr(f, '=')) return true;
    for (const char *const *v = f_with_value; *v; v++)
        if (!strncmp(f, *v, strlen(*v))) return true;
    return false;
}

static mg_expr *parse_main(mg_expr_ctx *ctx, const cJSON *json, const char *path)
{
    static const char *const fields[] = {"main",      "type",         "sources", "include_dirs",
                                         "libraries", "runtime_keys", "cflags",  NULL};
    ctx->inline_devices++;
    if (ctx->in_catalog) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "catalog entries cannot contain user code");
        return bad(ctx, path);
    }
    bool ok = mg_check_members(ctx, json, path, fields);
    mg_user_code *code = mg_arena_alloc(ctx->arena, sizeof *code);
    const cJSON *sym = cJSON_GetObjectItemCaseSensitive(json, "main");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    const char *why = cJSON_IsString(sym) ? bad_c_symbol(sym->valuestring) : "is not a string";
    if (why) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, "main"),
                      "\"main\" names the C function to call, and this %s", why);
        ok = false;
    } else {
        code->symbol = sym->valuestring;
    }
    const char *tp = mg_pointer_member(ctx->arena, path, "type");
    mg_err tywhy;
    if (!cJSON_IsString(type)) {
        if (!type)
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "user code needs a \"type\"");
        else
            schema_type(ctx, tp, type, "a type like \"console -> job\"");
        ok = false;
    } else if (!mg_type_parse(ctx->types, ctx->arena, type->valuestring, &code->type, &tywhy)) {
        mg_errors_add(ctx->errs, MG_ERR_UNKNOWN_TYPE, tp, "%s", tywhy.msg);
        ok = false;
    } else {
        code->type_text = type->valuestring;
    }
    struct {
        const char *field;
        const char ***out;
        size_t *n;
    } lists[] = {
        {"sources", &code->sources, &code->n_sources},
        {"include_dirs", &code->include_dirs, &code->n_include_dirs},
        {"runtime_keys", &code->runtime_keys, &code->n_runtime_keys},
        {"cflags", &code->cflags, &code->n_cflags},
    };
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (!string_array(ctx, cJSON_GetObjectItemCaseSensitive(json, lists[i].field),
                          mg_pointer_member(ctx->arena, path, lists[i].field), lists[i].out,
                          lists[i].n))
            ok = false;
    for (size_t i = 0; i < code->n_cflags; i++)
        if (!allowed_cflag(code->cflags[i])) {
            mg_errors_add(
                ctx->errs, MG_ERR_SCHEMA,
                mg_pointer_index(ctx->arena, mg_pointer_member(ctx->arena, path, "cflags"), i),
                "compiler flag \"%s\" is not allowed (allowed: -D, -U, -O, -g, -std=, "
                "-W and -f flags that do not name files; see docs/resolver.md)",
                code->cflags[i]);
            ok = false;
        }
    if (!mg_library_reqs_parse(ctx, cJSON_GetObjectItemCaseSensitive(json, "libraries"),
                               mg_pointer_member(ctx->arena, path, "libraries"), &code->libraries,
                               &code->n_libraries))
        ok = false;
    mg_expr *e = new_expr(ctx, MG_EXPR_MAIN, path);
    e->code = code;
    return ok ? e : bad(ctx, path);
}

mg_expr *mg_expr_parse(mg_expr_ctx *ctx, const cJSON *json, const char *path)
{
    if (!json) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "an impl expression is missing here");
        return bad(ctx, path);
    }
    if (cJSON_IsString(json)) {
        mg_expr *e = new_expr(ctx, MG_EXPR_NAME, path);
        e->name = json->valuestring;
        return e;
    }
    if (!cJSON_IsObject(json)) {
        schema_type(ctx, path, json, "an impl expression (a name or an object)");
        return bad(ctx, path);
    }
    if (cJSON_GetObjectItemCaseSensitive(json, "device")) return parse_call(ctx, json, path);
    if (cJSON_GetObjectItemCaseSensitive(json, "apply")) return parse_apply(ctx, json, path);
    if (cJSON_GetObjectItemCaseSensitive(json, "if")) return parse_if(ctx, json, path);
    if (cJSON_GetObjectItemCaseSensitive(json, "match")) return parse_match(ctx, json, path);
    if (cJSON_GetObjectItemCaseSensitive(json, "main")) return parse_main(ctx, json, path);
    const char *p = ref_member(json, "param");
    if (p && ctx->in_catalog) {
        mg_expr *e = new_expr(ctx, MG_EXPR_PARAM, path);
        e->name = p;
        return e;
    }
    mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path,
                  "an impl expression object needs one of \"device\", \"apply\", \"if\", "
                  "\"match\", \"main\"");
    return bad(ctx, path);
}
