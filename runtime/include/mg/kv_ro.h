/*
 * kv_ro.h - read-only key/value stores (MirageOS's Mirage_kv.RO): a tree
 * of dictionaries whose leaves are values (byte strings).
 *
 * Implementations: crunch(dir), the files of a project directory embedded
 * in the image (mg/crunch.h); direct_kv_ro(dir), a host directory read at
 * run time (unix only); tar_kv_ro(block), a tar archive on a block device.
 * A read-write store (mg/kv_rw.h) is also read through this interface.
 *
 * Keys are '/'-separated paths. "a.txt", "/a.txt" and "sub//b.txt/" mean
 * "a.txt" and "sub/b.txt": empty segments vanish. "", "/" is the root, a
 * dictionary that always exists. A "." or ".." segment is MG_EINVAL, so no
 * key reaches outside its store.
 *
 * Statuses, for every function below: MG_OK; MG_EINVAL (bad key or NULL
 * argument); MG_ENOENT (no such key); MG_EISDIR (a value was asked, the
 * key is a dictionary); MG_ENOTDIR (a dictionary was asked, the key is a
 * value); MG_ERANGE (buffer too small, offset past the end); MG_EIO and
 * MG_ENOMEM from the storage. Operations are synchronous.
 *
 * A failing connect prints one line saying why and returns its status.
 * mg_kv_ro_disconnect() frees a handle (tests do; images keep theirs).
 *
 * The structures at the end are for implementations; users treat mg_kv_ro
 * as opaque.
 */
#ifndef MG_KV_RO_H
#define MG_KV_RO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"
#include "mg/block.h"

typedef struct mg_kv_ro mg_kv_ro;

typedef enum mg_kv_kind {
    MG_KV_VALUE = 1,
    MG_KV_DICTIONARY = 2,
} mg_kv_kind;

int mg_crunch_connect(mg_kv_ro **out, const char *dir);
int mg_direct_kv_ro_connect(mg_kv_ro **out, const char *dir);
int mg_tar_kv_ro_connect(mg_kv_ro **out, mg_block *block);

/* Whether `key` exists, and as what (kind may be NULL). MG_ENOENT if not. */
int mg_kv_ro_exists(mg_kv_ro *kv, const char *key, mg_kv_kind *kind);

/* The size in bytes of the value at `key`. */
int mg_kv_ro_size(mg_kv_ro *kv, const char *key, uint64_t *size);

/* Copies the whole value at `key` into buf (capacity `cap`) and stores its
 * length in *len. If the value is longer than cap, returns MG_ERANGE with
 * the needed length in *len and leaves buf alone. */
int mg_kv_ro_get(mg_kv_ro *kv, const char *key, void *buf, size_t cap, size_t *len);

/* Reads up to `length` bytes of the value at `key` from byte `offset` into
 * buf; *n_read is what was read, less than length only at the end of the
 * value (0 when offset is the size). offset > size is MG_ERANGE. */
int mg_kv_ro_get_partial(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                         size_t *n_read);

/* The size of the value at `key` and its version: a 64-bit number for a
 * server to tag responses with (an HTTP ETag) without reading the value
 * on every request. It is meant to hold across handles, images and boots
 * (a client keeps an ETag as long as it likes): equal versions of a key
 * should mean equal bytes. What each store guarantees:
 * - crunch, tar_kv_ro: the 64-bit FNV-1a hash of the bytes (computed the
 *   first time a value's version is asked, reading a tar entry through
 *   the device in 64 KiB chunks, then kept: the bytes never change; a
 *   read error there is MG_EIO, and the next ask tries again). The
 *   same bytes give the same version in any image; other bytes collide
 *   by accident with odds of about 2^-64, but FNV-1a is no cryptographic
 *   hash: someone who chooses the bytes can make two values collide.
 * - direct_kv_ro, direct_kv_rw: the file's device, inode, size, mtime and
 *   ctime (nanoseconds) mixed, from one stat. A direct_kv_rw write renames
 *   a new file over the key, so it always changes; a file rewritten in
 *   place to the same size within one tick of the host's file clock (a
 *   few ms) can keep its version, as with any mtime-based ETag.
 * - kv_rw_mem: the store's count of sets when the value was set, counted
 *   from a random 64-bit start drawn at connect from the platform's
 *   entropy. Every set within a store is a new version (even of the same
 *   bytes); another store (another boot) repeats one with odds of about
 *   its number of sets in 2^64.
 * A dictionary is MG_EISDIR. */
int mg_kv_ro_version(mg_kv_ro *kv, const char *key, uint64_t *size, uint64_t *version);

/* The whole value at `key` in a new malloc'd buffer (*data; the caller
 * frees it), followed by a '\0' that *len does not count, so text values
 * can be used as C strings. */
int mg_kv_ro_get_alloc(mg_kv_ro *kv, const char *key, void **data, size_t *len);

/* Called once per entry of a listed dictionary. `key` is the entry's full
 * normalised key ("sub/b.txt"; its name is what follows the last '/'),
 * valid during the call only. Returning non-zero stops the listing, and
 * mg_kv_ro_list returns that value. */
typedef int (*mg_kv_list_fn)(void *ctx, const char *key, mg_kv_kind kind);

/* Lists the entries directly under the dictionary `key`, each once, in the
 * order of their keys by strcmp with a '/' appended to dictionaries' keys
 * (the order of the full paths of the files under them), so every
 * implementation lists the same tree the same way. */
int mg_kv_ro_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx);

/* Frees `kv` (NULL is fine). A tar_kv_ro does not free its block. */
void mg_kv_ro_disconnect(mg_kv_ro *kv);

/* Normalises `key` into out (capacity cap; strlen(key) + 1 always
 * suffices): no leading, trailing or doubled '/'; the root is "". MG_EINVAL
 * for a "." or ".." segment, MG_ERANGE if cap is too small. */
int mg_kv_key_normalise(const char *key, char *out, size_t cap);

/* ---- For implementations --------------------------------------------
 * An implementation embeds struct mg_kv_ro as the first member of its
 * state. The public functions above normalise the key and check the
 * arguments, then call ops with the normalised key ("" is the root). */
struct mg_kv_ro_ops {
    /* The kind of `key`, and its size when it is a value. */
    int (*stat)(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size);
    /* Reads up to `length` bytes of the value from `offset` (<= its size);
     * *n_read < length only at the end of the value. */
    int (*read)(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                size_t *n_read);
    /* As mg_kv_ro_list; the key is known to be a dictionary or the root. */
    int (*list)(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx);
    void (*disconnect)(mg_kv_ro *kv);
    /* As stat, and for a value its version too (mg_kv_ro_version). */
    int (*version)(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size,
                   uint64_t *version);
};

struct mg_kv_ro {
    const struct mg_kv_ro_ops *ops;
};

/* A sorted index of values, shared by the stores that hold their paths in
 * an array (crunch, tar_kv_ro, kv_rw_mem): `n` elements of `stride` bytes
 * from `base`, each starting with its normalised path as a `const char *`,
 * sorted by strcmp, no path twice, none both a value and a prefix of
 * another path followed by '/'. Dictionaries are implied by the paths. */
typedef struct mg_kv_index {
    const void *base;
    size_t n, stride;
} mg_kv_index;

/* The path of element i. */
const char *mg_kv_index_path(const mg_kv_index *ix, size_t i);

/* The first element whose path is >= `key` followed by `sep` ('\0': the
 * key alone, '/': the key as a dictionary prefix). */
size_t mg_kv_index_lower_bound(const mg_kv_index *ix, const char *key, char sep);

/* The kind of `key`; for a value, *index is its element (index may be
 * NULL). MG_ENOENT if neither a value nor a dictionary. */
int mg_kv_index_stat(const mg_kv_index *ix, const char *key, mg_kv_kind *kind, size_t *index);

/* The range [*first, *end) of the elements under the dictionary `key`
 * (everything for the root ""). */
void mg_kv_index_range(const mg_kv_index *ix, const char *key, size_t *first, size_t *end);

/* Lists the dictionary `key` as mg_kv_ro_list does. */
int mg_kv_index_list(const mg_kv_index *ix, const char *key, mg_kv_list_fn fn, void *ctx);

/* Mixes `v` into the version `h` (start from MG_KV_VERSION_SEED): the
 * stores that build a version from several numbers. */
#define MG_KV_VERSION_SEED 0xcbf29ce484222325ull
uint64_t mg_kv_version_mix(uint64_t h, uint64_t v);

/* Mixes `n` bytes into the version `h` (FNV-1a, 64 bits). */
uint64_t mg_kv_version_bytes(uint64_t h, const void *data, size_t n);

#endif
