/*
 * server.h - the HTTP API of `mgd serve` (documented for users in
 * docs/api.md).
 *
 * mg_api_start() listens on host:port and serves requests on a pool of
 * libmicrohttpd threads until mg_api_stop(). Each request is routed,
 * authenticated (Bearer token -> sha256 -> the store), its body collected
 * up to max_body, then handled on the pool thread. Handlers only parse
 * the request, call the service (service/service.h: every flow that
 * changes state, with its rules) and render its result or its error;
 * reads (lists, a build, a log) go to the store and the queue directly.
 * Every pool thread holds its own SQLite connection (store.h), so nothing
 * in a request waits for another request.
 *
 * Connections are guarded before any of that (server.c): a request's
 * head must arrive within header_timeout_s of the connection's start (of
 * its first byte on a kept-alive connection) however slowly it trickles in,
 * near max_connections the connections that have waited longest for a
 * request are closed to make room, and request bodies are held in memory
 * up to max_body each and max_body_total all together.
 *
 * Long-lived responses never hold a pool thread: build logs and the
 * changes of GET /events streamed as server-sent events suspend their
 * connection while there is nothing to send and are resumed by one
 * watcher thread (sse.c); images and logs are
 * sent from file descriptors (sendfile); pull workers' claims, long polls
 * of up to 30 s, suspend their connection and wait on a pool of threads
 * of their own (workpool.h), 503 when it is full.
 *
 * The engine (service, store, queue, cache, catalog, targets) must outlive the API:
 * stop the API first. The process should ignore SIGPIPE (mg_api_start
 * does so when the disposition is still the default).
 */
#ifndef MG_API_SERVER_H
#define MG_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "daemon/queue.h"
#include "daemon/store.h"
#include "graph/catalog.h"
#include "graph/resolve.h"
#include "service/service.h"
#include "toolchain/cache.h"
#include "toolchain/target.h"

typedef struct mg_api_options {
    const char *host;    /* numeric IPv4 or IPv6 address, or "localhost"; NULL: 127.0.0.1 */
    uint16_t port;       /* 0: any free port (mg_api_port() says which) */
    mg_service *service; /* what changes state */
    mg_store *store;     /* what reads it */
    mg_queue *queue;
    mg_cache *cache; /* the daemon's cache (images are blobs in it); may be NULL */
    const mg_catalog *catalog;
    const mg_targets *targets;
    size_t max_body;             /* largest request body; 0: 4 MiB */
    size_t max_body_total;       /* request bodies held at once, all requests together (503
                                    past it); 0: 64 MiB, or 4 x max_body when that is more */
    unsigned threads;            /* libmicrohttpd pool threads; 0: 2 x cores */
    unsigned max_connections;    /* 0: libmicrohttpd's default */
    unsigned per_ip_connections; /* 0: no limit per client address */
    unsigned timeout_s;          /* idle connections are closed after this; 0: 60 s */
    unsigned header_timeout_s;   /* a request's line and headers must arrive within this,
                                    however they trickle in (then 408); 0: 10 s */
    unsigned body_timeout_s;     /* a body must arrive within this of its head's end, however
                                    it trickles in (then 408); 0: 60 s */
    unsigned graph_timeout_s;    /* time limit of one Graphviz drawing; 0: 10 s */
    const char *version;         /* shown by GET /health; NULL: MGD_VERSION */
} mg_api_options;

typedef struct mg_api mg_api;

/* Starts serving. NULL with a message in `err` (e.g. "cannot listen on
 * 127.0.0.1:8080: Address already in use"). */
mg_api *mg_api_start(const mg_api_options *o, mg_err *err);
/* The port actually listened on. */
uint16_t mg_api_port(const mg_api *a);
/* Ends streams, closes connections, stops the threads, frees. NULL is fine. */
void mg_api_stop(mg_api *a);

#endif
