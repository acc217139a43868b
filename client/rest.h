/*
 * rest.h - mgctl's HTTP client of the mgd API, on libcurl.
 *
 * One mg_rest per process holds the server's base URL, the token and the
 * timeouts, and one curl handle, so successive calls reuse the connection.
 * Every call either gets an HTTP answer (any status; the caller judges it)
 * or fails with one line saying why the server could not be reached:
 * connection refused, an unknown host, a timeout. Nothing waits forever:
 * connecting is bounded by `connect_timeout_ms`, an ordinary call by
 * `timeout_ms`, and a stream (a followed log, an image download) is cut
 * when no byte arrives for `stall_ms` (the daemon sends a keep-alive every
 * 15 s, so a live stream never stalls that long).
 */
#ifndef MG_CLIENT_REST_H
#define MG_CLIENT_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct mg_rest {
    char *base;  /* scheme://host[:port][/prefix], without a final '/' */
    char *token; /* NULL: no Authorization header */
    long connect_timeout_ms;
    long timeout_ms;
    long stall_ms;
    void *curl; /* CURL *, created on the first call */
    char *auth_header;
} mg_rest;

/* What an answer carried besides its body: the headers mgctl uses. */
typedef struct mg_rest_response {
    long status;
    mg_buf body;
    char content_type[128];
    char location[256];
    char etag[80];
    int64_t log_size; /* X-Log-Size, -1 when absent */
    int more_data;    /* X-More-Data: 1 true, 0 false, -1 absent */
    int64_t total;    /* X-Total-Count, -1 when absent */
    /* the Link header's rel="next" target, or "" (also when it does not
     * fit: a query is at most 4 KiB, so that is no mgd's) */
    char next_link[8192];
} mg_rest_response;

/* Checks `url` (http or https, a host, no query or fragment) and sets up
 * the client. Returns 0, or -1 with a message in `err`. */
int mg_rest_init(mg_rest *r, const char *url, const char *token, mg_err *err);
void mg_rest_free(mg_rest *r);

/* Sends `method path` (the path starts with '/' and is already escaped;
 * mg_rest_escape does a segment or a query value), with `body` as
 * application/json when not NULL. Returns 0 when an answer came, with it
 * in `out` (free it with mg_rest_response_free), or -1 with the transport
 * error in `err`. */
int mg_rest_call(mg_rest *r, const char *method, const char *path, const char *body,
                 mg_rest_response *out, mg_err *err);

/* Receives the body of a GET bit by bit. `sink` gets the body of a 2xx
 * answer as it arrives and returns 0 to go on or non-zero to stop (then
 * mg_rest_stream returns 1); the body of any other answer is collected in
 * `out->body` instead. `accept` is the Accept header (NULL: none).
 * `extra_header` is one more header line or NULL. Returns 0 when the answer
 * ended, 1 when the sink stopped it, -1 on a transport error (also a stream
 * cut in the middle) with `err` set; `out` holds what came in all cases. */
typedef int (*mg_rest_sink)(void *ctx, const char *data, size_t len);
int mg_rest_stream(mg_rest *r, const char *path, const char *accept, const char *extra_header,
                   mg_rest_sink sink, void *ctx, mg_rest_response *out, mg_err *err);

void mg_rest_response_free(mg_rest_response *resp);

/* `s` percent-encoded for a path segment or a query value (everything but
 * unreserved characters), appended to `b`. */
void mg_rest_escape(mg_buf *b, const char *s);

/* The full URL of `path`, for messages (malloc'd). */
char *mg_rest_url(const mg_rest *r, const char *path);

#endif
