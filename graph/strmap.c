#include "graph/strmap.h"

#include <stdlib.h>
#include <string.h>

static void grow(mg_strmap *m);

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void grow(mg_strmap *m)
{
    mg_strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->len = 0;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    if (!m->keys || !m->vals) abort();
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) mg_strmap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

void mg_strmap_put(mg_strmap *m, const char *key, size_t val)
{
    if ((m->len + 1) * 2 > m->cap) grow(m);
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key)) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
}

bool mg_strmap_get(const mg_strmap *m, const char *key, size_t *val)
{
    if (!m->cap) return false;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key)) {
            *val = m->vals[i];
            return true;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return false;
}

void mg_strmap_free(mg_strmap *m)
{
    free(m->keys);
    free(m->vals);
    *m = (mg_strmap){0};
}
