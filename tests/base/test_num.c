/*
 * The one decimal parser (base/num.h): signed numbers within bounds, and
 * unsigned ones of a given length (header values, which are not
 * NUL-terminated).
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "base/num.h"

Test(numbers, parse_i64)
{
    int64_t v;
    cr_assert_eq(mg_parse_i64("0", 0, 10, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(mg_parse_i64("-5", -10, 10, &v), 0);
    cr_assert_eq(v, -5);
    cr_assert_eq(mg_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(mg_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    cr_assert_eq(v, INT64_MIN);
    const char *bad[] = {"",
                         "-",
                         "+1",
                         " 1",
                         "1 ",
                         "1.5",
                         "0x10",
                         "1e3",
                         "9223372036854775808",
                         "99999999999999999999999",
                         "-9223372036854775809"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(mg_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v), -1, "%s", bad[i]);
    cr_assert_eq(mg_parse_i64("11", 0, 10, &v), -1);
    cr_assert_eq(mg_parse_i64("-1", 0, 10, &v), -1);
    cr_assert_eq(mg_parse_i64(NULL, 0, 10, &v), -1);
}

Test(numbers, parse_u64n)
{
    uint64_t v = 7;
    cr_assert(mg_parse_u64n("18446744073709551615", 20, &v));
    cr_assert_eq(v, UINT64_MAX);
    /* only the n bytes count: what follows them is not read */
    cr_assert(mg_parse_u64n("123abc", 3, &v));
    cr_assert_eq(v, 123);
    cr_assert(mg_parse_u64n("0", 1, &v));
    cr_assert_eq(v, 0);
    v = 7;
    cr_assert_not(mg_parse_u64n("18446744073709551616", 20, &v), "one past UINT64_MAX");
    cr_assert_not(mg_parse_u64n("", 0, &v), "no digits");
    cr_assert_not(mg_parse_u64n("1\0002", 3, &v), "a NUL among the digits");
    cr_assert_not(mg_parse_u64n("-1", 2, &v));
    cr_assert_not(mg_parse_u64n(" 1", 2, &v));
    cr_assert_eq(v, 7, "a refused number leaves *out alone");
}
