/*
 * workpool.c - slow work of requests off the HTTP threads (workpool.h).
 *
 * Ordering, as in sse.c: a handler suspends its connection and queues the
 * job under the pool's lock, so a worker only ever resumes a suspended
 * connection, and mg_workpool_stop (which sets `stopping` under the same
 * lock) sees every job: the waiting ones it answers itself, the running
 * ones answer when their program has been killed. A job and its
 * argument are freed before its connection is resumed, and nothing
 * touches the request after that: libmicrohttpd may free it at once.
 */
#include "api/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct job {
    mg_req *r;
    mg_work_fn fn;
    void (*free_arg)(void *);
    void *arg;
    struct job *next;
} job;

struct mg_work {
    mg_workpool *pool;
    pthread_t thread;
    mg_executor *ex; /* made before the thread starts, cancelled by stop */
};

struct mg_workpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    volatile int abort; /* set by stop, before joining: long jobs end soon */
    job *head, *tail;   /* waiting, oldest first */
    unsigned n_waiting, n_busy;
    unsigned max_threads, max_waiting;
    unsigned n_threads; /* started */
    mg_work *workers;   /* max_threads of them */
};

/* Answered: frees the argument and the job, then resumes the connection
 * (which sends the answer); r is not ours afterwards. The job goes first
 * so that nothing of the request is still held once the client can read
 * the answer (the HTTP fuzz target's leak check saw the job alive after
 * its answer arrived). */
static void finish(job *j)
{
    if (!j->r->replied) mg_reply_error(j->r, 500, "the work gave no answer (a bug)");
    if (j->free_arg) j->free_arg(j->arg);
    struct MHD_Connection *conn = j->r->conn;
    free(j);
    MHD_resume_connection(conn);
}

static void *work_main(void *arg)
{
    mg_work *w = arg;
    mg_workpool *p = w->pool;
    if (mg_exec_lower_priority() != 0)
        fprintf(stderr, "mgd: work pool: cannot lower a thread's priority: %s\n", strerror(errno));
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping) break; /* the waiting jobs are stop's to answer */
        job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->n_waiting--;
        p->n_busy++;
        pthread_mutex_unlock(&p->lock);
        j->fn(w, j->r, j->arg);
        finish(j);
        pthread_mutex_lock(&p->lock);
        p->n_busy--;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

mg_workpool *mg_workpool_start(unsigned threads, unsigned waiting, mg_err *err)
{
    mg_workpool *p = calloc(1, sizeof *p);
    mg_work *workers = calloc(threads ? threads : 1, sizeof *workers);
    if (!p || !workers) {
        free(p);
        free(workers);
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return NULL;
    }
    p->workers = workers;
    p->max_threads = threads;
    p->max_waiting = waiting;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (unsigned i = 0; i < threads; i++) {
        mg_work *w = &p->workers[i];
        w->pool = p;
        if (!(w->ex = mg_executor_new())) {
            mg_err_set(err, MG_E_NOMEM, "cannot make the work pool's executors: out of memory");
            goto fail;
        }
        int e = pthread_create(&w->thread, NULL, work_main, w);
        if (e) {
            mg_err_set(err, MG_E_IO, "cannot start the work pool's threads: %s", strerror(e));
            mg_executor_free(w->ex);
            w->ex = NULL;
            goto fail;
        }
        p->n_threads++;
    }
    return p;
fail:
    mg_workpool_stop(p);
    mg_workpool_free(p);
    return NULL;
}

void mg_workpool_stop(mg_workpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    p->abort = 1;
    job *waiting = p->head;
    p->head = p->tail = NULL;
    p->n_waiting = 0;
    for (unsigned i = 0; i < p->n_threads; i++) mg_executor_cancel(p->workers[i].ex);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (job *j = waiting, *next; j; j = next) {
        next = j->next;
        mg_reply_error(j->r, 503, "the daemon is stopping");
        finish(j);
    }
    for (unsigned i = 0; i < p->n_threads; i++) {
        pthread_join(p->workers[i].thread, NULL);
        mg_executor_free(p->workers[i].ex);
        p->workers[i].ex = NULL;
    }
    p->n_threads = 0;
}

void mg_workpool_free(mg_workpool *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->workers);
    free(p);
}

bool mg_req_defer(mg_req *r, mg_work_fn fn, void (*free_arg)(void *), void *arg)
{
    return mg_req_defer_to(r->api->work, r, fn, free_arg, arg);
}

bool mg_req_defer_to(mg_workpool *p, mg_req *r, mg_work_fn fn, void (*free_arg)(void *), void *arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j) {
        if (free_arg) free_arg(arg);
        mg_reply_error(r, 500, "out of memory");
        return true;
    }
    *j = (job){.r = r, .fn = fn, .free_arg = free_arg, .arg = arg};
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        /* not "the queue is full": a client told to retry would find no
         * daemon */
        pthread_mutex_unlock(&p->lock);
        free(j);
        if (free_arg) free_arg(arg);
        mg_reply_error(r, 503, "the daemon is stopping");
        return true;
    }
    /* a job past the idle threads waits, up to max_waiting of them */
    unsigned idle = p->n_threads - p->n_busy;
    if (p->n_waiting >= idle + p->max_waiting) {
        pthread_mutex_unlock(&p->lock);
        free(j);
        return false;
    }
    r->deferred = true;
    MHD_suspend_connection(r->conn);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->n_waiting++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return true;
}

int mg_work_exec(mg_work *w, const mg_exec_spec *spec, mg_exec_result *res)
{
    mg_executor_start(w->ex, spec);
    return mg_executor_wait(w->ex, res);
}

const volatile int *mg_work_abort_flag(mg_work *w)
{
    return &w->pool->abort;
}
