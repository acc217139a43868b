/*
 * client/bytes: the growable buffer.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "client/bytes.h"

Test(bytes, empty_is_empty_string)
{
    mg_bytes b = {0};
    cr_assert_not_null(mg_bytes_str(&b));
    cr_assert_str_eq(mg_bytes_str(&b), "");
    cr_assert_eq(b.len, 0);
    mg_bytes_free(&b);
    cr_assert_str_eq(mg_bytes_str(&b), "");
}

Test(bytes, appends)
{
    mg_bytes b = {0};
    mg_bytes_adds(&b, "abc");
    mg_bytes_addc(&b, '-');
    mg_bytes_add(&b, "xyz!!", 3);
    mg_bytes_add(&b, "", 0);
    cr_assert_not(b.failed);
    cr_assert_eq(b.len, 7);
    cr_assert_str_eq(mg_bytes_str(&b), "abc-xyz");
    cr_assert_eq(b.data[b.len], '\0');
    /* bytes with NULs */
    mg_bytes_add(&b, "\0q", 2);
    cr_assert_eq(b.len, 9);
    cr_assert_eq(memcmp(b.data, "abc-xyz\0q", 10), 0);
    mg_bytes_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
}

Test(bytes, grows)
{
    mg_bytes b = {0};
    char want[5000];
    for (int i = 0; i < 4999; i++) {
        char c = (char)('a' + i % 26);
        mg_bytes_addc(&b, c);
        want[i] = c;
    }
    want[4999] = '\0';
    cr_assert_not(b.failed);
    cr_assert_eq(b.len, 4999);
    cr_assert_geq(b.cap, 5000);
    cr_assert_str_eq(mg_bytes_str(&b), want);
    mg_bytes_free(&b);
}

Test(bytes, clear_keeps_memory)
{
    mg_bytes b = {0};
    mg_bytes_adds(&b, "some text that is kept");
    char *data = b.data;
    size_t cap = b.cap;
    mg_bytes_clear(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.data, data);
    cr_assert_eq(b.cap, cap);
    cr_assert_str_eq(mg_bytes_str(&b), "");
    mg_bytes_adds(&b, "new");
    cr_assert_eq(b.data, data);
    cr_assert_str_eq(mg_bytes_str(&b), "new");
    mg_bytes_free(&b);

    /* clearing a buffer never used is fine */
    mg_bytes e = {0};
    mg_bytes_clear(&e);
    cr_assert_str_eq(mg_bytes_str(&e), "");
}

Test(bytes, failed_stays_failed)
{
    mg_bytes b = {.failed = true};
    mg_bytes_adds(&b, "x");
    cr_assert_eq(b.len, 0);
    cr_assert_null(b.data);
    cr_assert_str_eq(mg_bytes_str(&b), "");
}

/* `mgctl log --json` puts a log into a JSON string: what is no UTF-8
 * text becomes U+FFFD instead of invalid JSON (a NUL used to cut it). */
Test(bytes, utf8_replaces_what_is_no_text)
{
    static const char in[] = "ok \xC3\xA9 \xFF mid\0nul \xE2\x82 \xED\xA0\x80 \xF0\x9F\x98\x80";
    mg_bytes b = {0};
    mg_bytes_add_utf8(&b, in, sizeof in - 1);
    cr_assert_str_eq(mg_bytes_str(&b),
                     "ok \xC3\xA9 \xEF\xBF\xBD mid\xEF\xBF\xBDnul \xEF\xBF\xBD\xEF"
                     "\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                     "\xF0\x9F\x98\x80");
    mg_bytes_free(&b);
    cr_assert_eq(mg_utf8_char_len("\xC3\xA9", 2), 2);
    cr_assert_eq(mg_utf8_char_len("\xC3\xA9", 1), 0); /* cut short */
    cr_assert_eq(mg_utf8_char_len("\xC0\x80", 2), 0); /* overlong */
    cr_assert_eq(mg_utf8_char_len("", 1), 0);         /* NUL */
}
