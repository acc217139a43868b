/*
 * kv_walk.h - what the tar and crunch fuzz targets ask of a read-only
 * store they managed to connect (mg/kv_ro.h): every key listed, each
 * value read whole, in pieces and into buffers of its exact size and one
 * byte less, its version. Any answer that breaks the interface's promises
 * aborts. Shared because both readers promise the same.
 */
#ifndef MG_FUZZ_KV_WALK_H
#define MG_FUZZ_KV_WALK_H

#include "mg/kv_ro.h"

/* Walks the whole store; returns the number of values seen. */
size_t mg_fuzz_kv_walk(mg_kv_ro *kv);

/* The value of `key`, read whole (malloc'd, the caller frees; NULL when it
 * is not a value). */
unsigned char *mg_fuzz_kv_value(mg_kv_ro *kv, const char *key, size_t *len);

#endif
