#include "graph/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/json.h"

/* Catalog files are written by us, but they are still checked like user
 * input: a bad entry must fail the build's tests, not a user's resolve. */
#define CATALOG_MAX_BYTES (4u << 20)
#define CATALOG_MAX_DEPTH 64

static int cmp_entry(const void *a, const void *b)
{
    const mg_catalog_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void add_unique(mg_arena *arena, const char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s)) return;
    *list = mg_arena_grow(arena, *list, *n * sizeof **list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = s;
}

static bool names_array(mg_expr_ctx *ctx, const cJSON *j, const char *path, const char ***out,
                        size_t *n)
{
    if (!cJSON_IsArray(j)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "expected an array of names");
        return false;
    }
    size_t i = 0;
    for (const cJSON *c = j->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c) || !mg_valid_name(c->valuestring, true)) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_index(ctx->arena, path, i),
                          "expected a name");
            return false;
        }
        add_unique(ctx->arena, out, n, c->valuestring);
    }
    return true;
}

/* A "sources" or "notices" array: strings, kept once each. A malformed one
 * is a schema error (the entry is then dropped, and the load fails). */
static bool strings_array(mg_expr_ctx *ctx, const cJSON *j, const char *path, const char ***out,
                          size_t *n)
{
    bool ok = cJSON_IsArray(j);
    for (const cJSON *c = ok ? j->child : NULL; c; c = c->next)
        if (cJSON_IsString(c) && *c->valuestring)
            add_unique(ctx->arena, out, n, c->valuestring);
        else
            ok = false;
    if (!ok) mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "expected an array of file names");
    return ok;
}

static bool parse_param(mg_expr_ctx *ctx, mg_catalog *cat, const cJSON *j, const char *path,
                        mg_catalog_param *p)
{
    static const char *const fields[] = {"name", "type", "device", "default", "doc", NULL};
    if (!cJSON_IsObject(j)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "a param is an object");
        return false;
    }
    bool ok = mg_check_members(ctx, j, path, fields);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(j, "doc");
    if (!cJSON_IsString(name) || !mg_valid_name(name->valuestring, false)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "a param needs a \"name\"");
        return false;
    }
    p->name = name->valuestring;
    p->doc = cJSON_IsString(doc) ? doc->valuestring : NULL;
    if (!cJSON_IsString(type)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "param %s needs a \"type\"", p->name);
        return false;
    }
    /* "ipv4" names both a key type (an address) and a module type (the IPv4
     * layer): a param takes the value unless it says "device": true */
    const cJSON *device = cJSON_GetObjectItemCaseSensitive(j, "device");
    if (device && !cJSON_IsBool(device)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, "device"),
                      "\"device\" is true or false");
        return false;
    }
    if (!cJSON_IsTrue(device) && mg_key_type_parse(type->valuestring, &p->scalar_type)) {
        if (p->scalar_type == MG_KEY_ENUM) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path,
                          "param %s: enum params are not supported; use string", p->name);
            return false;
        }
    } else {
        p->is_impl = true;
        p->impl_type = mg_type_table_find(&cat->types, type->valuestring);
        if (p->impl_type == MG_TYPE_ERROR) {
            mg_errors_add(ctx->errs, MG_ERR_UNKNOWN_TYPE,
                          mg_pointer_member(ctx->arena, path, "type"), "unknown type \"%s\"",
                          type->valuestring);
            return false;
        }
        if (p->impl_type == 0 /* job */) {
            /* devices connect before any job starts (generated-code.md) */
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, mg_pointer_member(ctx->arena, path, "type"),
                          "param %s: a catalog entry cannot take a job; only user code can",
                          p->name);
            return false;
        }
    }
    p->default_json = cJSON_GetObjectItemCaseSensitive(j, "default");
    if (p->default_json) {
        const char *dp = mg_pointer_member(ctx->arena, path, "default");
        if (p->is_impl) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, dp, "impl params cannot have defaults");
            return false;
        }
        p->dflt = (mg_call_arg){.name = p->name, .path = dp, .json = p->default_json};
        const cJSON *k = p->default_json;
        if (cJSON_IsObject(k) && k->child && !k->child->next && !strcmp(k->child->string, "key") &&
            cJSON_IsString(k->child)) {
            p->dflt.kind = MG_ARG_KEY;
            p->dflt.ref = k->child->valuestring;
        } else {
            mg_err why;
            p->dflt.kind = MG_ARG_SCALAR;
            if (!mg_key_value_from_json(ctx->arena, p->scalar_type, NULL, 0, k, &p->dflt.value,
                                        &why)) {
                mg_errors_add(ctx->errs, MG_ERR_TYPE_MISMATCH, dp, "default of %s: %s", p->name,
                              why.msg);
                return false;
            }
            p->dflt.has_value = true;
        }
    }
    return ok;
}

static bool parse_entry(mg_expr_ctx *ctx, mg_catalog *cat, const char *file, const cJSON *j,
                        const char *path, mg_catalog_entry *e)
{
    static const char *const fields[] = {"name",      "type",    "doc",      "params",  "keys",
                                         "libraries", "targets", "fallback", "connect", "header",
                                         "sources",   "notices", "let",      "expand",  "embed",
                                         "attach",    NULL};
    if (!cJSON_IsObject(j)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "an entry is an object");
        return false;
    }
    bool ok = mg_check_members(ctx, j, path, fields);
    e->file = file;
    e->path = path;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(j, "doc");
    if (!cJSON_IsString(name) || !mg_valid_name(name->valuestring, false)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "an entry needs a valid \"name\"");
        return false;
    }
    e->name = name->valuestring;
    e->doc = cJSON_IsString(doc) ? doc->valuestring : "";
    e->type =
        cJSON_IsString(type) ? mg_type_table_find(&cat->types, type->valuestring) : MG_TYPE_ERROR;
    if (e->type == MG_TYPE_ERROR) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "entry %s needs a \"type\"", e->name);
        return false;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
    if (params) {
        const char *pp = mg_pointer_member(ctx->arena, path, "params");
        if (!cJSON_IsArray(params)) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, pp, "\"params\" is an array");
            return false;
        }
        size_t n = (size_t)cJSON_GetArraySize(params), i = 0;
        if (n > MG_CATALOG_MAX_PARAMS) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, pp, "at most %d params", MG_CATALOG_MAX_PARAMS);
            return false;
        }
        e->params = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *e->params);
        for (const cJSON *c = params->child; c; c = c->next, i++) {
            if (!parse_param(ctx, cat, c, mg_pointer_index(ctx->arena, pp, i), &e->params[i]))
                ok = false;
            for (size_t k = 0; k < i && ok; k++)
                if (!strcmp(e->params[k].name, e->params[i].name)) {
                    mg_errors_add(ctx->errs, MG_ERR_DUPLICATE_NAME,
                                  mg_pointer_index(ctx->arena, pp, i), "param %s is declared twice",
                                  e->params[i].name);
                    ok = false;
                }
        }
        e->n_params = n;
    }
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "keys");
    if (keys) {
        const char *kp = mg_pointer_member(ctx->arena, path, "keys");
        if (!cJSON_IsObject(keys) || !mg_check_members(ctx, keys, kp, NULL)) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, kp, "\"keys\" is an object of declarations");
            return false;
        }
        size_t n = (size_t)cJSON_GetArraySize(keys);
        e->keys = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *e->keys);
        for (const cJSON *c = keys->child; c; c = c->next) {
            mg_key_decl *d = &e->keys[e->n_keys];
            if (!mg_valid_name(c->string, false)) {
                mg_errors_add(ctx->errs, MG_ERR_SCHEMA, kp, "bad key name \"%s\"", c->string);
                ok = false;
                continue;
            }
            if (mg_key_decl_parse(ctx, c->string, c, mg_pointer_member(ctx->arena, kp, c->string),
                                  d)) {
                d->origin = e->name;
                e->n_keys++;
            } else {
                ok = false;
            }
        }
    }
    if (!mg_library_reqs_parse(ctx, cJSON_GetObjectItemCaseSensitive(j, "libraries"),
                               mg_pointer_member(ctx->arena, path, "libraries"), &e->libraries,
                               &e->n_libraries))
        ok = false;
    for (size_t i = 0; i < e->n_libraries; i++)
        e->libraries[i].origin = mg_arena_printf(ctx->arena, "catalog entry %s", e->name);

    const cJSON *connect = cJSON_GetObjectItemCaseSensitive(j, "connect");
    const cJSON *expand = cJSON_GetObjectItemCaseSensitive(j, "expand");
    if (!!connect == !!expand) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path,
                      "entry %s needs exactly one of \"connect\" (concrete) or \"expand\"",
                      e->name);
        return false;
    }
    if (connect) {
        e->concrete = true;
        const cJSON *header = cJSON_GetObjectItemCaseSensitive(j, "header");
        const cJSON *targets = cJSON_GetObjectItemCaseSensitive(j, "targets");
        const cJSON *sources = cJSON_GetObjectItemCaseSensitive(j, "sources");
        const cJSON *fallback = cJSON_GetObjectItemCaseSensitive(j, "fallback");
        if (!cJSON_IsString(connect) || !cJSON_IsString(header)) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path,
                          "concrete entry %s needs \"connect\" and \"header\" strings", e->name);
            return false;
        }
        e->connect = connect->valuestring;
        e->header = header->valuestring;
        /* without "targets", every target of the registry implements it */
        if (!targets) {
            e->targets = cat->targets;
            e->n_targets = cat->n_targets;
        } else if (!names_array(ctx, targets, mg_pointer_member(ctx->arena, path, "targets"),
                                &e->targets, &e->n_targets))
            return false;
        if (sources && !strings_array(ctx, sources, mg_pointer_member(ctx->arena, path, "sources"),
                                      &e->sources, &e->n_sources))
            ok = false;
        /* third-party licence texts the image must carry (runtime files) */
        const cJSON *notices = cJSON_GetObjectItemCaseSensitive(j, "notices");
        if (notices && !strings_array(ctx, notices, mg_pointer_member(ctx->arena, path, "notices"),
                                      &e->notices, &e->n_notices))
            ok = false;
        if (fallback)
            e->fallback =
                mg_expr_parse(ctx, fallback, mg_pointer_member(ctx->arena, path, "fallback"));
        const cJSON *embed = cJSON_GetObjectItemCaseSensitive(j, "embed");
        if (embed) {
            const mg_catalog_param *p = NULL;
            for (size_t i = 0; cJSON_IsString(embed) && i < e->n_params; i++)
                if (!strcmp(e->params[i].name, embed->valuestring)) p = &e->params[i];
            if (!p || p->is_impl || p->scalar_type != MG_KEY_STRING) {
                mg_errors_add(ctx->errs, MG_ERR_SCHEMA,
                              mg_pointer_member(ctx->arena, path, "embed"),
                              "\"embed\" of %s must name one of its string params", e->name);
                ok = false;
            } else
                e->embed = p->name;
        }
        const cJSON *attach = cJSON_GetObjectItemCaseSensitive(j, "attach");
        if (attach) {
            const char *ap = mg_pointer_member(ctx->arena, path, "attach");
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(attach, "kind");
            const cJSON *param = cJSON_GetObjectItemCaseSensitive(attach, "param");
            static const char *const attach_fields[] = {"kind", "param", NULL};
            const mg_catalog_param *p = NULL;
            for (size_t i = 0; cJSON_IsString(param) && i < e->n_params; i++)
                if (!strcmp(e->params[i].name, param->valuestring)) p = &e->params[i];
            if (!cJSON_IsObject(attach) || !mg_check_members(ctx, attach, ap, attach_fields) ||
                !cJSON_IsString(kind) ||
                (strcmp(kind->valuestring, "block") && strcmp(kind->valuestring, "net")) || !p ||
                p->is_impl || p->scalar_type != MG_KEY_STRING) {
                mg_errors_add(ctx->errs, MG_ERR_SCHEMA, ap,
                              "\"attach\" of %s is {\"kind\": \"block\" or \"net\", "
                              "\"param\": one of its string params}",
                              e->name);
                ok = false;
            } else {
                e->attach_kind = kind->valuestring;
                e->attach_param = p->name;
            }
        }
        if (cJSON_GetObjectItemCaseSensitive(j, "let")) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, path, "\"let\" belongs to expansions");
            ok = false;
        }
    } else {
        if (cJSON_GetObjectItemCaseSensitive(j, "targets") ||
            cJSON_GetObjectItemCaseSensitive(j, "header") ||
            cJSON_GetObjectItemCaseSensitive(j, "sources") ||
            cJSON_GetObjectItemCaseSensitive(j, "notices") ||
            cJSON_GetObjectItemCaseSensitive(j, "fallback") ||
            cJSON_GetObjectItemCaseSensitive(j, "embed") ||
            cJSON_GetObjectItemCaseSensitive(j, "attach")) {
            mg_errors_add(
                ctx->errs, MG_ERR_SCHEMA, path,
                "expansion %s cannot have targets, header, sources, notices, fallback, embed or "
                "attach: its "
                "concrete entries do",
                e->name);
            ok = false;
        }
        e->expand = mg_expr_parse(ctx, expand, mg_pointer_member(ctx->arena, path, "expand"));
        const cJSON *let = cJSON_GetObjectItemCaseSensitive(j, "let");
        if (let) {
            const char *lp = mg_pointer_member(ctx->arena, path, "let");
            if (!cJSON_IsObject(let) || !mg_check_members(ctx, let, lp, NULL)) {
                mg_errors_add(ctx->errs, MG_ERR_SCHEMA, lp, "\"let\" is an object of expressions");
                return false;
            }
            size_t n = (size_t)cJSON_GetArraySize(let);
            e->let_names = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *e->let_names);
            e->let_exprs = mg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *e->let_exprs);
            for (const cJSON *c = let->child; c; c = c->next) {
                e->let_names[e->n_lets] = c->string;
                e->let_exprs[e->n_lets++] =
                    mg_expr_parse(ctx, c, mg_pointer_member(ctx->arena, lp, c->string));
            }
        }
    }
    return ok;
}

static bool parse_file(mg_expr_ctx *ctx, mg_catalog *cat, const mg_catalog_file *f, cJSON *root,
                       mg_catalog_entry **entries, size_t *n_entries)
{
    static const char *const fields[] = {"libraries", "devices", NULL};
    const char *base = mg_arena_printf(ctx->arena, "%s#", f->path);
    if (!cJSON_IsObject(root)) {
        mg_errors_add(ctx->errs, MG_ERR_SCHEMA, base, "a catalog file is an object");
        return false;
    }
    bool ok = mg_check_members(ctx, root, base, fields);
    const cJSON *libs = cJSON_GetObjectItemCaseSensitive(root, "libraries");
    if (libs) {
        const char *lp = mg_pointer_member(ctx->arena, base, "libraries");
        size_t i = 0;
        for (const cJSON *c = cJSON_IsArray(libs) ? libs->child : NULL; c; c = c->next, i++) {
            static const char *const lf[] = {"name", "version", "targets", NULL};
            const char *p = mg_pointer_index(ctx->arena, lp, i);
            mg_catalog_library l = {0};
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
            const cJSON *ver = cJSON_GetObjectItemCaseSensitive(c, "version");
            const cJSON *tg = cJSON_GetObjectItemCaseSensitive(c, "targets");
            /* without "targets", the library is there on every target */
            if (!tg) {
                l.targets = cat->targets;
                l.n_targets = cat->n_targets;
            }
            if (!cJSON_IsObject(c) || !mg_check_members(ctx, c, p, lf) || !cJSON_IsString(name) ||
                !cJSON_IsString(ver) || !mg_version_parse(ver->valuestring, &l.version) ||
                (tg && !names_array(ctx, tg, mg_pointer_member(ctx->arena, p, "targets"),
                                    &l.targets, &l.n_targets))) {
                mg_errors_add(ctx->errs, MG_ERR_SCHEMA, p,
                              "a library is {\"name\", \"version\", \"targets\" (optional)}");
                ok = false;
                continue;
            }
            l.name = name->valuestring;
            l.version_text = ver->valuestring;
            cat->libraries = mg_arena_grow(&cat->arena, cat->libraries, cat->n_libraries * sizeof l,
                                           (cat->n_libraries + 1) * sizeof l);
            cat->libraries[cat->n_libraries++] = l;
        }
    }
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(root, "devices");
    if (devs) {
        const char *dp = mg_pointer_member(ctx->arena, base, "devices");
        if (!cJSON_IsArray(devs)) {
            mg_errors_add(ctx->errs, MG_ERR_SCHEMA, dp, "\"devices\" is an array of entries");
            return false;
        }
        size_t i = 0;
        for (const cJSON *c = devs->child; c; c = c->next, i++) {
            mg_catalog_entry e = {.order = *n_entries};
            if (!parse_entry(ctx, cat, f->path, c, mg_pointer_index(ctx->arena, dp, i), &e)) {
                ok = false;
                continue;
            }
            *entries = mg_arena_grow(&cat->arena, *entries, *n_entries * sizeof e,
                                     (*n_entries + 1) * sizeof e);
            (*entries)[(*n_entries)++] = e;
        }
    }
    return ok;
}

/* Copies the registry's names into the catalog: the default target first,
 * as lists of targets show it. */
static void take_targets(mg_catalog *cat, const mg_catalog_targets *from, mg_errors *errs)
{
    if (from->default_name) {
        cat->default_target = mg_arena_strdup(&cat->arena, from->default_name);
        add_unique(&cat->arena, &cat->targets, &cat->n_targets, cat->default_target);
    }
    for (size_t i = 0; i < from->n_names; i++)
        add_unique(&cat->arena, &cat->targets, &cat->n_targets,
                   mg_arena_strdup(&cat->arena, from->names[i]));
    for (size_t i = 0; i < from->n_arches; i++)
        add_unique(&cat->arena, &cat->arches, &cat->n_arches,
                   mg_arena_strdup(&cat->arena, from->arches[i]));
    if (!from->default_name || cat->n_targets != from->n_names)
        mg_errors_add(errs, MG_ERR_SCHEMA, "", "the default target is not one of the targets");
    if (!cat->n_arches) mg_errors_add(errs, MG_ERR_SCHEMA, "", "the targets have no arches");
}

mg_catalog *mg_catalog_parse(const mg_catalog_file *files, size_t n_files,
                             const mg_catalog_targets *targets, mg_errors *errs)
{
    mg_catalog *cat = mg_xmalloc(sizeof *cat);
    *cat = (mg_catalog){0};
    take_targets(cat, targets, errs);
    mg_type_table_init(&cat->types);
    cat->docs = mg_xmalloc((n_files ? n_files : 1) * sizeof *cat->docs);
    mg_expr_ctx ctx = {
        .arena = &cat->arena, .errs = errs, .types = &cat->types, .in_catalog = true};
    size_t before = errs->len;
    mg_catalog_entry *entries = NULL;
    size_t n_entries = 0;
    /* Parse every file, and intern every entry's type before reading any
     * entry, so entries may use types declared in other files. */
    cJSON **roots = mg_xmalloc((n_files ? n_files : 1) * sizeof *roots);
    for (size_t i = 0; i < n_files; i++) {
        roots[i] = mg_json_parse(files[i].text, files[i].len, CATALOG_MAX_BYTES, CATALOG_MAX_DEPTH,
                                 files[i].path, errs);
        if (!roots[i]) continue;
        cat->docs[cat->n_docs++] = roots[i];
        const cJSON *devs = cJSON_GetObjectItemCaseSensitive(roots[i], "devices");
        for (const cJSON *c = cJSON_IsArray(devs) ? devs->child : NULL; c; c = c->next) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
            if (cJSON_IsString(t) && mg_valid_name(t->valuestring, false))
                mg_type_table_intern(&cat->types, t->valuestring);
        }
    }
    for (size_t i = 0; i < n_files; i++)
        if (roots[i]) parse_file(&ctx, cat, &files[i], roots[i], &entries, &n_entries);
    free(roots);
    if (n_entries) qsort(entries, n_entries, sizeof *entries, cmp_entry);
    cat->entries = entries;
    cat->n_entries = n_entries;
    if (errs->len > before) {
        mg_catalog_free(cat);
        return NULL;
    }
    return cat;
}

void mg_catalog_free(mg_catalog *cat)
{
    if (!cat) return;
    for (size_t i = 0; i < cat->n_docs; i++) cJSON_Delete(cat->docs[i]);
    free(cat->docs);
    mg_type_table_free(&cat->types);
    mg_arena_free(&cat->arena);
    free(cat);
}

const mg_catalog_entry *mg_catalog_find(const mg_catalog *cat, const char *name)
{
    size_t lo = 0, hi = cat->n_entries;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, cat->entries[mid].name);
        if (!c) return &cat->entries[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const mg_catalog_param *mg_catalog_entry_param(const mg_catalog_entry *e, const char *name)
{
    for (size_t i = 0; i < e->n_params; i++)
        if (!strcmp(e->params[i].name, name)) return &e->params[i];
    return NULL;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return true;
    return false;
}

bool mg_catalog_entry_supports(const mg_catalog_entry *e, const char *target)
{
    return in_list(e->targets, e->n_targets, target);
}

bool mg_catalog_has_target(const mg_catalog *cat, const char *target)
{
    return in_list(cat->targets, cat->n_targets, target);
}

bool mg_catalog_has_arch(const mg_catalog *cat, const char *arch)
{
    return in_list(cat->arches, cat->n_arches, arch);
}
