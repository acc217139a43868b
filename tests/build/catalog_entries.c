/*
 * catalog-entries TARGET: prints the name of every concrete entry of the
 * built-in catalog that claims TARGET, one per line. The catalog test
 * checks that its test unikernel uses each of them.
 */
#include <stdio.h>
#include <string.h>

#include "targets/builtin_catalog.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: catalog-entries TARGET\n");
        return 2;
    }
    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    if (!cat) {
        fprintf(stderr, "catalog-entries: the built-in catalog does not load\n");
        return 1;
    }
    for (size_t i = 0; i < cat->n_entries; i++) {
        const mg_catalog_entry *e = &cat->entries[i];
        for (size_t k = 0; e->concrete && k < e->n_targets; k++)
            if (!strcmp(e->targets[k], argv[1])) printf("%s\n", e->name);
    }
    mg_catalog_free(cat);
    mg_errors_free(&errs);
    return 0;
}
