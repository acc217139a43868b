/*
 * internal.h - what the server, the handlers and the views share inside
 * api/ (not for other modules: their interface is server.h).
 *
 * A request's life (server.c):
 *   1. headers in: an mg_req is allocated, the path routed (404, 400, 405),
 *      the query decoded (400), the token checked (401, 403), the body's
 *      declared size and type checked (413, 415); any of these answers at
 *      once, before a byte of body is read;
 *   2. body bytes accumulate in r->body up to max_body (413 past it);
 *   3. the route's handler runs once, on the pool thread, and answers with
 *      mg_reply*() (a JSON body built in r->out, a file, or a stream), or
 *      hands slow work to a worker that answers later (workpool.h);
 *   4. when libmicrohttpd is done with the connection's request, the
 *      metrics count it and the mg_req is freed.
 *
 * Handlers answer exactly once: every mg_reply*() after the first is
 * ignored, so a helper can answer an error and the handler just returns.
 */
#ifndef MG_API_INTERNAL_H
#define MG_API_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/params.h"
#include "api/router.h"
#include "api/server.h"
#include "graph/embedded.h"
#include "base/buf.h"
#include "base/num.h"
#include "base/sha256.h"
#include "service/input.h"

/* ---- metrics (metrics.c) ------------------------------------------------ */

/* The status codes the API answers with; anything else counts as "other". */
#define MG_METRICS_N_CODES 22
#define MG_METRICS_N_BUCKETS 14

typedef struct mg_api_metrics {
    atomic_uint_least64_t requests[MG_HTTP_N_METHODS][MG_METRICS_N_CODES + 1];
    atomic_uint_least64_t buckets[MG_METRICS_N_BUCKETS + 1]; /* not cumulative; +Inf last */
    atomic_uint_least64_t sum_us;
} mg_api_metrics;

void mg_metrics_record(mg_api_metrics *m, mg_http_method method, unsigned status,
                       uint64_t duration_us);
/* The whole /metrics text: the API's counters, the store's and the queue's. */
void mg_metrics_render(mg_api *a, mg_buf *b);

/* ---- log streams (sse.c) ------------------------------------------------ */

typedef struct mg_sse_hub mg_sse_hub;
mg_sse_hub *mg_sse_hub_start(mg_api *a, mg_err *err);
/* Ends every stream (they send nothing more and close), joins the watcher.
 * Streams may still read the hub until libmicrohttpd has stopped: free it
 * after MHD_stop_daemon. */
void mg_sse_hub_stop(mg_sse_hub *h);
void mg_sse_hub_free(mg_sse_hub *h);
/* A response streaming build `id`'s log from byte `offset` as server-sent
 * events; NULL when out of memory. */
struct MHD_Response *mg_sse_response(mg_api *a, struct MHD_Connection *conn, int64_t id,
                                     int64_t offset);
/* The streams open now (made and not yet freed): a follower that went away
 * leaves this count within 2 s (sse.c). */
unsigned mg_sse_hub_open(mg_sse_hub *h);
/* GET /events: a response streaming the changes of builds and projects
 * (of project `project` only, when not 0) as server-sent events; NULL
 * when out of memory. */
struct MHD_Response *mg_sse_events_response(mg_api *a, struct MHD_Connection *conn,
                                            int64_t project);
/* The event streams open now (as mg_sse_hub_open). */
unsigned mg_sse_hub_event_streams(mg_sse_hub *h);

/* ---- the server --------------------------------------------------------- */

/* Where libmicrohttpd's messages go while it starts (then nowhere). */
typedef struct mg_api_start_log {
    mg_err *err;
    atomic_int active;
} mg_api_start_log;

struct mg_api {
    mg_api_options o;
    mg_api_start_log log;
    struct MHD_Daemon *daemon;
    uint16_t port;
    mg_api_metrics metrics;
    mg_sse_hub *sse;
    struct mg_workpool *work;   /* slow work off the HTTP threads (workpool.h) */
    struct mg_workpool *claims; /* pull workers' long polls (workpool.h) */
    char *devices_json;         /* GET /devices: the catalog never changes while serving */
    size_t devices_len;
};

#define MG_REQ_MAX_HEADERS 8

typedef struct mg_req {
    mg_api *api;
    struct MHD_Connection *conn;
    mg_http_method method;
    mg_route_match match;
    mg_query query;
    mg_query_result query_result;
    bool begun; /* the access handler has seen it */
    mg_scope scope;
    int64_t token_id;
    uint64_t started_ns;
    /* the body */
    char *body;
    size_t body_len, body_cap;
    bool body_too_big;
    size_t max_body; /* this route's limit (begin()); 0 until routed */
    bool dispatched;
    bool deferred; /* a worker answers it later (mg_req_defer, workpool.h) */
    /* the answer */
    bool replied;
    unsigned status;
    mg_buf out;                  /* the body being built */
    const char *content_type;    /* static text */
    struct MHD_Response *custom; /* a file or a stream instead of out */
    mg_buf headers;              /* "name\0value\0" pairs */
    size_t n_headers;
} mg_req;

/* The scope of the request's bearer token (auth.c); MG_SCOPE_NONE when
 * there is none or it is unknown or revoked. */
mg_scope mg_auth_check(mg_api *a, const char *authorization, int64_t *token_id);

/* The route's n-th parameter (":id"), decoded. */
const char *mg_req_param(const mg_req *r, size_t i);
/* A request header (case-insensitive name), or NULL. */
const char *mg_req_header(const mg_req *r, const char *name);

/* Answers with r->out as the body (its Content-Type `ctype`). */
void mg_reply(mg_req *r, unsigned status, const char *ctype);
void mg_reply_json(mg_req *r, unsigned status);
/* Answers with a copy of `text`. */
void mg_reply_text(mg_req *r, unsigned status, const char *ctype, const char *text, size_t len);
/* A response made by the handler (fd or callback); the server adds the
 * headers given with mg_reply_header and queues it. */
void mg_reply_custom(mg_req *r, unsigned status, struct MHD_Response *resp);
/* The error body of docs/api.md; the code follows from the status. */
void mg_reply_error(mg_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a code of the endpoint's own instead of the status's
 * (409 "no_image"), which docs/api.md lists with the endpoint. */
void mg_reply_error_code(mg_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 422 config_invalid with the resolver's errors as details. */
void mg_reply_config_errors(mg_req *r, const mg_errors *errs);
/* Answers a failure (of the store, mostly) with the status of its code
 * (mg_http_status_of_err) and its message. */
void mg_reply_err(mg_req *r, const mg_err *e);
/* The HTTP status of an mg_err code (views.c): the one place where error
 * codes become statuses. mg_http_status_of refines it for a service
 * error: 422 for a config at fault, 429 for a quota that frees up. */
unsigned mg_http_status_of_err(const mg_err *e);
unsigned mg_http_status_of(const mg_service_err *e);
/* Answers a service error with its status and message (422 with the
 * config's diagnostics, Retry-After for a full queue). */
void mg_reply_service_err(mg_req *r, const mg_service_err *e);
/* Adds a header to the coming answer. */
void mg_reply_header(mg_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The body as a JSON object checked against `fields`. Returns false after
 * answering 400; *out is NULL for an empty body (when `required` is false;
 * else that is a 400 too). */
bool mg_req_json(mg_req *r, const mg_field *fields, size_t n, bool required, cJSON **out);
/* page/per_page (400 on bad values). */
bool mg_req_page(mg_req *r, mg_page *p);
/* Link and X-Total-Count of a list answer. */
void mg_reply_list_headers(mg_req *r, const mg_page *p, int64_t total);

/* A project by id or name; false after answering 404 (or 500). */
bool mg_req_project(mg_req *r, const char *ref, mg_project *p);
/* A build by id; false after answering 404 (or 500). */
bool mg_req_build(mg_req *r, const char *ref, bool with_describe, mg_stored_build *b);
/* The build id of the path (":id", the first parameter) without reading
 * the build; false after answering 404 for a path that is no id. */
bool mg_req_build_id(mg_req *r, int64_t *id);

/* Answers with the SVG drawing of `dot` (malloc'd, taken over) by
 * Graphviz (graphviz.c): from the cache of drawings at once, else drawn on
 * the work pool (workpool.h) within --graph-timeout; 503 with Retry-After
 * when the pool's queue is full, 503 when the drawing takes too long. */
void mg_graphviz_reply(mg_req *r, char *dot, size_t dot_len);
/* Whether `dot` is on PATH (looked up once). */
bool mg_graphviz_available(void);

/* ---- views (views.c, catalog_view.c) ------------------------------------ */

/* The error code docs/api.md gives a status ("not_found"). */
const char *mg_error_code_for(unsigned status);
/* {"error": {"code", "message", "details": [...]}} */
void mg_view_error(mg_buf *b, unsigned status, const char *message, const mg_errors *details);
/* The same with a code of the caller's (mg_reply_error_code). */
void mg_view_error_code(mg_buf *b, const char *code, const char *message, const mg_errors *details);
/* The members of a Project (inside an object the caller opened). */
void mg_view_project_fields(mg_jw *w, const mg_project *p);
void mg_view_project(mg_jw *w, const mg_project *p);
/* What a Build shows besides its row: reproducibility (ids, NULL: all
 * empty), and while it is queued or running, its place in the queue (0:
 * none) and what it does (NULL: nothing known, e.g. not running here). */
typedef struct mg_build_extra {
    const mg_build_siblings *siblings;
    int64_t queue_position;
    const mg_queue_progress *progress;
} mg_build_extra;
void mg_view_build(mg_jw *w, const mg_stored_build *b, const mg_build_extra *x);
void mg_view_token(mg_jw *w, const mg_token_row *t);
void mg_view_config_version(mg_jw *w, const mg_config_version *c);
void mg_view_targets(mg_jw *w, const mg_targets *t);
/* The catalog for GET /devices: {"targets", "arches", "types", "entries": [...]} */
void mg_view_catalog(mg_jw *w, const mg_catalog *cat);
/* A pull worker of GET /workers. */
void mg_view_worker(mg_jw *w, const mg_worker_info *k);

/* A Build with its reproduced_by/differs_from/reproduces (one store query for a
 * succeeded build), queue_position (one count on an index for a queued
 * one) and progress (the queue's slots, no store, for a running one);
 * false with `e` when the store failed. Takes the queue's lock for a
 * running build. */
bool mg_build_json(mg_api *a, mg_jw *w, const mg_stored_build *b, mg_err *e);
/* mg_build_json for an answer: false after answering the store's failure. */
bool mg_write_build(mg_req *r, mg_jw *w, const mg_stored_build *b);
/* Answers a page of builds matching `f` (newest first) with the list headers. */
void mg_reply_build_list(mg_req *r, const mg_stored_build_filter *f);

/* ---- handlers (h_*.c) --------------------------------------------------- */

void mg_h_root(mg_req *r);
void mg_h_ui(mg_req *r);
void mg_h_health(mg_req *r);
void mg_h_openapi(mg_req *r);
/* Answers 200 with the one file of an embedded table (cmake/embed.cmake):
 * the config schema, the OpenAPI document; 500 naming `what` when the
 * build embedded none. */
void mg_reply_embedded(mg_req *r, const mg_embedded_file *files, size_t count, const char *ctype,
                       const char *what);
void mg_h_metrics(mg_req *r);
void mg_h_targets(mg_req *r);
void mg_h_devices(mg_req *r);
void mg_h_schema(mg_req *r);
void mg_h_hash(mg_req *r);
void mg_h_tokens_create(mg_req *r);
void mg_h_tokens_list(mg_req *r);
void mg_h_tokens_delete(mg_req *r);
void mg_h_whoami(mg_req *r);
void mg_h_gc(mg_req *r);

void mg_h_projects_create(mg_req *r);
void mg_h_projects_list(mg_req *r);
void mg_h_project_show(mg_req *r);
void mg_h_project_patch(mg_req *r);
void mg_h_project_delete(mg_req *r);
void mg_h_config_put(mg_req *r);
void mg_h_config_get(mg_req *r);
void mg_h_config_versions(mg_req *r);
void mg_h_check(mg_req *r);
void mg_h_graph(mg_req *r);

void mg_h_build_start(mg_req *r);
void mg_h_project_builds(mg_req *r);
void mg_h_project_builds_latest(mg_req *r);
void mg_h_builds_list(mg_req *r);
void mg_h_build_show(mg_req *r);
void mg_h_build_cancel(mg_req *r);
void mg_h_build_rebuild(mg_req *r);
void mg_h_build_pin(mg_req *r);

void mg_h_build_log(mg_req *r);
void mg_h_build_image(mg_req *r);
void mg_h_build_describe(mg_req *r);
void mg_h_build_sizes(mg_req *r);
void mg_h_events(mg_req *r);

void mg_h_worker_claim(mg_req *r);
void mg_h_worker_sources(mg_req *r);
void mg_h_worker_log(mg_req *r);
void mg_h_worker_heartbeat(mg_req *r);
void mg_h_worker_image(mg_req *r);
void mg_h_worker_finish(mg_req *r);
void mg_h_workers_list(mg_req *r);

#endif
