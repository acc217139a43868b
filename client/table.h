/*
 * table.h - aligned columns for people: mgctl's plain output.
 *
 * Rows of cells are collected first, then printed with each column as wide
 * as its widest cell (counted in UTF-8 characters), two spaces apart, the
 * last column not padded. A header row is just the first row.
 */
#ifndef MG_CLIENT_TABLE_H
#define MG_CLIENT_TABLE_H

#include <stdio.h>

#include "base/buf.h"

#define MG_TABLE_MAX_COLUMNS 12

typedef struct mg_table {
    int ncols;
    char **cells; /* rows * ncols, each malloc'd */
    size_t nrows, cap;
    int failed;
} mg_table;

void mg_table_init(mg_table *t, int ncols);
/* Adds a row of `ncols` cells (NULL prints as "-"). */
void mg_table_row(mg_table *t, const char *const *cells);
/* Adds a row from printf-style cells: each argument is one cell. */
void mg_table_rowv(mg_table *t, ...);
void mg_table_print(const mg_table *t, FILE *out);
void mg_table_free(mg_table *t);

/* Display width of a UTF-8 string: its characters (no wide ones), each
 * byte that is no UTF-8 counting as one, shown as U+FFFD. */
size_t mg_table_width(const char *s);

#endif
