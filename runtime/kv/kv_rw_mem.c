/*
 * kv_rw_mem.c - kv_rw_mem(): a read-write store in memory.
 *
 * Values live in one array sorted by path (mg_kv_index), dictionaries are
 * implied by the paths as in crunch: lookups are binary searches and a
 * listing is a walk over adjacent entries. Inserting moves the tail of
 * the array, which is fine for the small stores images keep in memory.
 *
 * A value's version (an HTTP ETag) is the store's count of sets when it
 * was set, counted from a random 64-bit start drawn at connect from the
 * platform's entropy source. Counting from 0 gave the first value of
 * every boot the same version whatever its bytes, so a client holding
 * boot 1's page got a 304 from boot 2. The platform's entropy (not the
 * random device) keeps the kv library free of a dependency on mg-random.
 */
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"
#include "mg/kv_rw.h"

typedef struct mem_entry {
    char *path; /* first: mg_kv_index reads it */
    size_t len;
    unsigned char *data;
    uint64_t version; /* the store's count of sets when this value was set */
} mem_entry;

typedef struct kv_rw_mem {
    mg_kv_rw rw; /* first: a mg_kv_rw * (and its mg_kv_ro *) is a kv_rw_mem * */
    mem_entry *entries;
    size_t n, cap;
    uint64_t sets; /* random at connect, +1 per set: each set a new version */
} kv_rw_mem;

static mg_kv_index mem_index(const kv_rw_mem *m)
{
    return (mg_kv_index){m->entries, m->n, sizeof m->entries[0]};
}

static int mem_stat(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    const kv_rw_mem *m = (const kv_rw_mem *)kv;
    mg_kv_index ix = mem_index(m);
    size_t i;
    int rc = mg_kv_index_stat(&ix, key, kind, &i);
    if (rc == MG_OK && *kind == MG_KV_VALUE) *size = m->entries[i].len;
    return rc;
}

static int mem_version(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size,
                       uint64_t *version)
{
    const kv_rw_mem *m = (const kv_rw_mem *)kv;
    mg_kv_index ix = mem_index(m);
    size_t i;
    int rc = mg_kv_index_stat(&ix, key, kind, &i);
    if (rc == MG_OK && *kind == MG_KV_VALUE) {
        *size = m->entries[i].len;
        *version = m->entries[i].version;
    }
    return rc;
}

static int mem_read(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                    size_t *n_read)
{
    const kv_rw_mem *m = (const kv_rw_mem *)kv;
    mg_kv_index ix = mem_index(m);
    mg_kv_kind kind;
    size_t i;
    int rc = mg_kv_index_stat(&ix, key, &kind, &i);
    if (rc != MG_OK) return rc;
    if (kind != MG_KV_VALUE) return MG_EISDIR;
    const mem_entry *e = &m->entries[i];
    if (offset > e->len) return MG_ERANGE;
    if (length > e->len - offset) length = e->len - (size_t)offset;
    if (length) memcpy(buf, e->data + offset, length);
    *n_read = length;
    return MG_OK;
}

static int mem_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx)
{
    const kv_rw_mem *m = (const kv_rw_mem *)kv;
    mg_kv_index ix = mem_index(m);
    return mg_kv_index_list(&ix, key, fn, ctx);
}

static void mem_free_entry(mem_entry *e)
{
    free(e->path);
    free(e->data);
}

static void mem_disconnect(mg_kv_ro *kv)
{
    kv_rw_mem *m = (kv_rw_mem *)kv;
    for (size_t i = 0; i < m->n; i++) mem_free_entry(&m->entries[i]);
    free(m->entries);
    free(m);
}

/* MG_ENOTDIR if a dictionary on the way to `key` is a value. */
static int check_parents(const kv_rw_mem *m, const char *key)
{
    mg_kv_index ix = mem_index(m);
    size_t len = strlen(key);
    char *prefix = malloc(len + 1);
    if (!prefix) return MG_ENOMEM;
    memcpy(prefix, key, len + 1);
    int rc = MG_OK;
    for (size_t i = 0; i < len && rc == MG_OK; i++) {
        if (prefix[i] != '/') continue;
        prefix[i] = '\0';
        mg_kv_kind kind;
        if (mg_kv_index_stat(&ix, prefix, &kind, NULL) == MG_OK && kind == MG_KV_VALUE)
            rc = MG_ENOTDIR;
        prefix[i] = '/';
    }
    free(prefix);
    return rc;
}

static int mem_set(mg_kv_rw *rw, const char *key, const void *data, size_t len)
{
    kv_rw_mem *m = (kv_rw_mem *)rw;
    int rc = check_parents(m, key);
    if (rc != MG_OK) return rc;
    mg_kv_index ix = mem_index(m);
    mg_kv_kind kind;
    size_t i = 0;
    rc = mg_kv_index_stat(&ix, key, &kind, &i);
    if (rc == MG_OK && kind == MG_KV_DICTIONARY) return MG_EISDIR;
    /* Copy first, so that a failure leaves the store as it was. */
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return MG_ENOMEM;
    if (len) memcpy(copy, data, len);
    if (rc == MG_OK) { /* replace the value */
        free(m->entries[i].data);
        m->entries[i].data = copy;
        m->entries[i].len = len;
        m->entries[i].version = ++m->sets;
        return MG_OK;
    }
    size_t key_len = strlen(key);
    char *path = malloc(key_len + 1);
    if (!path) {
        free(copy);
        return MG_ENOMEM;
    }
    memcpy(path, key, key_len + 1);
    /* where it goes, found before growing: ix points into the old array */
    i = mg_kv_index_lower_bound(&ix, key, '\0');
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        mem_entry *grown =
            cap <= SIZE_MAX / sizeof *grown ? realloc(m->entries, cap * sizeof *grown) : NULL;
        if (!grown) {
            free(path);
            free(copy);
            return MG_ENOMEM;
        }
        m->entries = grown;
        m->cap = cap;
    }
    memmove(&m->entries[i + 1], &m->entries[i], (m->n - i) * sizeof m->entries[0]);
    m->entries[i] = (mem_entry){path, len, copy, ++m->sets};
    m->n++;
    return MG_OK;
}

static int mem_remove(mg_kv_rw *rw, const char *key)
{
    kv_rw_mem *m = (kv_rw_mem *)rw;
    mg_kv_index ix = mem_index(m);
    mg_kv_kind kind;
    size_t first, end;
    int rc = mg_kv_index_stat(&ix, key, &kind, &first);
    if (rc != MG_OK) return rc;
    if (kind == MG_KV_VALUE)
        end = first + 1;
    else
        mg_kv_index_range(&ix, key, &first, &end);
    for (size_t i = first; i < end; i++) mem_free_entry(&m->entries[i]);
    memmove(&m->entries[first], &m->entries[end], (m->n - end) * sizeof m->entries[0]);
    m->n -= end - first;
    return MG_OK;
}

static const struct mg_kv_ro_ops mem_ro_ops = {
    .stat = mem_stat,
    .read = mem_read,
    .list = mem_list,
    .disconnect = mem_disconnect,
    .version = mem_version,
};

static const struct mg_kv_rw_ops mem_rw_ops = {
    .set = mem_set,
    .remove = mem_remove,
};

int mg_kv_rw_mem_connect(mg_kv_rw **out)
{
    kv_rw_mem *m = calloc(1, sizeof *m);
    if (!m) {
        mg_printf("kv_rw_mem: out of memory\n");
        return MG_ENOMEM;
    }
    if (mg_platform_entropy(&m->sets, sizeof m->sets) != MG_OK) {
        mg_printf("kv_rw_mem: no entropy for the versions' random start\n");
        free(m);
        return MG_EIO;
    }
    m->rw.ro.ops = &mem_ro_ops;
    m->rw.ops = &mem_rw_ops;
    *out = &m->rw;
    return MG_OK;
}
