#include "graph/builtin_catalog.h"

#include <stdlib.h>

#include "graph/embedded.h"

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

mg_catalog *mg_builtin_catalog_load(mg_errors *errs)
{
    size_t n = mg_builtin_catalog_files_count;
    mg_catalog_file *files = calloc(n ? n : 1, sizeof *files);
    if (!files) abort();
    for (size_t i = 0; i < n; i++) files[i] = mg_builtin_catalog_file(i);
    mg_catalog *cat = mg_catalog_load(files, n, errs);
    free(files);
    return cat;
}
