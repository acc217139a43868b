#include "targets/builtin_catalog.h"

#include <stdlib.h>
#include <string.h>

#include "graph/check.h"
#include "graph/embedded.h"
#include "targets/registry.h"

/* Defined by the file cmake/embed.cmake generates. */
MG_EMBEDDED_FILES(mg_builtin_catalog_files);

size_t mg_builtin_catalog_file_count(void)
{
    return mg_builtin_catalog_files_count;
}

mg_catalog_file mg_builtin_catalog_file(size_t i)
{
    const mg_embedded_file *f = &mg_builtin_catalog_files[i];
    return (mg_catalog_file){f->path, f->data, f->len};
}

static void add_name(const char **list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(list[i], name)) return;
    list[(*n)++] = name;
}

mg_catalog *mg_builtin_catalog_load(mg_errors *errs)
{
    mg_err err;
    mg_targets *reg = mg_targets_load(&err);
    if (!reg) {
        mg_errors_add(errs, MG_ERR_SCHEMA, "targets/", "%s", err.msg);
        return NULL;
    }
    /* the registry's targets, and every arch any of them has */
    size_t n_targets = mg_targets_count(reg), n_arches = 0, max_arches = 0;
    for (size_t i = 0; i < n_targets; i++) max_arches += mg_targets_get(reg, i)->n_arches;
    const char **names = calloc(n_targets + 1, sizeof *names);
    const char **arches = calloc(max_arches + 1, sizeof *arches);
    if (!names || !arches) abort();
    for (size_t i = 0; i < n_targets; i++) {
        const mg_target *t = mg_targets_get(reg, i);
        names[i] = t->name;
        for (size_t a = 0; a < t->n_arches; a++) add_name(arches, &n_arches, t->arches[a].name);
    }
    mg_catalog_targets targets = {names, n_targets, mg_targets_default(reg)->name, arches,
                                  n_arches};
    size_t n = mg_builtin_catalog_files_count;
    mg_catalog_file *files = calloc(n ? n : 1, sizeof *files);
    if (!files) abort();
    for (size_t i = 0; i < n; i++) files[i] = mg_builtin_catalog_file(i);
    /* the catalog copies the names: the registry can go */
    mg_catalog *cat = mg_catalog_load(files, n, &targets, errs);
    free(files);
    free(names);
    free(arches);
    mg_targets_free(reg);
    return cat;
}
