/*
 * The rules of what clients send (service/input.h), alone: ids and project
 * names, request body checks, build keys, canonical config documents and
 * inline sources (the JSON writer they use is tested in
 * tests/base/test_json_writer.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "service/input.h"

Test(ids, parse_id)
{
    int64_t v;
    cr_assert(mg_parse_id("1", &v));
    cr_assert_eq(v, 1);
    cr_assert(mg_parse_id("9007199254740992", &v));
    cr_assert_eq(v, MG_ID_MAX);
    const char *bad[] = {"0", "-1", "9007199254740993", "abc", "1a", "", "18446744073709551617"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(mg_parse_id(bad[i], &v), "%s", bad[i]);
    cr_assert_not(mg_parse_id(NULL, &v));
}

Test(names, project_names)
{
    const char *good[] = {"hello", "a", "0abc", "my-app_2.x", "a123", "x.y"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(mg_project_name_valid(good[i]), "%s", good[i]);
    char long_ok[64], long_bad[65];
    memset(long_ok, 'a', 63);
    long_ok[63] = 0;
    memset(long_bad, 'a', 64);
    long_bad[64] = 0;
    cr_assert(mg_project_name_valid(long_ok));
    cr_assert_not(mg_project_name_valid(long_bad));
    const char *bad[] = {"", "Hello", "12345", "-x", "_x", ".x", "a/b", "a b", "a\xC3\xA9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(mg_project_name_valid(bad[i]), "%s", bad[i]);
}

static cJSON *parse(const char *s, mg_err *e, int *rc)
{
    cJSON *j = NULL;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    memcpy(copy, s, n + 1);
    *rc = mg_json_parse_body(copy, n, &j, e);
    free(copy);
    return j;
}

Test(body, parse)
{
    mg_err e = {0};
    int rc;
    cJSON *j = parse("  {\"a\": 1}  \n", &e, &rc);
    cr_assert_eq(rc, 0);
    cr_assert(cJSON_IsObject(j));
    cJSON_Delete(j);
    j = parse(" \r\n\t ", &e, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_null(j);
    const char *bad[] = {"[1]", "\"x\"", "{", "{} {}", "{}x", "nul", "{\"a\":}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = parse(bad[i], &e, &rc);
        cr_assert_eq(rc, -1, "%s", bad[i]);
        cr_assert_null(j);
    }
    /* a NUL byte inside the length */
    cJSON *out = NULL;
    cr_assert_eq(mg_json_parse_body("{}\0{}", 5, &out, &e), -1);
    cr_assert(strstr(e.msg, "NUL"));
}

Test(body, utf8_and_nul_escapes)
{
    mg_err e = {0};
    int rc;
    /* valid UTF-8 and ordinary escapes pass */
    cJSON *j = parse("{\"a\": \"\xC3\xA9\\u00e9\\\\u0000\"}", &e, &rc);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "a")->valuestring,
                     "\xC3\xA9\xC3\xA9\\u0000", "an escaped backslash before u0000 is text");
    cJSON_Delete(j);
    /* an escaped NUL would cut the string: refused, in values and names */
    const char *nul[] = {"{\"a\": \"x\\u0000y\"}", "{\"a\\u0000b\": 1}",
                         "{\"a\": \"\\\\\\u0000\"}"};
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
        j = parse(nul[i], &e, &rc);
        cr_assert_eq(rc, -1, "%s", nul[i]);
        cr_assert(strstr(e.msg, "NUL"), "%s", e.msg);
    }
    /* bytes that are not UTF-8, even inside strings */
    const char *bad[] = {"{\"a\": \"\xFF\"}", "{\"a\": \"\xC0\x80\"}", "{\"a\": \"\xED\xA0\x80\"}",
                         "{\"a\": \"\xE2\x82\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = parse(bad[i], &e, &rc);
        cr_assert_eq(rc, -1, "case %zu", i);
        cr_assert(strstr(e.msg, "UTF-8"), "%s", e.msg);
    }
}

static const mg_field build_fields[] = {
    {"target", MG_JT_STRING, false}, {"keys", MG_JT_OBJECT, false}, {"force", MG_JT_BOOL, false},
    {"count", MG_JT_INTEGER, false}, {"name", MG_JT_STRING, true},
};

static int check(const char *json, mg_err *e)
{
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "%s", json);
    int rc = mg_json_check_fields(j, build_fields, 5, "", e);
    cJSON_Delete(j);
    return rc;
}

Test(fields, accepted)
{
    mg_err e = {0};
    cr_assert_eq(check("{\"name\":\"x\"}", &e), 0);
    cr_assert_eq(check("{\"name\":\"x\",\"target\":\"unix\",\"keys\":{},\"force\":false,"
                       "\"count\":3}",
                       &e),
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
        mg_err e = {0};
        cr_assert_eq(check(cases[i].json, &e), -1, "%s", cases[i].json);
        cr_assert_str_eq(e.msg, cases[i].want, "%s", cases[i].json);
        cr_assert_eq(e.code, MG_E_INVALID, "%s", cases[i].json);
    }
}

Test(fields, nested_prefix_and_type_text)
{
    static const mg_field repo[] = {{"url", MG_JT_STRING, true}};
    cJSON *j = cJSON_Parse("{\"url\":[]}");
    mg_err e = {0};
    cr_assert_eq(mg_json_check_fields(j, repo, 1, "repo.", &e), -1);
    cr_assert_str_eq(e.msg, "field \"repo.url\" must be a string");
    cJSON_Delete(j);
    char t[96];
    mg_json_types_text(MG_JT_STRING | MG_JT_NUMBER | MG_JT_BOOL, t, sizeof t);
    cr_assert_str_eq(t, "a string, a number or a boolean");
}

Test(keys, from_json)
{
    cJSON *j = cJSON_Parse("{\"s\":\"text\",\"i\":42,\"neg\":-7,\"f\":1.5,\"b\":true,\"c\":false}");
    mg_keys k;
    mg_err e = {0};
    cr_assert_eq(mg_keys_from_json(j, &k, &e), 0);
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
        mg_err e = {0};
        cr_assert_eq(mg_keys_from_json(j, &k, &e), -1, "%s", bad[i]);
        cr_assert(strstr(e.msg, "keys"), "%s", e.msg);
        cJSON_Delete(j);
    }
}

/* The bound on keys is exact: MG_KEYS_MAX keys are taken, one more is
 * refused with a message naming the bound (a mutant that let one more
 * through survived before this test). */
Test(keys, from_json_takes_exactly_the_bound)
{
    for (int n = MG_KEYS_MAX; n <= MG_KEYS_MAX + 1; n++) {
        cJSON *j = cJSON_CreateObject();
        for (int i = 0; i < n; i++) {
            char name[16];
            snprintf(name, sizeof name, "k%d", i);
            cJSON_AddStringToObject(j, name, "v");
        }
        mg_keys k = {0};
        mg_err e = {0};
        int rc = mg_keys_from_json(j, &k, &e);
        if (n == MG_KEYS_MAX) {
            cr_assert_eq(rc, 0, "%d keys: %s", n, e.msg);
            cr_assert_eq(k.n, (size_t)n);
            mg_keys_free(&k);
        } else {
            cr_assert_eq(rc, -1, "%d keys were taken", n);
            cr_assert(strstr(e.msg, "more than 256 keys"), "%s", e.msg);
        }
        cJSON_Delete(j);
    }
}

Test(keys, from_pairs)
{
    const char *pairs[] = {"a=1", "b=x=y", "c="};
    mg_keys k;
    mg_err e = {0};
    cr_assert_eq(mg_keys_from_pairs(pairs, 3, &k, &e), 0);
    cr_assert_str_eq(k.items[1].name, "b");
    cr_assert_str_eq(k.items[1].value, "x=y");
    cr_assert_str_eq(k.items[2].value, "");
    mg_keys_free(&k);
    const char *bad[] = {"noequals"};
    cr_assert_eq(mg_keys_from_pairs(bad, 1, &k, &e), -1);
    const char *bad2[] = {"=x"};
    cr_assert_eq(mg_keys_from_pairs(bad2, 1, &k, &e), -1);
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

Test(canonical, config_documents)
{
    cJSON *j = cJSON_Parse("{ \"b\" : [1, 2.5, true, null], \"a\": {\"s\": \"x\\\"y\"},"
                           " \"big\": 9007199254740991, \"neg\": -0.1 }");
    cr_assert_not_null(j);
    mg_err e = {0};
    char *text = mg_json_canonical(j, &e);
    cr_assert_not_null(text, "%s", e.msg);
    cr_assert_str_eq(text,
                     "{\"b\":[1,2.5,true,null],\"a\":{\"s\":\"x\\\"y\"},"
                     "\"big\":9007199254740991,\"neg\":-0.10000000000000001}",
                     "members in document order, integers in full, other numbers read back");
    cJSON_free(text);
    cJSON_Delete(j);
}

Test(canonical, a_number_json_cannot_hold)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "n", cJSON_CreateNumber(INFINITY));
    mg_err e = {0};
    cr_assert_null(mg_json_canonical(j, &e));
    cr_assert_eq(e.code, MG_E_INVALID);
    cr_assert_str_eq(e.msg, "a number is too large for JSON");
    cJSON_Delete(j);
}
