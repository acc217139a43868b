#include "graph/check.h"

#include <stdlib.h>
#include <string.h>

#include "graph/resolve.h"

/* Every target an entry or a library names is one of the registry's. */
static void check_targets_known(const mg_catalog *cat, mg_errors *errs)
{
    for (size_t i = 0; i < cat->n_entries; i++) {
        const mg_catalog_entry *e = &cat->entries[i];
        for (size_t t = 0; t < e->n_targets; t++)
            if (!mg_catalog_has_target(cat, e->targets[t]))
                mg_errors_add(errs, MG_ERR_SCHEMA, e->path, "entry %s claims unknown target %s",
                              e->name, e->targets[t]);
    }
    for (size_t i = 0; i < cat->n_libraries; i++) {
        const mg_catalog_library *l = &cat->libraries[i];
        for (size_t t = 0; t < l->n_targets; t++)
            if (!mg_catalog_has_target(cat, l->targets[t]))
                mg_errors_add(errs, MG_ERR_SCHEMA, "", "library %s %s claims unknown target %s",
                              l->name, l->version_text, l->targets[t]);
    }
}

/* Entries are sorted by name: a duplicate is next to its twin. */
static void check_names_unique(const mg_catalog *cat, mg_errors *errs)
{
    for (size_t i = 1; i < cat->n_entries; i++)
        if (!strcmp(cat->entries[i].name, cat->entries[i - 1].name))
            mg_errors_add(errs, MG_ERR_DUPLICATE_NAME, cat->entries[i].path,
                          "catalog entry %s is declared twice (also at %s)", cat->entries[i].name,
                          cat->entries[i - 1].path);
}

/* ---- cycles between entries: a depth-first walk over the entries each
 * expansion, fallback and let names (state: 0 new, 1 on the walk, 2 done) */

static bool entry_refs_cycle(const mg_catalog *cat, size_t i, int *state, const mg_expr *e,
                             mg_errors *errs);

static bool visit_entry(const mg_catalog *cat, size_t i, int *state, mg_errors *errs)
{
    if (state[i] == 2) return true;
    if (state[i] == 1) {
        mg_errors_add(errs, MG_ERR_CYCLE, cat->entries[i].path,
                      "catalog entry %s expands into itself", cat->entries[i].name);
        return false;
    }
    state[i] = 1;
    const mg_catalog_entry *e = &cat->entries[i];
    bool ok = entry_refs_cycle(cat, i, state, e->expand, errs) &&
              entry_refs_cycle(cat, i, state, e->fallback, errs);
    for (size_t k = 0; ok && k < e->n_lets; k++)
        ok = entry_refs_cycle(cat, i, state, e->let_exprs[k], errs);
    state[i] = 2;
    return ok;
}

static bool entry_refs_cycle(const mg_catalog *cat, size_t i, int *state, const mg_expr *e,
                             mg_errors *errs)
{
    if (!e) return true;
    const mg_catalog_entry *ce;
    switch (e->kind) {
    case MG_EXPR_NAME:
    case MG_EXPR_CALL:
        if ((ce = mg_catalog_find(cat, e->name)) &&
            !visit_entry(cat, (size_t)(ce - cat->entries), state, errs))
            return false;
        for (size_t a = 0; a < e->n_args; a++)
            if (e->args[a].kind == MG_ARG_EXPR &&
                !entry_refs_cycle(cat, i, state, e->args[a].expr, errs))
                return false;
        return true;
    case MG_EXPR_APPLY:
        return false;
    case MG_EXPR_IF:
        return entry_refs_cycle(cat, i, state, e->then_expr, errs) &&
               entry_refs_cycle(cat, i, state, e->else_expr, errs);
    case MG_EXPR_MATCH:
        for (size_t c = 0; c < e->n_cases; c++)
            if (!entry_refs_cycle(cat, i, state, e->cases[c].expr, errs)) return false;
        return entry_refs_cycle(cat, i, state, e->default_expr, errs);
    default:
        return true;
    }
}

static void check_no_cycles(const mg_catalog *cat, mg_errors *errs)
{
    size_t before = errs->len;
    int *state = calloc(cat->n_entries + 1, sizeof *state);
    if (!state) abort();
    for (size_t i = 0; i < cat->n_entries && errs->len == before; i++)
        visit_entry(cat, i, state, errs);
    free(state);
}

bool mg_check_catalog(mg_catalog *cat, mg_errors *errs)
{
    size_t before = errs->len;
    check_names_unique(cat, errs);
    check_targets_known(cat, errs);
    /* types only of a catalog whose names mean one thing each, and cycles
     * only between well-typed entries */
    if (errs->len == before) mg_check_catalog_types(cat, errs);
    if (errs->len == before) check_no_cycles(cat, errs);
    return errs->len == before;
}

mg_catalog *mg_catalog_load(const mg_catalog_file *files, size_t n_files,
                            const mg_catalog_targets *targets, mg_errors *errs)
{
    mg_catalog *cat = mg_catalog_parse(files, n_files, targets, errs);
    if (cat && !mg_check_catalog(cat, errs)) {
        mg_catalog_free(cat);
        return NULL;
    }
    return cat;
}
