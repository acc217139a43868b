/* Unit tests of the http_server's request parser (runtime/http/http_parse.h):
 * every request is also parsed split at every byte boundary and byte by
 * byte, and must give the same answer; then the limits (414, 431, 413),
 * methods, versions, keep-alive rules, framing (Content-Length bodies,
 * Transfer-Encoding), pipelining, and the path: percent-decoding, `..`,
 * folders, queries, absolute targets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* What a parse ends with, to compare the split parses with the whole. */
struct outcome {
    mg_http_parse_result result;
    size_t used;
    int status;
    mg_http_method method;
    int minor;
    bool keep_alive;
    char path[MG_HTTP_PATH_MAX];
    bool has_inm;
    char inm[MG_HTTP_INM_MAX];
};

/* Feeds `s` in pieces ending at each offset of `cuts` (then the rest):
 * stops at the first result that is not MORE. */
static struct outcome feed(const char *s, size_t len, const size_t *cuts, size_t n_cuts)
{
    static mg_http_parser p; /* large: not on the stack of every call */
    mg_http_parser_init(&p);
    struct outcome o = {.result = MG_HTTP_PARSE_MORE};
    size_t at = 0;
    for (size_t k = 0; k <= n_cuts && o.result == MG_HTTP_PARSE_MORE; k++) {
        size_t end = k < n_cuts ? cuts[k] : len;
        if (end < at) continue;
        size_t used = 0;
        o.result = mg_http_parse(&p, s + at, end - at, &used);
        cr_assert_leq(used, end - at);
        if (o.result == MG_HTTP_PARSE_MORE) cr_assert_eq(used, end - at, "MORE takes every byte");
        at += used;
    }
    o.used = at;
    o.status = p.status;
    o.method = p.method;
    o.minor = p.minor;
    o.keep_alive = p.keep_alive;
    snprintf(o.path, sizeof o.path, "%s", p.path);
    o.has_inm = p.has_if_none_match;
    snprintf(o.inm, sizeof o.inm, "%s", p.if_none_match);
    return o;
}

static void same(const struct outcome *a, const struct outcome *b, const char *how)
{
    cr_assert_eq(a->result, b->result, "%s: result", how);
    if (a->result == MG_HTTP_PARSE_MORE) return;
    cr_assert_eq(a->status, b->status, "%s: status", how);
    if (a->result == MG_HTTP_PARSE_ERROR) return;
    cr_assert_eq(a->used, b->used, "%s: used", how);
    cr_assert_eq(a->method, b->method, "%s", how);
    cr_assert_eq(a->minor, b->minor, "%s", how);
    cr_assert_eq(a->keep_alive, b->keep_alive, "%s", how);
    cr_assert_str_eq(a->path, b->path, "%s", how);
    cr_assert_eq(a->has_inm, b->has_inm, "%s", how);
    cr_assert_str_eq(a->inm, b->inm, "%s", how);
}

/* Parses `s` whole, split in two at every offset, and byte by byte
 * (for requests short enough), checks they agree, and returns the whole. */
static struct outcome parse_len(const char *s, size_t len)
{
    struct outcome whole = feed(s, len, NULL, 0);
    if (len <= 600) {
        for (size_t k = 0; k <= len; k++) {
            struct outcome split = feed(s, len, &k, 1);
            char how[48];
            snprintf(how, sizeof how, "split at %zu", k);
            same(&whole, &split, how);
        }
        size_t *cuts = malloc((len + 1) * sizeof *cuts);
        for (size_t k = 0; k <= len; k++) cuts[k] = k;
        struct outcome bytes = feed(s, len, cuts, len + 1);
        free(cuts);
        same(&whole, &bytes, "byte by byte");
    }
    return whole;
}

static struct outcome parse(const char *s)
{
    return parse_len(s, strlen(s));
}

static void assert_served(const char *req, const char *path)
{
    struct outcome o = parse(req);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "%s", req);
    cr_assert_eq(o.status, 0, "%s: status %d", req, o.status);
    cr_assert_str_eq(o.path, path, "%s", req);
}

static void assert_error(const char *req, int status)
{
    struct outcome o = parse(req);
    cr_assert_eq(o.result, MG_HTTP_PARSE_ERROR, "%s: result %d", req, o.result);
    cr_assert_eq(o.status, status, "%s: status %d, not %d", req, o.status, status);
    cr_assert(!o.keep_alive);
}

static void assert_path(const char *target, const char *path)
{
    char req[MG_HTTP_PATH_MAX * 2];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
    assert_served(req, path);
}

static void assert_path_error(const char *target, int status)
{
    char req[MG_HTTP_PATH_MAX * 2];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
    assert_error(req, status);
}

Test(http_parse, simple_get)
{
    const char *req = "GET /style.css HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    struct outcome o = parse(req);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
    cr_assert_eq(o.used, strlen(req));
    cr_assert_eq(o.method, MG_HTTP_GET);
    cr_assert_eq(o.minor, 1);
    cr_assert(o.keep_alive);
    cr_assert_eq(o.status, 0);
    cr_assert_str_eq(o.path, "style.css");
    cr_assert(!o.has_inm);
}

Test(http_parse, head_and_incomplete)
{
    struct outcome o = parse("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(o.method, MG_HTTP_HEAD);
    cr_assert_str_eq(o.path, "index.html");
    /* nothing is answered before the empty line */
    o = parse("GET / HTTP/1.1\r\nHost: h\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_MORE);
    o = parse("GET / HTTP/1.1\r\nHost: h\r\n\r");
    cr_assert_eq(o.result, MG_HTTP_PARSE_MORE);
    o = parse("");
    cr_assert_eq(o.result, MG_HTTP_PARSE_MORE);
}

Test(http_parse, methods)
{
    const char *others[] = {"POST",    "PUT",   "DELETE",
                            "OPTIONS", "get",   "Head",
                            "GETS",    "PATCH", "A_VERY_LONG_METHOD_NAME_OF_MORE_THAN_24_BYTES"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", others[i]);
        struct outcome o = parse(req);
        cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "%s", others[i]);
        cr_assert_eq(o.method, MG_HTTP_OTHER, "%s", others[i]);
        cr_assert_eq(o.status, 405, "%s", others[i]);
        cr_assert(o.keep_alive, "%s: a 405 keeps the connection", others[i]);
    }
    /* OPTIONS * is a 405 too; GET * is nonsense */
    struct outcome o = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(o.status, 405);
    assert_error("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    /* not a token */
    assert_error("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

Test(http_parse, versions_and_keep_alive)
{
    struct outcome o = parse("GET / HTTP/1.0\r\n\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
    cr_assert_eq(o.minor, 0);
    cr_assert(!o.keep_alive, "1.0 closes by default");
    o = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert(o.keep_alive);
    o = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    cr_assert(o.keep_alive, "tokens are compared without case");
    o = parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    cr_assert(!o.keep_alive, "close wins");
    o = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(o.keep_alive, "1.1 keeps by default");
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    cr_assert(!o.keep_alive);
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection:  Upgrade ,CLOSE \r\n\r\n");
    cr_assert(!o.keep_alive);
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n");
    cr_assert(o.keep_alive, "closed is not close");
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: clo se\r\n\r\n");
    cr_assert(o.keep_alive, "clo se is not close");
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Connection: close\r\n\r\n");
    cr_assert(o.keep_alive);
    o = parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
    cr_assert_eq(o.minor, 1, "1.2 is read as 1.1");
    assert_error("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    assert_error("GET / HTTP/0.9\r\n\r\n", 505);
    assert_error("GET / HTTP/1\r\nHost: h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400);
    assert_error("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    assert_error("GET /\r\n\r\n", 400);
}

Test(http_parse, host)
{
    assert_error("GET / HTTP/1.1\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    assert_error("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    struct outcome o = parse("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
}

Test(http_parse, malformed)
{
    assert_error("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\n: h\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\n\rX", 400);
    assert_error("GET /a\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error("GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error("GET\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    /* a NUL anywhere */
    const char nul[] = "GET / HTTP/1.1\r\nHost: h\0\r\n\r\n";
    struct outcome o = parse_len(nul, sizeof nul - 1);
    cr_assert_eq(o.result, MG_HTTP_PARSE_ERROR);
    cr_assert_eq(o.status, 400);
    /* values may hold tabs and bytes over 0x7f (obs-text) */
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xc3\xa9\r\n\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
}

Test(http_parse, line_ends_and_leading_empty_lines)
{
    struct outcome o = parse("GET /a HTTP/1.1\nHost: h\n\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "bare LF ends lines too");
    cr_assert_str_eq(o.path, "a");
    o = parse("\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
    assert_error("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_error("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

Test(http_parse, error_is_sticky)
{
    mg_http_parser p;
    mg_http_parser_init(&p);
    size_t used;
    cr_assert_eq(mg_http_parse(&p, "BAD(", 4, &used), MG_HTTP_PARSE_ERROR);
    cr_assert_eq(mg_http_parse(&p, "GET / HTTP/1.1\r\n\r\n", 18, &used), MG_HTTP_PARSE_ERROR);
    cr_assert_eq(used, 0);
    cr_assert_eq(p.status, 400);
}

/* ---- limits */

/* "GET /?qqq... HTTP/1.1": a request line of exactly `n` bytes */
static char *request_line_of(size_t n)
{
    const char *head = "GET /?", *tail = " HTTP/1.1";
    size_t fill = n - strlen(head) - strlen(tail);
    char *s = malloc(n + 32);
    strcpy(s, head);
    memset(s + strlen(head), 'q', fill);
    strcpy(s + strlen(head) + fill, tail);
    strcat(s, "\r\nHost: h\r\n\r\n");
    return s;
}

Test(http_parse, request_line_limit)
{
    char *ok = request_line_of(MG_HTTP_REQUEST_LINE_MAX);
    struct outcome o = parse(ok);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "8192 bytes are allowed");
    cr_assert_str_eq(o.path, "index.html");
    free(ok);
    char *over = request_line_of(MG_HTTP_REQUEST_LINE_MAX + 1);
    assert_error(over, 414);
    /* refused as soon as the limit is passed, without the line's end */
    over[MG_HTTP_REQUEST_LINE_MAX + 1] = '\0';
    assert_error(over, 414);
    free(over);
}

Test(http_parse, path_limit)
{
    /* a decoded path of 1023 bytes fits, 1024 does not */
    char target[MG_HTTP_PATH_MAX + 8];
    target[0] = '/';
    memset(target + 1, 'p', MG_HTTP_PATH_MAX - 2);
    target[MG_HTTP_PATH_MAX - 1] = '\0';
    char req[MG_HTTP_PATH_MAX * 2];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
    struct outcome o = parse(req);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
    cr_assert_eq(strlen(o.path), MG_HTTP_PATH_MAX - 2);
    strcat(target, "p");
    assert_path_error(target, 414);
    /* no room left for index.html */
    target[MG_HTTP_PATH_MAX - 8] = '/';
    target[MG_HTTP_PATH_MAX - 7] = '\0';
    assert_path_error(target, 414);
}

/* a request whose header section (after the request line, up to and
 * including the empty line) is exactly `n` bytes, in `lines` fields */
static char *headers_of(size_t n, size_t lines)
{
    const char *line = "GET / HTTP/1.1\r\n";
    char *s = malloc(n + 64);
    strcpy(s, line);
    size_t at = strlen(line), left = n - 2; /* the empty line */
    for (size_t i = 0; i < lines; i++) {
        size_t len = i + 1 < lines ? (left / (lines - i)) : left; /* "X: v...\r\n" */
        if (i == 0) {
            cr_assert_geq(len, 10);
            memcpy(s + at, "Host: ", 6);
            memset(s + at + 6, 'h', len - 8);
        } else {
            cr_assert_geq(len, 5);
            memcpy(s + at, "X: ", 3);
            memset(s + at + 3, 'v', len - 5);
        }
        memcpy(s + at + len - 2, "\r\n", 2);
        at += len;
        left -= len;
    }
    memcpy(s + at, "\r\n", 3);
    return s;
}

Test(http_parse, header_limits)
{
    char *ok = headers_of(MG_HTTP_HEADERS_MAX, 10);
    struct outcome o = parse(ok);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "16 KiB of headers are allowed");
    free(ok);
    char *over = headers_of(MG_HTTP_HEADERS_MAX + 1, 10);
    assert_error(over, 431);
    free(over);
    /* one field over the whole limit, without its line's end */
    over = headers_of(MG_HTTP_HEADERS_MAX * 2, 2);
    over[strlen("GET / HTTP/1.1\r\n") + MG_HTTP_HEADERS_MAX + 10] = '\0';
    assert_error(over, 431);
    free(over);
    ok = headers_of(100 * 12, MG_HTTP_HEADER_COUNT_MAX);
    o = parse(ok);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "100 fields are allowed");
    free(ok);
    over = headers_of(101 * 12, MG_HTTP_HEADER_COUNT_MAX + 1);
    assert_error(over, 431);
    free(over);
}

/* ---- framing and pipelining */

Test(http_parse, content_length_body_is_discarded)
{
    const char *req = "GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b";
    struct outcome o = parse(req);
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE);
    cr_assert_eq(o.used, strlen(req) - strlen("GET /b"), "the body is taken, not what follows");
    cr_assert_str_eq(o.path, "a");
    o = parse("GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhell");
    cr_assert_eq(o.result, MG_HTTP_PARSE_MORE);
    o = parse("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab");
    cr_assert_eq(o.status, 405);
    o = parse("GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length:  0 \r\n\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_DONE, "the same length twice is one length");
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", 413);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                 413);
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n");
    cr_assert_eq(o.result, MG_HTTP_PARSE_MORE, "1 MiB is read and dropped");
}

Test(http_parse, transfer_encoding)
{
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
    assert_error("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Length: 3\r\n\r\nabc",
                 501);
}

Test(http_parse, pipelined_requests)
{
    const char *reqs = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
                       "HEAD /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                       "GET /three HTTP/1.0\r\n\r\n";
    const char *paths[] = {"one", "two", "three"};
    mg_http_method methods[] = {MG_HTTP_GET, MG_HTTP_HEAD, MG_HTTP_GET};
    mg_http_parser p;
    mg_http_parser_init(&p);
    size_t at = 0, len = strlen(reqs);
    for (int i = 0; i < 3; i++) {
        size_t used;
        cr_assert_eq(mg_http_parse(&p, reqs + at, len - at, &used), MG_HTTP_PARSE_DONE);
        cr_assert_str_eq(p.path, paths[i]);
        cr_assert_eq(p.method, methods[i]);
        /* until reset, DONE again and nothing taken */
        size_t again;
        cr_assert_eq(mg_http_parse(&p, reqs + at + used, len - at - used, &again),
                     MG_HTTP_PARSE_DONE);
        cr_assert_eq(again, 0);
        at += used;
        mg_http_parser_reset(&p);
        cr_assert_str_eq(p.path, "", "reset forgets the path");
    }
    cr_assert_eq(at, len);
}

/* ---- the path */

Test(http_parse, folders_become_index)
{
    assert_path("/", "index.html");
    assert_path("//", "index.html");
    assert_path("/docs/", "docs/index.html");
    assert_path("/docs", "docs");
    assert_path("/a/.", "a/index.html");
    assert_path("/a/..", "index.html");
    assert_path("/a/b/../", "a/index.html");
}

Test(http_parse, dot_segments)
{
    assert_path("/a/./b", "a/b");
    assert_path("/a//b", "a/b");
    assert_path("/a/b/../c", "a/c");
    assert_path("/a/b/c/../../d", "a/d");
}

Test(http_parse, dot_segments_never_escape)
{
    assert_path_error("/..", 400);
    assert_path_error("/../etc/passwd", 400);
    assert_path_error("/a/../../etc/passwd", 400);
    assert_path_error("/%2e%2e/x", 400);
    assert_path_error("/%2E%2E%2Fx", 400);
    assert_path_error("/a/%2e%2e/%2e%2e/x", 400);
    assert_path_error("/a%2f..%2f..%2fx", 400);
    assert_path_error("http://h/../x", 400);
    /* dots that are names */
    assert_path("/..a/b..", "..a/b..");
    assert_path("/.well-known/x", ".well-known/x");
    assert_path("/...", "...");
}

Test(http_parse, percent_decoding)
{
    assert_path("/a%20b.html", "a b.html");
    assert_path("/%41%62%63", "Abc");
    assert_path("/caf%C3%A9", "caf\xc3\xa9");
    assert_path("/a%2Fb", "a/b");
    assert_path("/a%2e/b", "a./b");
    assert_path("/%25", "%");
    assert_path("/%3F?q", "?");
    assert_path_error("/%00", 400);
    assert_path_error("/%zz", 400);
    assert_path_error("/%4", 400);
    assert_path_error("/%", 400);
    assert_path_error("/%g0", 400);
}

Test(http_parse, queries_and_absolute_targets)
{
    assert_path("/style.css?v=3", "style.css");
    assert_path("/?", "index.html");
    assert_path("/a?b/../../..", "a");
    assert_path("/a?%zz", "a");
    assert_path("http://example.com/a/b", "a/b");
    assert_path("HTTP://example.com:8080/a", "a");
    assert_path("https://example.com", "index.html");
    assert_path("http://example.com?x", "index.html");
    assert_path_error("ftp://example.com/a", 400);
    assert_path_error("http:/example.com/a", 400);
    assert_path_error("http//example.com/a", 400);
    assert_path_error("verylongschemename://x/", 400);
}

Test(http_parse, if_none_match)
{
    struct outcome o =
        parse("GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match:  \"abc\" , W/\"d\"  \r\n\r\n");
    cr_assert(o.has_inm);
    cr_assert_str_eq(o.inm, "\"abc\" ,W/\"d\"", "spaces after a comma are dropped");
    o = parse("GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\nif-none-match: \"b\"\r\n\r\n");
    cr_assert_str_eq(o.inm, "\"a\",\"b\"", "two fields are one list");
    /* a list too long keeps its first whole entries */
    char req[1024] = "GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"first\"";
    for (int i = 0; i < 40; i++) strcat(req, ", \"entry\"");
    strcat(req, "\r\n\r\n");
    o = parse(req);
    cr_assert(o.has_inm);
    cr_assert_lt(strlen(o.inm), MG_HTTP_INM_MAX);
    cr_assert(!strncmp(o.inm, "\"first\",\"entry\"", 15));
    size_t n = strlen(o.inm);
    cr_assert_eq(o.inm[n - 1], '"', "no entry is cut: %s", o.inm);
}
