/*
 * The JSON writer (escaping, invalid UTF-8, commas, sticky failure), request
 * body checks, build keys and canonical inline sources.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "api/reqjson.h"
#include "base/sha256.h"

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

static cJSON *parse(const char *s, char *err, size_t size, int *rc)
{
    cJSON *j = NULL;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    memcpy(copy, s, n + 1);
    *rc = mg_json_parse_body(copy, n, &j, err, size);
    free(copy);
    return j;
}

Test(body, parse)
{
    char err[128];
    int rc;
    cJSON *j = parse("  {\"a\": 1}  \n", err, sizeof err, &rc);
    cr_assert_eq(rc, 0);
    cr_assert(cJSON_IsObject(j));
    cJSON_Delete(j);
    j = parse(" \r\n\t ", err, sizeof err, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_null(j);
    const char *bad[] = {"[1]", "\"x\"", "{", "{} {}", "{}x", "nul", "{\"a\":}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = parse(bad[i], err, sizeof err, &rc);
        cr_assert_eq(rc, -1, "%s", bad[i]);
        cr_assert_null(j);
    }
    /* a NUL byte inside the length */
    cJSON *out = NULL;
    cr_assert_eq(mg_json_parse_body("{}\0{}", 5, &out, err, sizeof err), -1);
    cr_assert(strstr(err, "NUL"));
}

Test(body, utf8_and_nul_escapes)
{
    char err[128];
    int rc;
    /* valid UTF-8 and ordinary escapes pass */
    cJSON *j = parse("{\"a\": \"\xC3\xA9\\u00e9\\\\u0000\"}", err, sizeof err, &rc);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "a")->valuestring,
                     "\xC3\xA9\xC3\xA9\\u0000", "an escaped backslash before u0000 is text");
    cJSON_Delete(j);
    /* an escaped NUL would cut the string: refused, in values and names */
    const char *nul[] = {"{\"a\": \"x\\u0000y\"}", "{\"a\\u0000b\": 1}",
                         "{\"a\": \"\\\\\\u0000\"}"};
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
        j = parse(nul[i], err, sizeof err, &rc);
        cr_assert_eq(rc, -1, "%s", nul[i]);
        cr_assert(strstr(err, "NUL"), "%s", err);
    }
    /* bytes that are not UTF-8, even inside strings */
    const char *bad[] = {"{\"a\": \"\xFF\"}", "{\"a\": \"\xC0\x80\"}", "{\"a\": \"\xED\xA0\x80\"}",
                         "{\"a\": \"\xE2\x82\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = parse(bad[i], err, sizeof err, &rc);
        cr_assert_eq(rc, -1, "case %zu", i);
        cr_assert(strstr(err, "UTF-8"), "%s", err);
    }
}

Test(body, utf8_valid)
{
    cr_assert(mg_utf8_valid("", 0));
    cr_assert(mg_utf8_valid("plain", 5));
    cr_assert(mg_utf8_valid("\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF", 8));
    cr_assert_not(mg_utf8_valid("\xF4\x90\x80\x80", 4), "past U+10FFFF");
    cr_assert_not(mg_utf8_valid("\xE0\x80\x80", 3), "overlong");
    cr_assert_not(mg_utf8_valid("\x80", 1), "a lone continuation byte");
    cr_assert_not(mg_utf8_valid("\xF0\x9F\x98", 3), "cut short");
}

static const mg_field build_fields[] = {
    {"target", MG_JT_STRING, false}, {"keys", MG_JT_OBJECT, false}, {"force", MG_JT_BOOL, false},
    {"count", MG_JT_INTEGER, false}, {"name", MG_JT_STRING, true},
};

static int check(const char *json, char *err, size_t size)
{
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "%s", json);
    int rc = mg_json_check_fields(j, build_fields, 5, "", err, size);
    cJSON_Delete(j);
    return rc;
}

Test(fields, accepted)
{
    char err[200];
    cr_assert_eq(check("{\"name\":\"x\"}", err, sizeof err), 0);
    cr_assert_eq(check("{\"name\":\"x\",\"target\":\"unix\",\"keys\":{},\"force\":false,"
                       "\"count\":3}",
                       err, sizeof err),
                 0);
}

Test(fields, messages_name_the_field)
{
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"name\":\"x\",\"bogus\":1}", "unknown field \"bogus\""},
        {"{\"name\":\"x\",\"target\":3}", "field \"target\" must be a string"},
        {"{\"name\":\"x\",\"force\":\"yes\"}", "field \"force\" must be a boolean"},
        {"{\"name\":\"x\",\"count\":1.5}", "field \"count\" must be an integer"},
        {"{\"name\":\"x\",\"keys\":null}", "field \"keys\" must be an object"},
        {"{}", "field \"name\" is required"},
        {"{\"name\":\"x\",\"name\":\"y\"}", "field \"name\" is given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[200] = "";
        cr_assert_eq(check(cases[i].json, err, sizeof err), -1, "%s", cases[i].json);
        cr_assert_str_eq(err, cases[i].want, "%s", cases[i].json);
    }
}

Test(fields, nested_prefix_and_type_text)
{
    static const mg_field repo[] = {{"url", MG_JT_STRING, true}};
    cJSON *j = cJSON_Parse("{\"url\":[]}");
    char err[200];
    cr_assert_eq(mg_json_check_fields(j, repo, 1, "repo.", err, sizeof err), -1);
    cr_assert_str_eq(err, "field \"repo.url\" must be a string");
    cJSON_Delete(j);
    char t[96];
    mg_json_types_text(MG_JT_STRING | MG_JT_NUMBER | MG_JT_BOOL, t, sizeof t);
    cr_assert_str_eq(t, "a string, a number or a boolean");
}

Test(keys, from_json)
{
    cJSON *j = cJSON_Parse("{\"s\":\"text\",\"i\":42,\"neg\":-7,\"f\":1.5,\"b\":true,\"c\":false}");
    mg_keys k;
    char err[128];
    cr_assert_eq(mg_keys_from_json(j, &k, err, sizeof err), 0);
    cr_assert_eq(k.n, 6);
    const char *want[][2] = {{"s", "text"}, {"i", "42"},   {"neg", "-7"},
                             {"f", "1.5"},  {"b", "true"}, {"c", "false"}};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_str_eq(k.items[i].name, want[i][0]);
        cr_assert_str_eq(k.items[i].value, want[i][1]);
    }
    mg_keys_free(&k);
    cJSON_Delete(j);
}

Test(keys, from_json_errors)
{
    const char *bad[] = {"{\"a\":null}", "{\"a\":[1]}", "{\"a\":{}}", "{\"\":\"x\"}",
                         "{\"a\":\"1\",\"a\":\"2\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        mg_keys k = {0};
        char err[128] = "";
        cr_assert_eq(mg_keys_from_json(j, &k, err, sizeof err), -1, "%s", bad[i]);
        cr_assert(strstr(err, "keys"), "%s", err);
        cJSON_Delete(j);
    }
}

Test(keys, from_pairs)
{
    const char *pairs[] = {"a=1", "b=x=y", "c="};
    mg_keys k;
    char err[128];
    cr_assert_eq(mg_keys_from_pairs(pairs, 3, &k, err, sizeof err), 0);
    cr_assert_str_eq(k.items[1].name, "b");
    cr_assert_str_eq(k.items[1].value, "x=y");
    cr_assert_str_eq(k.items[2].value, "");
    mg_keys_free(&k);
    const char *bad[] = {"noequals"};
    cr_assert_eq(mg_keys_from_pairs(bad, 1, &k, err, sizeof err), -1);
    const char *bad2[] = {"=x"};
    cr_assert_eq(mg_keys_from_pairs(bad2, 1, &k, err, sizeof err), -1);
}

Test(sources, canonical_form)
{
    cJSON *a = cJSON_Parse("{\"src/b.c\":\"B\",\"a.c\":\"hello\",\"src/a.c\":\"\\u00e9\"}");
    cJSON *b = cJSON_Parse("{\"a.c\":\"hello\",\"src/a.c\":\"\\u00e9\",\"src/b.c\":\"B\"}");
    char *ja, *jb, sa[65], sb[65];
    int64_t files, bytes;
    cr_assert_eq(mg_sources_canonical(a, &ja, sa, &files, &bytes), 0);
    cr_assert_str_eq(ja, "{\"a.c\":\"hello\",\"src/a.c\":\"\xC3\xA9\",\"src/b.c\":\"B\"}");
    cr_assert_eq(files, 3);
    cr_assert_eq(bytes, 5 + 2 + 1);
    char want[65];
    mg_sha256_bytes_hex(ja, strlen(ja), want);
    cr_assert_str_eq(sa, want, "the hash is that of the canonical bytes");
    int64_t f2, b2;
    cr_assert_eq(mg_sources_canonical(b, &jb, sb, &f2, &b2), 0);
    cr_assert_str_eq(ja, jb, "member order does not matter");
    cr_assert_str_eq(sa, sb);
    /* the object itself is reordered and still usable */
    cr_assert_str_eq(a->child->string, "a.c");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(a, "src/b.c")->valuestring, "B");
    free(ja);
    free(jb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

Test(sources, empty_tree)
{
    cJSON *a = cJSON_Parse("{}");
    char *j, s[65];
    int64_t files, bytes;
    cr_assert_eq(mg_sources_canonical(a, &j, s, &files, &bytes), 0);
    cr_assert_str_eq(j, "{}");
    cr_assert_eq(files, 0);
    cr_assert_eq(bytes, 0);
    free(j);
    cJSON_Delete(a);
}
