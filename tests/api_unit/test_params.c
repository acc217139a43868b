/*
 * Pages and Link headers, byte ranges, entity tags, media types, bearer
 * credentials, times. (Numbers are tested in tests/base/test_num.c, ids
 * and project names in tests/service/test_input.c.)
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/params.h"

/* One query at a time: its parameters point into the struct itself. */
static mg_query the_query;

static mg_query *query(const char *qs)
{
    mg_query_init(&the_query);
    cr_assert_eq(mg_query_parse(&the_query, qs), MG_QUERY_OK);
    return &the_query;
}

Test(pages, defaults_and_values)
{
    mg_page p;
    mg_err e = {0};
    cr_assert_eq(mg_page_parse(query(""), &p, &e), 0);
    cr_assert_eq(p.page, 1);
    cr_assert_eq(p.per_page, 20);
    cr_assert_eq(mg_page_parse(query("page=3&per_page=100"), &p, &e), 0);
    cr_assert_eq(p.page, 3);
    cr_assert_eq(p.per_page, 100);
    cr_assert_eq(mg_page_offset(&p), 200);
}

Test(pages, bad_values)
{
    const char *bad[] = {
        "per_page=0",        "per_page=101", "page=0",    "page=-1",  "per_page=x",
        "page=1.5",          "page=",        "per_page=", "page=1e3", "page=99999999999999999999",
        "page=1000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_page p;
        mg_err e = {0};
        cr_assert_eq(mg_page_parse(query(bad[i]), &p, &e), -1, "%s", bad[i]);
        cr_assert(strstr(e.msg, "page"), "%s: %s", bad[i], e.msg);
        cr_assert_eq(e.code, MG_E_INVALID);
    }
}

Test(pages, last)
{
    cr_assert_eq(mg_page_last(0, 20), 1);
    cr_assert_eq(mg_page_last(1, 20), 1);
    cr_assert_eq(mg_page_last(20, 20), 1);
    cr_assert_eq(mg_page_last(21, 20), 2);
    cr_assert_eq(mg_page_last(7, 2), 4);
}

Test(pages, link_middle_keeps_other_parameters)
{
    mg_query *q = query("status=succeeded&per_page=2&page=2&target=a%20b");
    mg_page p;
    mg_err e = {0};
    cr_assert_eq(mg_page_parse(q, &p, &e), 0);
    mg_buf b = {0};
    mg_page_link(&b, "/projects/x/builds", q, &p, 7);
    cr_assert_str_eq(b.data,
                     "</projects/x/builds?status=succeeded&target=a%20b&page=1&per_page=2>; "
                     "rel=\"first\", "
                     "</projects/x/builds?status=succeeded&target=a%20b&page=1&per_page=2>; "
                     "rel=\"prev\", "
                     "</projects/x/builds?status=succeeded&target=a%20b&page=3&per_page=2>; "
                     "rel=\"next\", "
                     "</projects/x/builds?status=succeeded&target=a%20b&page=4&per_page=2>; "
                     "rel=\"last\"");
    mg_buf_free(&b);
}

Test(pages, link_first_and_beyond_last)
{
    mg_query *q = query("");
    mg_page p = {1, 20};
    mg_buf b = {0};
    mg_page_link(&b, "/projects", q, &p, 5);
    cr_assert_str_eq(b.data, "</projects?page=1&per_page=20>; rel=\"first\", "
                             "</projects?page=1&per_page=20>; rel=\"last\"");
    mg_buf_clear(&b);
    p.page = 9;
    mg_page_link(&b, "/projects", q, &p, 45);
    /* prev of a page past the end is the last page; no next */
    cr_assert_str_eq(b.data, "</projects?page=1&per_page=20>; rel=\"first\", "
                             "</projects?page=3&per_page=20>; rel=\"prev\", "
                             "</projects?page=3&per_page=20>; rel=\"last\"");
    mg_buf_free(&b);
}

static mg_range_result range(const char *h, uint64_t size, uint64_t *s, uint64_t *l)
{
    *s = *l = 12345;
    return mg_range_parse(h, size, s, l);
}

Test(ranges, satisfiable)
{
    uint64_t s, l;
    cr_assert_eq(range("bytes=0-99", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(s, 0);
    cr_assert_eq(l, 100);
    cr_assert_eq(range("bytes=900-", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(s, 900);
    cr_assert_eq(l, 100);
    cr_assert_eq(range("bytes=-10", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(s, 990);
    cr_assert_eq(l, 10);
    /* a suffix longer than the file is the whole file */
    cr_assert_eq(range("bytes=-5000", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(s, 0);
    cr_assert_eq(l, 1000);
    /* an end past the file is clamped */
    cr_assert_eq(range("bytes=500-99999999999999999999999", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(s, 500);
    cr_assert_eq(l, 500);
    cr_assert_eq(range(" Bytes = 5 - 5 ", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(s, 5);
    cr_assert_eq(l, 1);
    cr_assert_eq(range("bytes=999-999", 1000, &s, &l), MG_RANGE_OK);
    cr_assert_eq(l, 1);
}

Test(ranges, unsatisfiable)
{
    uint64_t s, l;
    cr_assert_eq(range("bytes=1000-", 1000, &s, &l), MG_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=1000-2000", 1000, &s, &l), MG_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=-0", 1000, &s, &l), MG_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=0-", 0, &s, &l), MG_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=-5", 0, &s, &l), MG_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=99999999999999999999999-", 1000, &s, &l), MG_RANGE_UNSATISFIABLE);
}

Test(ranges, ignored)
{
    uint64_t s, l;
    const char *ignored[] = {
        NULL,        "",        "bytes",      "items=0-5", "bytes=0-5,7-9", "bytes=5-1",
        "bytes=a-b", "bytes=-", "bytes=1-2x", "bytes=--1", "bytes 0-5",     "bytes=0-5 junk"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        cr_assert_eq(range(ignored[i], 1000, &s, &l), MG_RANGE_NONE, "%s",
                     ignored[i] ? ignored[i] : "(null)");
}

Test(etags, if_none_match)
{
    const char *tag = "abc123";
    cr_assert(mg_etag_match("\"abc123\"", tag));
    cr_assert(mg_etag_match("*", tag));
    cr_assert(mg_etag_match("W/\"abc123\"", tag));
    cr_assert(mg_etag_match("\"zzz\", \"abc123\"", tag));
    cr_assert(mg_etag_match(" , \"x\" ,\"abc123\"", tag));
    cr_assert_not(mg_etag_match(NULL, tag));
    cr_assert_not(mg_etag_match("", tag));
    cr_assert_not(mg_etag_match("\"abc12\"", tag));
    cr_assert_not(mg_etag_match("\"abc1234\"", tag));
    cr_assert_not(mg_etag_match("abc123", tag));
    cr_assert_not(mg_etag_match("\"abc123", tag));
}

Test(media, json)
{
    cr_assert(mg_content_type_is_json("application/json"));
    cr_assert(mg_content_type_is_json("application/json; charset=utf-8"));
    cr_assert(mg_content_type_is_json("Application/JSON"));
    cr_assert(mg_content_type_is_json("application/json ;charset=UTF-8"));
    cr_assert_not(mg_content_type_is_json(NULL));
    cr_assert_not(mg_content_type_is_json("text/plain"));
    cr_assert_not(mg_content_type_is_json("application/jsonx"));
    cr_assert_not(mg_content_type_is_json("application/json-patch+json"));
    cr_assert_not(mg_content_type_is_json("application/x-www-form-urlencoded"));
}

Test(media, event_stream)
{
    cr_assert(mg_accepts_event_stream("text/event-stream"));
    cr_assert(mg_accepts_event_stream("text/html, text/event-stream;q=0.9"));
    cr_assert_not(mg_accepts_event_stream(NULL));
    cr_assert_not(mg_accepts_event_stream("*/*"));
    /* q=0 means "not acceptable" (RFC 9110 12.4.2) */
    cr_assert_not(mg_accepts_event_stream("text/event-stream;q=0"));
    cr_assert_not(mg_accepts_event_stream("text/event-stream; q=0.000, text/plain"));
    cr_assert(mg_accepts_event_stream("text/event-stream;q=0.001"));
    cr_assert_not(mg_accepts_event_stream("text/event-streams"));
}

Test(auth, bearer)
{
    size_t n;
    const char *t = mg_bearer_token("Bearer mgd_abc-_x", &n);
    cr_assert_not_null(t);
    cr_assert_eq(n, 10);
    cr_assert_eq(strncmp(t, "mgd_abc-_x", n), 0);
    t = mg_bearer_token("bearer   tok==  ", &n);
    cr_assert_not_null(t);
    cr_assert_eq(n, 5);
    cr_assert_null(mg_bearer_token(NULL, &n));
    cr_assert_null(mg_bearer_token("Basic dXNlcjpwYXNz", &n));
    cr_assert_null(mg_bearer_token("Bearer", &n));
    cr_assert_null(mg_bearer_token("Bearer ", &n));
    cr_assert_null(mg_bearer_token("Bearertok", &n));
    cr_assert_null(mg_bearer_token("Bearer a b", &n));
    cr_assert_null(mg_bearer_token("Bearer a=b", &n));
}

Test(times, rfc3339)
{
    char buf[32];
    mg_format_time(0, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    mg_format_time(1795446245999, buf); /* milliseconds are cut, not rounded */
    cr_assert_str_eq(buf, "2026-11-23T15:04:05Z");
    mg_format_time(951782400000, buf); /* a leap day of a century leap year */
    cr_assert_str_eq(buf, "2000-02-29T00:00:00Z");
    mg_format_time(4107542399000, buf);
    cr_assert_str_eq(buf, "2100-02-28T23:59:59Z");
    mg_format_time(4107542400000, buf); /* 2100 is no leap year */
    cr_assert_str_eq(buf, "2100-03-01T00:00:00Z");
    mg_format_time(253402300799000, buf);
    cr_assert_str_eq(buf, "9999-12-31T23:59:59Z");
    mg_format_time(-1, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z", "times before 1970 do not happen here");
}

Test(times, agrees_with_gmtime)
{
    /* every day for 300 years, at a time of day that moves */
    for (int64_t s = 0; s < 300LL * 366 * 86400; s += 86400 + 3607) {
        char mine[32], want[32];
        time_t t = (time_t)s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        mg_format_time(s * 1000 + 999, mine);
        cr_assert_str_eq(mine, want);
    }
}
