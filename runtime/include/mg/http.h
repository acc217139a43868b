/*
 * http.h - the HTTP server device (catalog entry http_server, module type
 * `http`): HTTP/1.1 on a TCP/IP stack (mg/stack.h), serving the files of
 * a read-only key/value store (mg/kv_ro.h), as a MirageOS unikernel
 * serves its htdocs with cohttp.
 *
 * The config connects the device on a stack and a port
 * (`http_server(stack)` listens on the `port` runtime key, default 80);
 * the application's start function chooses what it serves:
 *
 *     int website_start(mg_http *http, mg_kv_ro *htdocs)
 *     {
 *         return mg_http_serve_kv(http, htdocs);
 *     }
 *
 * What a client gets (docs/http.md has the whole list): GET and HEAD;
 * keep-alive and pipelined requests answered in order; Content-Length,
 * Content-Type from the file extension, an ETag and 304 for a matching
 * If-None-Match; index.html for a folder; 404, 405, and 400, 413, 414,
 * 431, 501, 505 for requests it will not read. A connection that has not
 * sent its first whole request within the header timeout (10 s by
 * default), or waits longer than the idle timeout (30 s) for its next
 * one, is closed. One connection cannot hold the loop: at most 8
 * pipelined requests are answered per callback, the rest in later turns.
 */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stdint.h>

#include "mg/kv_ro.h"
#include "mg/mg.h"
#include "mg/stack.h"

typedef struct mg_http mg_http;

/* http_server(stack, port): a server for `port` (1 to 65535, else it
 * prints why and returns MG_EINVAL) on the stack's TCP. It listens once
 * the application gives it something to serve. MG_ENOMEM. */
int mg_http_server_connect(mg_http **out, mg_stackv4v6 *stack, int64_t port);

/* Starts serving the files of `kv` on the server's port: the path of a
 * request is a key of the store. MG_OK; MG_EEXIST (already serving);
 * MG_EADDRINUSE, MG_ENOMEM and the stack's other statuses when it cannot
 * listen (it prints why). The store must outlive the server. */
int mg_http_serve_kv(mg_http *h, mg_kv_ro *kv);

/* Stops listening, resets every connection and frees `h` (NULL is
 * fine). Tests do; images keep their server. */
void mg_http_disconnect(mg_http *h);

/* The port the server is for. */
uint16_t mg_http_port(const mg_http *h);

/* How long a connection may wait for its next request, or for its
 * client to take more of a response, before it is closed: `ns`
 * nanoseconds (0: the default, 30 s). Applies from the next wait on. */
void mg_http_set_idle_timeout(mg_http *h, uint64_t ns);

/* How long a new connection may take to send its first whole request:
 * `ns` nanoseconds (0: the default, 10 s), or the idle timeout if that
 * is shorter. Applies to connections accepted from then on. */
void mg_http_set_header_timeout(mg_http *h, uint64_t ns);

typedef struct mg_http_stats {
    uint64_t connections; /* accepted since the start */
    uint64_t open;        /* open now */
    uint64_t requests;    /* answered, errors included */
    uint64_t refused;     /* connections refused (memory, or too many) */
} mg_http_stats;

mg_http_stats mg_http_get_stats(const mg_http *h);

#endif
