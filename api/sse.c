/*
 * sse.c - server-sent events: build logs (GET /builds/:id/log), and the
 * changes of builds and projects (GET /events).
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
 *
 * Event streams (GET /events) ride on the same suspended connections, the
 * same watcher and the same socket checks. The queue tells the hub what
 * changed (mg_queue_watch: a build's id, a project's id, a deleted
 * project), on whatever thread changed it, often under the queue's lock:
 * on_change only notes it in a list (a build noted twice is read once).
 * Every tick the watcher reads what the list names from the store (the
 * Build as GET /builds/:id shows it, the Project as GET /projects lists
 * it), finds the queued builds whose place in the queue changed, and
 * appends each event, formatted once, to every stream it concerns; the
 * streams with something to send are resumed. So a build changing many
 * times in a tick (the steps of a parallel compile) costs one read and one
 * event per tick, and a build's states between two ticks may be skipped,
 * never its last one. The exception is a new build: its queued state
 * lasts a few milliseconds when a worker is idle, so the service hands
 * its row with the change and on_change formats it at once (its place in
 * the list is kept meanwhile, so events keep their order).
 *
 * A client that does not read: what a stream has not handed to
 * libmicrohttpd is capped (EVENTS_CAP); past it the stream is closed, its
 * socket shut down, so the daemon holds no more than the cap for it, and
 * the kernel no more than the socket's send buffer (EVENTS_SNDBUF). The client reconnects and
 * reloads its lists (there is no replay, docs/api.md). Too many changes noted at once (MAX_CHANGES,
 * something is badly wrong) close every event stream alike.
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

#include <sys/socket.h>

#include "api/internal.h"
#include "base/deadline.h"

#define KEEPALIVE_MS 15000
#define WATCH_MS 100
#define STATUS_EVERY_MS 500
#define READ_CHUNK (64 * 1024)
/* libmicrohttpd allocates this per stream and uses it only without chunked
 * coding (an HTTP/1.0 follower): small, since each response costs it */
#define BLOCK_SIZE (4 * 1024)
/* What an event stream may hold unsent (docs/api.md, GET /events) */
#define EVENTS_CAP (256 * 1024)
/* Changes noted and not yet read: far more than a tick's worth */
#define MAX_CHANGES 100000
#define EVENTS_RETRY_MS 2000
/* An event stream's socket send buffer (Linux doubles it): a client that
 * does not read costs this much of the kernel's memory, not the several
 * MiB that autotuning grows to on a fast link (measured: 750 KiB on
 * loopback); events are a trickle, this is plenty for one that reads */
#define EVENTS_SNDBUF (64 * 1024)
/* Queue positions are pushed for the builds this near the queue's head:
 * a build leaving it moves every build behind it, and one event per
 * build of a long queue each time would be a burst past EVENTS_CAP
 * (docs/api.md says so) */
#define MAX_MOVES 100
typedef struct mg_sse mg_sse;

/* A change on_change noted, oldest first. */
typedef struct ev_change {
    mg_change_kind kind;
    int64_t id;
    int64_t project; /* the project of the event, once known */
    char *data;      /* the event's JSON, once known (one line) */
    bool rendering;  /* on_change formats it now: the watcher waits for it */
    bool from_row;   /* data is the row the service handed (a new build, queued) */
    bool sibling;    /* sent because a build of the same inputs ended */
    struct ev_change *next;
} ev_change;

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
    /* event streams (GET /events) alive, under `lock` */
    mg_sse *events;
    atomic_uint open_events;
    /* changes noted by on_change, under `lock` */
    ev_change *changes, **changes_tail;
    size_t n_changes;
    bool changes_lost; /* MAX_CHANGES passed: every event stream is closed */
    /* the watcher's own: the last event id */
    uint64_t seq;
    /* the queue as last read (queued build ids, oldest first: a build's
     * place is its index + 1), under `qlock`: the watcher keeps it while
     * streams listen, the first stream to open after a change nobody
     * heard (`queue_stale`, set under `lock`) reads it again */
    pthread_mutex_t qlock;
    atomic_bool queue_stale;
    int64_t *queued;
    size_t n_queued;
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
    /* an event stream: `out` and `out_pos` are under the hub's lock (the
     * watcher appends, the reader takes) */
    bool events;
    int64_t project; /* only this project's events; 0: all */
    bool overflow;   /* it passed EVENTS_CAP: closed */
    mg_sse *ev_next; /* the hub's list of event streams */
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

/* Hands libmicrohttpd up to `max` bytes of what `out` holds unsent. */
static ssize_t send_out(mg_sse *s, char *buf, size_t max)
{
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

/* Under the hub's lock: suspends the stream (its reader returns 0) and
 * puts it on the waiting list. */
static void suspend(mg_sse_hub *h, mg_sse *s)
{
    MHD_suspend_connection(s->conn);
    s->last_status_ms = mg_now_ms();
    s->next = h->waiting;
    h->waiting = s;
}

/* An event stream's reader: what the watcher appended, keep-alives, and
 * the end when the stream passed its cap or the daemon stops. */
static ssize_t events_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mg_sse *s = cls;
    mg_sse_hub *h = s->hub;
    (void)pos;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        if (s->gone || s->overflow || s->out.failed) break;
        if (s->out_pos < s->out.len) {
            ssize_t n = send_out(s, buf, max);
            pthread_mutex_unlock(&h->lock);
            return n;
        }
        if (s->probe || mg_now_ms() - s->last_send_ms >= KEEPALIVE_MS) {
            s->probe = false;
            mg_buf_adds(&s->out, ": keep-alive\n\n");
            continue;
        }
        if (h->stopping) {
            pthread_mutex_unlock(&h->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        mg_buf_free(&s->out); /* a suspended stream keeps no buffer */
        suspend(h, s);
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    pthread_mutex_unlock(&h->lock);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mg_sse *s = cls;
    mg_sse_hub *h = s->hub;
    (void)pos;
    /* the follower went away: libmicrohttpd closes the connection */
    if (s->gone) return MHD_CONTENT_READER_END_WITH_ERROR;
    for (;;) {
        if (s->out_pos < s->out.len) return send_out(s, buf, max);
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
        suspend(h, s);
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
}

static int read_queue(mg_sse_hub *h, int64_t **ids, size_t *n);

static void free_stream(void *cls)
{
    mg_sse *s = cls;
    mg_sse_hub *h = s->hub;
    if (s->events) {
        /* off the list before libmicrohttpd closes its socket (it frees
         * the response first), so the watcher never shuts down a socket
         * that is no longer this stream's */
        pthread_mutex_lock(&h->lock);
        for (mg_sse **pp = &h->events; *pp; pp = &(*pp)->ev_next)
            if (*pp == s) {
                *pp = s->ev_next;
                break;
            }
        pthread_mutex_unlock(&h->lock);
        atomic_fetch_sub(&h->open_events, 1);
    } else {
        atomic_fetch_sub(&h->open, 1);
    }
    if (s->fd >= 0) close(s->fd);
    free(s->path);
    mg_buf_free(&s->out);
    free(s);
}

/* A stream of connection `conn`, nothing sent yet; NULL when out of memory. */
static mg_sse *new_stream(mg_api *a, struct MHD_Connection *conn)
{
    mg_sse *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hub = a->sse;
    s->conn = conn;
    s->fd = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->sock = ci ? ci->connect_fd : -1;
    s->last_send_ms = mg_now_ms();
    return s;
}

struct MHD_Response *mg_sse_response(mg_api *a, struct MHD_Connection *conn, int64_t id,
                                     int64_t offset)
{
    mg_sse *s = new_stream(a, conn);
    if (!s) return NULL;
    s->id = id;
    s->offset = offset;
    s->seen = offset;
    atomic_fetch_add(&a->sse->open, 1);
    s->path = mg_queue_log_path(a->o.queue, id);
    /* a first comment gets the headers and the stream going at once */
    mg_buf_printf(&s->out, ": log of build %lld from byte %lld\n\n", (long long)id,
                  (long long)offset);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, reader, s, free_stream);
    if (!r) free_stream(s);
    return r;
}

struct MHD_Response *mg_sse_events_response(mg_api *a, struct MHD_Connection *conn, int64_t project)
{
    mg_sse_hub *h = a->sse;
    mg_sse *s = new_stream(a, conn);
    if (!s) return NULL;
    s->events = true;
    s->project = project;
    int sndbuf = EVENTS_SNDBUF;
    if (s->sock >= 0) (void)setsockopt(s->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    /* the client's reconnection delay; it also gets the headers going */
    mg_buf_printf(&s->out, "retry: %d\n\n", EVENTS_RETRY_MS);
    pthread_mutex_lock(&h->lock);
    atomic_fetch_add(&h->open_events, 1);
    s->ev_next = h->events;
    h->events = s;
    pthread_mutex_unlock(&h->lock);
    /* the queue changed while nobody listened: its copy is read again
     * before the answer goes, so that the client's lists (loaded after
     * it) and the copy the next moves are found against agree; a second
     * stream opening meanwhile waits for it on the lock */
    pthread_mutex_lock(&h->qlock);
    if (atomic_exchange(&h->queue_stale, false)) {
        int64_t *ids;
        size_t n;
        if (read_queue(h, &ids, &n) == 0) {
            free(h->queued);
            h->queued = ids;
            h->n_queued = n;
        } else {
            atomic_store(&h->queue_stale, true); /* the next opening tries again */
        }
    }
    pthread_mutex_unlock(&h->qlock);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE,
                                                               events_reader, s, free_stream);
    if (!r) free_stream(s);
    return r;
}

/* ---- changes into events ------------------------------------------------ */

/* The JSON of a build as GET /builds/:id answers it, on one line (a raw
 * newline in JSON is only ever white space), malloc'd; NULL when the
 * store failed or memory ran out. */
static char *build_data(mg_api *a, const mg_stored_build *b)
{
    mg_buf out = {0};
    mg_jw w;
    mg_jw_init(&w, &out);
    mg_err e;
    if (!mg_build_json(a, &w, b, &e)) {
        mg_buf_free(&out);
        return NULL;
    }
    char *data = mg_buf_take(&out, NULL);
    for (char *p = data; p && *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return data;
}

/* The queue's observer (mg_queue_watch): notes the change for the
 * watcher. Called on any thread, maybe under the queue's lock: nothing
 * but the hub's lock here, except for a change with its row, which is
 * formatted now (see the top of the file). */
static void on_change(void *ctx, const mg_change *c)
{
    mg_sse_hub *h = ctx;
    bool now = c->kind == MG_CHANGE_BUILD && c->build;
    pthread_mutex_lock(&h->lock);
    /* nobody listens: a stream opened later loads its lists itself, and
     * the queue's copy, which moves are found against, is read again
     * then (the check and the mark are under the lock a stream's opening
     * counts itself under, so no change falls between them) */
    if (atomic_load(&h->open_events) == 0) {
        if (c->kind != MG_CHANGE_PROJECT) atomic_store(&h->queue_stale, true);
        pthread_mutex_unlock(&h->lock);
        return;
    }
    if (c->kind != MG_CHANGE_PROJECT_DELETED && !now)
        for (ev_change *e = h->changes; e; e = e->next)
            if (e->kind == c->kind && e->id == c->id && !e->data && !e->rendering) {
                pthread_mutex_unlock(&h->lock); /* it is read once, later */
                return;
            }
    ev_change *e = h->n_changes < MAX_CHANGES ? calloc(1, sizeof *e) : NULL;
    if (!e) {
        h->changes_lost = true;
        pthread_mutex_unlock(&h->lock);
        return;
    }
    e->kind = c->kind;
    e->id = c->id;
    e->rendering = now;
    e->from_row = now;
    if (c->kind == MG_CHANGE_PROJECT_DELETED) {
        mg_buf b = {0};
        mg_jw w;
        mg_jw_init(&w, &b);
        mg_jw_object(&w);
        mg_jw_kint(&w, "id", c->id);
        mg_jw_kstring(&w, "name", c->name);
        mg_jw_object_end(&w);
        e->data = mg_buf_take(&b, NULL);
        e->project = c->id;
    }
    *h->changes_tail = e;
    h->changes_tail = &e->next;
    h->n_changes++;
    /* a worker claimed the new build after the service read its row and
     * before it got here: that change (read later, so newer) goes after
     * the row's */
    for (ev_change **pp = &h->changes; now && *pp != e;) {
        ev_change *x = *pp;
        if (x->kind != MG_CHANGE_BUILD || x->id != c->id || x->data || x->rendering) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        x->next = NULL;
        *h->changes_tail = x;
        h->changes_tail = &x->next;
    }
    pthread_mutex_unlock(&h->lock);
    if (!now) return;
    char *data = build_data(h->api, c->build);
    pthread_mutex_lock(&h->lock);
    e->data = data;
    e->project = c->build->project_id;
    e->rendering = false;
    pthread_mutex_unlock(&h->lock);
}

/* Under the hub's lock: closes an event stream that passed its cap (or
 * all of them, when changes were lost). Its socket is shut down, so
 * libmicrohttpd closes the connection even while it waits to write to a
 * client that does not read (as server.c's close_conn); a suspended
 * stream is resumed by the watcher and ends. */
static void close_events(mg_sse *s)
{
    s->overflow = true;
    mg_buf_free(&s->out);
    s->out_pos = 0;
    if (s->sock >= 0) shutdown(s->sock, SHUT_RDWR);
}

/* Whether `batch` sends an event of build `id` already. */
static bool in_batch(const ev_change *batch, int64_t id)
{
    for (const ev_change *c = batch; c; c = c->next)
        if (c->kind == MG_CHANGE_BUILD && c->id == id) return true;
    return false;
}

/* Appends a change of build `id` at *tail, to be read; false when out of memory. */
static bool append_build(ev_change ***tail, int64_t id, bool sibling)
{
    ev_change *c = calloc(1, sizeof *c);
    if (!c) return false;
    c->kind = MG_CHANGE_BUILD;
    c->id = id;
    c->sibling = sibling;
    **tail = c;
    *tail = &c->next;
    return true;
}

/* Reads build `id` and formats its event: data and project set, or data
 * NULL when it is gone (or the store failed: the next change of the build
 * sends it). With `tail`, a build that succeeded with an image of its own
 * also queues the builds of its inputs (their sibling lists name it, as
 * GET /builds/:id computes them; the newest MG_STORE_SAME_INPUTS_MAX) at
 * *tail, but those `batch` sends. */
static void read_build(mg_sse_hub *h, ev_change *e, const ev_change *batch, ev_change ***tail)
{
    mg_stored_build b;
    if (mg_store_build_get(h->api->o.store, e->id, false, &b, NULL) != 0) return;
    e->data = build_data(h->api, &b);
    e->project = b.project_id;
    int64_t *ids = NULL;
    size_t n = 0;
    if (tail && !e->sibling && b.status == MG_STORED_SUCCEEDED && b.image_sha256 && b.input_hash &&
        !b.reused_from && mg_store_build_same_inputs(h->api->o.store, b.id, &ids, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            if (!in_batch(batch, ids[i]) && !append_build(tail, ids[i], true)) break;
    free(ids);
    mg_stored_build_free(&b);
}

static void read_project(mg_sse_hub *h, ev_change *e)
{
    mg_project p;
    if (mg_store_project_get_id(h->api->o.store, e->id, &p, NULL) != 0) return;
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    mg_view_project(&w, &p);
    e->data = mg_buf_take(&b, NULL);
    e->project = p.id;
    mg_project_free(&p);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The queued builds' ids, oldest first (malloc'd, never NULL on
 * success). The look (ids only) is bounded by the queue's limit
 * (--max-queue), so that a build's place is known however far back. */
static int read_queue(mg_sse_hub *h, int64_t **ids, size_t *n)
{
    mg_api *a = h->api;
    size_t limit =
        a->o.service && a->o.service->o.max_queued > 0 ? (size_t)a->o.service->o.max_queued : 1000;
    mg_queued_build *v = NULL;
    mg_err e;
    if (mg_store_build_queued(a->o.store, limit, &v, n, &e) != 0) return -1;
    *ids = malloc((*n ? *n : 1) * sizeof **ids);
    if (*ids)
        for (size_t i = 0; i < *n; i++) (*ids)[i] = v[i].id;
    free(v);
    return *ids ? 0 : -1;
}

/* The queue's first MAX_MOVES builds whose place changed since the last
 * look (a build before them left it), as changes appended at *tail;
 * those `batch` sends anyway are left out. */
static void queue_moves(mg_sse_hub *h, const ev_change *batch, ev_change ***tail)
{
    int64_t *ids;
    size_t n;
    pthread_mutex_lock(&h->qlock);
    if (read_queue(h, &ids, &n) != 0) {
        pthread_mutex_unlock(&h->qlock);
        return;
    }
    for (size_t i = 0; i < n && i < MAX_MOVES; i++) {
        int64_t *was = h->n_queued
                           ? bsearch(&ids[i], h->queued, h->n_queued, sizeof *h->queued, cmp_i64)
                           : NULL;
        /* new in the queue: its own change tells of it */
        if (!was || (size_t)(was - h->queued) == i) continue;
        if (in_batch(batch, ids[i])) continue;
        ev_change **at = *tail;
        if (!append_build(tail, ids[i], false)) break;
        read_build(h, *at, NULL, NULL);
    }
    free(h->queued);
    h->queued = ids;
    h->n_queued = n;
    pthread_mutex_unlock(&h->qlock);
}

static const char *event_name(mg_change_kind k)
{
    return k == MG_CHANGE_BUILD ? "build" : k == MG_CHANGE_PROJECT ? "project" : "project-deleted";
}

/* Under the hub's lock (released while the store is read): the changes
 * noted so far become events in every stream they concern. */
static void publish(mg_sse_hub *h)
{
    if (h->changes_lost) {
        for (mg_sse *s = h->events; s; s = s->ev_next) close_events(s);
        h->changes_lost = false;
    }
    /* the changes up to the first one on_change still formats */
    ev_change *batch = NULL, **tail = &batch;
    while (h->changes && !h->changes->rendering) {
        ev_change *e = h->changes;
        h->changes = e->next;
        e->next = NULL;
        *tail = e;
        tail = &e->next;
        h->n_changes--;
    }
    if (!h->changes) h->changes_tail = &h->changes;
    if (!batch) return;
    pthread_mutex_unlock(&h->lock);
    bool queue = false;
    for (ev_change *e = batch; e; e = e->next) {
        if (e->kind != MG_CHANGE_PROJECT) queue = true;
        if (e->data) continue;
        /* a worker claimed a new build before the service noted its row:
         * the row (queued) goes first, the build as it is now after it */
        for (ev_change *later = e->next; e->kind == MG_CHANGE_BUILD && later; later = later->next)
            if (later->kind == MG_CHANGE_BUILD && later->id == e->id && later->data) {
                e->data = later->data;
                e->project = later->project;
                e->from_row = later->from_row;
                later->data = NULL;
                later->from_row = false;
                break;
            }
        if (e->from_row) {
            /* the row was read before the workers were woken, but a worker
             * may have changed the build and had its change read before
             * the row got here (on_change orders only changes still
             * waiting): the build as it is now follows its row when it
             * left the queue, so its last event is its latest state */
            mg_stored_build b;
            if (mg_store_build_get(h->api->o.store, e->id, false, &b, NULL) == 0) {
                /* read in its turn, at the batch's end */
                if (b.status != MG_STORED_QUEUED && !in_batch(e->next, e->id))
                    (void)append_build(&tail, e->id, false);
                mg_stored_build_free(&b);
            }
        }
        if (e->data) continue;
        if (e->kind == MG_CHANGE_BUILD)
            read_build(h, e, batch, &tail);
        else
            read_project(h, e);
    }
    if (queue) queue_moves(h, batch, &tail);
    mg_buf ev = {0};
    pthread_mutex_lock(&h->lock);
    for (ev_change *e = batch, *next; e; e = next) {
        next = e->next;
        if (e->data) {
            mg_buf_clear(&ev);
            mg_buf_printf(&ev, "event: %s\nid: %llu\ndata: %s\n\n", event_name(e->kind),
                          (unsigned long long)++h->seq, e->data);
            for (mg_sse *s = ev.failed ? NULL : h->events; s; s = s->ev_next) {
                if (s->overflow || (s->project && s->project != e->project)) continue;
                if (s->out.len - s->out_pos + ev.len > EVENTS_CAP) {
                    close_events(s);
                    continue;
                }
                if (s->out_pos) { /* what was sent goes */
                    memmove(s->out.data, s->out.data + s->out_pos, s->out.len - s->out_pos);
                    s->out.len -= s->out_pos;
                    s->out_pos = 0;
                }
                mg_buf_add(&s->out, ev.data, ev.len);
            }
        }
        free(e->data);
        free(e);
    }
    mg_buf_free(&ev);
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
        publish(h);
        check_sockets(h);
        uint64_t now = mg_now_ms();
        /* streams due for a status check leave the list while the
         * database is asked, so HTTP threads suspending or resuming other
         * streams never wait for it; only this thread resumes them */
        mg_sse *check = NULL;
        for (mg_sse **pp = &h->waiting; *pp;) {
            mg_sse *s = *pp;
            bool wake =
                now - s->last_send_ms >= KEEPALIVE_MS ||
                (s->events ? s->out_pos < s->out.len || s->overflow : file_size(s) > s->seen);
            bool due = !wake && !s->events && now - s->last_status_ms >= STATUS_EVERY_MS;
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
    atomic_init(&h->open_events, 0);
    h->changes_tail = &h->changes;
    atomic_init(&h->queue_stale, true);
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->qlock, NULL);
    pthread_cond_init(&h->cond, NULL);
    int e = pthread_create(&h->thread, NULL, watch, h);
    if (e) {
        mg_err_set(err, MG_E_IO, "cannot start the log stream thread: %s", strerror(e));
        pthread_mutex_destroy(&h->lock);
        pthread_mutex_destroy(&h->qlock);
        pthread_cond_destroy(&h->cond);
        free(h);
        return NULL;
    }
    a->sse = h;
    mg_queue_watch(a->o.queue, on_change, h);
    return h;
}

void mg_sse_hub_stop(mg_sse_hub *h)
{
    if (!h) return;
    /* no change is noted after this returns */
    mg_queue_watch(h->api->o.queue, NULL, NULL);
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
    pthread_mutex_destroy(&h->qlock);
    pthread_cond_destroy(&h->cond);
    free(h->pfds);
    free(h->polled);
    for (ev_change *e = h->changes, *next; e; e = next) {
        next = e->next;
        free(e->data);
        free(e);
    }
    free(h->queued);
    free(h);
}

unsigned mg_sse_hub_open(mg_sse_hub *h)
{
    return h ? atomic_load(&h->open) : 0;
}

unsigned mg_sse_hub_event_streams(mg_sse_hub *h)
{
    return h ? atomic_load(&h->open_events) : 0;
}
