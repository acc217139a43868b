/*
 * kv_rw.c - the dispatch of mg/kv_rw.h's writes: normalise the key, refuse
 * the root, then the implementation's operations table. Reads go through
 * mg/kv_ro.h (kv.c).
 */
#include <stdlib.h>
#include <string.h>

#include "mg/kv_rw.h"

/* Normalises `key` into a new buffer (*norm, which the caller frees). */
static int normalise_alloc(const char *key, char **norm)
{
    if (!key) return MG_EINVAL;
    size_t cap = strlen(key) + 1;
    char *k = malloc(cap);
    if (!k) return MG_ENOMEM;
    int rc = mg_kv_key_normalise(key, k, cap);
    if (rc == MG_OK && !*k) rc = MG_EINVAL; /* the root is no value */
    if (rc != MG_OK) {
        free(k);
        return rc;
    }
    *norm = k;
    return MG_OK;
}

int mg_kv_rw_set(mg_kv_rw *rw, const char *key, const void *data, size_t len)
{
    char *k;
    if (!rw || (!data && len)) return MG_EINVAL;
    int rc = normalise_alloc(key, &k);
    if (rc != MG_OK) return rc;
    rc = rw->ops->set(rw, k, data, len);
    free(k);
    return rc;
}

int mg_kv_rw_remove(mg_kv_rw *rw, const char *key)
{
    char *k;
    if (!rw) return MG_EINVAL;
    int rc = normalise_alloc(key, &k);
    if (rc != MG_OK) return rc;
    rc = rw->ops->remove(rw, k);
    free(k);
    return rc;
}

void mg_kv_rw_disconnect(mg_kv_rw *rw)
{
    if (rw) mg_kv_ro_disconnect(&rw->ro);
}
