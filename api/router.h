/*
 * router.h - request lines to routes: methods, paths, query strings.
 *
 * A route is a method and a path pattern of '/'-separated segments, each a
 * literal, a parameter (":id", matching any one non-empty segment) or, last,
 * "*" (matching whatever is left, nothing included). The table is a plain
 * array searched in order; with two dozen routes a linear scan over
 * pre-split segments costs less than building anything cleverer.
 *
 * Paths arrive raw (libmicrohttpd is told not to unescape them) and are
 * decoded here one segment at a time, so "%2F" stays inside its segment
 * instead of becoming a separator. An invalid escape or an escaped NUL
 * makes the path bad (400); a path that is too long or has too many
 * segments cannot name anything (404).
 *
 * HEAD is routed like GET. When the path matches some route but not with
 * this method, the match says which methods would have worked (for 405 and
 * its Allow header).
 *
 * Query strings are decoded the same way ('+' is a space); parameters keep
 * their order and may repeat. Everything lives in fixed buffers inside the
 * structs: routing a request allocates nothing.
 */
#ifndef MG_API_ROUTER_H
#define MG_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum mg_http_method {
    MG_HTTP_GET,
    MG_HTTP_HEAD,
    MG_HTTP_POST,
    MG_HTTP_PUT,
    MG_HTTP_PATCH,
    MG_HTTP_DELETE,
    MG_HTTP_OTHER,
    MG_HTTP_N_METHODS
} mg_http_method;

mg_http_method mg_http_method_parse(const char *name);
const char *mg_http_method_name(mg_http_method m);

#define MG_ROUTE_MAX_PARAMS 4
#define MG_ROUTE_MAX_SEGMENTS 16
#define MG_PATH_MAX 2048

/* What answers a request on a route (api/internal.h defines the request;
 * the router only carries the function). */
struct mg_req;
typedef void (*mg_route_handler)(struct mg_req *r);

typedef struct mg_route {
    mg_http_method method;
    const char *pattern; /* "/projects/:id/builds/latest" */
    int scope;           /* the least token scope it needs (0: none) */
    mg_route_handler handler;
    /* 0: the body, if any, is JSON of at most the API's max_body; else it
     * is raw bytes of any Content-Type, at most this many (a pull
     * worker's log or image) */
    unsigned long long raw_body;
} mg_route;

typedef enum {
    MG_ROUTE_FOUND,
    MG_ROUTE_NOT_FOUND,
    MG_ROUTE_METHOD_NOT_ALLOWED,
    MG_ROUTE_BAD_PATH /* invalid percent-escape or an escaped NUL */
} mg_route_result;

typedef struct mg_route_match {
    const mg_route *route;                   /* MG_ROUTE_FOUND */
    const char *params[MG_ROUTE_MAX_PARAMS]; /* decoded, in pattern order */
    size_t n_params;
    unsigned allow; /* MG_ROUTE_METHOD_NOT_ALLOWED: bit (1 << method) per method */
    /* the decoded segments, NUL-separated */
    char buf[MG_PATH_MAX];
    const char *segments[MG_ROUTE_MAX_SEGMENTS];
    size_t n_segments;
} mg_route_match;

mg_route_result mg_router_match(const mg_route *routes, size_t n_routes, mg_http_method method,
                                const char *raw_path, mg_route_match *out);

/* "GET, HEAD, POST" for an allow mask (HEAD listed whenever GET is). */
void mg_router_allow_text(unsigned allow, char *buf, size_t size);

/* Decodes %XX escapes of `n` bytes at `in` into `out` (at least n + 1
 * bytes), with '+' as a space when `plus_space`. Returns the decoded
 * length, or -1 for a bad escape or a NUL. */
long mg_url_decode(const char *in, size_t n, bool plus_space, char *out);

#define MG_QUERY_MAX 32
#define MG_QUERY_BYTES 4096

typedef struct mg_query_param {
    const char *key;
    const char *value; /* "" for "?flag" */
} mg_query_param;

typedef struct mg_query {
    mg_query_param items[MG_QUERY_MAX];
    size_t n;
    char store[MG_QUERY_BYTES];
    size_t used;
} mg_query;

typedef enum {
    MG_QUERY_OK,
    MG_QUERY_BAD,     /* bad escape or NUL */
    MG_QUERY_TOO_MANY /* more than MG_QUERY_MAX parameters or MG_QUERY_BYTES */
} mg_query_result;

void mg_query_init(mg_query *q);
/* Adds one parameter from its raw (still escaped) key and value; a NULL
 * value is "" (libmicrohttpd's "?flag"). */
mg_query_result mg_query_add_raw(mg_query *q, const char *key, const char *value, bool plus_space);
/* Parses a whole query string "a=1&b=2" (without the '?'). */
mg_query_result mg_query_parse(mg_query *q, const char *qs);
/* The first value of `key`, or NULL. */
const char *mg_query_get(const mg_query *q, const char *key);

#endif
