/*
 * server.c - libmicrohttpd set-up, the route table, the request life cycle
 * (see internal.h) and the reply helpers handlers use.
 *
 * Before a request reaches its handler, the life cycle guards the daemon
 * against clients that would hold it up or mislead it:
 *   - the head: every request's line and headers must arrive within
 *     header_timeout_s of the connection's start, or of the request's
 *     first byte on a kept-alive connection (the reaper thread, 408),
 *     however slowly they trickle in; its bytes and the body's framing
 *     are checked (check_head: 400 for a NUL or control byte, conflicting
 *     lengths, Content-Length with Transfer-Encoding; 501 for a coding
 *     other than chunked);
 *   - the body: a body the request will use must arrive within
 *     body_timeout_s of the head's end (408); one that is only read to be
 *     dropped (the answer is known already: a 401 before the body) counts
 *     as part of the head, and its time is the head's;
 *   - connections: near max_connections, those that have waited longest
 *     for a request, or are dropping a body, are closed to make room for
 *     new ones (make_room);
 *   - bodies: at most max_body each and max_body_total all together are
 *     held in memory (503 past the total); bodies that will not be used
 *     are read and dropped, never kept (DISCARD_EXTRA).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/internal.h"
#include "base/deadline.h"
#include "api/workpool.h"

#ifndef MGD_VERSION
#define MGD_VERSION "0.0.0"
#endif

/* Scopes as docs/api.md has them: GET /health, GET /openapi.json and the
 * dashboard are open, reading needs read, changing state needs write,
 * tokens and deleting projects need admin. POST .../check changes nothing, so read is enough. */
#define R_ MG_SCOPE_READ
#define W_ MG_SCOPE_WRITE
#define A_ MG_SCOPE_ADMIN
/* pull workers' routes: worker or admin tokens (docs/workers.md) */
#define K_ MG_SCOPE_WORKER
/* any valid token, worker tokens included */
#define T_ MG_SCOPE_ANY

static const mg_route routes[] = {
    {MG_HTTP_GET, "/", 0, mg_h_root, 0},
    {MG_HTTP_GET, "/ui/*", 0, mg_h_ui, 0},
    {MG_HTTP_GET, "/health", 0, mg_h_health, 0},
    {MG_HTTP_GET, "/openapi.json", 0, mg_h_openapi, 0},
    {MG_HTTP_GET, "/metrics", R_, mg_h_metrics, 0},
    {MG_HTTP_GET, "/targets", R_, mg_h_targets, 0},
    {MG_HTTP_GET, "/devices", R_, mg_h_devices, 0},
    {MG_HTTP_GET, "/schema/config.json", R_, mg_h_schema, 0},
    {MG_HTTP_POST, "/projects", W_, mg_h_projects_create, 0},
    {MG_HTTP_GET, "/projects", R_, mg_h_projects_list, 0},
    {MG_HTTP_GET, "/projects/:id", R_, mg_h_project_show, 0},
    {MG_HTTP_PATCH, "/projects/:id", W_, mg_h_project_patch, 0},
    {MG_HTTP_DELETE, "/projects/:id", A_, mg_h_project_delete, 0},
    {MG_HTTP_PUT, "/projects/:id/config", W_, mg_h_config_put, 0},
    {MG_HTTP_GET, "/projects/:id/config", R_, mg_h_config_get, 0},
    {MG_HTTP_GET, "/projects/:id/config/versions", R_, mg_h_config_versions, 0},
    {MG_HTTP_POST, "/projects/:id/check", R_, mg_h_check, 0},
    {MG_HTTP_GET, "/projects/:id/graph", R_, mg_h_graph, 0},
    {MG_HTTP_POST, "/projects/:id/build", W_, mg_h_build_start, 0},
    {MG_HTTP_GET, "/projects/:id/builds", R_, mg_h_project_builds, 0},
    {MG_HTTP_GET, "/projects/:id/builds/latest", R_, mg_h_project_builds_latest, 0},
    {MG_HTTP_GET, "/builds", R_, mg_h_builds_list, 0},
    {MG_HTTP_GET, "/builds/:id", R_, mg_h_build_show, 0},
    {MG_HTTP_GET, "/builds/:id/log", R_, mg_h_build_log, 0},
    {MG_HTTP_GET, "/builds/:id/image", R_, mg_h_build_image, 0},
    {MG_HTTP_GET, "/builds/:id/describe", R_, mg_h_build_describe, 0},
    {MG_HTTP_GET, "/builds/:id/sizes", R_, mg_h_build_sizes, 0},
    {MG_HTTP_POST, "/builds/:id/cancel", W_, mg_h_build_cancel, 0},
    {MG_HTTP_POST, "/builds/:id/rebuild", W_, mg_h_build_rebuild, 0},
    {MG_HTTP_POST, "/builds/:id/pin", W_, mg_h_build_pin, 0},
    {MG_HTTP_DELETE, "/builds/:id/pin", W_, mg_h_build_pin, 0},
    {MG_HTTP_GET, "/events", R_, mg_h_events, 0},
    {MG_HTTP_GET, "/hash", R_, mg_h_hash, 0},
    {MG_HTTP_POST, "/tokens", A_, mg_h_tokens_create, 0},
    {MG_HTTP_GET, "/tokens", A_, mg_h_tokens_list, 0},
    {MG_HTTP_DELETE, "/tokens/:id", A_, mg_h_tokens_delete, 0},
    {MG_HTTP_GET, "/whoami", T_, mg_h_whoami, 0},
    {MG_HTTP_POST, "/gc", A_, mg_h_gc, 0},
    {MG_HTTP_GET, "/workers", R_, mg_h_workers_list, 0},
    {MG_HTTP_POST, "/workers/claim", K_, mg_h_worker_claim, 0},
    {MG_HTTP_GET, "/workers/builds/:id/sources", K_, mg_h_worker_sources, 0},
    {MG_HTTP_POST, "/workers/builds/:id/log", K_, mg_h_worker_log, MG_WORKER_MAX_LOG_POST},
    {MG_HTTP_POST, "/workers/builds/:id/heartbeat", K_, mg_h_worker_heartbeat, 0},
    {MG_HTTP_PUT, "/workers/builds/:id/image", K_, mg_h_worker_image, MG_WORKER_MAX_IMAGE},
    {MG_HTTP_POST, "/workers/builds/:id/finish", K_, mg_h_worker_finish, 0},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* ---- replies ------------------------------------------------------------ */

const char *mg_req_param(const mg_req *r, size_t i)
{
    return i < r->match.n_params ? r->match.params[i] : "";
}

const char *mg_req_header(const mg_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void mg_reply(mg_req *r, unsigned status, const char *ctype)
{
    if (r->replied) return;
    r->replied = true;
    r->status = status;
    r->content_type = ctype;
}

void mg_reply_json(mg_req *r, unsigned status)
{
    mg_reply(r, status, "application/json");
}

void mg_reply_text(mg_req *r, unsigned status, const char *ctype, const char *text, size_t len)
{
    if (r->replied) return;
    mg_buf_clear(&r->out);
    mg_buf_add(&r->out, text, len);
    mg_reply(r, status, ctype);
}

void mg_reply_custom(mg_req *r, unsigned status, struct MHD_Response *resp)
{
    if (r->replied) {
        MHD_destroy_response(resp);
        return;
    }
    r->custom = resp;
    mg_reply(r, status, NULL);
}

static void reply_error_details(mg_req *r, unsigned status, const char *code, const char *msg,
                                const mg_errors *details)
{
    if (r->replied) return;
    mg_buf_clear(&r->out);
    mg_view_error_code(&r->out, code ? code : mg_error_code_for(status), msg, details);
    if (status == 401) mg_reply_header(r, "WWW-Authenticate", "Bearer realm=\"mgd\"");
    mg_reply_json(r, status);
}

static void reply_error_v(mg_req *r, unsigned status, const char *code, const char *fmt, va_list ap)
{
    if (r->replied) return;
    char msg[MG_ERR_SIZE]; /* an mg_err's message fits whole */
    vsnprintf(msg, sizeof msg, fmt, ap);
    reply_error_details(r, status, code, msg, NULL);
}

void mg_reply_error(mg_req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, status, NULL, fmt, ap);
    va_end(ap);
}

void mg_reply_error_code(mg_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, status, code, fmt, ap);
    va_end(ap);
}

void mg_reply_config_errors(mg_req *r, const mg_errors *errs)
{
    char msg[MG_ERR_SIZE];
    if (errs->len == 1)
        snprintf(msg, sizeof msg, "the config has an error: %s: %s",
                 errs->items[0].path[0] ? errs->items[0].path : "(document)",
                 errs->items[0].message);
    else
        snprintf(msg, sizeof msg, "the config has %zu errors; the first: %s: %s", errs->len,
                 errs->len && errs->items[0].path[0] ? errs->items[0].path : "(document)",
                 errs->len ? errs->items[0].message : "");
    reply_error_details(r, 422, NULL, msg, errs);
}

void mg_reply_err(mg_req *r, const mg_err *e)
{
    mg_reply_error(r, mg_http_status_of_err(e), "%s", e->msg);
}

void mg_reply_header(mg_req *r, const char *name, const char *fmt, ...)
{
    if (r->n_headers == MG_REQ_MAX_HEADERS) return;
    size_t mark = r->headers.len;
    mg_buf_add(&r->headers, name, strlen(name) + 1);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !mg_buf_reserve(&r->headers, (size_t)n + 1)) {
        r->headers.len = mark; /* the header is dropped, not half written */
        return;
    }
    va_start(ap, fmt);
    vsnprintf(r->headers.data + r->headers.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->headers.len += (size_t)n + 1;
    r->n_headers++;
}

bool mg_req_json(mg_req *r, const mg_field *fields, size_t n, bool required, cJSON **out)
{
    mg_err e;
    *out = NULL;
    if (mg_json_parse_body(r->body ? r->body : "", r->body_len, out, &e) != 0) {
        mg_reply_err(r, &e);
        return false;
    }
    if (!*out) {
        if (!required) return true;
        mg_reply_error(r, 400, "this request needs a JSON object as its body");
        return false;
    }
    if (mg_json_check_fields(*out, fields, n, "", &e) != 0) {
        cJSON_Delete(*out);
        *out = NULL;
        mg_reply_err(r, &e);
        return false;
    }
    return true;
}

bool mg_req_page(mg_req *r, mg_page *p)
{
    mg_err e;
    if (mg_page_parse(&r->query, p, &e) == 0) return true;
    mg_reply_err(r, &e);
    return false;
}

void mg_reply_list_headers(mg_req *r, const mg_page *p, int64_t total)
{
    mg_buf path = {0}, link = {0};
    /* The request's path, re-encoded segment by segment. */
    for (size_t i = 0; i < r->match.n_segments; i++) {
        mg_buf_addc(&path, '/');
        mg_buf_add_urlenc(&path, r->match.segments[i]);
    }
    if (!path.len) mg_buf_addc(&path, '/');
    mg_page_link(&link, path.failed ? "/" : path.data, &r->query, p, total);
    if (!link.failed && link.data) mg_reply_header(r, "Link", "%s", link.data);
    mg_reply_header(r, "X-Total-Count", "%lld", (long long)total);
    mg_buf_free(&path);
    mg_buf_free(&link);
}

bool mg_req_project(mg_req *r, const char *ref, mg_project *p)
{
    mg_service_err e = {0};
    bool found = mg_service_project_find(r->api->o.service, ref, p, &e) == 0;
    if (!found) mg_reply_service_err(r, &e);
    mg_service_err_free(&e);
    return found;
}

bool mg_req_build(mg_req *r, const char *ref, bool with_describe, mg_stored_build *b)
{
    mg_err e;
    int64_t id;
    memset(b, 0, sizeof *b);
    int rc = mg_parse_id(ref, &id) ? mg_store_build_get(r->api->o.store, id, with_describe, b, &e)
                                   : mg_err_set(&e, MG_E_NOT_FOUND, "not a build id");
    if (rc == 0) return true;
    if (e.code == MG_E_NOT_FOUND)
        mg_reply_error(r, 404, "no build %.40s", ref);
    else
        mg_reply_err(r, &e);
    return false;
}

bool mg_req_build_id(mg_req *r, int64_t *id)
{
    if (mg_parse_id(mg_req_param(r, 0), id)) return true;
    mg_reply_error(r, 404, "no build %.40s", mg_req_param(r, 0));
    return false;
}

bool mg_build_json(mg_api *a, mg_jw *w, const mg_stored_build *b, mg_err *e)
{
    mg_build_siblings sib = {0};
    mg_build_extra x = {0};
    mg_queue_progress progress;
    if (b->status == MG_STORED_SUCCEEDED && b->input_hash) {
        if (mg_store_build_siblings(a->o.store, b, &sib, e) != 0) return false;
        x.siblings = &sib;
    } else if (b->status == MG_STORED_QUEUED) {
        if (mg_store_build_queue_position(a->o.store, b->id, &x.queue_position, e) != 0)
            return false;
        /* it left the queue since it was read: no place to show */
        if (x.queue_position < 1) x.queue_position = 0;
    } else if (b->status == MG_STORED_RUNNING &&
               mg_queue_progress_get(a->o.queue, b->id, &progress)) {
        x.progress = &progress;
    }
    /* the logs table has a size once the build ended; before that (and
     * for builds a crash interrupted) the file says how far it got */
    mg_stored_build shown = *b;
    if (shown.log_size == 0 && shown.status != MG_STORED_QUEUED) {
        char *path = mg_queue_log_path(a->o.queue, b->id);
        struct stat st;
        if (path && stat(path, &st) == 0) shown.log_size = (int64_t)st.st_size;
        free(path);
    }
    mg_view_build(w, &shown, &x);
    if (x.progress) mg_queue_progress_free(&progress);
    mg_build_siblings_free(&sib);
    return true;
}

bool mg_write_build(mg_req *r, mg_jw *w, const mg_stored_build *b)
{
    mg_err e;
    if (mg_build_json(r->api, w, b, &e)) return true;
    mg_reply_err(r, &e);
    return false;
}

/* ---- the server's own state --------------------------------------------- */

/* What a connection is doing, as far as the head deadline and the
 * connection limit care. */
typedef enum conn_phase {
    CONN_HEAD,  /* waiting for a request's line and headers, or the rest of them */
    CONN_DRAIN, /* answered already, reading its body only to drop it */
    CONN_BODY,  /* receiving a body the request will use */
    CONN_BUSY,  /* a request is being handled, answered or streamed */
    CONN_IDLE,  /* between requests, with nothing received since the last one */
} conn_phase;

#define RX_UNKNOWN UINT64_MAX

/* One open connection (libmicrohttpd's socket context), from
 * MHD_CONNECTION_NOTIFY_STARTED to MHD_CONNECTION_NOTIFY_CLOSED. */
typedef struct mg_conn {
    int fd;
    conn_phase phase;
    bool closing;      /* shut down by the reaper; libmicrohttpd closes it next */
    uint64_t since_ms; /* HEAD, DRAIN: when the head began; BODY: when it ended; IDLE: when
                          the last request ended */
    uint64_t rx_idle;  /* bytes received (TCP_INFO) when it went idle, or RX_UNKNOWN */
    struct mg_conn *prev, *next;
} mg_conn;

/* The mg_api handed out is the first member of this; handlers see only
 * the mg_api (internal.h), the rest is the life cycle's. */
typedef struct server {
    mg_api api;
    /* connections, under `lock`: kept by the notify callback, watched by
     * the reaper thread */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t reaper;
    bool reaper_running, stopping;
    mg_conn *conns;
    unsigned n_conns, n_closing;
    unsigned crowded; /* more live connections than this: make room */
    uint64_t header_timeout_ms, body_timeout_ms;
    char late[512], slow_body[512], full[512]; /* the 408s and the 503 the reaper sends */
    size_t late_len, slow_body_len, full_len;
    /* request bodies held in memory, all requests together */
    atomic_uint_least64_t body_held;
    uint64_t body_budget;
    /* bodies of routes whose limit passes max_body (a pull worker's image
     * upload), held apart: one upload at the limit at a time, never
     * eating the budget of the other requests */
    atomic_uint_least64_t upload_held;
    uint64_t upload_budget;
    bool raw_head; /* the head can be checked byte by byte (check_head) */
} server;

/* An mg_req with what only the life cycle uses. */
typedef struct req {
    mg_req r; /* first: handlers get &q->r */
    mg_conn *c;
    size_t uri_len;    /* the URI's length as on_uri saw it; SIZE_MAX: unknown */
    uint64_t length;   /* Content-Length; 0 without one */
    bool chunked;      /* Transfer-Encoding: chunked */
    uint64_t reserved; /* body bytes counted in body_held (upload_held when `upload`) */
    bool upload;       /* the route's limit passes max_body */
    bool over_budget;  /* the body did not fit the budget: read, dropped, then 503 */
} req;

static server *srv(mg_api *a)
{
    return (server *)a;
}

/* The body limit of request r: its route's, else the API's. */
static size_t req_limit(const mg_req *r)
{
    return r->max_body ? r->max_body : r->api->o.max_body;
}

/* ---- the body budget ---------------------------------------------------- */

/* Counts the request as holding `total` body bytes; false (and nothing
 * counted) when that would pass the budget. */
static bool body_reserve(server *s, req *q, uint64_t total)
{
    if (total <= q->reserved) return true;
    uint64_t more = total - q->reserved;
    atomic_uint_least64_t *counter = q->upload ? &s->upload_held : &s->body_held;
    uint64_t budget = q->upload ? s->upload_budget : s->body_budget;
    uint_least64_t held = atomic_load(counter);
    do {
        if (held + more > budget || held + more < held) return false;
    } while (!atomic_compare_exchange_weak(counter, &held, held + more));
    q->reserved = total;
    return true;
}

static void body_release(server *s, req *q)
{
    if (q->reserved) atomic_fetch_sub(q->upload ? &s->upload_held : &s->body_held, q->reserved);
    q->reserved = 0;
}

/* The body is not going to be used: its memory goes now, the rest of it
 * is counted as it comes. */
static void body_drop(server *s, req *q)
{
    free(q->r.body);
    q->r.body = NULL;
    q->r.body_cap = 0;
    body_release(s, q);
}

/* ---- connections: the head deadline and the limit ----------------------- */

/* Bytes the kernel has received on the socket, or RX_UNKNOWN. */
static uint64_t rx_bytes(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return RX_UNKNOWN;
    return ti.tcpi_bytes_received;
}

static mg_conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Closes a connection from the reaper, under the lock: the optional
 * answer, then shutdown(), so that libmicrohttpd reads the end of the
 * stream and closes the socket itself (its descriptor stays its own until
 * MHD_CONNECTION_NOTIFY_CLOSED, which waits for the lock we hold). The
 * answer goes only to a connection still waiting for its head, where
 * libmicrohttpd writes nothing. */
static void close_conn(server *s, mg_conn *c, const char *answer, size_t len)
{
    if (c->fd < 0) return; /* unknown: left to the idle timeout */
    if (answer) (void)!send(c->fd, answer, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(c->fd, SHUT_RDWR);
    c->closing = true;
    s->n_closing++;
}

static int by_since(const void *x, const void *y)
{
    const mg_conn *a = *(mg_conn *const *)x, *b = *(mg_conn *const *)y;
    return a->since_ms < b->since_ms ? -1 : a->since_ms > b->since_ms;
}

/* Near the limit: closes the connections that have waited longest for a
 * request (their head, or the next request after one), until `crowded`
 * are left. Connections in the middle of a request or a stream stay. */
static void make_room(server *s)
{
    unsigned live = s->n_conns - s->n_closing;
    if (live <= s->crowded) return;
    mg_conn **waiting = malloc(live * sizeof *waiting);
    if (!waiting) return;
    size_t n = 0;
    for (mg_conn *c = s->conns; c; c = c->next)
        if (!c->closing && c->phase != CONN_BUSY && c->phase != CONN_BODY && n < live)
            waiting[n++] = c;
    qsort(waiting, n, sizeof *waiting, by_since);
    for (size_t i = 0; i < n && s->n_conns - s->n_closing > s->crowded; i++) {
        mg_conn *c = waiting[i];
        if (c->phase == CONN_HEAD)
            close_conn(s, c, s->full, s->full_len);
        else
            close_conn(s, c, NULL, 0);
    }
    free(waiting);
}

#define REAPER_TICK_MS 250

/* The reaper: every tick (and whenever a new connection crowds the
 * limit), closes connections whose head is overdue and makes room. A
 * deadline of our own, because libmicrohttpd's timeout counts from the
 * last byte received (0.9.75 resets it on every read): a head sent a byte
 * a second would never time out. */
static void *reaper(void *arg)
{
    server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        uint64_t now = mg_now_ms();
        for (mg_conn *c = s->conns; c; c = c->next) {
            if (c->closing) continue;
            /* an idle connection that received something has begun its
             * next head (known to within a tick) */
            if (c->phase == CONN_IDLE && c->rx_idle != RX_UNKNOWN &&
                rx_bytes(c->fd) != c->rx_idle) {
                c->phase = CONN_HEAD;
                c->since_ms = now;
            }
            if ((c->phase == CONN_HEAD || c->phase == CONN_DRAIN) &&
                now - c->since_ms >= s->header_timeout_ms)
                close_conn(s, c, s->late, s->late_len);
            else if (c->phase == CONN_BODY && now - c->since_ms >= s->body_timeout_ms)
                close_conn(s, c, s->slow_body, s->slow_body_len);
        }
        make_room(s);
        struct timespec until = mg_abstime_in(CLOCK_MONOTONIC, REAPER_TICK_MS);
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        /* without memory for it, a connection goes unwatched: the idle
         * timeout still ends it */
        mg_conn *c = calloc(1, sizeof *c);
        if (!c) return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        c->phase = CONN_HEAD;
        c->since_ms = mg_now_ms();
        c->rx_idle = RX_UNKNOWN;
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        if (s->n_conns - s->n_closing > s->crowded) pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        *socket_context = c;
        return;
    }
    mg_conn *c = *socket_context;
    if (!c) return;
    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n_conns--;
    if (c->closing) s->n_closing--;
    pthread_mutex_unlock(&s->lock);
    free(c);
    *socket_context = NULL;
}

/* The head, or the body after it, is complete: the request is being
 * handled. false when the reaper closed the connection already. */
static bool conn_busy(server *s, mg_conn *c)
{
    if (!c) return true;
    pthread_mutex_lock(&s->lock);
    bool closing = c->closing;
    c->phase = CONN_BUSY;
    pthread_mutex_unlock(&s->lock);
    return !closing;
}

/* The head's end: its body (if any) comes next, to be used or dropped. */
static void conn_body(server *s, mg_conn *c, bool dropped)
{
    if (!c) return;
    pthread_mutex_lock(&s->lock);
    c->phase = dropped ? CONN_DRAIN : CONN_BODY;
    if (!dropped) c->since_ms = mg_now_ms();
    pthread_mutex_unlock(&s->lock);
}

static void conn_idle(server *s, mg_conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&s->lock);
    c->phase = CONN_IDLE;
    c->since_ms = mg_now_ms();
    c->rx_idle = rx_bytes(c->fd);
    pthread_mutex_unlock(&s->lock);
}

/* An answer the reaper writes itself, whole. */
static size_t canned(char *buf, size_t size, unsigned status, const char *reason, const char *extra,
                     const char *message)
{
    mg_buf body = {0};
    mg_view_error(&body, status, message, NULL);
    int n = snprintf(buf, size,
                     "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n%s\r\n%s",
                     status, reason, body.failed ? 0 : body.len, extra,
                     body.failed || !body.data ? "" : body.data);
    mg_buf_free(&body);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* ---- the request's head ------------------------------------------------- */

/* RFC 9110 5.6.2: the bytes of a header name. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Whether [from, to) is `min` to `max` bytes, all NUL: the end of a line
 * (CRLF or LF) once libmicrohttpd has written NULs over it. */
static bool nuls(const char *from, const char *to, size_t min, size_t max)
{
    uintptr_t f = (uintptr_t)from, t = (uintptr_t)to;
    if (t < f || t - f < min || t - f > max) return false;
    for (const char *p = from; p < to; p++)
        if (*p) return false;
    return true;
}

typedef struct head_check {
    bool raw;         /* check the layout of the head's bytes too */
    const char *next; /* raw: where the previous line's text ended */
    const char *end;  /* raw: the end of the head */
    unsigned status;  /* the first problem's answer; 0: none */
    mg_err why;       /* and what it is */
    unsigned n_length, n_coding;
    uint64_t length; /* the first Content-Length */
    bool lengths_differ;
    const char *coding; /* the first Transfer-Encoding */
} head_check;

static enum MHD_Result head_problem(head_check *h, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result head_problem(head_check *h, unsigned status, const char *fmt, ...)
{
    if (h->status) return MHD_NO;
    h->status = status;
    va_list ap;
    va_start(ap, fmt);
    mg_err_vset(&h->why, MG_E_INVALID, fmt, ap);
    va_end(ap);
    return MHD_NO;
}

static bool name_is(const char *key, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(key, name, n) == 0;
}

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    head_check *h = cls;
    (void)kind;
    if (!key_size) return head_problem(h, 400, "a header has no name");
    for (size_t i = 0; i < key_size; i++)
        if (!is_tchar((unsigned char)key[i]))
            return head_problem(h, 400, "a header name has the byte 0x%02x", (unsigned char)key[i]);
    for (size_t i = 0; i < value_size; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return head_problem(h, 400, "the %.*s header has a control byte (0x%02x)",
                                (int)(key_size < 64 ? key_size : 64), key, ch);
    }
    if (h->raw) {
        /* libmicrohttpd 0.9.75 parses the head where it read it: each
         * header line starts right after the previous line's end (CRLF or
         * LF, NULs now), the name ends at the colon (a NUL now) and the
         * value follows after blanks. A NUL the client put in a value ends
         * the value early, hiding what follows from every check, and shows
         * here as bytes between the value's end and the next line. A
         * folded line (obs-fold) is moved elsewhere: refused too, as RFC
         * 9112 5.2 allows. */
        bool ok = nuls(h->next, key, 1, 2) && key[key_size] == 0 &&
                  (uintptr_t)value > (uintptr_t)(key + key_size) &&
                  (uintptr_t)(value + value_size) < (uintptr_t)h->end;
        for (const char *p = key + key_size + 1; ok && p < value; p++) ok = *p == ' ' || *p == '\t';
        if (!ok)
            return head_problem(h, 400,
                                "the request's head has a NUL byte (near the %.*s header) or "
                                "a folded line",
                                (int)(key_size < 64 ? key_size : 64), key);
        h->next = value + value_size;
    }
    if (name_is(key, key_size, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        uint64_t n = 0;
        /* libmicrohttpd checked the first Content-Length, not the others */
        bool ok = mg_parse_u64n(value, value_size, &n);
        if (h->n_length++ == 0)
            h->length = n;
        else if (!ok || n != h->length)
            h->lengths_differ = true;
    }
    if (name_is(key, key_size, MHD_HTTP_HEADER_TRANSFER_ENCODING) && h->n_coding++ == 0)
        h->coding = value;
    return MHD_YES;
}

/* The request line, raw: the method, blanks (the first a NUL now), the
 * URI as on_uri measured it, a NUL (a blank before), the version. Leaves
 * h->next at the end of the version. */
static bool request_line_ok(head_check *h, const char *method, const char *url, const char *version,
                            size_t uri_len)
{
    const char *p = method + strlen(method);
    if ((uintptr_t)p >= (uintptr_t)url) return false;
    for (p++; p < url; p++)
        if (*p != ' ') return false;
    if (uri_len != SIZE_MAX && url + uri_len + 1 != version) return false;
    h->next = version + strlen(version);
    return (uintptr_t)h->next < (uintptr_t)h->end;
}

/*
 * The head's bytes and the body's framing, before anything else looks at
 * the request: 0 when it may be read on, else the status of the answer
 * (with h->why), sent at once on a connection then closed, since where
 * its body ends is in doubt:
 *   - 400: a control byte (but tab) in a header value, a NUL anywhere in
 *     the head, a header name that is no token, Content-Length given
 *     twice with different values, Content-Length and Transfer-Encoding
 *     together (RFC 9112 6.1: the request smuggler's favourite);
 *   - 501: a Transfer-Encoding other than "chunked", the only coding
 *     libmicrohttpd reads (for any other it would read until the client
 *     closes: the request would hang).
 * A Content-Length libmicrohttpd cannot read (not digits, more than 2^64
 * - 1) never gets here: libmicrohttpd answers it (400, 413) itself.
 */
static unsigned check_head(server *s, req *q, const char *method, const char *url,
                           const char *version, head_check *h)
{
    memset(h, 0, sizeof *h);
    h->raw = s->raw_head;
    if (h->raw) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(q->r.conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        h->end = ci ? method + ci->header_size : NULL;
        if (!h->end || !request_line_ok(h, method, url, version, q->uri_len)) {
            head_problem(h, 400, "the request line has a NUL byte");
            return h->status;
        }
    }
    MHD_get_connection_values_n(q->r.conn, MHD_HEADER_KIND, check_header, h);
    if (h->status) return h->status;
    /* after the last header: its line's end and the empty line's */
    if (h->raw && !nuls(h->next, h->end, 2, 4))
        head_problem(h, 400, "the request's head has a NUL byte (in its last line)");
    else if (h->lengths_differ)
        head_problem(h, 400, "Content-Length is given more than once, with different values");
    else if (h->n_length && h->n_coding)
        head_problem(h, 400, "a request may not have both Content-Length and Transfer-Encoding");
    else if (h->n_coding > 1)
        head_problem(h, 501,
                     "Transfer-Encoding is given %u times; the only transfer coding "
                     "taken is chunked, once",
                     h->n_coding);
    else if (h->n_coding && strcasecmp(h->coding, "chunked") != 0)
        head_problem(h, 501, "the only transfer coding taken is chunked, not \"%.100s\"",
                     h->coding);
    return h->status;
}

/* ---- the request life cycle --------------------------------------------- */

static mg_req *new_request(mg_api *a, struct MHD_Connection *conn);

/* The fallback when on_uri could not take the query: libmicrohttpd's
 * arguments, raw ('+' already a space, %XX left to us). */
static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    mg_req *r = cls;
    (void)kind;
    if (r->query_result != MG_QUERY_OK) return MHD_NO;
    r->query_result = mg_query_add_raw(&r->query, key ? key : "", value, false);
    return r->query_result == MG_QUERY_OK ? MHD_YES : MHD_NO;
}

/* Whether the request has a body, and its declared length (0 for a
 * chunked one). check_head has vouched for the framing. */
static bool has_body(const req *q, uint64_t *declared)
{
    *declared = q->length;
    return q->chunked || q->length > 0;
}

static bool method_takes_body(mg_http_method m)
{
    return m == MG_HTTP_POST || m == MG_HTTP_PUT || m == MG_HTTP_PATCH;
}

/* Seconds a client should wait after a 503 for lack of memory for bodies:
 * bodies are held for the time a request takes, not long. */
#define BODY_RETRY_S 1

static void reply_no_room(mg_req *r)
{
    mg_reply_header(r, "Retry-After", "%d", BODY_RETRY_S);
    mg_reply_error(r, 503,
                   "the daemon holds as many request bodies as it may (%llu bytes); try again",
                   (unsigned long long)srv(r->api)->body_budget);
}

/* Routing, query, auth and the body's announced size and type: everything
 * that can be answered before reading the body. */
static void begin(mg_req *r, const char *url)
{
    mg_api *a = r->api;
    req *q = (req *)r;
    mg_route_result rr = mg_router_match(routes, N_ROUTES, r->method, url, &r->match);
    if (rr == MG_ROUTE_BAD_PATH) {
        mg_reply_error(r, 400, "the path has an invalid %%-escape or an escaped NUL");
        return;
    }
    if (rr == MG_ROUTE_NOT_FOUND) {
        mg_reply_error(r, 404, "no such endpoint: %.200s", url);
        return;
    }
    if (rr == MG_ROUTE_METHOD_NOT_ALLOWED) {
        char allow[128];
        mg_router_allow_text(r->match.allow, allow, sizeof allow);
        mg_reply_header(r, "Allow", "%s", allow);
        mg_reply_error(r, 405, "%.200s does not take this method; it takes %s", url, allow);
        return;
    }
    if (r->query_result == MG_QUERY_BAD) {
        mg_reply_error(r, 400, "the query string has an invalid %%-escape or an escaped NUL");
        return;
    }
    if (r->query_result == MG_QUERY_TOO_MANY) {
        mg_reply_error(r, 400, "the query string is too long (at most %d parameters, %d bytes)",
                       MG_QUERY_MAX, MG_QUERY_BYTES);
        return;
    }
    int need = r->match.route->scope;
    if (need > MG_SCOPE_NONE) {
        const char *auth = mg_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
        r->scope = mg_auth_check(a, auth, &r->token_id);
        if (r->scope == MG_SCOPE_NONE) {
            if (!auth)
                mg_reply_error(r, 401,
                               "this endpoint needs a token: Authorization: Bearer "
                               "<token>");
            else
                mg_reply_error(r, 401,
                               "the token is not valid (unknown, revoked, or not "
                               "\"Bearer <token>\")");
            return;
        }
        if (!mg_scope_allows(r->scope, (mg_scope)need)) {
            mg_reply_error(r, 403, "this needs a token with scope %s; this one has %s",
                           mg_scope_name((mg_scope)need), mg_scope_name(r->scope));
            return;
        }
    }
    uint64_t declared;
    if (r->match.route->raw_body) {
        r->max_body = (size_t)r->match.route->raw_body;
        q->upload = r->max_body > a->o.max_body;
    }
    if (has_body(q, &declared)) {
        if (declared > req_limit(r)) {
            mg_reply_error(r, 413, "the body is %llu bytes; the limit is %zu",
                           (unsigned long long)declared, req_limit(r));
            return;
        }
        if (method_takes_body(r->method) && declared > 0 && !r->match.route->raw_body &&
            !mg_content_type_is_json(mg_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            mg_reply_error(r, 415, "the body must be JSON (Content-Type: application/json)");
            return;
        }
        if (declared > 0) {
            if (!body_reserve(srv(a), q, declared + 1)) {
                reply_no_room(r);
                return;
            }
            r->body = malloc(declared + 1);
            if (!r->body) {
                mg_reply_error(r, 500, "out of memory");
                return;
            }
            r->body_cap = declared + 1;
        }
    }
}

static void dispatch(mg_req *r)
{
    r->dispatched = true;
    if (r->body_too_big) {
        mg_reply_error(r, 413, "the body is larger than the limit of %zu bytes", req_limit(r));
        return;
    }
    if (((req *)r)->over_budget) {
        reply_no_room(r);
        return;
    }
    if (r->body_len && method_takes_body(r->method) && !r->match.route->raw_body &&
        !mg_content_type_is_json(mg_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        mg_reply_error(r, 415, "the body must be JSON (Content-Type: application/json)");
        return;
    }
    if (r->body) r->body[r->body_len] = 0;
    mg_route_handler h = r->match.route->handler;
    h(r);
    if (!r->deferred && !r->replied) mg_reply_error(r, 500, "the handler gave no answer (a bug)");
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    if (kind == MHD_HEADER_KIND) MHD_add_response_header(cls, key, value);
    return MHD_YES;
}

/* The answer to HEAD of a log stream: its headers, no body. libmicrohttpd
 * 0.9.75 ends a HEAD answer of unknown length, sent chunked, with the last
 * chunk ("0\r\n\r\n"): a body the client takes for the start of the next
 * answer. One of length 0 has none (it says Content-Length: 0, the only
 * way libmicrohttpd sends no body and keeps the connection). */
static struct MHD_Response *head_of_stream(struct MHD_Response *stream)
{
    struct MHD_Response *h = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (h) MHD_get_response_headers(stream, copy_header, h);
    MHD_destroy_response(stream);
    return h;
}

static bool is_stream(struct MHD_Response *resp)
{
    const char *ct = MHD_get_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct && strncasecmp(ct, "text/event-stream", 17) == 0;
}

static enum MHD_Result send_reply(mg_req *r)
{
    struct MHD_Response *resp = r->custom;
    r->custom = NULL;
    if (resp && r->method == MG_HTTP_HEAD && is_stream(resp)) resp = head_of_stream(resp);
    if (!resp) {
        size_t len = 0;
        char *data = mg_buf_take(&r->out, &len);
        if (!data) {
            static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
                                      "memory\",\"details\":[]}}";
            r->status = 500;
            r->content_type = "application/json";
            resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                                   MHD_RESPMEM_PERSISTENT);
        } else {
            resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
            if (!resp) free(data);
        }
    }
    if (!resp) return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    const char *h = r->headers.data;
    for (size_t i = 0; h && i < r->n_headers; i++) {
        const char *v = h + strlen(h) + 1;
        MHD_add_response_header(resp, h, v);
        h = v + strlen(v) + 1;
    }
    enum MHD_Result q = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return q;
}

/* Bodies nobody will use are read on to their end and dropped, so that the
 * answer arrives on a connection still in step: one that passes the limit
 * (then 413), one that does not fit the body budget (503) and one of a
 * request answered before its body (401, 404, 415, ...). libmicrohttpd
 * 0.9.75 cannot queue an answer in the middle of a body (MHD_queue_response
 * refuses it, measured), and one queued before the body makes it close the
 * connection with the body unread: a client still sending it gets a reset
 * instead of the answer. The reading stops at the limit plus this much,
 * counted from the body's first byte; past it the connection is closed.
 * None of it is kept: such a body costs no memory. */
#define DISCARD_EXTRA (4u << 20)

static uint64_t discard_limit(const mg_req *r)
{
    return (uint64_t)req_limit(r) + DISCARD_EXTRA;
}

static bool expects_continue(mg_req *r)
{
    const char *e = mg_req_header(r, MHD_HTTP_HEADER_EXPECT);
    return e && strcasecmp(e, "100-continue") == 0;
}

/* The first call, with the head complete: checks, then begin(). */
static enum MHD_Result on_head(req *q, const char *url, const char *method, const char *version)
{
    mg_req *r = &q->r;
    server *s = srv(r->api);
    r->begun = true;
    r->method = mg_http_method_parse(method);
    if (!conn_busy(s, q->c)) return MHD_NO; /* the reaper closed it already */
    head_check h;
    unsigned status = check_head(s, q, method, url, version, &h);
    if (status) {
        /* where the body ends is in doubt: answered now, and libmicrohttpd
         * reads nothing more from the connection and closes it */
        mg_reply_error(r, status, "%s", h.why.msg);
        r->dispatched = true;
        return send_reply(r);
    }
    q->length = h.n_length ? h.length : 0;
    q->chunked = h.n_coding > 0;
    begin(r, url);
    uint64_t declared;
    if (r->replied && has_body(q, &declared)) {
        /* Answered before the body. Queued now, the answer makes
         * libmicrohttpd close the connection with the body unread (see
         * DISCARD_EXTRA), which is right only for a client that waits for
         * "100 Continue" before sending (it sends no body, and reads the
         * answer) and for a body too long to read on: a Content-Length
         * past the limit plus DISCARD_EXTRA. Otherwise the body is read
         * and dropped as it comes (below; a chunked one is counted up to
         * the same bound) and the answer sent at the final call. */
        r->dispatched = true;
        body_drop(s, q);
        bool too_long = !q->chunked && declared > discard_limit(r);
        if (expects_continue(r) || too_long) return send_reply(r);
        conn_body(s, q->c, true);
    } else if (has_body(q, &declared)) {
        conn_body(s, q->c, false);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mg_api *a = cls;
    server *s = srv(a);
    mg_req *r = *con_cls;
    if (!r) {
        /* on_uri runs first and makes the request; this is the fallback
         * for a libmicrohttpd that did not call it */
        if (!(r = new_request(a, conn))) return MHD_NO;
        *con_cls = r;
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, r);
    }
    req *q = (req *)r;
    if (!r->begun) return on_head(q, url, method, version);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->body_too_big && n > req_limit(r) - r->body_len) {
            r->body_too_big = true;
            body_drop(s, q);
        }
        /* answered already, past the limit or the budget: counted, not kept */
        if (r->dispatched || r->body_too_big || q->over_budget) {
            r->body_len += n < SIZE_MAX - r->body_len ? n : 0;
            if (r->body_len > discard_limit(r)) return MHD_NO;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n + 1) cap *= 2;
            if (cap > req_limit(r) + 1) cap = req_limit(r) + 1;
            if (!body_reserve(s, q, cap)) {
                q->over_budget = true;
                body_drop(s, q);
                r->body_len += n;
                return MHD_YES;
            }
            char *p = realloc(r->body, cap);
            if (!p) return MHD_NO;
            r->body = p;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (!conn_busy(s, q->c)) return MHD_NO; /* overdue: the reaper answered */
    if (!r->replied) dispatch(r);
    r->dispatched = true;
    if (r->deferred) {
        /* a worker answers (workpool.h) and resumes the connection; then
         * we are called again, with r->replied set */
        r->deferred = false;
        return MHD_YES;
    }
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mg_api *a = cls;
    mg_req *r = *con_cls;
    (void)toe;
    conn_idle(srv(a), conn_of(conn));
    if (!r) return;
    if (r->replied) {
        uint64_t us = (mg_now_ns() - r->started_ns) / 1000;
        mg_metrics_record(&a->metrics, r->method, r->status, us);
    }
    if (r->custom) MHD_destroy_response(r->custom);
    body_drop(srv(a), (req *)r);
    mg_buf_free(&r->out);
    mg_buf_free(&r->headers);
    free(r);
    *con_cls = NULL;
}

static mg_req *new_request(mg_api *a, struct MHD_Connection *conn)
{
    req *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    mg_req *r = &q->r;
    r->api = a;
    r->conn = conn;
    r->started_ns = mg_now_ns();
    mg_query_init(&r->query);
    q->c = conn_of(conn);
    q->uri_len = SIZE_MAX;
    return r;
}

/*
 * The first sight of a request: its raw URI, before libmicrohttpd parses
 * the query string. We parse the query ourselves (mg_query_parse) and then
 * cut libmicrohttpd's copy short, so it stores no arguments: it keeps each
 * one in the connection's memory pool (32 KiB), and in 0.9.75 a query of
 * some 500 parameters exhausts the pool so that not even its error answer
 * fits (measured: the client got nothing until the timeout). Writing into
 * the URI relies on 0.9.75's order in parse_initial_message_line(): it
 * finds the '?' before calling this, then parses the arguments from after
 * the '?' up to the first NUL. The URI's length is kept for check_head: a
 * NUL in it would end it early.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    mg_req *r = new_request(cls, conn);
    if (!r) return NULL;
    ((req *)r)->uri_len = strlen(uri);
    char *q = strchr(uri, '?');
    if (q) {
        r->query_result = mg_query_parse(&r->query, q + 1);
        q[1] = 0;
    }
    return r;
}

/* Paths are decoded by the router, one segment at a time; query values by
 * the query parser. libmicrohttpd's own unescaping would cut a value at an
 * escaped NUL and turn %2F into a separator before we could tell. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* libmicrohttpd's messages: kept while starting (they explain a failure),
 * dropped afterwards (a client's malformed request is not the daemon's
 * problem, and stderr is the daemon's log). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    mg_api_start_log *l = cls;
    if (!atomic_load(&l->active) || !l->err || l->err->msg[0]) return;
    mg_err_vset(l->err, MG_E_IO, fmt, ap);
    /* its line ends with ".\n", which mg_err made ". " */
    char *msg = l->err->msg;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == ' ' || msg[n - 1] == '.')) msg[--n] = 0;
}

static int listen_socket(const char *host, uint16_t port, bool *ipv6, mg_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (strcmp(host, "localhost") != 0) hints.ai_flags |= AI_NUMERICHOST;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    /* "[::1]" is how people write IPv6 with a port: accept the brackets */
    char name[256];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof name) {
        memcpy(name, host + 1, hl - 2);
        name[hl - 2] = 0;
        host = name;
    }
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        mg_err_set(err, MG_E_INVALID, "cannot listen on %s:%u: %s (give a numeric address)", host,
                   (unsigned)port, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
            continue;
        }
        *ipv6 = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(res);
    if (fd < 0)
        mg_err_set(err, MG_E_IO, "cannot listen on %s:%u: %s", host, (unsigned)port,
                   strerror(saved));
    return fd;
}

static void stop_reaper(server *s)
{
    if (!s->reaper_running) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->reaper, NULL);
    s->reaper_running = false;
}

mg_api *mg_api_start(const mg_api_options *opts, mg_err *err)
{
    mg_err_clear(err);
    if (!opts || !opts->store || !opts->queue || !opts->catalog || !opts->targets) {
        mg_err_set(err, MG_E_INTERNAL, "the API needs a store, a queue, a catalog and targets");
        return NULL;
    }
    server *s = calloc(1, sizeof *s);
    if (!s) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return NULL;
    }
    mg_api *a = &s->api;
    a->o = *opts;
    if (!a->o.host) a->o.host = "127.0.0.1";
    if (!a->o.max_body) a->o.max_body = 4u << 20;
    if (!a->o.max_body_total)
        a->o.max_body_total = a->o.max_body > (16u << 20) ? 4 * a->o.max_body : 64u << 20;
    if (!a->o.header_timeout_s) a->o.header_timeout_s = 10;
    if (!a->o.body_timeout_s) a->o.body_timeout_s = 60;
    if (!a->o.timeout_s) a->o.timeout_s = 60;
    if (!a->o.version) a->o.version = MGD_VERSION;
    if (!a->o.threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        a->o.threads = cores > 0 ? (unsigned)(2 * cores) : 2;
    }

    /* The catalog does not change while serving: its JSON is made once. */
    mg_buf dev = {0};
    mg_jw w;
    mg_jw_init(&w, &dev);
    mg_view_catalog(&w, a->o.catalog);
    mg_buf_addc(&dev, '\n');
    a->devices_json = mg_buf_take(&dev, &a->devices_len);
    if (!a->devices_json) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        free(s);
        return NULL;
    }

    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);

    s->body_budget = a->o.max_body_total;
    atomic_init(&s->body_held, 0);
    s->upload_budget = 0;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (routes[i].raw_body > s->upload_budget) s->upload_budget = routes[i].raw_body;
    atomic_init(&s->upload_held, 0);
    /* check_head reads the head where libmicrohttpd parsed it, which
     * depends on how 0.9.75 does it; other versions get the checks that
     * need no such knowledge */
    s->raw_head = strcmp(MHD_get_version(), "0.9.75") == 0;
    s->header_timeout_ms = (uint64_t)a->o.header_timeout_s * 1000u;
    /* room is made when fewer than an eighth of the connections are free */
    unsigned limit = a->o.max_connections ? a->o.max_connections : FD_SETSIZE - 4;
    s->crowded = limit - limit / 8;
    char body[160]; /* the canned answers' text, not an error of mgd's */
    snprintf(body, sizeof body, "the request's line and headers did not arrive within %u s",
             a->o.header_timeout_s);
    s->late_len = canned(s->late, sizeof s->late, 408, "Request Timeout", "", body);
    s->body_timeout_ms = (uint64_t)a->o.body_timeout_s * 1000u;
    snprintf(body, sizeof body, "the request's body did not arrive within %u s",
             a->o.body_timeout_s);
    s->slow_body_len = canned(s->slow_body, sizeof s->slow_body, 408, "Request Timeout", "", body);
    s->full_len = canned(s->full, sizeof s->full, 503, "Service Unavailable", "Retry-After: 1\r\n",
                         "the daemon is near its connection limit and closed the connection "
                         "that waited longest for a request");
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);

    bool ipv6 = false;
    int fd = listen_socket(a->o.host, a->o.port, &ipv6, err);
    if (fd < 0) goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);

    if (!(a->sse = mg_sse_hub_start(a, err))) goto fail_socket;
    if (!(a->work = mg_workpool_start(MG_WORKPOOL_THREADS, MG_WORKPOOL_WAITING, err)))
        goto fail_sse;
    if (!(a->claims = mg_workpool_start(MG_CLAIMPOOL_THREADS, MG_CLAIMPOOL_WAITING, err)))
        goto fail_work;
    int e = pthread_create(&s->reaper, NULL, reaper, s);
    if (e) {
        mg_err_set(err, MG_E_IO, "cannot start the connection reaper thread: %s", strerror(e));
        goto fail_work;
    }
    s->reaper_running = true;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    a->log.err = err;
    atomic_store(&a->log.active, 1);
    struct MHD_OptionItem opt[16];
    size_t n = 0;
    opt[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    opt[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, a->o.threads, NULL};
    opt[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, a->o.timeout_s, NULL};
    /* The resolver recurses along device chains; a sanitizer build needs
     * 4 MiB of stack for the deepest (graph/resolve.h). */
    opt[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_STACK_SIZE, 8u << 20, NULL};
    if (a->o.max_connections)
        opt[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, a->o.max_connections, NULL};
    if (a->o.per_ip_connections)
        opt[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                           a->o.per_ip_connections, NULL};
    opt[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    a->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, a, MHD_OPTION_ARRAY, opt, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, a, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &a->log, MHD_OPTION_END);
    atomic_store(&a->log.active, 0);
    if (!a->daemon) {
        /* libmicrohttpd said why through mhd_log, or did not */
        if (err && !err->msg[0]) mg_err_set(err, MG_E_IO, "unknown reason");
        mg_err_prefix(err, "cannot start the HTTP server");
        goto fail_work;
    }
    return a;
fail_work:
    mg_workpool_stop(a->claims);
    mg_workpool_free(a->claims);
    mg_workpool_stop(a->work);
    mg_workpool_free(a->work);
fail_sse:
    mg_sse_hub_stop(a->sse);
    mg_sse_hub_free(a->sse);
fail_socket:
    close(fd);
fail:
    stop_reaper(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(a->devices_json);
    free(s);
    return NULL;
}

uint16_t mg_api_port(const mg_api *a)
{
    return a ? a->port : 0;
}

void mg_api_stop(mg_api *a)
{
    if (!a) return;
    /* Streams first: a suspended connection must be resumed before
     * MHD_stop_daemon (libmicrohttpd's rule). */
    mg_sse_hub_stop(a->sse);
    /* claims answer within a poll slice (their fetch killed by the
     * queue's timer), then the drawings; both resume their connections */
    mg_workpool_stop(a->claims);
    mg_workpool_stop(a->work);
    server *s = srv(a);
    stop_reaper(s);
    MHD_stop_daemon(a->daemon); /* the connections' CLOSED notices free them */
    mg_sse_hub_free(a->sse);
    mg_workpool_free(a->claims);
    mg_workpool_free(a->work);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(a->devices_json);
    free(s);
}
