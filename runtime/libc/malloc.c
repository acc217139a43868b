/*
 * malloc.c - the freestanding C library's allocator, over the one heap
 * region the platform hands over at boot.
 *
 * First fit over a free list kept in address order, so that a freed block
 * merges with the free blocks on either side at once and the heap does not
 * crumble. Every block starts with a 16-byte header (its size and a magic
 * word), which keeps what malloc returns 16-byte aligned and lets free
 * refuse a pointer it never handed out, or one freed twice, by aborting
 * with a message instead of corrupting the heap. Images are small and
 * single-threaded: a list walk per call is cheaper than anything cleverer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"

#define ALIGN 16
#define HEADER 16
#define MIN_BLOCK 32
#define MAGIC_USED ((size_t)0x6d67616c6c6f6321ull) /* "mgalloc!" */
#define MAGIC_FREE ((size_t)0x6d6766726565642eull) /* "mgfreed." */

typedef struct block {
    size_t size;        /* of the whole block, header included */
    size_t magic;       /* MAGIC_USED or MAGIC_FREE */
    struct block *next; /* free blocks only: the next free block, by address */
} block;

static block *free_list;
static uintptr_t heap_lo, heap_hi;
static size_t used;

void mg_libc_heap_init(void *start, size_t size)
{
    uintptr_t lo = ((uintptr_t)start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    uintptr_t hi = ((uintptr_t)start + size) & ~(uintptr_t)(ALIGN - 1);
    free_list = NULL;
    used = 0;
    heap_lo = heap_hi = lo;
    if (hi <= lo || hi - lo < MIN_BLOCK) return;
    heap_hi = hi;
    free_list = (block *)lo;
    free_list->size = hi - lo;
    free_list->magic = MAGIC_FREE;
    free_list->next = NULL;
}

size_t mg_libc_heap_used(void)
{
    return used;
}

void *malloc(size_t n)
{
    if (n > SIZE_MAX - HEADER - ALIGN) return NULL;
    size_t need = (n + HEADER + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < MIN_BLOCK) need = MIN_BLOCK;
    for (block **pp = &free_list; *pp; pp = &(*pp)->next) {
        block *b = *pp;
        if (b->size < need) continue;
        if (b->size - need >= MIN_BLOCK) {
            /* split: the rest stays free, in the same place in the list */
            block *rest = (block *)((uintptr_t)b + need);
            rest->size = b->size - need;
            rest->magic = MAGIC_FREE;
            rest->next = b->next;
            *pp = rest;
            b->size = need;
        } else {
            *pp = b->next;
        }
        b->magic = MAGIC_USED;
        used += b->size;
        return (char *)b + HEADER;
    }
    return NULL;
}

/* The block of a pointer malloc returned; aborts on anything else. */
static block *block_of(void *p, const char *what)
{
    uintptr_t a = (uintptr_t)p;
    block *b = (block *)(a - HEADER);
    if ((a & (ALIGN - 1)) || a < heap_lo + HEADER || a >= heap_hi || b->magic != MAGIC_USED ||
        b->size < MIN_BLOCK || b->size > heap_hi - (uintptr_t)b)
        mg_platform_abort(what);
    return b;
}

void free(void *p)
{
    if (!p) return;
    block *b = block_of(p, "free: not a pointer from malloc, or freed twice");
    used -= b->size;
    b->magic = MAGIC_FREE;
    block *prev = NULL, *next = free_list;
    while (next && next < b) prev = next, next = next->next;
    /* with the next one */
    if (next && (uintptr_t)b + b->size == (uintptr_t)next) {
        b->size += next->size;
        next->magic = 0;
        next = next->next;
    }
    b->next = next;
    /* with the previous one */
    if (prev && (uintptr_t)prev + prev->size == (uintptr_t)b) {
        prev->size += b->size;
        prev->next = b->next;
        b->magic = 0;
    } else if (prev) {
        prev->next = b;
    } else {
        free_list = b;
    }
}

void *calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p) return malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    block *b = block_of(p, "realloc: not a pointer from malloc, or freed");
    size_t have = b->size - HEADER;
    if (n <= have) return p;
    void *q = malloc(n);
    if (!q) return NULL; /* p stays valid, as C says */
    memcpy(q, p, have);
    free(p);
    return q;
}
