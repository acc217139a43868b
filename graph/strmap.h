/*
 * strmap.h - a string -> index hash map (open addressing, FNV-1a).
 *
 * Keys are borrowed, not copied: they must outlive the map (they point
 * into a document or an arena). Used wherever a list could be long enough
 * in a hostile document for a linear scan per item to become quadratic.
 */
#ifndef MG_GRAPH_STRMAP_H
#define MG_GRAPH_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mg_strmap {
    const char **keys;
    size_t *vals;
    size_t cap, len;
} mg_strmap;

/* Sets key -> val (replacing an earlier value). */
void mg_strmap_put(mg_strmap *m, const char *key, size_t val);
bool mg_strmap_get(const mg_strmap *m, const char *key, size_t *val);
void mg_strmap_free(mg_strmap *m);

#endif
