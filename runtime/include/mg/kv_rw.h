/*
 * kv_rw.h - read-write key/value stores (MirageOS's Mirage_kv.RW): a
 * read-only store (mg/kv_ro.h) plus set and remove.
 *
 * Implementations: kv_rw_mem(), in memory and empty at boot;
 * direct_kv_rw(dir), the files of a host directory (unix only; created,
 * with its parents, if missing).
 *
 * Reading: mg_kv_rw_ro(rw) is the store seen through mg/kv_ro.h; the
 * inline mg_kv_rw_exists/size/get/get_partial/list are shorthands for it.
 * Keys follow mg/kv_ro.h (normalised, no "." or "..").
 *
 * Writing:
 * - mg_kv_rw_set stores a whole value, replacing any value at `key`, and
 *   creates the dictionaries above it. A value on the way ("a" when
 *   setting "a/b") is MG_ENOTDIR; `key` being a dictionary is MG_EISDIR;
 *   the root is MG_EINVAL. direct_kv_rw writes a temporary file in the
 *   same directory, flushes it and renames it over the key, so a reader
 *   (or a crash) sees the old value or the new one, never a mix.
 * - mg_kv_rw_remove removes a value, or a dictionary with everything under
 *   it. A missing key is MG_ENOENT; the root is MG_EINVAL.
 * Operations are synchronous. A failing connect prints one line saying
 * why and returns its status.
 */
#ifndef MG_KV_RW_H
#define MG_KV_RW_H

#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"
#include "mg/kv_ro.h"

typedef struct mg_kv_rw mg_kv_rw;

int mg_kv_rw_mem_connect(mg_kv_rw **out);
int mg_direct_kv_rw_connect(mg_kv_rw **out, const char *dir);

/* Stores `len` bytes from `data` (NULL if len is 0) at `key`. */
int mg_kv_rw_set(mg_kv_rw *rw, const char *key, const void *data, size_t len);

/* Removes the value or dictionary at `key`. */
int mg_kv_rw_remove(mg_kv_rw *rw, const char *key);

/* Frees `rw` (NULL is fine); direct_kv_rw leaves its files in place. */
void mg_kv_rw_disconnect(mg_kv_rw *rw);

/* ---- For implementations --------------------------------------------
 * The read side is a struct mg_kv_ro, first member, whose ops also free
 * the whole store on disconnect. As for reads, the public functions
 * normalise the key (never the root here) before calling ops. */
struct mg_kv_rw_ops {
    int (*set)(mg_kv_rw *rw, const char *key, const void *data, size_t len);
    int (*remove)(mg_kv_rw *rw, const char *key);
};

struct mg_kv_rw {
    mg_kv_ro ro;
    const struct mg_kv_rw_ops *ops;
};

/* The store as a read-only one (same lifetime). */
static inline mg_kv_ro *mg_kv_rw_ro(mg_kv_rw *rw)
{
    return &rw->ro;
}

static inline int mg_kv_rw_exists(mg_kv_rw *rw, const char *key, mg_kv_kind *kind)
{
    return mg_kv_ro_exists(mg_kv_rw_ro(rw), key, kind);
}

static inline int mg_kv_rw_size(mg_kv_rw *rw, const char *key, uint64_t *size)
{
    return mg_kv_ro_size(mg_kv_rw_ro(rw), key, size);
}

static inline int mg_kv_rw_get(mg_kv_rw *rw, const char *key, void *buf, size_t cap, size_t *len)
{
    return mg_kv_ro_get(mg_kv_rw_ro(rw), key, buf, cap, len);
}

static inline int mg_kv_rw_get_partial(mg_kv_rw *rw, const char *key, uint64_t offset, void *buf,
                                       size_t length, size_t *n_read)
{
    return mg_kv_ro_get_partial(mg_kv_rw_ro(rw), key, offset, buf, length, n_read);
}

static inline int mg_kv_rw_list(mg_kv_rw *rw, const char *key, mg_kv_list_fn fn, void *ctx)
{
    return mg_kv_ro_list(mg_kv_rw_ro(rw), key, fn, ctx);
}

#endif
