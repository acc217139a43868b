/*
 * base/utf8.h: the decoder's lengths, and what RFC 3629 refuses (overlong
 * forms, surrogates, code points past U+10FFFF, sequences cut short, stray
 * continuation bytes); NUL is a character; counting what is shown.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/utf8.h"

Test(utf8, lengths_of_each_form)
{
    cr_assert_eq(mg_utf8_len("a", 1), 1);
    cr_assert_eq(mg_utf8_len("\x7F", 1), 1);
    cr_assert_eq(mg_utf8_len("\xC2\x80", 2), 2);         /* U+0080, the first of two bytes */
    cr_assert_eq(mg_utf8_len("\xDF\xBF", 2), 2);         /* U+07FF */
    cr_assert_eq(mg_utf8_len("\xE0\xA0\x80", 3), 3);     /* U+0800 */
    cr_assert_eq(mg_utf8_len("\xEF\xBF\xBD", 3), 3);     /* U+FFFD */
    cr_assert_eq(mg_utf8_len("\xF0\x90\x80\x80", 4), 4); /* U+10000 */
    cr_assert_eq(mg_utf8_len("\xF4\x8F\xBF\xBF", 4), 4); /* U+10FFFF, the last */
    /* only the first character counts */
    cr_assert_eq(mg_utf8_len("\xC3\xA9xyz", 5), 2);
    const unsigned char u[] = {0xE2, 0x82, 0xAC};
    cr_assert_eq(mg_utf8_len(u, 3), 3, "unsigned text too");
}

Test(utf8, overlong_forms_refused)
{
    cr_assert_eq(mg_utf8_len("\xC0\x80", 2), 0); /* NUL in two bytes */
    cr_assert_eq(mg_utf8_len("\xC0\xAF", 2), 0); /* '/' in two bytes */
    cr_assert_eq(mg_utf8_len("\xC1\xBF", 2), 0);
    cr_assert_eq(mg_utf8_len("\xE0\x80\xAF", 3), 0);     /* '/' in three */
    cr_assert_eq(mg_utf8_len("\xE0\x9F\xBF", 3), 0);     /* U+07FF in three */
    cr_assert_eq(mg_utf8_len("\xF0\x80\x80\xAF", 4), 0); /* '/' in four */
    cr_assert_eq(mg_utf8_len("\xF0\x8F\xBF\xBF", 4), 0); /* U+FFFF in four */
}

Test(utf8, surrogates_refused)
{
    cr_assert_eq(mg_utf8_len("\xED\xA0\x80", 3), 0); /* U+D800 */
    cr_assert_eq(mg_utf8_len("\xED\xBF\xBF", 3), 0); /* U+DFFF */
    cr_assert_eq(mg_utf8_len("\xED\x9F\xBF", 3), 3); /* U+D7FF, just below */
    cr_assert_eq(mg_utf8_len("\xEE\x80\x80", 3), 3); /* U+E000, just above */
}

Test(utf8, past_u10ffff_refused)
{
    cr_assert_eq(mg_utf8_len("\xF4\x90\x80\x80", 4), 0); /* U+110000 */
    cr_assert_eq(mg_utf8_len("\xF5\x80\x80\x80", 4), 0);
    cr_assert_eq(mg_utf8_len("\xF7\xBF\xBF\xBF", 4), 0);
    cr_assert_eq(mg_utf8_len("\xF8\x88\x80\x80\x80", 5), 0); /* the old five-byte form */
    cr_assert_eq(mg_utf8_len("\xFF", 1), 0);
}

Test(utf8, truncated_and_stray_bytes_refused)
{
    cr_assert_eq(mg_utf8_len("\xC3\xA9", 1), 0);
    cr_assert_eq(mg_utf8_len("\xE2\x82\xAC", 2), 0);
    cr_assert_eq(mg_utf8_len("\xF0\x9F\x98\x80", 3), 0);
    cr_assert_eq(mg_utf8_len("a", 0), 0, "nothing there");
    cr_assert_eq(mg_utf8_len("\xE2(\xAC", 3), 0, "a continuation byte missing");
    cr_assert_eq(mg_utf8_len("\x80", 1), 0, "a lone continuation byte");
    cr_assert_eq(mg_utf8_len("\xBF", 1), 0);
}

Test(utf8, nul_is_a_character)
{
    cr_assert_eq(mg_utf8_len("", 1), 1);
    cr_assert(mg_utf8_valid("a\0b", 3));
}

Test(utf8, valid)
{
    cr_assert(mg_utf8_valid("", 0));
    cr_assert(mg_utf8_valid("plain", 5));
    cr_assert(mg_utf8_valid("\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF", 8));
    cr_assert_not(mg_utf8_valid("\xF4\x90\x80\x80", 4), "past U+10FFFF");
    cr_assert_not(mg_utf8_valid("\xE0\x80\x80", 3), "overlong");
    cr_assert_not(mg_utf8_valid("\xED\xA0\x80", 3), "a surrogate");
    cr_assert_not(mg_utf8_valid("\x80", 1), "a lone continuation byte");
    cr_assert_not(mg_utf8_valid("\xF0\x9F\x98", 3), "cut short");
    cr_assert_not(mg_utf8_valid("ok\xC3", 3), "cut short at the end");
    cr_assert(mg_utf8_valid("ok\xC3\xA9", 4));
}

Test(utf8, count_shows_each_bad_byte_as_one)
{
    cr_assert_eq(mg_utf8_count(""), 0);
    cr_assert_eq(mg_utf8_count("abc"), 3);
    cr_assert_eq(mg_utf8_count("\xC3\xA9t\xC3\xA9"), 3);
    cr_assert_eq(mg_utf8_count("\xF0\x9F\x98\x80"), 1);
    cr_assert_eq(mg_utf8_count("a\xFF\xFE"), 3);
    cr_assert_eq(mg_utf8_count("\xE2\x82"), 2, "a cut sequence: two bytes shown as two");
}
