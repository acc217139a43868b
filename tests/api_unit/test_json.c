/*
 * Request body checks, build keys and canonical inline sources (the JSON
 * writer they use is tested in tests/base/test_json_writer.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "api/reqjson.h"
#include "base/sha256.h"

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
