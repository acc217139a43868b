/*
 * arena.h - bump allocation for data that lives and dies together.
 *
 * A resolution allocates many small objects (expressions, nodes, strings)
 * that all share the lifetime of the result, so they come from one arena
 * freed at once. Allocation failure aborts: there is no useful way for the
 * resolver to continue without memory, and checking every node allocation
 * would bury the logic.
 */
#ifndef MG_BASE_ARENA_H
#define MG_BASE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "base/alloc.h"

typedef struct mg_arena_block mg_arena_block;
typedef struct mg_arena {
    mg_arena_block *head;
} mg_arena;

/* Zeroed memory, aligned for any type. */
void *mg_arena_alloc(mg_arena *a, size_t size);
/* Grows an array allocated from the arena (old contents copied). */
void *mg_arena_grow(mg_arena *a, void *old, size_t old_size, size_t new_size);
char *mg_arena_strdup(mg_arena *a, const char *s);
char *mg_arena_strndup(mg_arena *a, const char *s, size_t n);
char *mg_arena_printf(mg_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *mg_arena_vprintf(mg_arena *a, const char *fmt, va_list ap);
void mg_arena_free(mg_arena *a);

/* Joins `n` strings with `sep` (", ") into one arena string. */
char *mg_arena_join(mg_arena *a, const char *const *items, size_t n, const char *sep);

#endif
