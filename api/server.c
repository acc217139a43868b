/*
 * server.c - libmicrohttpd set-up, the route table, the request life cycle
 * (see internal.h) and the reply helpers handlers use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/internal.h"

#ifndef MGD_VERSION
#define MGD_VERSION "0.0.0"
#endif

/* Scopes by the contract: GET /health and the dashboard are open, reading
 * needs read, changing state needs write, tokens and deleting projects
 * need admin. POST .../check changes nothing, so read is enough. */
#define R_ MG_SCOPE_READ
#define W_ MG_SCOPE_WRITE
#define A_ MG_SCOPE_ADMIN

static const mg_route routes[] = {
    {MG_HTTP_GET, "/", 0, (void *)mg_h_root},
    {MG_HTTP_GET, "/ui/*", 0, (void *)mg_h_ui},
    {MG_HTTP_GET, "/health", 0, (void *)mg_h_health},
    {MG_HTTP_GET, "/metrics", R_, (void *)mg_h_metrics},
    {MG_HTTP_GET, "/targets", R_, (void *)mg_h_targets},
    {MG_HTTP_GET, "/devices", R_, (void *)mg_h_devices},
    {MG_HTTP_GET, "/schema/config.json", R_, (void *)mg_h_schema},
    {MG_HTTP_POST, "/projects", W_, (void *)mg_h_projects_create},
    {MG_HTTP_GET, "/projects", R_, (void *)mg_h_projects_list},
    {MG_HTTP_GET, "/projects/:id", R_, (void *)mg_h_project_show},
    {MG_HTTP_PATCH, "/projects/:id", W_, (void *)mg_h_project_patch},
    {MG_HTTP_DELETE, "/projects/:id", A_, (void *)mg_h_project_delete},
    {MG_HTTP_PUT, "/projects/:id/config", W_, (void *)mg_h_config_put},
    {MG_HTTP_GET, "/projects/:id/config", R_, (void *)mg_h_config_get},
    {MG_HTTP_GET, "/projects/:id/config/versions", R_, (void *)mg_h_config_versions},
    {MG_HTTP_POST, "/projects/:id/check", R_, (void *)mg_h_check},
    {MG_HTTP_GET, "/projects/:id/graph", R_, (void *)mg_h_graph},
    {MG_HTTP_POST, "/projects/:id/build", W_, (void *)mg_h_build_start},
    {MG_HTTP_GET, "/projects/:id/builds", R_, (void *)mg_h_project_builds},
    {MG_HTTP_GET, "/projects/:id/builds/latest", R_, (void *)mg_h_project_builds_latest},
    {MG_HTTP_GET, "/builds", R_, (void *)mg_h_builds_list},
    {MG_HTTP_GET, "/builds/:id", R_, (void *)mg_h_build_show},
    {MG_HTTP_GET, "/builds/:id/log", R_, (void *)mg_h_build_log},
    {MG_HTTP_GET, "/builds/:id/image", R_, (void *)mg_h_build_image},
    {MG_HTTP_GET, "/builds/:id/describe", R_, (void *)mg_h_build_describe},
    {MG_HTTP_POST, "/builds/:id/cancel", W_, (void *)mg_h_build_cancel},
    {MG_HTTP_POST, "/builds/:id/rebuild", W_, (void *)mg_h_build_rebuild},
    {MG_HTTP_GET, "/hash", R_, (void *)mg_h_hash},
    {MG_HTTP_POST, "/tokens", A_, (void *)mg_h_tokens_create},
    {MG_HTTP_GET, "/tokens", A_, (void *)mg_h_tokens_list},
    {MG_HTTP_DELETE, "/tokens/:id", A_, (void *)mg_h_tokens_delete},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void reply_error_details(mg_req *r, unsigned status, const char *msg,
                                const mg_errors *details)
{
    if (r->replied) return;
    mg_buf_clear(&r->out);
    mg_view_error(&r->out, status, msg, details);
    if (status == 401) mg_reply_header(r, "WWW-Authenticate", "Bearer realm=\"mgd\"");
    mg_reply_json(r, status);
}

void mg_reply_error(mg_req *r, unsigned status, const char *fmt, ...)
{
    if (r->replied) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error_details(r, status, msg, NULL);
}

void mg_reply_config_errors(mg_req *r, const mg_errors *errs)
{
    char msg[1024];
    if (errs->len == 1)
        snprintf(msg, sizeof msg, "the config has an error: %s: %s",
                 errs->items[0].path[0] ? errs->items[0].path : "(document)",
                 errs->items[0].message);
    else
        snprintf(msg, sizeof msg, "the config has %zu errors; the first: %s: %s", errs->len,
                 errs->len && errs->items[0].path[0] ? errs->items[0].path : "(document)",
                 errs->len ? errs->items[0].message : "");
    reply_error_details(r, 422, msg, errs);
}

void mg_reply_store(mg_req *r, int rc, const char *what, const char *err)
{
    if (rc == MG_STORE_NOTFOUND)
        mg_reply_error(r, 404, "no %s", what);
    else if (rc == MG_STORE_CONFLICT)
        mg_reply_error(r, 409, "%s", err && *err ? err : "conflict");
    else
        mg_reply_error(r, 500, "database: %s", err && *err ? err : "unknown error");
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
    char err[512];
    *out = NULL;
    if (mg_json_parse_body(r->body ? r->body : "", r->body_len, out, err, sizeof err) != 0) {
        mg_reply_error(r, 400, "%s", err);
        return false;
    }
    if (!*out) {
        if (!required) return true;
        mg_reply_error(r, 400, "this request needs a JSON object as its body");
        return false;
    }
    if (mg_json_check_fields(*out, fields, n, "", err, sizeof err) != 0) {
        cJSON_Delete(*out);
        *out = NULL;
        mg_reply_error(r, 400, "%s", err);
        return false;
    }
    return true;
}

bool mg_req_page(mg_req *r, mg_page *p)
{
    char err[128];
    if (mg_page_parse(&r->query, p, err, sizeof err) == 0) return true;
    mg_reply_error(r, 400, "%s", err);
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
    char err[256] = "";
    int64_t id;
    int rc;
    memset(p, 0, sizeof *p);
    if (mg_parse_id(ref, &id))
        rc = mg_store_project_get_id(r->api->o.store, id, p, err, sizeof err);
    else if (mg_project_name_valid(ref))
        rc = mg_store_project_get(r->api->o.store, ref, p, err, sizeof err);
    else
        rc = MG_STORE_NOTFOUND;
    if (rc == 0) return true;
    if (rc == MG_STORE_NOTFOUND)
        mg_reply_error(r, 404, "no project \"%.100s\"", ref);
    else
        mg_reply_store(r, rc, "project", err);
    return false;
}

bool mg_req_build(mg_req *r, const char *ref, bool with_describe, mg_build_row *b)
{
    char err[256] = "";
    int64_t id;
    memset(b, 0, sizeof *b);
    int rc = mg_parse_id(ref, &id)
                 ? mg_store_build_get(r->api->o.store, id, with_describe, b, err, sizeof err)
                 : MG_STORE_NOTFOUND;
    if (rc == 0) return true;
    if (rc == MG_STORE_NOTFOUND)
        mg_reply_error(r, 404, "no build %.40s", ref);
    else
        mg_reply_store(r, rc, "build", err);
    return false;
}

bool mg_write_build(mg_req *r, mg_jw *w, const mg_build_row *b)
{
    int64_t *same = NULL, *differ = NULL;
    size_t n_same = 0, n_differ = 0;
    if (b->status == MG_BUILD_SUCCEEDED && b->input_hash) {
        char err[256] = "";
        if (mg_store_build_siblings(r->api->o.store, b, &same, &n_same, &differ, &n_differ, err,
                                    sizeof err) != 0) {
            mg_reply_store(r, MG_STORE_ERROR, "build", err);
            return false;
        }
    }
    /* the logs table has a size once the build ended; before that (and
     * for builds a crash interrupted) the file says how far it got */
    mg_build_row shown = *b;
    if (shown.log_size == 0 && shown.status != MG_BUILD_QUEUED) {
        char *path = mg_queue_log_path(r->api->o.queue, b->id);
        struct stat st;
        if (path && stat(path, &st) == 0) shown.log_size = (int64_t)st.st_size;
        free(path);
    }
    mg_view_build(w, &shown, same, n_same, differ, n_differ);
    free(same);
    free(differ);
    return true;
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

static bool has_body(mg_req *r, uint64_t *declared, bool *known)
{
    const char *cl = mg_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = mg_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    *known = false;
    *declared = 0;
    if (cl) {
        int64_t n;
        if (mg_parse_i64(cl, 0, INT64_MAX, &n) == 0) {
            *declared = (uint64_t)n;
            *known = true;
        }
    }
    /* a Content-Length we could not read (over INT64_MAX) still announces
     * a body, one too long to read */
    if (te || (cl && !*known)) return true;
    return *declared > 0;
}

static bool method_takes_body(mg_http_method m)
{
    return m == MG_HTTP_POST || m == MG_HTTP_PUT || m == MG_HTTP_PATCH;
}

/* Routing, query, auth and the body's announced size and type: everything
 * that can be answered before reading the body. */
static void begin(mg_req *r, const char *url)
{
    mg_api *a = r->api;
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
        if ((int)r->scope < need) {
            mg_reply_error(r, 403, "this needs a token with scope %s; this one has %s",
                           mg_scope_name((mg_scope)need), mg_scope_name(r->scope));
            return;
        }
    }
    uint64_t declared;
    bool known;
    if (has_body(r, &declared, &known)) {
        if (known && declared > a->o.max_body) {
            mg_reply_error(r, 413, "the body is %llu bytes; the limit is %zu",
                           (unsigned long long)declared, a->o.max_body);
            return;
        }
        if (method_takes_body(r->method) && known && declared > 0 &&
            !mg_content_type_is_json(mg_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            mg_reply_error(r, 415, "the body must be JSON (Content-Type: application/json)");
            return;
        }
        if (known && declared > 0) {
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
        mg_reply_error(r, 413, "the body is larger than the limit of %zu bytes",
                       r->api->o.max_body);
        return;
    }
    if (r->body_len && method_takes_body(r->method) &&
        !mg_content_type_is_json(mg_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        mg_reply_error(r, 415, "the body must be JSON (Content-Type: application/json)");
        return;
    }
    if (r->body) r->body[r->body_len] = 0;
    mg_handler h = (mg_handler)r->match.route->handler;
    h(r);
    if (!r->replied) mg_reply_error(r, 500, "the handler gave no answer (a bug)");
}

static enum MHD_Result send_reply(mg_req *r)
{
    struct MHD_Response *resp = r->custom;
    r->custom = NULL;
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
 * (then 413) and one of a request answered before its body (401, 404,
 * 415, ...). libmicrohttpd 0.9.75 cannot queue an answer in the middle of
 * a body (MHD_queue_response refuses it, measured), and one queued before
 * the body makes it close the connection with the body unread: a client
 * still sending it gets a reset instead of the answer. The reading stops
 * at the limit plus this much, counted from the body's first byte; past
 * it the connection is closed. */
#define DISCARD_EXTRA (4u << 20)

static uint64_t discard_limit(const mg_api *a)
{
    return (uint64_t)a->o.max_body + DISCARD_EXTRA;
}

static bool expects_continue(mg_req *r)
{
    const char *e = mg_req_header(r, MHD_HTTP_HEADER_EXPECT);
    return e && strcasecmp(e, "100-continue") == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mg_api *a = cls;
    mg_req *r = *con_cls;
    (void)version;
    if (!r) {
        /* on_uri runs first and makes the request; this is the fallback
         * for a libmicrohttpd that did not call it */
        if (!(r = new_request(a, conn))) return MHD_NO;
        *con_cls = r;
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, r);
    }
    if (!r->begun) {
        r->begun = true;
        r->method = mg_http_method_parse(method);
        begin(r, url);
        uint64_t declared;
        bool known;
        if (r->replied && has_body(r, &declared, &known)) {
            /* Answered before the body. Queued now, the answer makes
             * libmicrohttpd close the connection with the body unread (see
             * DISCARD_EXTRA), which is right only for a client that waits
             * for "100 Continue" before sending (it sends no body, and
             * reads the answer) and for a body too long to read on: a
             * Content-Length past the limit plus DISCARD_EXTRA, or one
             * has_body could not read. Otherwise the body is read and
             * dropped as it comes (below; a chunked one is counted up to
             * the same bound) and the answer sent at the final call. */
            r->dispatched = true;
            bool too_long = mg_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH) &&
                            (!known || declared > discard_limit(a));
            if (expects_continue(r) || too_long) return send_reply(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->body_too_big && n > a->o.max_body - r->body_len) r->body_too_big = true;
        /* answered already, or past the limit: counted, not kept */
        if (r->dispatched || r->body_too_big) {
            r->body_len += n < SIZE_MAX - r->body_len ? n : 0;
            if (r->body_len > discard_limit(a)) return MHD_NO;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n + 1) cap *= 2;
            if (cap > a->o.max_body + 1) cap = a->o.max_body + 1;
            char *p = realloc(r->body, cap);
            if (!p) return MHD_NO;
            r->body = p;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (!r->replied) dispatch(r);
    r->dispatched = true;
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mg_api *a = cls;
    mg_req *r = *con_cls;
    (void)conn;
    (void)toe;
    if (!r) return;
    if (r->replied) {
        uint64_t us = (now_ns() - r->started_ns) / 1000;
        mg_metrics_record(&a->metrics, r->method, r->status, us);
    }
    if (r->custom) MHD_destroy_response(r->custom);
    free(r->body);
    mg_buf_free(&r->out);
    mg_buf_free(&r->headers);
    free(r);
    *con_cls = NULL;
}

static mg_req *new_request(mg_api *a, struct MHD_Connection *conn)
{
    mg_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->api = a;
    r->conn = conn;
    r->started_ns = now_ns();
    mg_query_init(&r->query);
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
 * the '?' up to the first NUL.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    mg_req *r = new_request(cls, conn);
    if (!r) return NULL;
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
    if (!atomic_load(&l->active) || !l->err || l->errsize == 0 || l->err[0]) return;
    vsnprintf(l->err, l->errsize, fmt, ap);
    size_t n = strlen(l->err);
    while (n && (l->err[n - 1] == '\n' || l->err[n - 1] == '.')) l->err[--n] = 0;
}

static int listen_socket(const char *host, uint16_t port, bool *ipv6, char *err, size_t errsize)
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
        snprintf(err, errsize, "cannot listen on %s:%u: %s (give a numeric address)", host,
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
        snprintf(err, errsize, "cannot listen on %s:%u: %s", host, (unsigned)port, strerror(saved));
    return fd;
}

mg_api *mg_api_start(const mg_api_options *opts, char *err, size_t errsize)
{
    if (errsize) err[0] = 0;
    if (!opts || !opts->store || !opts->queue || !opts->catalog || !opts->targets) {
        snprintf(err, errsize, "the API needs a store, a queue, a catalog and targets");
        return NULL;
    }
    mg_api *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    a->o = *opts;
    if (!a->o.host) a->o.host = "127.0.0.1";
    if (!a->o.max_body) a->o.max_body = 4u << 20;
    if (!a->o.max_sources) a->o.max_sources = 1u << 20;
    if (a->o.max_queued <= 0) a->o.max_queued = 1000;
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
        snprintf(err, errsize, "out of memory");
        free(a);
        return NULL;
    }

    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);

    bool ipv6 = false;
    int fd = listen_socket(a->o.host, a->o.port, &ipv6, err, errsize);
    if (fd < 0) goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);

    if (!(a->sse = mg_sse_hub_start(a, err, errsize))) {
        close(fd);
        goto fail;
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    a->log.err = err;
    a->log.errsize = errsize;
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
    a->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_ARRAY, opt,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_UNESCAPE_CALLBACK,
                         keep_escaped, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &a->log, MHD_OPTION_END);
    atomic_store(&a->log.active, 0);
    if (!a->daemon) {
        char why[512];
        snprintf(why, sizeof why, "%s", err[0] ? err : "unknown reason");
        snprintf(err, errsize, "cannot start the HTTP server: %s", why);
        close(fd);
        mg_sse_hub_stop(a->sse);
        mg_sse_hub_free(a->sse);
        goto fail;
    }
    return a;
fail:
    free(a->devices_json);
    free(a);
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
    MHD_stop_daemon(a->daemon);
    mg_sse_hub_free(a->sse);
    free(a->devices_json);
    free(a);
}
