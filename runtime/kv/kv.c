/*
 * kv.c - what every key/value store shares: key normalisation, the checks
 * and dispatch of the public mg_kv_ro_* functions, and the sorted path
 * index that crunch, tar_kv_ro and kv_rw_mem keep their values in.
 *
 * Stores see only normalised keys, so "/a.txt" and "a.txt" can never
 * reach two different values, and no implementation has to reject "..".
 */
#include <stdlib.h>
#include <string.h>

#include "mg/kv_ro.h"

int mg_kv_key_normalise(const char *key, char *out, size_t cap)
{
    if (!key || !out) return MG_EINVAL;
    size_t n = 0;
    const char *p = key;
    while (*p) {
        if (*p == '/') {
            p++;
            continue;
        }
        const char *seg = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return MG_EINVAL;
        size_t need = (n ? 1 : 0) + len;
        if (need >= cap - n) return MG_ERANGE; /* keeps room for the '\0' */
        if (n) out[n++] = '/';
        memcpy(out + n, seg, len);
        n += len;
    }
    if (cap == 0) return MG_ERANGE;
    out[n] = '\0';
    return MG_OK;
}

/* A normalised key: in a small buffer on the stack when it fits, which is
 * almost always, so lookups do not allocate. */
typedef struct keybuf {
    char small[256];
    char *key;
} keybuf;

static int key_open(keybuf *kb, const char *key)
{
    kb->key = kb->small;
    if (!key) return MG_EINVAL;
    size_t cap = strlen(key) + 1;
    if (cap > sizeof kb->small) {
        kb->key = malloc(cap);
        if (!kb->key) return MG_ENOMEM;
    }
    int rc = mg_kv_key_normalise(key, kb->key, cap);
    if (rc != MG_OK && kb->key != kb->small) {
        free(kb->key);
        kb->key = kb->small;
    }
    return rc;
}

static void key_close(keybuf *kb)
{
    if (kb->key != kb->small) free(kb->key);
}

/* Looks `key` up; on success kb holds the normalised key. */
static int stat_key(mg_kv_ro *kv, keybuf *kb, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    if (!kv) return MG_EINVAL;
    int rc = key_open(kb, key);
    if (rc != MG_OK) return rc;
    *size = 0;
    rc = kv->ops->stat(kv, kb->key, kind, size);
    if (rc != MG_OK) key_close(kb);
    return rc;
}

int mg_kv_ro_exists(mg_kv_ro *kv, const char *key, mg_kv_kind *kind)
{
    keybuf kb;
    mg_kv_kind k;
    uint64_t size;
    int rc = stat_key(kv, &kb, key, &k, &size);
    if (rc != MG_OK) return rc;
    key_close(&kb);
    if (kind) *kind = k;
    return MG_OK;
}

int mg_kv_ro_size(mg_kv_ro *kv, const char *key, uint64_t *size)
{
    keybuf kb;
    mg_kv_kind kind;
    uint64_t s;
    if (!size) return MG_EINVAL;
    int rc = stat_key(kv, &kb, key, &kind, &s);
    if (rc != MG_OK) return rc;
    key_close(&kb);
    if (kind != MG_KV_VALUE) return MG_EISDIR;
    *size = s;
    return MG_OK;
}

int mg_kv_ro_version(mg_kv_ro *kv, const char *key, uint64_t *size, uint64_t *version)
{
    keybuf kb;
    mg_kv_kind kind;
    uint64_t s = 0, v = 0;
    if (!kv || !size || !version) return MG_EINVAL;
    int rc = key_open(&kb, key);
    if (rc != MG_OK) return rc;
    rc = kv->ops->version(kv, kb.key, &kind, &s, &v);
    key_close(&kb);
    if (rc != MG_OK) return rc;
    if (kind != MG_KV_VALUE) return MG_EISDIR;
    *size = s;
    *version = v;
    return MG_OK;
}

int mg_kv_ro_get(mg_kv_ro *kv, const char *key, void *buf, size_t cap, size_t *len)
{
    keybuf kb;
    mg_kv_kind kind;
    uint64_t size;
    if (!len || (!buf && cap)) return MG_EINVAL;
    int rc = stat_key(kv, &kb, key, &kind, &size);
    if (rc != MG_OK) return rc;
    if (kind != MG_KV_VALUE) {
        rc = MG_EISDIR;
    } else if (size > cap) {
        *len = size > SIZE_MAX ? SIZE_MAX : (size_t)size;
        rc = MG_ERANGE;
    } else {
        size_t n = 0;
        rc = size ? kv->ops->read(kv, kb.key, 0, buf, (size_t)size, &n) : MG_OK;
        if (rc == MG_OK) *len = n;
    }
    key_close(&kb);
    return rc;
}

int mg_kv_ro_get_partial(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                         size_t *n_read)
{
    keybuf kb;
    mg_kv_kind kind;
    uint64_t size;
    if (!n_read || (!buf && length)) return MG_EINVAL;
    int rc = stat_key(kv, &kb, key, &kind, &size);
    if (rc != MG_OK) return rc;
    if (kind != MG_KV_VALUE) {
        rc = MG_EISDIR;
    } else if (offset > size) {
        rc = MG_ERANGE;
    } else {
        if ((uint64_t)length > size - offset) length = (size_t)(size - offset);
        size_t n = 0;
        rc = length ? kv->ops->read(kv, kb.key, offset, buf, length, &n) : MG_OK;
        if (rc == MG_OK) *n_read = n;
    }
    key_close(&kb);
    return rc;
}

int mg_kv_ro_get_alloc(mg_kv_ro *kv, const char *key, void **data, size_t *len)
{
    keybuf kb;
    mg_kv_kind kind;
    uint64_t size;
    if (!data || !len) return MG_EINVAL;
    int rc = stat_key(kv, &kb, key, &kind, &size);
    if (rc != MG_OK) return rc;
    char *buf = NULL;
    size_t n = 0;
    if (kind != MG_KV_VALUE) {
        rc = MG_EISDIR;
    } else if (size >= SIZE_MAX) {
        rc = MG_ENOMEM;
    } else if (!(buf = malloc((size_t)size + 1))) {
        rc = MG_ENOMEM;
    } else {
        rc = size ? kv->ops->read(kv, kb.key, 0, buf, (size_t)size, &n) : MG_OK;
    }
    key_close(&kb);
    if (rc != MG_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MG_OK;
}

int mg_kv_ro_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx)
{
    keybuf kb;
    mg_kv_kind kind;
    uint64_t size;
    if (!fn) return MG_EINVAL;
    int rc = stat_key(kv, &kb, key, &kind, &size);
    if (rc != MG_OK) return rc;
    rc = kind == MG_KV_DICTIONARY ? kv->ops->list(kv, kb.key, fn, ctx) : MG_ENOTDIR;
    key_close(&kb);
    return rc;
}

void mg_kv_ro_disconnect(mg_kv_ro *kv)
{
    if (kv) kv->ops->disconnect(kv);
}

uint64_t mg_kv_version_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

uint64_t mg_kv_version_mix(uint64_t h, uint64_t v)
{
    /* byte by byte, so the result does not depend on the host's order */
    for (int i = 0; i < 8; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    return h;
}

/* ---- The sorted path index ---------------------------------------- */

const char *mg_kv_index_path(const mg_kv_index *ix, size_t i)
{
    const char *elem = (const char *)ix->base + i * ix->stride;
    const char *path;
    /* memcpy rather than a cast: the element type is the caller's. */
    memcpy(&path, elem, sizeof path);
    return path;
}

/* strcmp(path, key + sep) without building key + sep. */
static int cmp_key(const char *path, const char *key, char sep)
{
    size_t i = 0;
    for (; key[i]; i++) {
        unsigned char a = (unsigned char)path[i], b = (unsigned char)key[i];
        if (a != b) return a < b ? -1 : 1;
    }
    if (sep) {
        unsigned char a = (unsigned char)path[i], b = (unsigned char)sep;
        if (a != b) return a < b ? -1 : 1;
        i++;
    }
    return path[i] ? 1 : 0;
}

size_t mg_kv_index_lower_bound(const mg_kv_index *ix, const char *key, char sep)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(mg_kv_index_path(ix, mid), key, sep) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool has_dir_prefix(const char *path, const char *key, size_t key_len)
{
    return !strncmp(path, key, key_len) && path[key_len] == '/';
}

int mg_kv_index_stat(const mg_kv_index *ix, const char *key, mg_kv_kind *kind, size_t *index)
{
    if (!*key) {
        *kind = MG_KV_DICTIONARY;
        return MG_OK;
    }
    size_t i = mg_kv_index_lower_bound(ix, key, '\0');
    if (i < ix->n && !strcmp(mg_kv_index_path(ix, i), key)) {
        *kind = MG_KV_VALUE;
        if (index) *index = i;
        return MG_OK;
    }
    /* Everything under key/ sorts after key itself, so it starts at or
     * after i; the first path >= "key/" tells. */
    i = mg_kv_index_lower_bound(ix, key, '/');
    if (i < ix->n && has_dir_prefix(mg_kv_index_path(ix, i), key, strlen(key))) {
        *kind = MG_KV_DICTIONARY;
        return MG_OK;
    }
    return MG_ENOENT;
}

void mg_kv_index_range(const mg_kv_index *ix, const char *key, size_t *first, size_t *end)
{
    if (!*key) {
        *first = 0;
        *end = ix->n;
        return;
    }
    /* Paths under key/ are exactly those in ["key/", "key0"): '0' is the
     * character after '/'. */
    *first = mg_kv_index_lower_bound(ix, key, '/');
    *end = mg_kv_index_lower_bound(ix, key, '0');
}

int mg_kv_index_list(const mg_kv_index *ix, const char *key, mg_kv_list_fn fn, void *ctx)
{
    size_t first, end;
    mg_kv_index_range(ix, key, &first, &end);
    size_t plen = *key ? strlen(key) + 1 : 0;
    char *child = NULL;
    size_t child_cap = 0;
    const char *prev = NULL; /* the path the last listed child came from */
    size_t prev_len = 0;
    int rc = MG_OK;
    for (size_t i = first; i < end && rc == MG_OK; i++) {
        const char *path = mg_kv_index_path(ix, i);
        const char *rest = path + plen;
        const char *slash = strchr(rest, '/');
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        /* The paths of one sub-dictionary are adjacent: list it once. */
        if (prev && prev_len == len && !memcmp(prev + plen, rest, len)) continue;
        prev = path;
        prev_len = len;
        /* The child's full key is the start of its path. */
        if (plen + len + 1 > child_cap) {
            char *grown = realloc(child, plen + len + 1);
            if (!grown) {
                rc = MG_ENOMEM;
                break;
            }
            child = grown;
            child_cap = plen + len + 1;
        }
        memcpy(child, path, plen + len);
        child[plen + len] = '\0';
        rc = fn(ctx, child, slash ? MG_KV_DICTIONARY : MG_KV_VALUE);
    }
    free(child);
    return rc;
}
