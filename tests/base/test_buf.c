/*
 * base/buf.h: the growable buffer (appends, growth, clear, the sticky
 * failure, taking the text) and its text helpers (U+FFFD for what is no
 * UTF-8, C string literals).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

Test(buf, empty_is_empty_string)
{
    mg_buf b = {0};
    cr_assert_not_null(mg_buf_str(&b));
    cr_assert_str_eq(mg_buf_str(&b), "");
    cr_assert_eq(b.len, 0);
    mg_buf_free(&b);
    cr_assert_str_eq(mg_buf_str(&b), "");
}

Test(buf, appends)
{
    mg_buf b = {0};
    mg_buf_adds(&b, "abc");
    mg_buf_addc(&b, '-');
    mg_buf_add(&b, "xyz!!", 3);
    mg_buf_add(&b, "", 0);
    cr_assert_not(b.failed);
    cr_assert_eq(b.len, 7);
    cr_assert_str_eq(mg_buf_str(&b), "abc-xyz");
    cr_assert_eq(b.data[b.len], '\0');
    /* bytes with NULs */
    mg_buf_add(&b, "\0q", 2);
    cr_assert_eq(b.len, 9);
    cr_assert_eq(memcmp(b.data, "abc-xyz\0q", 10), 0);
    mg_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
}

Test(buf, grows)
{
    mg_buf b = {0};
    char want[5000];
    for (int i = 0; i < 4999; i++) {
        char c = (char)('a' + i % 26);
        mg_buf_addc(&b, c);
        want[i] = c;
    }
    want[4999] = '\0';
    cr_assert_not(b.failed);
    cr_assert_eq(b.len, 4999);
    cr_assert_geq(b.cap, 5000);
    cr_assert_str_eq(mg_buf_str(&b), want);
    mg_buf_free(&b);
}

Test(buf, clear_keeps_memory)
{
    mg_buf b = {0};
    mg_buf_adds(&b, "some text that is kept");
    char *data = b.data;
    size_t cap = b.cap;
    mg_buf_clear(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.data, data);
    cr_assert_eq(b.cap, cap);
    cr_assert_str_eq(mg_buf_str(&b), "");
    mg_buf_adds(&b, "new");
    cr_assert_eq(b.data, data);
    cr_assert_str_eq(mg_buf_str(&b), "new");
    mg_buf_free(&b);

    /* clearing a buffer never used is fine */
    mg_buf e = {0};
    mg_buf_clear(&e);
    cr_assert_str_eq(mg_buf_str(&e), "");
}

Test(buf, failed_stays_failed)
{
    mg_buf b = {.failed = true};
    mg_buf_adds(&b, "x");
    cr_assert_eq(b.len, 0);
    cr_assert_null(b.data);
    cr_assert_str_eq(mg_buf_str(&b), "");
}

/* `mgctl log --json` puts a log into a JSON string: what is no UTF-8
 * text becomes U+FFFD instead of invalid JSON (a NUL used to cut it). */
Test(buf, utf8_replaces_what_is_no_text)
{
    static const char in[] = "ok \xC3\xA9 \xFF mid\0nul \xE2\x82 \xED\xA0\x80 \xF0\x9F\x98\x80";
    mg_buf b = {0};
    mg_buf_add_utf8(&b, in, sizeof in - 1);
    cr_assert_str_eq(mg_buf_str(&b), "ok \xC3\xA9 \xEF\xBF\xBD mid\xEF\xBF\xBDnul \xEF\xBF\xBD\xEF"
                                     "\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                                     "\xF0\x9F\x98\x80");
    mg_buf_free(&b);
}

Test(buf, take_returns_the_text_or_null_after_a_failure)
{
    mg_buf b = {0};
    size_t len = 99;
    char *s = mg_buf_take(&b, &len);
    cr_assert_str_eq(s, "", "an empty buffer gives an empty string");
    cr_assert_eq(len, 0);
    free(s);
    mg_buf_adds(&b, "text");
    s = mg_buf_xtake(&b);
    cr_assert_str_eq(s, "text");
    cr_assert_null(b.data, "the buffer is left empty");
    free(s);
    mg_buf_adds(&b, "lost");
    b.failed = true;
    cr_assert_null(mg_buf_take(&b, NULL));
    cr_assert_null(b.data);
    cr_assert_not(b.failed, "the buffer is left empty, ready again");
}

/* A generated C string literal: what C would read otherwise (quotes,
 * backslashes, trigraphs, bytes past ASCII) is escaped; octal escapes, as
 * a hex escape would swallow the digits after it. */
Test(buf, c_escaped)
{
    mg_buf b = {0};
    mg_buf_add_c_escaped(&b, "a\"b\\c\n\t?"
                             "?=\x01\xC3\xA9"
                             "7");
    cr_assert_str_eq(mg_buf_str(&b), "a\\\"b\\\\c\\n\\t\\?\\?=\\001\\303\\2517");
    mg_buf_free(&b);
}
