/*
 * sse.c - build logs streamed as server-sent events.
 *
 * Each complete log line becomes `id: <byte offset after the line>` and
 * `data: <line>`; when the build has ended and everything is sent, an
 * `event: end` with {"status": ...} closes the stream. A comment every
 * 15 s keeps proxies and clients from timing the stream out.
 *
 * Why suspend/resume and not a waiting reader: libmicrohttpd runs many
 * connections on each pool thread (epoll), so a content reader that
 * blocks, even for 200 ms slices, stalls every other connection of its
 * thread for as long; with a few streams open, a pool of 4 threads would
 * answer other requests at a few per second. Instead, a reader that finds
 * nothing to send suspends its connection (MHD_suspend_connection from the
 * content reader is allowed in 0.9.75) and returns 0; one watcher thread
 * looks at the suspended streams every 100 ms (a stat of the log, the
 * build's status from the store every 500 ms, the keep-alive clock) and
 * resumes those with something to say. A suspended connection costs no
 * thread and no poll. Measured on 2 cores (docs/api.md, "How it is built"):
 * GET /builds/:id keeps its throughput with 50 streams open.
 *
 * Ordering: a reader suspends first and then registers, both under the
 * hub's lock, so the watcher only ever resumes suspended connections; at
 * stop the watcher resumes every stream and readers see `stopping` and
 * end, so no connection is suspended when MHD_stop_daemon runs.
 *
 * Followers that go away: libmicrohttpd does not watch a suspended
 * connection's socket (it leaves its epoll set), and neither its
 * completion nor its connection notice fires until the connection is
 * resumed and a write fails, which for a quiet build is the next
 * keep-alive, 15 s later. So the watcher polls the suspended streams'
 * sockets itself, every tick, in one poll() with no timeout (the socket
 * stays libmicrohttpd's: a suspended connection is never closed, and the
 * watcher only looks at streams on its list). A reset (POLLERR, POLLHUP)
 * ends the stream at once. A FIN alone (POLLRDHUP) may be a client that
 * closed, or one that only shut its sending side and still reads: the
 * stream is resumed to send it a keep-alive, which a closed socket
 * answers with a reset, seen at the next tick; a half-closed client reads
 * the comment and keeps its stream. Either way a follower that closed is
 * let go within two ticks (measured by tests/api/test_sse.py: 50 dropped
 * followers are all gone from mgd_log_streams within 2 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/internal.h"
#include "base/deadline.h"

#define KEEPALIVE_MS 15000
#define WATCH_MS 100
#define STATUS_EVERY_MS 500
#define READ_CHUNK (64 * 1024)
/* libmicrohttpd allocates this per stream and uses it only without chunked
 * coding (an HTTP/1.0 follower): small, since each response costs it */
#define BLOCK_SIZE (4 * 1024)

typedef struct mg_sse mg_sse;

struct mg_sse_hub {
    mg_api *api;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    mg_sse *waiting; /* suspended streams */
    /* the watcher's poll() of the suspended streams' sockets, grown as
     * needed (only the watcher touches them) */
    struct pollfd *pfds;
    mg_sse **polled;
    size_t poll_cap;
    atomic_uint open; /* streams alive: made and not yet freed (GET /metrics) */
};

struct mg_sse {
    mg_sse_hub *hub;
    struct MHD_Connection *conn;
    int64_t id;
    int64_t offset; /* log bytes sent as lines */
    int64_t seen;   /* log size at the last read */
    int sock;       /* the connection's socket (libmicrohttpd's), -1 when unknown */
    char *path;
    int fd;
    mg_buf out; /* events not yet handed to libmicrohttpd */
    size_t out_pos;
    uint64_t last_send_ms, last_status_ms;
    bool draining; /* the build has ended: the rest of its log, then the end event */
    mg_stored_status end_status;
    bool ended;        /* the end event is in `out` */
    bool status_ended; /* the watcher's last status check found the build over */
    /* set by the watcher while suspended, read by the reader once resumed */
    bool probe;  /* the client sent a FIN: send it a keep-alive, a closed socket resets */
    bool probed; /* a probe was sent: a half-closed client that still reads keeps its stream */
    bool gone;   /* the client's socket was reset or closed: end the stream */
    mg_sse *next;
};

static int64_t file_size(mg_sse *s)
{
    struct stat st;
    if (s->fd >= 0) return fstat(s->fd, &st) == 0 ? (int64_t)st.st_size : 0;
    return s->path && stat(s->path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* The build's status: true when it has ended (or is gone). */
static bool build_ended(mg_api *a, int64_t id, mg_stored_status *st)
{
    mg_stored_build b;
    mg_err e;
    int rc = mg_store_build_get(a->o.store, id, false, &b, &e);
    if (rc != 0 && e.code == MG_E_NOT_FOUND) {
        *st = MG_STORED_CANCELLED;
        return true;
    }
    if (rc != 0) return false; /* try again later */
    *st = b.status;
    /* a cancelled build's worker may still be writing its last lines */
    bool ended = mg_stored_status_terminal(b.status) && !mg_queue_running(a->o.queue, id);
    mg_stored_build_free(&b);
    return ended;
}

/* One event: a log line (`newline`: it ended with '\n', which is not in
 * `line`), or a piece of one (the end of a log without a final newline, a
 * part of a line longer than a chunk). */
static void add_line(mg_sse *s, const char *line, size_t n, int64_t end_offset, bool newline)
{
    mg_buf_printf(&s->out, "id: %lld\ndata: ", (long long)end_offset);
    /* A CR would end the SSE line early: drop the CR of a CRLF (the id
     * tells the client it was there), turn others into spaces. */
    if (newline && n && line[n - 1] == '\r') n--;
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\r') {
            mg_buf_add(&s->out, line + start, i - start);
            mg_buf_addc(&s->out, ' ');
            start = i + 1;
        }
    mg_buf_add(&s->out, line + start, n - start);
    mg_buf_adds(&s->out, "\n\n");
}

/* Turns new complete lines of the log into events; with `final` (the
 * build has ended), a last line without its newline too. Stops at a line's
 * end once `budget` bytes of events wait in `out`: a follower catching up
 * on a long log holds about what libmicrohttpd asks for at a time, not the
 * log (1,000 followers catching up on 55 KiB of log cost the daemon 178
 * KiB each when a read took up to 256 KiB of log and the stream kept its
 * buffers; 49 KiB now, mostly libmicrohttpd's connection: bench/load).
 * True when it added any. */
static bool read_lines(mg_sse *s, bool final, size_t budget)
{
    if (s->fd < 0) {
        if (!s->path) return false;
        s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) return false;
    }
    /* on the stack (libmicrohttpd's threads have 8 MiB, server.c), not
     * kept per stream: most streams are suspended, most of the time */
    char chunk[READ_CHUNK];
    bool any = false;
    while (s->out.len < budget) {
        ssize_t n = pread(s->fd, chunk, READ_CHUNK, (off_t)s->offset);
        if (n <= 0) break;
        if (s->offset + n > s->seen) s->seen = s->offset + n;
        size_t used = 0;
        bool full = false;
        for (size_t i = 0; i < (size_t)n && !full; i++)
            if (chunk[i] == '\n') {
                add_line(s, chunk + used, i - used, s->offset + (int64_t)i + 1, true);
                used = i + 1;
                full = s->out.len >= budget;
            }
        /* a line longer than a chunk goes out in chunk-sized pieces; the
         * end of a finished log goes out without its newline */
        if (!full &&
            ((used == 0 && (size_t)n == READ_CHUNK) || (final && (size_t)n < READ_CHUNK))) {
            if (used < (size_t)n) add_line(s, chunk + used, (size_t)n - used, s->offset + n, false);
            used = (size_t)n;
        }
        if (used == 0) break;
        s->offset += (int64_t)used;
        any = true;
        if (!full && (size_t)n < READ_CHUNK) break;
    }
    return any;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mg_sse *s = cls;
    mg_sse_hub *h = s->hub;
    (void)pos;
    /* the follower went away: libmicrohttpd closes the connection */
    if (s->gone) return MHD_CONTENT_READER_END_WITH_ERROR;
    for (;;) {
        if (s->out_pos < s->out.len) {
            size_t n = s->out.len - s->out_pos;
            if (n > max) n = max;
            memcpy(buf, s->out.data + s->out_pos, n);
            s->out_pos += n;
            if (s->out_pos == s->out.len) {
                mg_buf_clear(&s->out);
                s->out_pos = 0;
            }
            s->last_send_ms = mg_now_ms();
            return (ssize_t)n;
        }
        if (s->out.failed) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        if (read_lines(s, s->draining, max)) continue;
        if (s->draining) {
            mg_buf_printf(&s->out, "event: end\ndata: {\"status\":\"%s\"}\n\n",
                          mg_stored_status_name(s->end_status));
            s->ended = true;
            continue;
        }
        if (build_ended(h->api, s->id, &s->end_status)) {
            /* what the build wrote before it ended, then the end */
            s->draining = true;
            continue;
        }
        if (s->probe || mg_now_ms() - s->last_send_ms >= KEEPALIVE_MS) {
            s->probe = false;
            mg_buf_adds(&s->out, ": keep-alive\n\n");
            continue;
        }
        /* everything was sent: a suspended stream keeps no buffer (most
         * streams are suspended, most of the time) */
        mg_buf_free(&s->out);
        pthread_mutex_lock(&h->lock);
        if (h->stopping) {
            pthread_mutex_unlock(&h->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        MHD_suspend_connection(s->conn);
        s->last_status_ms = mg_now_ms();
        s->next = h->waiting;
        h->waiting = s;
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
}

static void free_stream(void *cls)
{
    mg_sse *s = cls;
    atomic_fetch_sub(&s->hub->open, 1);
    if (s->fd >= 0) close(s->fd);
    free(s->path);
    mg_buf_free(&s->out);
    free(s);
}

struct MHD_Response *mg_sse_response(mg_api *a, struct MHD_Connection *conn, int64_t id,
                                     int64_t offset)
{
    mg_sse *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hub = a->sse;
    s->conn = conn;
    s->id = id;
    s->offset = offset;
    s->seen = offset;
    s->fd = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->sock = ci ? ci->connect_fd : -1;
    atomic_fetch_add(&a->sse->open, 1);
    s->path = mg_queue_log_path(a->o.queue, id);
    s->last_send_ms = mg_now_ms();
    /* a first comment gets the headers and the stream going at once */
    mg_buf_printf(&s->out, ": log of build %lld from byte %lld\n\n", (long long)id,
                  (long long)offset);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, reader, s, free_stream);
    if (!r) free_stream(s);
    return r;
}

/* Under the hub's lock: takes the suspended streams whose follower has
 * gone (or may have: a FIN, to be probed) off the waiting list and
 * resumes them. One poll() for all of them, no timeout. */
static void check_sockets(mg_sse_hub *h)
{
    size_t n = 0;
    for (mg_sse *s = h->waiting; s; s = s->next) n++;
    if (n > h->poll_cap) {
        /* without the memory, this tick checks none: the next one tries
         * again, and the keep-alive is the fallback */
        struct pollfd *p = realloc(h->pfds, n * sizeof *p);
        if (p) h->pfds = p;
        mg_sse **q = realloc(h->polled, n * sizeof *q);
        if (q) h->polled = q;
        if (!p || !q) return;
        h->poll_cap = n;
    }
    size_t k = 0;
    for (mg_sse *s = h->waiting; s; s = s->next) {
        if (s->sock < 0) continue;
        h->pfds[k] = (struct pollfd){.fd = s->sock, .events = POLLRDHUP};
        h->polled[k++] = s;
    }
    if (k == 0 || poll(h->pfds, (nfds_t)k, 0) <= 0) return;
    for (size_t i = 0; i < k; i++) {
        short ev = h->pfds[i].revents;
        mg_sse *s = h->polled[i];
        if (ev & (POLLERR | POLLHUP | POLLNVAL))
            s->gone = true;
        else if ((ev & POLLRDHUP) && !s->probed)
            s->probe = s->probed = true;
    }
    /* a waiting stream has neither flag (the reader clears `probe` when it
     * sends the keep-alive): those that have one go, in one pass */
    for (mg_sse **pp = &h->waiting; *pp;) {
        mg_sse *s = *pp;
        if (!s->gone && !s->probe) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        s->next = NULL;
        MHD_resume_connection(s->conn);
    }
}

static void *watch(void *arg)
{
    mg_sse_hub *h = arg;
    mg_api *a = h->api;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        check_sockets(h);
        uint64_t now = mg_now_ms();
        /* streams due for a status check leave the list while the
         * database is asked, so HTTP threads suspending or resuming other
         * streams never wait for it; only this thread resumes them */
        mg_sse *check = NULL;
        for (mg_sse **pp = &h->waiting; *pp;) {
            mg_sse *s = *pp;
            bool wake = file_size(s) > s->seen || now - s->last_send_ms >= KEEPALIVE_MS;
            bool due = !wake && now - s->last_status_ms >= STATUS_EVERY_MS;
            if (wake || due) {
                *pp = s->next;
                if (wake) {
                    s->next = NULL;
                    MHD_resume_connection(s->conn);
                } else {
                    s->last_status_ms = now;
                    s->next = check;
                    check = s;
                }
            } else {
                pp = &s->next;
            }
        }
        if (check) {
            pthread_mutex_unlock(&h->lock);
            for (mg_sse *s = check; s; s = s->next) {
                mg_stored_status st;
                s->status_ended = build_ended(a, s->id, &st);
            }
            pthread_mutex_lock(&h->lock);
            for (mg_sse *s = check, *next; s; s = next) {
                next = s->next;
                if (s->status_ended || h->stopping) {
                    s->next = NULL;
                    MHD_resume_connection(s->conn);
                } else {
                    s->next = h->waiting;
                    h->waiting = s;
                }
            }
        }
        struct timespec until = mg_abstime_in(CLOCK_REALTIME, WATCH_MS);
        pthread_cond_timedwait(&h->cond, &h->lock, &until);
    }
    for (mg_sse *s = h->waiting, *next; s; s = next) {
        next = s->next;
        s->next = NULL;
        MHD_resume_connection(s->conn);
    }
    h->waiting = NULL;
    pthread_mutex_unlock(&h->lock);
    mg_store_thread_done(a->o.store);
    return NULL;
}

mg_sse_hub *mg_sse_hub_start(mg_api *a, mg_err *err)
{
    mg_sse_hub *h = calloc(1, sizeof *h);
    if (!h) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return NULL;
    }
    h->api = a;
    atomic_init(&h->open, 0);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    int e = pthread_create(&h->thread, NULL, watch, h);
    if (e) {
        mg_err_set(err, MG_E_IO, "cannot start the log stream thread: %s", strerror(e));
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->cond);
        free(h);
        return NULL;
    }
    a->sse = h;
    return h;
}

void mg_sse_hub_stop(mg_sse_hub *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
}

void mg_sse_hub_free(mg_sse_hub *h)
{
    if (!h) return;
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h->pfds);
    free(h->polled);
    free(h);
}

unsigned mg_sse_hub_open(mg_sse_hub *h)
{
    return h ? atomic_load(&h->open) : 0;
}
