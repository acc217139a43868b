#include "base/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blocks grow with demand; a request larger than the default block gets a
 * block of its own so big arrays do not waste the rest of a block. */
#define ARENA_BLOCK 16384
#define ARENA_ALIGN 16

struct mg_arena_block {
    mg_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void *mg_arena_alloc(mg_arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    mg_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = mg_xmalloc(sizeof *b + cap);
        b->used = 0;
        b->size = cap;
        if (a->head && size > ARENA_BLOCK) {
            /* keep filling the current block: link the big one behind it */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void *mg_arena_grow(mg_arena *a, void *old, size_t old_size, size_t new_size)
{
    void *p = mg_arena_alloc(a, new_size);
    if (old && old_size) memcpy(p, old, old_size < new_size ? old_size : new_size);
    return p;
}

char *mg_arena_strndup(mg_arena *a, const char *s, size_t n)
{
    char *p = mg_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *mg_arena_strdup(mg_arena *a, const char *s)
{
    return s ? mg_arena_strndup(a, s, strlen(s)) : NULL;
}

char *mg_arena_vprintf(mg_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) abort();
    char *p = mg_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *mg_arena_printf(mg_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = mg_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

char *mg_arena_join(mg_arena *a, const char *const *items, size_t n, const char *sep)
{
    size_t len = 0, slen = strlen(sep);
    for (size_t i = 0; i < n; i++) len += strlen(items[i]) + (i ? slen : 0);
    char *out = mg_arena_alloc(a, len + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (i) o = memcpy(o, sep, slen), o += slen;
        size_t k = strlen(items[i]);
        memcpy(o, items[i], k);
        o += k;
    }
    *o = 0;
    return out;
}

void mg_arena_free(mg_arena *a)
{
    mg_arena_block *b = a->head;
    while (b) {
        mg_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}
