/*
 * stdlib.h - the freestanding C library's allocator and process functions
 * (runtime/libc/malloc.c, stdlib.c).
 *
 * The allocator works in the heap region the platform hands over at boot
 * (mg_libc_heap_init); exit and abort end the image through the platform;
 * there is no environment (getenv answers NULL).
 */
#ifndef MG_LIBC_STDLIB_H
#define MG_LIBC_STDLIB_H

#include <stddef.h>

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);

_Noreturn void abort(void);
_Noreturn void exit(int status);
char *getenv(const char *name);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* Gives the allocator its memory: [start, start + size). Called once by
 * the platform's boot code, before anything allocates. */
void mg_libc_heap_init(void *start, size_t size);
/* Bytes the allocator hands out now, and could at most (for tests and
 * reports). */
size_t mg_libc_heap_used(void);

#endif
