/*
 * types.h - the type language of config documents.
 *
 * A type is a base module type (`console`) or a functor type written
 * `"a -> b -> job"`, right associative like functoria's `@->`. Parameters
 * are base types: v1 has no higher-order functors, so a type is a list of
 * parameter types and a result type. Base types are interned in a table
 * (docs/config.md's v1 list plus any type a catalog entry adds) and
 * compared by index.
 */
#ifndef MG_GRAPH_TYPES_H
#define MG_GRAPH_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"

/* Index into an mg_type_table. */
typedef uint16_t mg_base_type;
/* Stands for "the type of something that already had an error": it is
 * compatible with everything so one mistake is reported once. */
#define MG_TYPE_ERROR ((mg_base_type)0xFFFF)

typedef struct mg_type_table {
    char **names;
    size_t len;
    size_t cap;
} mg_type_table;

typedef struct mg_type {
    const mg_base_type *params; /* n_params entries; NULL when 0 */
    size_t n_params;
    mg_base_type result;
} mg_type;

/* Fills the table with the v1 base types of docs/config.md (job first). */
void mg_type_table_init(mg_type_table *t);
void mg_type_table_free(mg_type_table *t);
/* Index of a base type name, or MG_TYPE_ERROR. */
mg_base_type mg_type_table_find(const mg_type_table *t, const char *name);
/* Index of a base type name, adding it if new (catalog entries grow the list). */
mg_base_type mg_type_table_intern(mg_type_table *t, const char *name);
const char *mg_type_table_name(const mg_type_table *t, mg_base_type id);

/*
 * Parses "a -> b -> job". On failure returns false and writes a message
 * naming the offending part into `why`. Parameter arrays come from `arena`.
 */
bool mg_type_parse(const mg_type_table *t, mg_arena *arena, const char *text, mg_type *out,
                   mg_err *why);

mg_type mg_type_base(mg_base_type b);
bool mg_type_is_error(const mg_type *a);
/* Equal, or either side is an error type. */
bool mg_type_compatible(const mg_type *a, const mg_type *b);
/* The type left after applying `n` arguments (n <= n_params). */
mg_type mg_type_drop(const mg_type *a, size_t n);
/* "a -> b -> job", written into `buf`. */
const char *mg_type_format(const mg_type_table *t, const mg_type *a, char *buf, size_t size);

#endif
