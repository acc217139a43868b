/*
 * workpool.h - slow work of requests (Graphviz drawings) done off the HTTP
 * threads.
 *
 * libmicrohttpd runs many connections on each HTTP thread (epoll), so a
 * handler that waits for a program holds every other connection of its
 * thread as long: GET /health, log streams, keep-alive clients. Instead a
 * handler hands the slow part to this pool with mg_req_defer(): the
 * request's connection is suspended (it costs no thread and no poll) and
 * one of MG_WORKPOOL_THREADS threads runs the work, which answers with the
 * usual mg_reply*() calls; the connection is then resumed and the answer
 * sent. At most MG_WORKPOOL_WAITING jobs wait for a thread; past that
 * mg_req_defer refuses and the handler answers 503 with Retry-After.
 *
 * The threads run at nice 19 with the batch policy, like the build
 * workers, and so does every program they start: the HTTP threads keep
 * the CPU. Programs run through the worker's executor (mg_work_exec), so
 * that mg_workpool_stop can kill them.
 *
 * The server starts the pool with the API and stops it before
 * MHD_stop_daemon (libmicrohttpd's rule: no connection may be suspended
 * then): waiting jobs answer 503, running programs are killed, every
 * connection is resumed. The server's side of a deferred request:
 * mg_req_defer sets r->deferred; after the handler the server then
 * returns without queueing an answer, and when the connection is resumed
 * libmicrohttpd calls it again with r->replied set, and it sends the
 * answer.
 *
 * Ownership: from mg_req_defer until the connection is resumed the worker
 * owns the mg_req (the HTTP thread does not touch it); after resuming, it
 * never touches it again.
 */
#ifndef MG_API_WORKPOOL_H
#define MG_API_WORKPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "api/internal.h"
#include "toolchain/exec.h"

#define MG_WORKPOOL_THREADS 2
#define MG_WORKPOOL_WAITING (2 * MG_WORKPOOL_THREADS)
/* A second pool runs pull workers' claims (POST /workers/claim): each
 * holds its thread for its whole long poll (and the preparation of the
 * build it takes), so there are many threads and no waiting: a claim past
 * them gets 503 with Retry-After at once, and no other request (drawings,
 * the HTTP threads) ever waits for one. */
#define MG_CLAIMPOOL_THREADS 16
#define MG_CLAIMPOOL_WAITING 0

typedef struct mg_workpool mg_workpool;
/* The worker a job runs on. */
typedef struct mg_work mg_work;

/* `threads` threads; a job finding them all busy waits, up to `waiting`
 * jobs (then mg_req_defer_to refuses). */
mg_workpool *mg_workpool_start(unsigned threads, unsigned waiting, mg_err *err);
/* Answers waiting jobs 503, kills running programs, waits for the running
 * jobs to answer, resumes every connection, joins the threads. NULL is
 * fine. */
void mg_workpool_stop(mg_workpool *p);
void mg_workpool_free(mg_workpool *p);

/* The slow part of a request: answers r with mg_reply*(). */
typedef void (*mg_work_fn)(mg_work *w, mg_req *r, void *arg);

/* Called from a handler: suspends r's connection and queues fn(w, r, arg)
 * for a worker; free_arg(arg) (when not NULL) runs after it. True when r
 * is taken care of (also when the pool is stopping: it answered 503 "the
 * daemon is stopping" and freed arg); false, with nothing done (arg
 * still the caller's), when MG_WORKPOOL_WAITING jobs wait already: answer
 * 503 with Retry-After. The server always has a pool (mg_api_start). */
bool mg_req_defer(mg_req *r, mg_work_fn fn, void (*free_arg)(void *), void *arg);
/* The same on pool `p` (the claims' pool). */
bool mg_req_defer_to(mg_workpool *p, mg_req *r, mg_work_fn fn, void (*free_arg)(void *), void *arg);
/* Set once the pool stops: a job that waits (a claim's long poll) polls
 * it and answers soon. */
const volatile int *mg_work_abort_flag(mg_work *w);

/* Runs a program for a job and waits for it (mg_exec_run's contract);
 * after mg_workpool_stop the result says cancelled. */
int mg_work_exec(mg_work *w, const mg_exec_spec *spec, mg_exec_result *res);

#endif
