/*
 * client/table: widths in code points and the printed alignment.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/table.h"

Test(table, width_in_code_points)
{
    cr_assert_eq(mg_table_width(""), 0);
    cr_assert_eq(mg_table_width("hello"), 5);
    cr_assert_eq(mg_table_width("h\xc3\xa9llo"), 5);     /* héllo */
    cr_assert_eq(mg_table_width("\xe2\x9c\x93 ok"), 4);  /* ✓ ok */
    cr_assert_eq(mg_table_width("\xf0\x9f\x90\xab"), 1); /* a 4-byte character */
    cr_assert_eq(mg_table_width("\xc3\xa7\xc3\xa7\xc3\xa7"), 3);
}

/* Prints `t` into a string (malloc'd). */
static char *print(const mg_table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    mg_table_print(t, f);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

Test(table, alignment)
{
    mg_table t;
    mg_table_init(&t, 3);
    mg_table_rowv(&t, "ID", "STATUS", "TARGET");
    mg_table_rowv(&t, "1", "succeeded", "unix");
    mg_table_rowv(&t, "12", "failed", "xen-long");
    cr_assert_not(t.failed);
    char *out = print(&t);
    cr_assert_str_eq(out, "ID  STATUS     TARGET\n"
                          "1   succeeded  unix\n"
                          "12  failed     xen-long\n");
    free(out);
    mg_table_free(&t);
}

Test(table, utf8_alignment)
{
    mg_table t;
    mg_table_init(&t, 2);
    mg_table_rowv(&t, "NAME", "X");
    mg_table_rowv(&t, "h\xc3\xa9llo!", "1"); /* 6 characters, 7 bytes */
    mg_table_rowv(&t, "ab", "2");
    char *out = print(&t);
    cr_assert_str_eq(out, "NAME    X\n"
                          "h\xc3\xa9llo!  1\n"
                          "ab      2\n");
    free(out);
    mg_table_free(&t);
}

Test(table, null_cell_prints_dash)
{
    mg_table t;
    mg_table_init(&t, 3);
    const char *header[] = {"A", "B", "C"};
    const char *row[] = {NULL, "long value", NULL};
    mg_table_row(&t, header);
    mg_table_row(&t, row);
    char *out = print(&t);
    cr_assert_str_eq(out, "A  B           C\n"
                          "-  long value  -\n");
    free(out);
    mg_table_free(&t);
}

Test(table, last_column_not_padded)
{
    mg_table t;
    mg_table_init(&t, 2);
    mg_table_rowv(&t, "a", "a very long last cell");
    mg_table_rowv(&t, "b", "c");
    mg_table_rowv(&t, "d", "");
    char *out = print(&t);
    cr_assert_str_eq(out, "a  a very long last cell\n"
                          "b  c\n"
                          "d  \n");
    free(out);
    mg_table_free(&t);
}

Test(table, many_rows_and_one_column)
{
    mg_table t;
    mg_table_init(&t, 1);
    char want[1024] = "";
    for (int i = 0; i < 40; i++) { /* past the first allocation */
        char cell[16];
        snprintf(cell, sizeof cell, "%d", i);
        mg_table_rowv(&t, cell);
        strcat(want, cell);
        strcat(want, "\n");
    }
    cr_assert_eq(t.nrows, 40);
    char *out = print(&t);
    cr_assert_str_eq(out, want);
    free(out);
    mg_table_free(&t);
    cr_assert_eq(t.nrows, 0);
    cr_assert_null(t.cells);
}

Test(table, empty_table_prints_nothing)
{
    mg_table t;
    mg_table_init(&t, 4);
    char *out = print(&t);
    cr_assert_str_eq(out, "");
    free(out);
    mg_table_free(&t);
}
