/*
 * http_server.c - the http_server device (mg/http.h): connections of
 * mg/stack.h flows, each parsed by http_parse.c and answered from a
 * kv_ro, one response at a time and in order.
 *
 * A connection is in one of three phases:
 * - READ: parsing a request; the timer runs from the accept (the header
 *   timeout, 10 s by default, for the first request) or from the end of
 *   the previous response (the idle timeout, 30 s), and is not re-armed
 *   by arriving bytes, so a client that trickles a request in is closed
 *   all the same;
 * - WRITE: a response is being sent. Its head and body go out in chunks
 *   read from the store into the server's one scratch buffer: what the
 *   flow does not take is read again from the store when `writable`
 *   comes, so a stalled client costs no buffer. Reading is paused
 *   meanwhile, and bytes already received after the request (pipelined
 *   requests) wait in the connection's input buffer;
 * - LINGER: after an answer with `Connection: close`, the sending side is
 *   shut down and what the client still sends is read and dropped for a
 *   moment, so that unread bytes do not make the host reset the
 *   connection before the client has read the answer.
 *
 * No connection holds the loop for long: one callback answers at most
 * BATCH pipelined requests and hands the flow at most PUMP_MAX bytes;
 * what is left continues from the loop (mg_loop_defer), after the other
 * connections' turn. Nothing per request costs more than the request
 * itself: the ETag is the store's version of the value (mg_kv_ro_version),
 * which a store computes at most once per value (crunch and tar hash it
 * on first use, the direct stores stat the file), never per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "mg/http.h"
#include "mg/loop.h"
#include "mg/reporter.h"

#define IDLE_DEFAULT_NS (30ull * 1000000000ull)
#define HEADER_DEFAULT_NS (10ull * 1000000000ull)
#define LINGER_NS (2ull * 1000000000ull)
/* a connection past this many is refused: each holds about 2.5 KiB */
#define MAX_CONNECTIONS 4096
/* the chunk of a response handed to the flow at once */
#define CHUNK 16384
/* input held after a request whose answer is not out yet; a client that
 * sends more while paused is not reading its answers */
#define INPUT_MAX (256u * 1024u)
/* requests answered in one callback: the rest wait for the next turn */
#define BATCH 8
/* bytes handed to the flow in one callback, when it takes them all */
#define PUMP_MAX (16u * CHUNK)

enum phase { C_READ, C_WRITE, C_LINGER };

struct conn {
    struct mg_http *srv;
    struct conn *prev, *next; /* the server's list, for mg_http_disconnect */
    mg_flow *flow;
    mg_http_parser req;
    mg_loop_timer timer;
    mg_loop_timer later; /* the rest of the work, in a later turn */
    enum phase phase;
    bool peer_eof;    /* the client ended its stream */
    bool close_after; /* the response being sent is the last */
    bool paused;
    /* the response: its head (and the body of an error) still to send,
     * then the store's bytes [body_off, body_end) of req.path */
    char out[640];
    uint16_t out_len, out_off;
    uint64_t body_off, body_end;
    /* bytes received after the request being answered */
    uint8_t *in;
    size_t in_len;
};

struct mg_http {
    mg_tcp *tcp;
    uint16_t port;
    mg_tcp_listener *listener;
    mg_kv_ro *kv;
    uint64_t idle_ns, header_ns;
    mg_http_stats stats;
    struct conn *conns;
    uint8_t scratch[CHUNK];
};

static bool pump(struct conn *c);
static void on_later(void *arg);

/* ---- content types */

static const struct {
    const char *ext, *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"xml", "application/xml"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"ico", "image/vnd.microsoft.icon"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
};

/* The type of a key from its extension, compared without case. */
static const char *content_type(const char *key)
{
    const char *slash = strrchr(key, '/');
    const char *dot = strrchr(slash ? slash + 1 : key, '.');
    if (dot && dot[1]) {
        const char *ext = dot + 1;
        size_t n = strlen(ext);
        for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
            const char *e = content_types[i].ext;
            if (strlen(e) != n) continue;
            size_t j = 0;
            while (j < n && (ext[j] | 0x20) == e[j]) j++;
            if (j == n) return content_types[i].type;
        }
    }
    return "application/octet-stream";
}

/* ---- connections */

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    mg_loop_timer_stop(&c->timer);
    mg_loop_timer_stop(&c->later);
    c->srv->stats.open--;
    free(c->in);
    free(c);
}

/* Lets go of the flow and of the connection. */
static void conn_close(struct conn *c, bool abort)
{
    if (abort)
        mg_flow_abort(c->flow);
    else
        mg_flow_close(c->flow);
    conn_free(c);
}

static void on_timer(void *arg)
{
    struct conn *c = arg;
    /* idle or lingering: a clean close; a stalled response: a reset, its
     * bytes are lost anyway */
    conn_close(c, c->phase == C_WRITE);
}

static void arm(struct conn *c, uint64_t ns)
{
    if (mg_loop_timer_start(&c->timer, mg_loop_now() + ns, on_timer, c) != MG_OK)
        mg_loop_timer_stop(&c->timer); /* no memory for the heap: no timeout, nothing worse */
}

static void set_paused(struct conn *c, bool paused)
{
    if (c->paused == paused) return;
    c->paused = paused;
    if (paused)
        mg_flow_pause(c->flow);
    else
        mg_flow_resume(c->flow);
}

/* Continues the connection's work from the loop, in a later turn. */
static bool defer(struct conn *c)
{
    if (mg_loop_timer_armed(&c->later)) return true;
    if (mg_loop_defer(&c->later, on_later, c) == MG_OK) return true;
    /* no memory for the timer heap: nothing could resume this one */
    conn_close(c, true);
    return false;
}

/* The answer was the last one: shut the sending side and linger.
 * Returns false if the connection is gone. */
static bool begin_close(struct conn *c)
{
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    if (c->peer_eof) {
        conn_close(c, false);
        return false;
    }
    c->phase = C_LINGER;
    mg_flow_shutdown(c->flow);
    set_paused(c, false);
    arm(c, LINGER_NS);
    return true;
}

/* Keeps bytes that follow the request being answered. */
static bool keep_input(struct conn *c, const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX - c->in_len) return false;
    uint8_t *in = realloc(c->in, c->in_len + size);
    if (!in) return false;
    memcpy(in + c->in_len, data, size);
    c->in = in;
    c->in_len += size;
    return true;
}

/* ---- responses */

/* Whether an If-None-Match list names `etag` (weak comparison, as RFC
 * 9110 13.1.2 asks), or is "*". */
static bool etag_listed(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if (end - start == 1 && *start == '*') return true;
        if (end - start >= 2 && start[0] == 'W' && start[1] == '/') start += 2;
        if ((size_t)(end - start) == elen && !memcmp(start, etag, elen)) return true;
    }
    return false;
}

/* Writes the head of a response into c->out. */
static void put_head(struct conn *c, int status, const char *type, uint64_t length,
                     const char *etag, bool allow)
{
    size_t n = (size_t)snprintf(c->out, sizeof c->out, "HTTP/1.1 %d %s\r\nServer: mgd\r\n", status,
                                mg_http_reason(status));
    if (type) n += (size_t)snprintf(c->out + n, sizeof c->out - n, "Content-Type: %s\r\n", type);
    if (status != 304)
        n += (size_t)snprintf(c->out + n, sizeof c->out - n, "Content-Length: %llu\r\n",
                              (unsigned long long)length);
    if (etag) n += (size_t)snprintf(c->out + n, sizeof c->out - n, "ETag: %s\r\n", etag);
    if (allow) n += (size_t)snprintf(c->out + n, sizeof c->out - n, "Allow: GET, HEAD\r\n");
    if (c->close_after)
        n += (size_t)snprintf(c->out + n, sizeof c->out - n, "Connection: close\r\n");
    else if (c->req.minor == 0)
        n += (size_t)snprintf(c->out + n, sizeof c->out - n, "Connection: keep-alive\r\n");
    n += (size_t)snprintf(c->out + n, sizeof c->out - n, "\r\n");
    /* the longest head is under 300 bytes: the buffer always holds it */
    c->out_len = (uint16_t)(n < sizeof c->out ? n : sizeof c->out - 1);
    c->out_off = 0;
}

/* An answer of its own text: errors, 404, 405. */
static void put_error(struct conn *c, int status, bool head_only)
{
    char body[64];
    size_t len = (size_t)snprintf(body, sizeof body, "%d %s\n", status, mg_http_reason(status));
    put_head(c, status, "text/plain; charset=utf-8", len, NULL, status == 405);
    if (!head_only && c->out_len + len < sizeof c->out) {
        memcpy(c->out + c->out_len, body, len);
        c->out_len = (uint16_t)(c->out_len + len);
    }
}

/* A request that asks for a file: find it and write the head. */
static void put_file(struct conn *c)
{
    struct mg_http *s = c->srv;
    mg_http_parser *r = &c->req;
    bool head_only = r->method == MG_HTTP_HEAD;
    mg_kv_kind kind;
    int rc = mg_kv_ro_exists(s->kv, r->path, &kind);
    if (rc == MG_OK && kind == MG_KV_DICTIONARY) {
        /* a folder named without its final '/': its index */
        static const char index[] = "/index.html";
        if (r->path_len + sizeof index > sizeof r->path) {
            put_error(c, 404, head_only);
            return;
        }
        memcpy(r->path + r->path_len, index, sizeof index);
        r->path_len = (uint16_t)(r->path_len + sizeof index - 1);
        rc = mg_kv_ro_exists(s->kv, r->path, &kind);
    }
    /* the size and the store's version of the value, from one look-up:
     * the ETag costs nothing however large the value (mg/kv_ro.h) */
    uint64_t size = 0, version = 0;
    if (rc == MG_OK && kind == MG_KV_VALUE) rc = mg_kv_ro_version(s->kv, r->path, &size, &version);
    char etag[48];
    snprintf(etag, sizeof etag, "\"%llx-%016llx\"", (unsigned long long)size,
             (unsigned long long)version);
    if (rc != MG_OK || kind != MG_KV_VALUE) {
        /* not there, or a key the store refuses (MG_EINVAL): not found;
         * the store failing: a server error */
        bool missing = rc == MG_OK || rc == MG_ENOENT || rc == MG_EINVAL || rc == MG_EISDIR ||
                       rc == MG_ENOTDIR;
        put_error(c, missing ? 404 : 500, head_only);
        return;
    }
    if (r->has_if_none_match && etag_listed(r->if_none_match, etag)) {
        put_head(c, 304, NULL, 0, etag, false);
        return;
    }
    put_head(c, 200, content_type(r->path), size, etag, false);
    if (!head_only) c->body_end = size;
}

/* Starts answering the request the parser has just finished (DONE) or
 * refused (ERROR). Returns false if the connection is gone. */
static bool respond(struct conn *c, mg_http_parse_result r)
{
    mg_http_parser *req = &c->req;
    c->phase = C_WRITE;
    c->body_off = c->body_end = 0;
    c->close_after = r == MG_HTTP_PARSE_ERROR || !req->keep_alive;
    /* a refused HEAD gets no body either (RFC 9110 9.3.2): the parser
     * knows the method once the request line is read */
    bool head_only = req->method == MG_HTTP_HEAD;
    if (r == MG_HTTP_PARSE_ERROR || req->status)
        put_error(c, req->status, head_only);
    else
        put_file(c);
    c->srv->stats.requests++;
    return pump(c);
}

/* The response is out: on to the next request or to the end. */
static bool finished(struct conn *c)
{
    if (c->close_after) return begin_close(c);
    mg_http_parser_reset(&c->req);
    c->phase = C_READ;
    arm(c, c->srv->idle_ns);
    return true;
}

/* Sends what the flow takes of the response: head bytes first, in the
 * same write as the first body bytes. Returns false if the connection is
 * gone; the phase says whether the response is done (READ, LINGER) or
 * waits for `writable` or a later turn (WRITE). */
static bool pump(struct conn *c)
{
    struct mg_http *s = c->srv;
    for (size_t pumped = 0;; pumped += CHUNK) {
        if (pumped >= PUMP_MAX && (c->out_off < c->out_len || c->body_off < c->body_end)) {
            /* the flow takes all: let the others have a turn (and count
             * this as the client's progress) */
            arm(c, s->idle_ns);
            return defer(c);
        }
        size_t head = c->out_len - c->out_off, body = 0;
        memcpy(s->scratch, c->out + c->out_off, head);
        if (c->body_off < c->body_end) {
            uint64_t left = c->body_end - c->body_off;
            size_t want = CHUNK - head < left ? CHUNK - head : (size_t)left;
            int rc = mg_kv_ro_get_partial(s->kv, c->req.path, c->body_off, s->scratch + head, want,
                                          &body);
            if (rc != MG_OK || body < want) {
                /* the store failed, or the value shrank under the head
                 * already sent: nothing valid can follow */
                mg_log(NULL, MG_LOG_WARNING, "http", "cannot read %s: %s", c->req.path,
                       rc != MG_OK ? mg_strerror(rc) : "shorter than its size");
                conn_close(c, true);
                return false;
            }
        }
        if (head + body == 0) return finished(c);
        size_t taken = 0;
        int rc = mg_flow_write(c->flow, s->scratch, head + body, &taken);
        size_t from_head = taken < head ? taken : head;
        c->out_off = (uint16_t)(c->out_off + from_head);
        c->body_off += taken - from_head;
        if (rc == MG_EAGAIN) {
            if (taken) arm(c, s->idle_ns); /* progress: the client reads */
            return true;
        }
        if (rc != MG_OK) {
            conn_close(c, true);
            return false;
        }
    }
}

/* Parses and answers the requests in `data`, as many as *budget allows.
 * What follows a request whose answer waits for the client, or the
 * budget's last request, is kept, and reading paused; a later turn takes
 * it up if the budget ran out. Returns false if the connection is gone. */
static bool consume(struct conn *c, const uint8_t *data, size_t size, unsigned *budget)
{
    while (size > 0 && c->phase == C_READ && *budget > 0) {
        size_t used;
        mg_http_parse_result r = mg_http_parse(&c->req, data, size, &used);
        data += used;
        size -= used;
        if (r == MG_HTTP_PARSE_MORE) break;
        --*budget;
        if (!respond(c, r)) return false;
    }
    if (size > 0 && (c->phase == C_WRITE || c->phase == C_READ)) {
        if (!keep_input(c, data, size)) {
            conn_close(c, true);
            return false;
        }
    }
    if (c->phase == C_WRITE) set_paused(c, true);
    if (c->phase == C_READ && c->in_len) {
        set_paused(c, true);
        return defer(c);
    }
    return true;
}

/* After a response: the requests that were waiting (a budget's worth),
 * then reading again. */
static void drain(struct conn *c)
{
    unsigned budget = BATCH;
    while (c->phase == C_READ && c->in_len && budget > 0) {
        /* detached, since consume may keep a new tail */
        uint8_t *in = c->in;
        size_t len = c->in_len;
        c->in = NULL;
        c->in_len = 0;
        bool alive = consume(c, in, len, &budget);
        free(in);
        if (!alive) return;
    }
    if (c->phase != C_READ || c->in_len) return; /* consume deferred the rest */
    if (c->peer_eof) {
        conn_close(c, false);
        return;
    }
    set_paused(c, false);
}

/* The work a callback left: the rest of a response, then of the
 * pipelined requests. */
static void on_later(void *arg)
{
    struct conn *c = arg;
    if (c->phase == C_WRITE && !pump(c)) return;
    if (c->phase == C_READ) drain(c);
}

static void on_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    (void)f;
    struct conn *c = arg;
    if (size == 0) {
        c->peer_eof = true;
        /* while answering, or with requests still to answer, the
         * answers still go out (the client may only have shut its
         * sending side); otherwise nothing more can come, and a request
         * begun is never finished */
        if (c->phase != C_WRITE && !(c->phase == C_READ && c->in_len)) conn_close(c, false);
        return;
    }
    if (c->phase == C_LINGER) return;
    if (c->phase == C_WRITE || c->in_len) {
        /* arrived before the pause took effect */
        if (!keep_input(c, data, size)) conn_close(c, true);
        return;
    }
    unsigned budget = BATCH;
    consume(c, data, size, &budget);
}

static void on_writable(void *arg, mg_flow *f)
{
    (void)f;
    struct conn *c = arg;
    if (c->phase != C_WRITE) return;
    if (!pump(c)) return;
    drain(c);
}

static void on_closed(void *arg, mg_flow *f, int status)
{
    (void)f;
    (void)status;
    conn_free(arg);
}

static const mg_flow_callbacks callbacks = {on_recv, on_writable, on_closed};

static void on_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)l;
    struct mg_http *s = arg;
    struct conn *c = NULL;
    if (s->stats.open < MAX_CONNECTIONS) c = calloc(1, sizeof *c);
    if (!c) {
        s->stats.refused++;
        mg_flow_abort(f);
        return;
    }
    c->srv = s;
    c->flow = f;
    c->next = s->conns;
    if (c->next) c->next->prev = c;
    s->conns = c;
    mg_http_parser_init(&c->req);
    s->stats.connections++;
    s->stats.open++;
    mg_flow_set_callbacks(f, &callbacks, c);
    /* the first request within the header timeout (the shorter of the
     * two, should the idle timeout have been set below it) */
    arm(c, s->header_ns < s->idle_ns ? s->header_ns : s->idle_ns);
}

/* ---- the device */

int mg_http_server_connect(mg_http **out, mg_stackv4v6 *stack, int64_t port)
{
    if (!out || !stack) return MG_EINVAL;
    if (port < 1 || port > 65535) {
        mg_printf("http_server: port %lld is not between 1 and 65535\n", (long long)port);
        return MG_EINVAL;
    }
    struct mg_http *s = calloc(1, sizeof *s);
    if (!s) return MG_ENOMEM;
    s->tcp = mg_stackv4v6_tcp(stack);
    s->port = (uint16_t)port;
    s->idle_ns = IDLE_DEFAULT_NS;
    s->header_ns = HEADER_DEFAULT_NS;
    *out = s;
    return MG_OK;
}

int mg_http_serve_kv(mg_http *h, mg_kv_ro *kv)
{
    if (!h || !kv) return MG_EINVAL;
    if (h->listener) return MG_EEXIST;
    h->kv = kv;
    int rc = mg_tcp_listen(h->tcp, h->port, on_accept, h, &h->listener);
    if (rc != MG_OK) {
        h->listener = NULL;
        mg_printf("http_server: cannot listen on port %u: %s\n", h->port, mg_strerror(rc));
        return rc;
    }
    mg_log(NULL, MG_LOG_INFO, "http", "listening on port %u", h->port);
    return MG_OK;
}

void mg_http_disconnect(mg_http *h)
{
    if (!h) return;
    mg_tcp_unlisten(h->listener);
    while (h->conns) conn_close(h->conns, true);
    free(h);
}

uint16_t mg_http_port(const mg_http *h)
{
    return h->port;
}

void mg_http_set_idle_timeout(mg_http *h, uint64_t ns)
{
    h->idle_ns = ns ? ns : IDLE_DEFAULT_NS;
}

void mg_http_set_header_timeout(mg_http *h, uint64_t ns)
{
    h->header_ns = ns ? ns : HEADER_DEFAULT_NS;
}

mg_http_stats mg_http_get_stats(const mg_http *h)
{
    return h->stats;
}
