/* kv_walk.c - see kv_walk.h. */
#include "kv_walk.h"

#include <stdlib.h>
#include <string.h>

#define WALK_MAX_KEYS 4096

typedef struct walk {
    char **keys;
    mg_kv_kind *kinds;
    size_t n;
    const char *parent;
    size_t parent_len;
} walk;

static int collect(void *ctx, const char *key, mg_kv_kind kind)
{
    walk *w = ctx;
    /* a listed key is a child of the listed dictionary */
    if (w->parent_len && (strncmp(key, w->parent, w->parent_len) || key[w->parent_len] != '/'))
        abort();
    if (!*key || strchr(key + w->parent_len + (w->parent_len ? 1 : 0), '/')) abort();
    if (w->n == WALK_MAX_KEYS) return 1;
    w->keys = realloc(w->keys, (w->n + 1) * sizeof *w->keys);
    w->kinds = realloc(w->kinds, (w->n + 1) * sizeof *w->kinds);
    if (!w->keys || !w->kinds || !(w->keys[w->n] = strdup(key))) abort();
    w->kinds[w->n++] = kind;
    return 0;
}

unsigned char *mg_fuzz_kv_value(mg_kv_ro *kv, const char *key, size_t *len)
{
    void *data = NULL;
    if (mg_kv_ro_get_alloc(kv, key, &data, len) != MG_OK) return NULL;
    if (((unsigned char *)data)[*len] != 0) abort(); /* a NUL follows */
    return data;
}

static void check_value(mg_kv_ro *kv, const char *key)
{
    uint64_t size = 0, vsize = 0, version = 0;
    if (mg_kv_ro_size(kv, key, &size) != MG_OK) abort();
    size_t len = 0;
    unsigned char *whole = mg_fuzz_kv_value(kv, key, &len);
    if (!whole || len != size) abort();
    /* exact fit and one byte less: the one that fits is filled, the other
     * is refused with the size and left alone */
    unsigned char *exact = malloc(len + 1);
    if (!exact) abort();
    exact[len] = 0xA5;
    size_t got = 0;
    if (mg_kv_ro_get(kv, key, exact, len, &got) != MG_OK || got != len ||
        (len && memcmp(exact, whole, len)) || exact[len] != 0xA5)
        abort();
    if (len) {
        memset(exact, 0x5A, len);
        got = 0;
        if (mg_kv_ro_get(kv, key, exact, len - 1, &got) != MG_ERANGE || got != len ||
            exact[len - 1] != 0x5A)
            abort();
    }
    /* in pieces of 7: the same bytes */
    for (uint64_t off = 0; off <= size; off += 7) {
        unsigned char piece[7];
        size_t n = 0;
        if (mg_kv_ro_get_partial(kv, key, off, piece, sizeof piece, &n) != MG_OK) abort();
        size_t want = size - off < sizeof piece ? (size_t)(size - off) : sizeof piece;
        if (n != want || (n && memcmp(piece, whole + off, n))) abort();
    }
    unsigned char one;
    size_t n = 0;
    if (mg_kv_ro_get_partial(kv, key, size + 1, &one, 1, &n) != MG_ERANGE) abort();
    /* the version is the hash of the bytes (crunch and tar promise it) */
    if (mg_kv_ro_version(kv, key, &vsize, &version) != MG_OK || vsize != size ||
        version != mg_kv_version_bytes(MG_KV_VERSION_SEED, whole, len))
        abort();
    free(exact);
    free(whole);
}

/* strcmp of `a` and `b`, each with a '/' appended when a dictionary */
static int sort_cmp(const char *a, mg_kv_kind ka, const char *b, mg_kv_kind kb)
{
    size_t la = strlen(a), lb = strlen(b);
    char *x = malloc(la + 2), *y = malloc(lb + 2);
    if (!x || !y) abort();
    memcpy(x, a, la);
    memcpy(y, b, lb);
    x[la] = ka == MG_KV_DICTIONARY ? '/' : 0;
    y[lb] = kb == MG_KV_DICTIONARY ? '/' : 0;
    x[la + 1] = y[lb + 1] = 0;
    int c = strcmp(x, y);
    free(x);
    free(y);
    return c;
}

static size_t walk_dict(mg_kv_ro *kv, const char *dict, size_t *budget)
{
    walk w = {.parent = dict, .parent_len = strlen(dict)};
    int rc = mg_kv_ro_list(kv, dict, collect, &w);
    if (rc != MG_OK && rc != 1) abort();
    size_t values = 0;
    for (size_t i = 0; i < w.n; i++) {
        /* sorted by the key with a '/' after a dictionary's, each once */
        if (i > 0 && sort_cmp(w.keys[i - 1], w.kinds[i - 1], w.keys[i], w.kinds[i]) >= 0) abort();
        mg_kv_kind kind;
        if (mg_kv_ro_exists(kv, w.keys[i], &kind) != MG_OK || kind != w.kinds[i]) abort();
        if (*budget == 0) {
            /* enough for one input */
        } else if (kind == MG_KV_VALUE) {
            --*budget;
            check_value(kv, w.keys[i]);
            values++;
        } else {
            uint64_t size;
            if (mg_kv_ro_size(kv, w.keys[i], &size) != MG_EISDIR) abort();
            values += walk_dict(kv, w.keys[i], budget);
        }
    }
    for (size_t i = 0; i < w.n; i++) free(w.keys[i]);
    free(w.keys);
    free(w.kinds);
    return values;
}

size_t mg_fuzz_kv_walk(mg_kv_ro *kv)
{
    size_t budget = 256;
    mg_kv_kind kind;
    if (mg_kv_ro_exists(kv, "", &kind) != MG_OK || kind != MG_KV_DICTIONARY) abort();
    if (mg_kv_ro_exists(kv, "../x", &kind) != MG_EINVAL) abort();
    return walk_dict(kv, "", &budget);
}
