/* table.c - see table.h. */
#include "client/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

void mg_table_init(mg_table *t, int ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > MG_TABLE_MAX_COLUMNS ? MG_TABLE_MAX_COLUMNS : ncols;
}

size_t mg_table_width(const char *s)
{
    return mg_utf8_count(s);
}

void mg_table_row(mg_table *t, const char *const *cells)
{
    if (t->failed) return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (!c) {
            t->failed = 1;
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "-");
        if (!row[i]) t->failed = 1;
    }
    t->nrows++;
}

void mg_table_rowv(mg_table *t, ...)
{
    const char *cells[MG_TABLE_MAX_COLUMNS];
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) cells[i] = va_arg(ap, const char *);
    va_end(ap);
    mg_table_row(t, cells);
}

void mg_table_print(const mg_table *t, FILE *out)
{
    size_t width[MG_TABLE_MAX_COLUMNS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * (size_t)t->ncols + c];
            size_t w = cell ? mg_table_width(cell) : 0;
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * (size_t)t->ncols + c];
            if (!cell) cell = "";
            fputs(cell, out);
            if (c + 1 < t->ncols) {
                size_t pad = width[c] - mg_table_width(cell) + 2;
                for (size_t i = 0; i < pad; i++) fputc(' ', out);
            }
        }
        fputc('\n', out);
    }
}

void mg_table_free(mg_table *t)
{
    if (t->cells)
        for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
