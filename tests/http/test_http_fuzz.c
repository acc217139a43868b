/* A mutation fuzz pass over the http_server's request parser
 * (runtime/http/http_parse.h): seed requests, good and bad, mutated with a
 * seeded generator (byte flips, deletions, insertions of the tokens that
 * matter to HTTP, repeated pieces, splices). Each mutant is parsed as a
 * connection would: request after request, once whole and once in random
 * pieces, and the two must agree; every request the parser accepts must
 * name a normalised key that stays inside the store, and every refusal
 * must carry one of the documented statuses. Under the sanitizer build a
 * memory error fails the test too.
 *
 * MG_HTTP_FUZZ_MUTANTS sets the number of mutants (5,000 by default; the
 * `http_fuzz_long` CTest, label fuzz, runs 2,000,000). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "mg/kv_ro.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: the same mutants on every machine */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static const char *const seeds[] = {
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET /style.css?v=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
    "HEAD /img/logo.png HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "GET /a%20b/../c/./d%2e%2E HTTP/1.1\r\nHost: h\r\nIf-None-Match: W/\"1-2\", \"3\"\r\n\r\n",
    "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: "
    "h\r\n\r\n",
    "GET http://example.com:80/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET /x HTTP/1.1\nHost: h\n\nGET /y HTTP/1.1\nHost: h\nConnection: close\n\n",
    "\r\nGET /../../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
};

static const char *const tokens[] = {
    "\r\n",
    "\n",
    "\r",
    " ",
    "\t",
    ":",
    ",",
    "%",
    "%2e",
    "%2E%2e",
    "%2f",
    "%00",
    "%zz",
    "/..",
    "/./",
    "//",
    "?",
    "#",
    "*",
    "\0",
    "\x7f",
    "\x80",
    "\xff",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "Host: h\r\n",
    "Content-Length: ",
    "Content-Length: 3\r\n",
    "Content-Length: 99999999999999999999",
    "Transfer-Encoding: chunked\r\n",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "If-None-Match: ",
    "\"etag\"",
    "W/",
    "GET ",
    "HEAD ",
    "http://",
    "index.html",
    "\r\n\r\n",
};

struct step {
    mg_http_parse_result result;
    size_t used;
    int status;
    mg_http_method method;
    bool keep_alive;
    char path[MG_HTTP_PATH_MAX];
};

#define MAX_STEPS 64

/* Parses `in` as one connection would, in pieces of random sizes when
 * `random_pieces`: the outcome of each request. Returns how many. */
static size_t run(const uint8_t *in, size_t len, bool random_pieces, struct step *steps)
{
    static mg_http_parser p;
    mg_http_parser_init(&p);
    size_t at = 0, n = 0, taken_in_request = 0;
    while (n < MAX_STEPS) {
        size_t piece = len - at;
        if (random_pieces && piece > 1) piece = 1 + below(piece);
        size_t used = 99;
        mg_http_parse_result r = mg_http_parse(&p, in + at, piece, &used);
        cr_assert_leq(used, piece);
        at += used;
        taken_in_request += used;
        if (r == MG_HTTP_PARSE_MORE) {
            cr_assert_eq(used, piece, "MORE takes every byte");
            if (at == len) break;
            continue;
        }
        struct step *s = &steps[n++];
        memset(s, 0, sizeof *s);
        s->result = r;
        s->used = taken_in_request;
        s->status = p.status;
        if (r == MG_HTTP_PARSE_ERROR) {
            size_t again = 99;
            cr_assert_eq(mg_http_parse(&p, in, len, &again), MG_HTTP_PARSE_ERROR, "sticky");
            cr_assert_eq(again, 0);
            cr_assert(!p.keep_alive);
            break;
        }
        s->method = p.method;
        s->keep_alive = p.keep_alive;
        cr_assert_lt(strnlen(p.path, sizeof p.path), sizeof p.path, "the path ends in the buffer");
        memcpy(s->path, p.path, sizeof s->path);
        mg_http_parser_reset(&p);
        taken_in_request = 0;
        if (at == len) break;
    }
    return n;
}

static void check_step(const struct step *s)
{
    if (s->result == MG_HTTP_PARSE_ERROR) {
        int st = s->status;
        cr_assert(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 || st == 505,
                  "a documented refusal, not %d", st);
        return;
    }
    cr_assert(s->status == 0 || (s->status == 405 && s->method == MG_HTTP_OTHER), "%d", s->status);
    cr_assert(s->method == MG_HTTP_GET || s->method == MG_HTTP_HEAD || s->method == MG_HTTP_OTHER);
    if (s->status) return;
    /* the key is what the store would make of it, and a file's */
    const char *k = s->path;
    size_t len = strlen(k);
    cr_assert_gt(len, 0, "never the root itself");
    cr_assert_neq(k[0], '/');
    cr_assert_neq(k[len - 1], '/');
    cr_assert_null(strstr(k, "//"));
    char norm[MG_HTTP_PATH_MAX];
    cr_assert_eq(mg_kv_key_normalise(k, norm, sizeof norm), MG_OK, "no . or .. segment: %s", k);
    cr_assert_str_eq(norm, k);
}

Test(http_fuzz, mutants)
{
    const char *env = getenv("MG_HTTP_FUZZ_MUTANTS");
    long mutants = env ? strtol(env, NULL, 10) : 5000;
    cr_assert_gt(mutants, 0);
    rng_state = 0x9E3779B97F4A7C15u;
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    static struct step whole[MAX_STEPS], pieces[MAX_STEPS];
    size_t n_seeds = sizeof seeds / sizeof seeds[0], accepted = 0, refused = 0;
    for (long m = 0; m < mutants; m++) {
        const char *seed = seeds[below(n_seeds)];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        for (size_t k = 1 + below(6); k > 0; k--) {
            size_t at = below(len + 1);
            switch (below(6)) {
            case 0: /* flip a byte */
                if (len) buf[below(len)] ^= (uint8_t)(1u << below(8));
                break;
            case 1: { /* delete a piece */
                size_t n = below(len - at + 1) % 16;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
                break;
            }
            case 2: { /* insert a token */
                const char *t = tokens[below(sizeof tokens / sizeof tokens[0])];
                size_t n = t[0] ? strlen(t) : 1;
                if (len + n > cap) break;
                memmove(buf + at + n, buf + at, len - at);
                memcpy(buf + at, t, n);
                len += n;
                break;
            }
            case 3: { /* repeat a piece, sometimes many times (limits) */
                size_t n = 1 + below(32), times = below(4) ? 1 : 1 + below(2000);
                if (at + n > len) break;
                for (size_t r = 0; r < times && len + n <= cap; r++) {
                    memmove(buf + at + n, buf + at, len - at);
                    len += n;
                }
                break;
            }
            case 4: { /* splice the tail of another seed */
                const char *o = seeds[below(n_seeds)];
                size_t olen = strlen(o), from = below(olen);
                if (at + olen - from > cap) break;
                memcpy(buf + at, o + from, olen - from);
                len = at + olen - from;
                break;
            }
            default: /* a random byte */
                if (len) buf[below(len)] = (uint8_t)rng();
                break;
            }
        }
        size_t nw = run(buf, len, false, whole);
        size_t np = run(buf, len, true, pieces);
        cr_assert_eq(nw, np, "mutant %ld: as many requests in pieces as whole", m);
        for (size_t i = 0; i < nw; i++) {
            check_step(&whole[i]);
            cr_assert_eq(whole[i].result, pieces[i].result, "mutant %ld request %zu", m, i);
            cr_assert_eq(whole[i].status, pieces[i].status, "mutant %ld request %zu", m, i);
            if (whole[i].result == MG_HTTP_PARSE_ERROR) {
                refused++;
                continue;
            }
            accepted++;
            cr_assert_eq(whole[i].used, pieces[i].used, "mutant %ld request %zu", m, i);
            cr_assert_eq(whole[i].keep_alive, pieces[i].keep_alive);
            cr_assert_str_eq(whole[i].path, pieces[i].path);
        }
    }
    free(buf);
    /* a pass that only ever refused (or accepted) would test little */
    cr_assert_gt(accepted, (size_t)mutants / 10, "accepted %zu", accepted);
    cr_assert_gt(refused, (size_t)mutants / 10, "refused %zu", refused);
}
