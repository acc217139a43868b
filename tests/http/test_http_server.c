/* Unit tests of the http_server device (runtime/http/http_server.c) over a
 * fake stack: an implementation of runtime/tcpip/stack_impl.h whose flows
 * record what the server writes, take only as many bytes as the test
 * allows (back-pressure), hold received bytes while paused, and say
 * whether the server shut, closed or aborted them. The store is a crunch
 * tree defined here. Covered: files, types, lengths, ETag and 304 (also
 * across kv_rw_mem boots and rebuilt tar archives), HEAD,
 * 404, 405, folders, errors closing the connection, keep-alive rules,
 * pipelining in order, back-pressure with a pending request, the idle
 * and header timeouts, and the client going away; and that no connection
 * costs more than its share: an ETag reads nothing of the value (a store
 * that counts reads), pipelined requests and large bodies are answered a
 * bounded piece per callback while other connections are served. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg/block.h"
#include "mg/crunch.h"
#include "mg/http.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"
#include "mg/loop.h"
#include "stack_impl.h"

/* ---- the store */

#define INDEX "<!doctype html><title>t</title><link rel=stylesheet href=style.css>\n"
#define STYLE "body { color: #333 }\n"
#define DOCS "<p>docs</p>\n"
#define BIG_SIZE 100000
#define HUGE_SIZE (1024 * 1024)
static const unsigned char index_html[] = INDEX, style_css[] = STYLE, docs_html[] = DOCS,
                           png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
static unsigned char big[BIG_SIZE], huge[HUGE_SIZE];
static const struct mg_crunch_file files[] = {
    {"a.WASM", 3, (const unsigned char *)"abc"},
    {"big.bin", BIG_SIZE, big},
    {"docs/index.html", sizeof docs_html - 1, docs_html},
    {"huge.bin", HUGE_SIZE, huge},
    {"img/logo.png", sizeof png, png},
    {"index.html", sizeof index_html - 1, index_html},
    {"noext", 2, (const unsigned char *)"hi"},
    {"style.css", sizeof style_css - 1, style_css},
};
const struct mg_crunch_tree mg_crunch_trees[] = {{"htdocs", files, sizeof files / sizeof files[0]}};
const size_t mg_crunch_n_trees = 1;

/* ---- the fake stack */

struct fake_flow {
    struct mg_flow base;
    char *out; /* everything the server wrote */
    size_t out_len, read_off;
    size_t room; /* how many more bytes a write may take */
    char *held;  /* received while paused */
    size_t held_len;
    bool shut, closed, aborted;
};

struct fake_listener {
    struct mg_tcp_listener base;
    mg_tcp_accept_fn *fn;
    void *arg;
    uint16_t port;
};

static struct fake_listener *listener;

static int fake_listen(mg_tcp *t, uint16_t port, mg_tcp_accept_fn *fn, void *arg,
                       mg_tcp_listener **out)
{
    (void)t;
    if (listener) return MG_EADDRINUSE;
    listener = calloc(1, sizeof *listener);
    listener->base.ops = t->ops;
    listener->fn = fn;
    listener->arg = arg;
    listener->port = port;
    *out = &listener->base;
    return MG_OK;
}

static void fake_unlisten(mg_tcp_listener *l)
{
    free(l);
    listener = NULL;
}

static int fake_connect(mg_tcp *t, const mg_ipaddr *a, uint16_t port, mg_tcp_connect_fn *fn,
                        void *arg)
{
    (void)t, (void)a, (void)port, (void)fn, (void)arg;
    return MG_EUNSUPPORTED; /* the server never connects */
}

static int fake_write(mg_flow *f, const void *data, size_t size, size_t *taken)
{
    struct fake_flow *ff = (struct fake_flow *)f;
    cr_assert(!ff->shut, "no write after shutdown");
    size_t n = size < ff->room ? size : ff->room;
    ff->out = realloc(ff->out, ff->out_len + n + 1);
    memcpy(ff->out + ff->out_len, data, n);
    ff->out_len += n;
    ff->out[ff->out_len] = '\0';
    ff->room -= n;
    *taken = n;
    return n < size ? MG_EAGAIN : MG_OK;
}

static size_t fake_unsent(const mg_flow *f)
{
    (void)f;
    return 0;
}

static void fake_nothing(mg_flow *f)
{
    (void)f; /* pause and resume: stack.c keeps the flag, the test reads it */
}

static void fake_shutdown(mg_flow *f)
{
    ((struct fake_flow *)f)->shut = true;
}

static void fake_close(mg_flow *f)
{
    ((struct fake_flow *)f)->closed = true;
}

static void fake_abort(mg_flow *f)
{
    ((struct fake_flow *)f)->aborted = true;
}

static void fake_ends(const mg_flow *f, bool peer, mg_ipaddr *addr, uint16_t *port)
{
    (void)f;
    *addr = mg_ipaddr_v4(0x7f000001);
    *port = peer ? 40000 : 8080;
}

static int fake_bind(mg_udp *u, uint16_t port, mg_udp_recv_fn *fn, void *arg, mg_udp_socket **out)
{
    (void)u, (void)port, (void)fn, (void)arg, (void)out;
    return MG_EUNSUPPORTED;
}

static uint16_t fake_udp_port(const mg_udp_socket *s)
{
    (void)s;
    return 0;
}

static int fake_sendto(mg_udp_socket *s, const mg_ipaddr *d, uint16_t p, const void *data,
                       size_t size)
{
    (void)s, (void)d, (void)p, (void)data, (void)size;
    return MG_EUNSUPPORTED;
}

static void fake_udp_close(mg_udp_socket *s)
{
    (void)s;
}

static size_t fake_addresses(mg_stackv4v6 *s, mg_ipaddr *out, size_t max)
{
    (void)s, (void)out, (void)max;
    return 0;
}

static const mg_stack_ops fake_ops = {
    .tcp_listen = fake_listen,
    .tcp_unlisten = fake_unlisten,
    .tcp_connect = fake_connect,
    .flow_write = fake_write,
    .flow_unsent = fake_unsent,
    .flow_pause = fake_nothing,
    .flow_resume = fake_nothing,
    .flow_shutdown = fake_shutdown,
    .flow_close = fake_close,
    .flow_abort = fake_abort,
    .flow_ends = fake_ends,
    .udp_bind = fake_bind,
    .udp_port = fake_udp_port,
    .udp_sendto = fake_sendto,
    .udp_close = fake_udp_close,
    .addresses = fake_addresses,
};

static struct mg_tcp fake_tcp = {&fake_ops};
static struct mg_udp fake_udp = {&fake_ops};
static struct mg_stackv4v6 fake_stack = {&fake_ops, &fake_tcp, &fake_udp};

static mg_http *http;
static mg_kv_ro *kv;
/* every flow made, freed at the end: the stack's memory, not the server's */
static struct fake_flow *flows[64];
static size_t n_flows;

static void setup(void)
{
    for (size_t i = 0; i < BIG_SIZE; i++) big[i] = (unsigned char)(i * 7 + i / 251);
    for (size_t i = 0; i < HUGE_SIZE; i++) huge[i] = (unsigned char)(i * 13 + i / 509);
    cr_assert_eq(mg_crunch_connect(&kv, "htdocs"), MG_OK);
    cr_assert_eq(mg_http_server_connect(&http, &fake_stack, 8080), MG_OK);
    cr_assert_eq(mg_http_serve_kv(http, kv), MG_OK);
    cr_assert_not_null(listener);
    cr_assert_eq(listener->port, 8080);
}

static void teardown(void)
{
    mg_http_disconnect(http);
    cr_assert_null(listener, "the server stopped listening");
    for (size_t i = 0; i < n_flows; i++) {
        struct fake_flow *f = flows[i];
        cr_assert(f->base.released, "every flow was let go of or ended");
        free(f->out);
        free(f->held);
        free(f);
    }
    mg_kv_ro_disconnect(kv);
}

static struct fake_flow *client(void)
{
    cr_assert_lt(n_flows, sizeof flows / sizeof flows[0]);
    struct fake_flow *f = calloc(1, sizeof *f);
    flows[n_flows++] = f;
    f->base.ops = &fake_ops;
    f->room = SIZE_MAX;
    listener->fn(listener->arg, &listener->base, &f->base);
    return f;
}

/* What the client sends: held while the server has paused the flow, as
 * a stack holds it. */
static void send_bytes(struct fake_flow *f, const char *data, size_t len)
{
    cr_assert(!f->closed && !f->aborted);
    if (f->base.paused) {
        f->held = realloc(f->held, f->held_len + len);
        memcpy(f->held + f->held_len, data, len);
        f->held_len += len;
        return;
    }
    mg_stack_flow_recv(&f->base, (const uint8_t *)data, len);
}

static void send_str(struct fake_flow *f, const char *s)
{
    send_bytes(f, s, strlen(s));
}

/* The stack's part after a resume: the held bytes go in. */
static void deliver_held(struct fake_flow *f)
{
    if (f->base.paused || !f->held_len) return;
    char *held = f->held;
    size_t len = f->held_len;
    f->held = NULL;
    f->held_len = 0;
    mg_stack_flow_recv(&f->base, (const uint8_t *)held, len);
    free(held);
}

/* ---- reading responses */

struct response {
    int status;
    char head[1024]; /* the header lines, "\r\n"-separated */
    size_t length;   /* Content-Length, or SIZE_MAX */
    const char *body;
    size_t body_len;
};

/* The value of header `name` (with its ": "), or NULL. */
static const char *header(const struct response *r, const char *name, char *buf, size_t cap)
{
    char want[64];
    snprintf(want, sizeof want, "\r\n%s: ", name);
    const char *p = strstr(r->head, want);
    if (!p) return NULL;
    p += strlen(want);
    const char *end = strstr(p, "\r\n");
    snprintf(buf, cap, "%.*s", (int)(end - p), p);
    return buf;
}

/* Takes the next response the server wrote; `head_only`: a HEAD's. */
static struct response next_response(struct fake_flow *f, bool head_only)
{
    struct response r = {.length = SIZE_MAX};
    const char *start = f->out + f->read_off;
    cr_assert(f->out && f->read_off < f->out_len, "a response was written");
    const char *end = strstr(start, "\r\n\r\n");
    cr_assert_not_null(end, "a whole head: %s", start);
    cr_assert_lt((size_t)(end - start), sizeof r.head - 4);
    memcpy(r.head, start, (size_t)(end - start) + 2);
    r.head[end - start + 2] = '\0';
    cr_assert_eq(sscanf(start, "HTTP/1.1 %d ", &r.status), 1, "%s", r.head);
    char v[64];
    cr_assert_not_null(header(&r, "Server", v, sizeof v));
    cr_assert_str_eq(v, "mgd");
    if (header(&r, "Content-Length", v, sizeof v)) r.length = strtoull(v, NULL, 10);
    r.body = end + 4;
    r.body_len = head_only || r.status == 304 ? 0 : r.length;
    cr_assert_leq(r.body + r.body_len, f->out + f->out_len, "the whole body was written");
    f->read_off = (size_t)(r.body + r.body_len - f->out);
    return r;
}

static void assert_nothing_more(struct fake_flow *f)
{
    cr_assert_eq(f->read_off, f->out_len, "nothing after the last response: %s",
                 f->out ? f->out + f->read_off : "");
}

static void assert_file(struct fake_flow *f, const char *path, const char *type, const void *data,
                        size_t len)
{
    char req[256], v[128];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_str(f, req);
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, 200, "%s: %d", path, r.status);
    cr_assert_not_null(header(&r, "Content-Type", v, sizeof v), "%s", path);
    cr_assert_str_eq(v, type, "%s", path);
    cr_assert_eq(r.length, len, "%s", path);
    cr_assert(!memcmp(r.body, data, len), "%s: the bytes", path);
    cr_assert_not_null(header(&r, "ETag", v, sizeof v));
    cr_assert_null(header(&r, "Connection", v, sizeof v), "1.1 keeps alive without saying so");
}

TestSuite(http_server, .init = setup, .fini = teardown);

Test(http_server, files_with_types_and_lengths)
{
    struct fake_flow *f = client();
    assert_file(f, "/", "text/html; charset=utf-8", INDEX, sizeof INDEX - 1);
    assert_file(f, "/index.html", "text/html; charset=utf-8", INDEX, sizeof INDEX - 1);
    assert_file(f, "/style.css", "text/css; charset=utf-8", STYLE, sizeof STYLE - 1);
    assert_file(f, "/img/logo.png", "image/png", png, sizeof png);
    assert_file(f, "/a.WASM", "application/wasm", "abc", 3);
    assert_file(f, "/noext", "application/octet-stream", "hi", 2);
    assert_file(f, "/docs/", "text/html; charset=utf-8", DOCS, sizeof DOCS - 1);
    assert_file(f, "/docs", "text/html; charset=utf-8", DOCS, sizeof DOCS - 1);
    assert_file(f, "/big.bin", "application/octet-stream", big, BIG_SIZE);
    assert_file(f, "/img/../style.css?x=1", "text/css; charset=utf-8", STYLE, sizeof STYLE - 1);
    assert_nothing_more(f);
    cr_assert(!f->shut && !f->closed && !f->aborted);
    mg_http_stats st = mg_http_get_stats(http);
    cr_assert_eq(st.requests, 10);
    cr_assert_eq(st.open, 1);
}

Test(http_server, not_found_and_head)
{
    struct fake_flow *f = client();
    char v[64];
    send_str(f, "GET /missing.html HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, 404);
    cr_assert_eq(r.body_len, strlen("404 Not Found\n"));
    cr_assert(!memcmp(r.body, "404 Not Found\n", r.body_len));
    send_str(f, "GET /img HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(next_response(f, false).status, 404, "a folder without index.html");
    send_str(f, "GET /index.html/x HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(next_response(f, false).status, 404, "under a file");

    send_str(f, "HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    r = next_response(f, true);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.length, sizeof STYLE - 1, "HEAD says the length of GET");
    cr_assert_str_eq(header(&r, "Content-Type", v, sizeof v), "text/css; charset=utf-8");
    send_str(f, "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    r = next_response(f, true);
    cr_assert_eq(r.status, 404);
    assert_nothing_more(f); /* neither HEAD had a body */
    cr_assert(!f->shut);
}

Test(http_server, etag_and_if_none_match)
{
    struct fake_flow *f = client();
    char etag[64], v[64], req[256];
    send_str(f, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r = next_response(f, false);
    cr_assert_not_null(header(&r, "ETag", etag, sizeof etag));
    cr_assert_eq(etag[0], '"');
    /* the same bytes, the same tag; other bytes, another */
    send_str(f, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
    r = next_response(f, false);
    cr_assert_str_neq(header(&r, "ETag", v, sizeof v), etag);

    const char *matching[] = {"%s", "W/%s", "\"x\", %s", "*", " \"y\" ,W/%s , \"z\""};
    for (size_t i = 0; i < sizeof matching / sizeof matching[0]; i++) {
        char inm[128];
        snprintf(inm, sizeof inm, matching[i], etag);
        snprintf(req, sizeof req, "GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n",
                 inm);
        send_str(f, req);
        r = next_response(f, false);
        cr_assert_eq(r.status, 304, "%s", inm);
        cr_assert_str_eq(header(&r, "ETag", v, sizeof v), etag);
        cr_assert_null(header(&r, "Content-Length", v, sizeof v));
    }
    snprintf(req, sizeof req,
             "GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\n\r\n");
    send_str(f, req);
    cr_assert_eq(next_response(f, false).status, 200);
    /* a tag that is a prefix of ours does not match */
    snprintf(req, sizeof req, "GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: %.*s\"\r\n\r\n",
             (int)strlen(etag) - 2, etag);
    send_str(f, req);
    cr_assert_eq(next_response(f, false).status, 200);
    /* "*" for a missing file is still a 404 */
    send_str(f, "GET /nope HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n");
    cr_assert_eq(next_response(f, false).status, 404);
    assert_nothing_more(f);
}

Test(http_server, method_not_allowed_keeps_the_connection)
{
    struct fake_flow *f = client();
    char v[64];
    send_str(f, "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd");
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(header(&r, "Allow", v, sizeof v), "GET, HEAD");
    cr_assert(!f->shut);
    assert_file(f, "/style.css", "text/css; charset=utf-8", STYLE, sizeof STYLE - 1);
}

static void assert_refused(const char *req, size_t len, int status)
{
    struct fake_flow *f = client();
    char v[64];
    send_bytes(f, req, len);
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, status);
    cr_assert_str_eq(header(&r, "Connection", v, sizeof v), "close");
    assert_nothing_more(f);
    cr_assert(f->shut, "the sending side is shut");
    cr_assert(!f->closed, "then the server lingers");
    /* what the client still sends is dropped */
    send_str(f, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_nothing_more(f);
    mg_stack_flow_recv(&f->base, NULL, 0);
    cr_assert(f->closed && !f->aborted, "closed once the client has ended");
}

Test(http_server, errors_close_the_connection)
{
    assert_refused("GET / HTTP/1.1\r\n\r\n", 18, 400);
    assert_refused("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 27, 505);
    assert_refused("GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 56, 501);
    char *line = malloc(9000);
    memcpy(line, "GET /", 5);
    memset(line + 5, 'a', 9000 - 5);
    assert_refused(line, 9000, 414);
    free(line);
    size_t n = 20000;
    char *headers = malloc(n);
    memcpy(headers, "GET / HTTP/1.1\r\nX: ", 19);
    memset(headers + 19, 'v', n - 19);
    assert_refused(headers, n, 431);
    free(headers);
    cr_assert_eq(mg_http_get_stats(http).open, 0);
}

Test(http_server, keep_alive_rules)
{
    char v[64];
    struct fake_flow *f = client();
    send_str(f, "GET / HTTP/1.0\r\n\r\n");
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "Connection", v, sizeof v), "close");
    cr_assert(f->shut, "1.0 without keep-alive: the last response");

    f = client();
    send_str(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r = next_response(f, false);
    cr_assert_str_eq(header(&r, "Connection", v, sizeof v), "keep-alive");
    cr_assert(!f->shut);

    f = client();
    send_str(f, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n");
    r = next_response(f, false);
    cr_assert_str_eq(header(&r, "Connection", v, sizeof v), "close");
    cr_assert(f->shut);
    assert_nothing_more(f);
}

Test(http_server, pipelined_requests_in_order)
{
    struct fake_flow *f = client();
    send_str(f, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n"
                "HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /img/logo.png HTTP/1.1\r\nHost: t\r\n\r\nGET /in");
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.length, sizeof STYLE - 1);
    r = next_response(f, true);
    cr_assert_eq(r.length, sizeof INDEX - 1);
    cr_assert_eq(next_response(f, false).status, 404);
    r = next_response(f, false);
    cr_assert_eq(r.length, sizeof png);
    assert_nothing_more(f);
    /* the rest of the last request, in another piece */
    send_str(f, "dex.html HTTP/1.1\r\nHost: t\r\n\r\n");
    r = next_response(f, false);
    cr_assert_eq(r.length, sizeof INDEX - 1);
    assert_nothing_more(f);
}

Test(http_server, back_pressure_with_a_pipelined_request)
{
    struct fake_flow *f = client();
    f->room = 100;
    send_str(f, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /style.css HTTP/1.1\r\nHost: t\r\n");
    cr_assert_eq(f->out_len, 100, "the server wrote what fitted");
    cr_assert(f->base.paused, "and stopped reading");
    send_str(f, "\r\n"); /* held by the stack */
    int rounds = 0;
    while (f->base.paused) {
        cr_assert_lt(++rounds, 1000, "the response ends");
        f->room = 997; /* odd pieces, across chunks */
        mg_stack_flow_writable(&f->base);
        deliver_held(f);
    }
    struct response r = next_response(f, false);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.length, BIG_SIZE);
    cr_assert(!memcmp(r.body, big, BIG_SIZE), "every byte, in order");
    /* the waiting request is answered once the room is back */
    f->room = SIZE_MAX;
    mg_stack_flow_writable(&f->base);
    r = next_response(f, false);
    cr_assert_eq(r.length, sizeof STYLE - 1);
    assert_nothing_more(f);
    cr_assert(!f->base.paused);
}

Test(http_server, client_ends_during_a_response)
{
    struct fake_flow *f = client();
    f->room = 10;
    send_str(f, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    mg_stack_flow_recv(&f->base, NULL, 0); /* the client shut its sending side */
    cr_assert(!f->closed, "the response still goes out");
    f->room = SIZE_MAX;
    mg_stack_flow_writable(&f->base);
    cr_assert_eq(next_response(f, false).length, BIG_SIZE);
    cr_assert(f->closed, "then the connection closes");
    cr_assert_eq(mg_http_get_stats(http).open, 0);
}

Test(http_server, client_ends_mid_request_and_resets)
{
    struct fake_flow *f = client();
    send_str(f, "GET / HT");
    mg_stack_flow_recv(&f->base, NULL, 0);
    cr_assert(f->closed);
    assert_nothing_more(f);

    f = client();
    f->room = 10;
    send_str(f, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    mg_stack_flow_closed(&f->base, MG_ECONNRESET);
    cr_assert_eq(mg_http_get_stats(http).open, 0, "a reset frees the connection");
}

Test(http_server, idle_timeout)
{
    mg_http_set_idle_timeout(http, 20 * 1000000ull);
    struct fake_flow *idle = client();
    struct fake_flow *after = client();
    send_str(after, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    struct fake_flow *partial = client();
    send_str(partial, "GET / HTTP/1.1\r\n");
    struct fake_flow *stalled = client();
    stalled->room = 50;
    send_str(stalled, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    uint64_t start = mg_loop_now();
    cr_assert_eq(mg_run(), 0, "the timers end, and with them the loop");
    cr_assert_geq(mg_loop_now() - start, 20 * 1000000ull);
    cr_assert(idle->closed && after->closed && partial->closed);
    cr_assert(stalled->aborted, "a stalled response is reset");
    cr_assert_eq(mg_http_get_stats(http).open, 0);
    cr_assert_eq(mg_http_get_stats(http).connections, 4);
}

Test(http_server, connect_and_serve_errors)
{
    mg_http *h;
    cr_assert_eq(mg_http_server_connect(&h, &fake_stack, 0), MG_EINVAL);
    cr_assert_eq(mg_http_server_connect(&h, &fake_stack, 65536), MG_EINVAL);
    cr_assert_eq(mg_http_serve_kv(http, kv), MG_EEXIST, "already serving");
    cr_assert_eq(mg_http_server_connect(&h, &fake_stack, 81), MG_OK);
    cr_assert_eq(mg_http_port(h), 81);
    cr_assert_eq(mg_http_serve_kv(h, kv), MG_EADDRINUSE, "the stack's status");
    cr_assert_eq(mg_http_serve_kv(h, NULL), MG_EINVAL);
    mg_http_disconnect(h);
}

Test(http_server, disconnect_resets_open_connections)
{
    struct fake_flow *idle = client(), *busy = client();
    busy->room = 10;
    send_str(busy, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(mg_http_get_stats(http).open, 2);
    mg_http_disconnect(http);
    http = NULL;
    cr_assert(idle->aborted && busy->aborted);
}

/* ---- what one connection may cost */

/* A store that passes everything to the crunch store and counts what is
 * read of the values. */
static struct counting {
    mg_kv_ro kv;
    size_t reads;
    uint64_t bytes;
} counting;

static int counting_stat(mg_kv_ro *c, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    (void)c;
    return kv->ops->stat(kv, key, kind, size);
}

static int counting_read(mg_kv_ro *c, const char *key, uint64_t offset, void *buf, size_t length,
                         size_t *n_read)
{
    (void)c;
    counting.reads++;
    counting.bytes += length;
    return kv->ops->read(kv, key, offset, buf, length, n_read);
}

static int counting_list(mg_kv_ro *c, const char *key, mg_kv_list_fn fn, void *ctx)
{
    (void)c;
    return kv->ops->list(kv, key, fn, ctx);
}

static void counting_disconnect(mg_kv_ro *c)
{
    (void)c; /* static */
}

static int counting_version(mg_kv_ro *c, const char *key, mg_kv_kind *kind, uint64_t *size,
                            uint64_t *version)
{
    (void)c;
    return kv->ops->version(kv, key, kind, size, version);
}

static const struct mg_kv_ro_ops counting_ops = {counting_stat, counting_read, counting_list,
                                                 counting_disconnect, counting_version};

/* Replaces the fixture's server by one serving `store`. */
static void serve(mg_kv_ro *store)
{
    mg_http_disconnect(http);
    cr_assert_eq(mg_http_server_connect(&http, &fake_stack, 8080), MG_OK);
    cr_assert_eq(mg_http_serve_kv(http, store), MG_OK);
}

Test(http_server, etags_read_nothing_of_the_value)
{
    counting.kv.ops = &counting_ops;
    serve(&counting.kv);
    struct fake_flow *f = client();
    char etag[64], v[64], req[256];
    for (int i = 0; i < 50; i++) {
        send_str(f, "HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        struct response r = next_response(f, true);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(r.length, BIG_SIZE);
        cr_assert_not_null(header(&r, "ETag", i ? v : etag, sizeof v));
        if (i) cr_assert_str_eq(v, etag, "the same value, the same tag");
    }
    cr_assert_eq(counting.bytes, 0, "50 HEADs read %llu bytes of the value",
                 (unsigned long long)counting.bytes);
    snprintf(req, sizeof req, "GET /big.bin HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    send_str(f, req);
    cr_assert_eq(next_response(f, false).status, 304);
    cr_assert_eq(counting.bytes, 0, "nor a 304");
    send_str(f, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r = next_response(f, false);
    cr_assert_str_eq(header(&r, "ETag", v, sizeof v), etag);
    cr_assert(!memcmp(r.body, big, BIG_SIZE));
    cr_assert_eq(counting.bytes, BIG_SIZE, "a GET reads the value once");
    assert_nothing_more(f);
}

Test(http_server, etags_change_with_the_value)
{
    mg_kv_rw *rw;
    cr_assert_eq(mg_kv_rw_mem_connect(&rw), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "a.txt", "aaaa", 4), MG_OK);
    serve(mg_kv_rw_ro(rw));
    struct fake_flow *f = client();
    char etag1[64], etag2[64], req[256];
    send_str(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r = next_response(f, false);
    cr_assert_not_null(header(&r, "ETag", etag1, sizeof etag1));
    /* the same size, other bytes */
    cr_assert_eq(mg_kv_rw_set(rw, "a.txt", "bbbb", 4), MG_OK);
    snprintf(req, sizeof req, "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n", etag1);
    send_str(f, req);
    r = next_response(f, false);
    cr_assert_eq(r.status, 200, "the old tag no longer matches");
    cr_assert_arr_eq(r.body, "bbbb", 4);
    cr_assert_str_neq(header(&r, "ETag", etag2, sizeof etag2), etag1);
    mg_http_disconnect(http);
    http = NULL;
    mg_kv_rw_disconnect(rw);
}

static size_t count_of(const struct fake_flow *f, const char *what)
{
    size_t n = 0;
    for (const char *p = f->out; p && (p = strstr(p, what)); p++) n++;
    return n;
}

struct turns {
    struct fake_flow *f;
    size_t want;
    int rounds;
};

static bool all_answered(void *arg)
{
    struct turns *t = arg;
    t->rounds++;
    deliver_held(t->f);
    return count_of(t->f, "HTTP/1.1 200") >= t->want;
}

Test(http_server, pipelined_requests_take_turns)
{
    const char one[] = "HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t n = 100, len = sizeof one - 1;
    char *reqs = malloc(n * len);
    for (size_t i = 0; i < n; i++) memcpy(reqs + i * len, one, len);
    struct fake_flow *a = client();
    send_bytes(a, reqs, n * len);
    free(reqs);
    size_t first = count_of(a, "HTTP/1.1 200");
    cr_assert_gt(first, 0);
    cr_assert_leq(first, 8, "one callback answered %zu of %zu pipelined requests", first, n);
    cr_assert(a->base.paused, "the rest waits, and reading with it");
    /* another client is served meanwhile */
    struct fake_flow *b = client();
    send_str(b, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(next_response(b, false).status, 200);
    cr_assert_lt(count_of(a, "HTTP/1.1 200"), n);
    /* the loop answers the rest, in several turns */
    struct turns t = {a, n, 0};
    cr_assert_eq(mg_loop_run_until(all_answered, &t, mg_loop_now() + 5000000000ull), MG_OK);
    cr_assert_geq(t.rounds, (int)(n / 8), "%d rounds", t.rounds);
    for (size_t i = 0; i < n; i++) cr_assert_eq(next_response(a, true).length, BIG_SIZE);
    assert_nothing_more(a);
    cr_assert(!a->base.paused, "reading again");
    send_str(a, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(next_response(a, false).length, sizeof STYLE - 1);
    /* a client that ends after its requests still gets every answer */
    struct fake_flow *c = client();
    char many[12 * sizeof one];
    for (size_t i = 0; i < 12; i++) memcpy(many + i * len, one, len);
    send_bytes(c, many, 12 * len);
    mg_stack_flow_recv(&c->base, NULL, 0);
    cr_assert(!c->closed);
    struct turns tc = {c, 12, 0};
    cr_assert_eq(mg_loop_run_until(all_answered, &tc, mg_loop_now() + 5000000000ull), MG_OK);
    for (size_t i = 0; i < 12; i++) cr_assert_eq(next_response(c, true).length, BIG_SIZE);
    assert_nothing_more(c);
    cr_assert(c->closed && !c->aborted, "then it closes");
}

static bool body_out(void *arg)
{
    struct fake_flow *f = arg;
    const char *end = f->out ? strstr(f->out, "\r\n\r\n") : NULL;
    return end && f->out_len - (size_t)(end + 4 - f->out) >= HUGE_SIZE;
}

Test(http_server, a_large_body_takes_turns)
{
    struct fake_flow *a = client(); /* takes everything at once */
    send_str(a, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_lt(a->out_len, HUGE_SIZE / 2, "one callback sent %zu bytes", a->out_len);
    struct fake_flow *b = client();
    send_str(b, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(next_response(b, false).status, 200);
    cr_assert_eq(mg_loop_run_until(body_out, a, mg_loop_now() + 5000000000ull), MG_OK);
    struct response r = next_response(a, false);
    cr_assert_eq(r.length, HUGE_SIZE);
    cr_assert(!memcmp(r.body, huge, HUGE_SIZE), "every byte, in order");
    assert_nothing_more(a);
}

struct closed_pair {
    struct fake_flow *a, *b;
};

static bool both_closed(void *arg)
{
    struct closed_pair *p = arg;
    return p->a->closed && p->b->closed;
}

Test(http_server, header_timeout)
{
    mg_http_set_header_timeout(http, 20 * 1000000ull); /* the idle timeout stays 30 s */
    /* before the first accept: the timeouts start there */
    uint64_t start = mg_loop_now();
    struct fake_flow *silent = client();
    struct fake_flow *slow = client();
    send_str(slow, "GET / HTTP/1.1\r\nHost: t\r\n");
    struct fake_flow *served = client();
    send_str(served, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(next_response(served, false).status, 200);
    struct closed_pair p = {silent, slow};
    cr_assert_eq(mg_loop_run_until(both_closed, &p, start + 5000000000ull), MG_OK,
                 "closed within the header timeout, not the idle one");
    cr_assert_geq(mg_loop_now() - start, 20 * 1000000ull);
    cr_assert(!silent->aborted && !slow->aborted);
    assert_nothing_more(slow);
    cr_assert(!served->closed, "after a request, the idle timeout applies");
    cr_assert_eq(mg_http_get_stats(http).open, 1);
}

/* ---- ETags across boots and rebuilds: a reviewer's two cases, where a
 * client holding the old bytes was told they were current (304). */

/* The status of GET /a.txt from a server on `store` with If-None-Match
 * `inm` (NULL: none), and the ETag it gives. */
static int etag_on(mg_kv_ro *store, const char *inm, char *etag, size_t cap)
{
    serve(store);
    struct fake_flow *f = client();
    char req[256];
    if (inm)
        snprintf(req, sizeof req, "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n",
                 inm);
    else
        snprintf(req, sizeof req, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    send_str(f, req);
    struct response r = next_response(f, false);
    cr_assert_not_null(header(&r, "ETag", etag, cap));
    mg_http_disconnect(http);
    http = NULL;
    return r.status;
}

/* kv_rw_mem starts empty at every boot: an image that sets its page at
 * start must not give boot 2's page the tag of boot 1's. */
Test(http_server, kv_rw_mem_etags_differ_across_boots)
{
    mg_kv_rw *rw1, *rw2;
    char e1[64], e2[64];
    cr_assert_eq(mg_kv_rw_mem_connect(&rw1), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw1, "a.txt", "v1!!", 4), MG_OK);
    cr_assert_eq(etag_on(mg_kv_rw_ro(rw1), NULL, e1, sizeof e1), 200);
    mg_kv_rw_disconnect(rw1);
    /* boot 2, a new version of the image: other bytes, the same size */
    cr_assert_eq(mg_kv_rw_mem_connect(&rw2), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw2, "a.txt", "v2!!", 4), MG_OK);
    int status = etag_on(mg_kv_rw_ro(rw2), e1, e2, sizeof e2);
    mg_kv_rw_disconnect(rw2);
    cr_expect_eq(status, 200, "boot 1's tag %s matched boot 2's value (tag %s)", e1, e2);
    cr_expect_str_neq(e1, e2);
}

/* A one-file ustar archive of a.txt, mtime 0 as reproducible builds
 * write, in 4 blocks. */
static void one_file_tar(unsigned char *buf, const char *data)
{
    memset(buf, 0, 4 * 512);
    unsigned char *h = buf;
    memcpy(h, "a.txt", 5);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)strlen(data));
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    memcpy(buf + 512, data, strlen(data));
}

/* A rebuilt archive with the same layout and mtime but other bytes. */
Test(http_server, tar_etags_differ_for_a_rebuilt_archive)
{
    static unsigned char t1[4 * 512], t2[4 * 512];
    one_file_tar(t1, "v1!!");
    one_file_tar(t2, "v2!!");
    mg_block *b1, *b2;
    mg_kv_ro *k1, *k2;
    char e1[64], e2[64];
    cr_assert_eq(mg_ramdisk_connect(&b1, "t1", sizeof t1), MG_OK);
    cr_assert_eq(mg_block_write(b1, 0, t1, 4), MG_OK);
    cr_assert_eq(mg_tar_kv_ro_connect(&k1, b1), MG_OK);
    cr_assert_eq(etag_on(k1, NULL, e1, sizeof e1), 200);
    cr_assert_eq(mg_ramdisk_connect(&b2, "t2", sizeof t2), MG_OK);
    cr_assert_eq(mg_block_write(b2, 0, t2, 4), MG_OK);
    cr_assert_eq(mg_tar_kv_ro_connect(&k2, b2), MG_OK);
    int status = etag_on(k2, e1, e2, sizeof e2);
    mg_kv_ro_disconnect(k1);
    mg_kv_ro_disconnect(k2);
    mg_block_disconnect(b1);
    mg_block_disconnect(b2);
    cr_expect_eq(status, 200, "archive 1's tag %s matched the rebuilt archive (tag %s)", e1, e2);
    cr_expect_str_neq(e1, e2);
}
