/*
 * client/follow: which line end an event's offset implies.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "client/follow.h"

Test(follow, line_end_lf)
{
    cr_assert_str_eq(mg_follow_line_end(0, 1), "\n");
    cr_assert_str_eq(mg_follow_line_end(10, 11), "\n");
}

Test(follow, line_end_crlf)
{
    cr_assert_str_eq(mg_follow_line_end(0, 2), "\r\n");
    cr_assert_str_eq(mg_follow_line_end(10, 12), "\r\n");
}

Test(follow, line_end_none)
{
    /* the last line without a final newline, or a piece of a long line */
    cr_assert_str_eq(mg_follow_line_end(1, 1), "");
    cr_assert_str_eq(mg_follow_line_end(65536, 65536), "");
}

Test(follow, offsets_that_do_not_fit)
{
    cr_assert_null(mg_follow_line_end(0, 0));  /* nothing moved, nothing carried */
    cr_assert_null(mg_follow_line_end(5, -1)); /* backwards */
    cr_assert_null(mg_follow_line_end(0, -1));
    cr_assert_null(mg_follow_line_end(5, INT64_MIN));
    cr_assert_null(mg_follow_line_end(5, 3)); /* less than the data */
    cr_assert_null(mg_follow_line_end(5, 4));
    cr_assert_null(mg_follow_line_end(5, 8)); /* more than data and CRLF */
    cr_assert_null(mg_follow_line_end(5, 1000));
    cr_assert_null(mg_follow_line_end(5, INT64_MAX));
    cr_assert_null(mg_follow_line_end(0, 3));
    /* a negative delta must not wrap around to match a huge length */
    cr_assert_null(mg_follow_line_end(SIZE_MAX, -1));
    cr_assert_null(mg_follow_line_end(SIZE_MAX - 1, -1));
}

Test(follow, lengths_near_the_top_do_not_wrap)
{
    /* data_len + 1 or + 2 must not wrap around to a small delta */
    cr_assert_null(mg_follow_line_end(SIZE_MAX, 0));
    cr_assert_null(mg_follow_line_end(SIZE_MAX - 1, 0));
    cr_assert_null(mg_follow_line_end(SIZE_MAX, 1));
}
