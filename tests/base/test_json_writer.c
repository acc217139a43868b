/*
 * base/buf.h's JSON writer: structure and commas, numbers, the string
 * escaper (controls, quotes, invalid UTF-8 as U+FFFD, NUL inside the
 * length), the depth limit as a sticky failure; and mg_buf_printf.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

Test(jw, structure_and_commas)
{
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    mg_jw_object(&w);
    mg_jw_kint(&w, "id", 42);
    mg_jw_kstring(&w, "name", "x");
    mg_jw_key(&w, "list");
    mg_jw_array(&w);
    mg_jw_int(&w, 1);
    mg_jw_null(&w);
    mg_jw_bool(&w, true);
    mg_jw_object(&w);
    mg_jw_object_end(&w);
    mg_jw_array_end(&w);
    mg_jw_key(&w, "raw");
    mg_jw_raw(&w, "{\"a\":1}\n", "null");
    mg_jw_key(&w, "none");
    mg_jw_raw(&w, NULL, "{}");
    mg_jw_kstring(&w, "nul", NULL);
    mg_jw_object_end(&w);
    size_t len;
    char *s = mg_buf_take(&b, &len);
    cr_assert_str_eq(s, "{\"id\":42,\"name\":\"x\",\"list\":[1,null,true,{}],\"raw\":{\"a\":1},"
                        "\"none\":{},\"nul\":null}");
    cr_assert_eq(len, strlen(s));
    cJSON *j = cJSON_Parse(s);
    cr_assert_not_null(j);
    cJSON_Delete(j);
    free(s);
}

Test(jw, numbers)
{
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    mg_jw_array(&w);
    mg_jw_int(&w, 0);
    mg_jw_int(&w, -7);
    mg_jw_int(&w, INT64_MIN);
    mg_jw_int(&w, INT64_MAX);
    mg_jw_uint(&w, UINT64_MAX);
    mg_jw_array_end(&w);
    cr_assert_str_eq(b.data, "[0,-7,-9223372036854775808,9223372036854775807,"
                             "18446744073709551615]");
    mg_buf_free(&b);
}

Test(jw, escaping)
{
    mg_buf b = {0};
    const char in[] = "q\"b\\n\n\t\x01\x1f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    mg_buf_json_string(&b, in, sizeof in - 1);
    cr_assert_str_eq(b.data,
                     "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
    mg_buf_free(&b);
}

Test(jw, invalid_utf8_becomes_replacement)
{
    const char *bad[] = {"\xFF", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\x80z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_buf b = {0};
        mg_buf_json_string(&b, bad[i], strlen(bad[i]));
        cr_assert(strstr(b.data, "\xEF\xBF\xBD"), "case %zu: %s", i, b.data);
        cJSON *j = cJSON_Parse(b.data);
        cr_assert_not_null(j);
        cJSON_Delete(j);
        mg_buf_free(&b);
    }
    /* NUL inside the given length is escaped, not a terminator */
    mg_buf b = {0};
    mg_buf_json_string(&b, "a\0b", 3);
    cr_assert_str_eq(b.data, "\"a\\u0000b\"");
    mg_buf_free(&b);
}

Test(jw, too_deep_fails)
{
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    for (int i = 0; i < MG_JW_MAX_DEPTH + 1; i++) mg_jw_array(&w);
    cr_assert(b.failed);
    cr_assert_null(mg_buf_take(&b, NULL));
    cr_assert_null(b.data);
}

Test(buf, printf_grows)
{
    mg_buf b = {0};
    for (int i = 0; i < 1000; i++) mg_buf_printf(&b, "%04d,", i);
    cr_assert_eq(b.len, 5000);
    cr_assert_eq(strncmp(b.data + 4995, "0999,", 5), 0);
    mg_buf_clear(&b);
    cr_assert_eq(b.len, 0);
    mg_buf_add_urlenc(&b, "a b/c~d%");
    cr_assert_str_eq(b.data, "a%20b%2Fc~d%25");
    mg_buf_free(&b);
}
