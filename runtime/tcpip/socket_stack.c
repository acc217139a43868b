/*
 * socket_stack.c - socket_stackv4v6 (unix only, runtime/tcpip/catalog.json):
 * mg/stack.h over the host's non-blocking sockets, as MirageOS's
 * --net=socket, so that a unix image serves on the host's own addresses
 * without a tap or privileges.
 *
 * One epoll descriptor holds every socket of the image; the unix binding
 * polls it as one platform handle (abi/unix.h), which the stack watches on
 * the loop while it has a listener, a flow or a UDP socket: that watch is
 * what keeps the image alive, and unwatching it when the last one is gone
 * lets the image end. When the loop reports the handle ready, one
 * epoll_wait without waiting takes up to SOCK_EVENTS events and each is
 * dispatched; what is left stays ready (level-triggered) for the next turn,
 * so timers run in between.
 *
 * Flows: writes go straight to send(); what the host does not take waits
 * in the flow's own buffer, up to SOCK_SEND_CAP: that cap is where
 * mg_flow_write says MG_EAGAIN, and `writable` follows once the buffer is
 * down to half of it. Pause is "stop reading" (no EPOLLIN): the host's
 * receive buffer fills and its window closes on the peer. Received bytes
 * also wait in the host until the flow has a `recv` callback. Shutdown
 * is shutdown(SHUT_WR) once the buffer is empty; close does that and then
 * closes the descriptor, with no callback; abort closes with SO_LINGER 0,
 * which resets the connection.
 *
 * Callbacks run only from the loop: from the epoll dispatch, or from a
 * flow's deferred timer for what an application call started (a connect
 * that finished at once, an error a write saw, the end of a flow shut down
 * after the peer's). An object the application or a callback destroys is
 * marked dead at once (descriptor closed, out of the epoll set) and freed
 * by a deferred timer, after the dispatch that may still hold it.
 *
 * IPv4 only, as the API says of both stacks today.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mg/loop.h"
#include "mg/tcpip.h"
#include "abi/unix.h"
#include "stack_impl.h"

#define SOCK_SEND_CAP (64 * 1024)  /* a flow's own send buffer: the back-pressure point */
#define SOCK_READ_SIZE (64 * 1024) /* one read; also the largest UDP datagram */
#define SOCK_EVENTS 64             /* epoll events handled per turn of the loop */
#define SOCK_ACCEPT_BURST 64       /* connections accepted per event */
#define SOCK_READS_PER_EVENT 4     /* reads of one flow per event */
#define SOCK_UDP_BURST 64          /* datagrams per event */
#define SOCK_BACKLOG 1024
#define SOCK_ACCEPT_RETRY_NS (100 * 1000000ull) /* out of descriptors: try again after */

enum sock_kind { SOCK_LISTENER, SOCK_FLOW, SOCK_UDP };

/* What every socket of the stack has: its place in the epoll set and in
 * the list of dead objects waiting to be freed. */
struct sock_obj {
    enum sock_kind kind;
    int fd;
    bool registered; /* in the epoll set, with `events` */
    bool dead;       /* destroyed: descriptor closed, memory freed soon */
    uint32_t events;
    void *mem; /* the containing object, for free() */
    struct sock_obj *next_dead;
};

struct sock_listener {
    struct mg_tcp_listener base; /* first: stack.c converts with a cast */
    struct sock_obj obj;
    mg_tcp_accept_fn *fn;
    void *arg;
    mg_loop_timer retry; /* accepting again after running out of descriptors */
};

struct sock_flow {
    struct mg_flow base;
    struct sock_obj obj;
    mg_loop_timer later; /* deferred work from an application call */
    /* while connecting: whom to tell, and the outcome once known (-1:
     * not yet) */
    mg_tcp_connect_fn *connect_fn;
    void *connect_arg;
    int connect_status;
    int error;    /* a failure seen in an application call, told from the loop */
    uint8_t *out; /* bytes the host has not taken yet (NULL when none) */
    size_t out_head, out_len;
    bool want_writable; /* a write was short: call `writable` when room is back */
    bool want_shutdown; /* shut the sending side once `out` is empty */
    bool wr_shut;       /* ... done */
    bool rd_eof;        /* the peer ended its stream */
    bool closing;       /* mg_flow_close: close once `out` is empty */
    bool parked;        /* out of the epoll set after a hang-up while not reading */
    bool cb_set;        /* the application set its callbacks */
    int failed;         /* over (MG_E*) before they were: told once they are */
    struct sockaddr_in local, peer;
};

struct sock_udp {
    struct mg_udp_socket base;
    struct sock_obj obj;
    mg_udp_recv_fn *fn;
    void *arg;
    uint16_t port;
};

static const mg_stack_ops sock_ops;

static struct sock_stack {
    struct mg_stackv4v6 stack;
    struct mg_tcp tcp;
    struct mg_udp udp;
    bool up;
    int epfd;
    mg_handle handle;
    size_t live; /* listeners, flows, UDP sockets: while any, the handle is watched */
    struct sock_obj *dead;
    mg_loop_timer reaper;
    uint8_t rbuf[SOCK_READ_SIZE];
} S;

#define SOCK_OF(type, o) ((struct type *)(o)->mem)

static void sock_ready(void *arg, mg_handle h);

/* ---- bookkeeping shared by every kind ---- */

static void sock_live_add(void)
{
    if (S.live++ == 0) mg_loop_watch(S.handle, sock_ready, NULL);
}

static void sock_reap(void *arg)
{
    (void)arg;
    while (S.dead) {
        struct sock_obj *o = S.dead;
        S.dead = o->next_dead;
        free(o->mem);
    }
}

/* Sets the events `o` waits for (registering it if it is not yet). */
static int sock_ctl(struct sock_obj *o, uint32_t events)
{
    if (o->registered && o->events == events) return 0;
    struct epoll_event ev = {.events = events, .data.ptr = o};
    if (epoll_ctl(S.epfd, o->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, o->fd, &ev) != 0)
        return -1;
    o->registered = true;
    o->events = events;
    return 0;
}

static void sock_unregister(struct sock_obj *o)
{
    if (!o->registered) return;
    epoll_ctl(S.epfd, EPOLL_CTL_DEL, o->fd, NULL);
    o->registered = false;
}

/* Closes the descriptor and frees the object once the current dispatch
 * is over; it keeps the image alive no more. */
static void sock_destroy(struct sock_obj *o)
{
    if (o->dead) return;
    o->dead = true;
    /* nothing of it may run any more */
    if (o->kind == SOCK_FLOW) {
        struct sock_flow *f = o->mem;
        mg_loop_timer_stop(&f->later);
        free(f->out);
        f->out = NULL;
        f->out_len = 0;
    } else if (o->kind == SOCK_LISTENER)
        mg_loop_timer_stop(&((struct sock_listener *)o->mem)->retry);
    sock_unregister(o);
    close(o->fd);
    o->fd = -1;
    o->next_dead = S.dead;
    S.dead = o;
    /* a timer, never now: the dispatch (or the callback) that destroyed
     * it may still read it; if the timer cannot be armed the memory waits
     * for the next destroy */
    mg_loop_defer(&S.reaper, sock_reap, NULL);
    if (--S.live == 0) mg_loop_unwatch(S.handle);
}

/* The status of a failed connection from its errno. */
static int sock_status(int e, bool connecting)
{
    switch (e) {
    case ECONNREFUSED:
        return connecting ? MG_ECONNREFUSED : MG_ECONNRESET;
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
        return MG_ETIMEDOUT; /* no answer from the other end */
    case ENOMEM:
    case ENOBUFS:
        return connecting ? MG_ENOMEM : MG_ECONNRESET;
    default:
        return MG_ECONNRESET;
    }
}

/* The status of a socket that could not be made, bound or listened. */
static int sock_setup_status(int e)
{
    switch (e) {
    case EADDRINUSE:
        return MG_EADDRINUSE;
    case EACCES:
    case EPERM:
        return MG_EACCES; /* a port under 1024 without the privilege */
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
        return MG_ENOMEM;
    default:
        return MG_EIO;
    }
}

static mg_ipaddr sock_ipaddr(const struct sockaddr_in *sa)
{
    return mg_ipaddr_v4(ntohl(sa->sin_addr.s_addr));
}

static struct sockaddr_in sock_sockaddr(const mg_ipaddr *a, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = a ? htonl(mg_ipaddr_v4_value(a)) : htonl(INADDR_ANY);
    return sa;
}

/* ---- flows ---- */

static void flow_progress(struct sock_flow *f);
static void flow_fail(struct sock_flow *f, int status);
static void flow_defer(struct sock_flow *f);

static struct sock_flow *flow_new(int fd)
{
    struct sock_flow *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->base.ops = &sock_ops;
    f->obj = (struct sock_obj){.kind = SOCK_FLOW, .fd = fd, .mem = f};
    f->connect_status = -1;
    sock_live_add();
    return f;
}

/* Whether the flow reads now: established, not at the end of the stream,
 * and someone takes the bytes (a closing flow reads them away, so that
 * closing it does not reset the connection over unread bytes). */
static bool flow_reading(const struct sock_flow *f)
{
    if (f->connect_fn || f->rd_eof) return false;
    if (f->closing) return true;
    return !f->base.released && !f->base.paused && f->base.cb.recv;
}

/* Registers the events the flow's state asks for. */
static void flow_update(struct sock_flow *f)
{
    if (f->obj.dead) return;
    if (f->failed) { /* out of the set: only the application moves it on */
        flow_defer(f);
        return;
    }
    uint32_t events = 0;
    if (f->connect_fn)
        events = EPOLLOUT;
    else {
        if (flow_reading(f)) events |= EPOLLIN;
        if (f->out_len || f->want_writable) events |= EPOLLOUT;
    }
    if (f->parked) {
        if (!events) return; /* still nothing to do: stay out of the set */
        f->parked = false;
    }
    /* 0 events still reports errors and hang-ups: a reset is noticed
     * while paused */
    if (sock_ctl(&f->obj, events) != 0 && !f->error) {
        f->error = MG_ECONNRESET; /* the host cannot watch it: give it up */
        flow_defer(f);
    }
}

static void flow_names(struct sock_flow *f)
{
    socklen_t len = sizeof f->local;
    getsockname(f->obj.fd, (struct sockaddr *)&f->local, &len);
    len = sizeof f->peer;
    getpeername(f->obj.fd, (struct sockaddr *)&f->peer, &len);
    /* replies go out as the application writes them: an echo or an HTTP
     * answer should not wait for Nagle's algorithm */
    int one = 1;
    setsockopt(f->obj.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A connect's outcome, told once; a failed one frees the flow. */
static void flow_connect_done(struct sock_flow *f, int status)
{
    mg_tcp_connect_fn *fn = f->connect_fn;
    void *arg = f->connect_arg;
    f->connect_fn = NULL;
    if (status != MG_OK) {
        sock_destroy(&f->obj);
        fn(arg, NULL, status);
        return;
    }
    flow_names(f);
    flow_update(f);
    fn(arg, &f->base, MG_OK);
}

/* The connection is over: tell the application (unless it let go) and
 * free the flow. */
static void flow_fail(struct sock_flow *f, int status)
{
    if (f->obj.dead) return;
    if (f->connect_fn) {
        flow_connect_done(f, status);
        return;
    }
    if (status != MG_ETIMEDOUT) status = MG_ECONNRESET;
    if (!f->cb_set && !f->base.released) {
        /* the application may still set the callbacks (mg/stack.h): the
         * flow stays, out of the epoll set, until then (flow_progress) */
        f->failed = status;
        sock_unregister(&f->obj);
        free(f->out);
        f->out = NULL;
        f->out_len = 0;
        return;
    }
    sock_destroy(&f->obj);
    mg_stack_flow_closed(&f->base, status);
}

/* A flow over before its callbacks were set, once they are: what the host
 * still holds for it (bytes that came before the reset), then closed. */
static void flow_failed_progress(struct sock_flow *f)
{
    if (f->base.released) {
        sock_destroy(&f->obj);
        return;
    }
    if (!f->cb_set || (f->base.cb.recv && f->base.paused)) return; /* resume or set: again */
    for (int i = 0; i < SOCK_READS_PER_EVENT && f->base.cb.recv && !f->base.paused; i++) {
        ssize_t n = recv(f->obj.fd, S.rbuf, sizeof S.rbuf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        mg_stack_flow_recv(&f->base, S.rbuf, (size_t)n);
        if (f->base.released) break;
        if ((size_t)n < sizeof S.rbuf) break;
        if (i == SOCK_READS_PER_EVENT - 1) { /* more: from the loop, not all at once */
            flow_defer(f);
            return;
        }
    }
    if (!f->base.released && f->base.cb.recv && f->base.paused) return; /* paused in recv */
    sock_destroy(&f->obj);
    mg_stack_flow_closed(&f->base, f->failed);
}

/* Hands the buffered bytes to the host, as many as it takes. */
static void flow_flush(struct sock_flow *f)
{
    while (f->out_len) {
        ssize_t n = send(f->obj.fd, f->out + f->out_head, f->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) {
            flow_fail(f, sock_status(errno, false));
            return;
        }
        f->out_head += (size_t)n;
        f->out_len -= (size_t)n;
    }
    /* an idle flow holds no buffer: a thousand quiet connections cost
     * their structs only */
    free(f->out);
    f->out = NULL;
    f->out_head = 0;
}

/* Closes a flow the application closed, once its bytes are out. */
static void flow_finish_close(struct sock_flow *f)
{
    /* bytes left unread would make the host reset the connection instead
     * of ending it: read away what has come (bounded) */
    for (int i = 0; i < 16 && !f->rd_eof; i++) {
        ssize_t n = recv(f->obj.fd, S.rbuf, sizeof S.rbuf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
    }
    sock_destroy(&f->obj);
}

/* Everything that follows a change of state, from the loop only: the
 * deferred error, the shutdown, the close, `writable`, the end. */
static void flow_progress(struct sock_flow *f)
{
    if (f->obj.dead) return;
    if (f->connect_fn) {
        if (f->connect_status >= 0) flow_connect_done(f, f->connect_status);
        return;
    }
    if (f->failed) {
        flow_failed_progress(f);
        return;
    }
    if (f->error) {
        flow_fail(f, f->error);
        return;
    }
    if (f->want_shutdown && !f->wr_shut && !f->out_len) {
        if (shutdown(f->obj.fd, SHUT_WR) != 0 && errno != ENOTCONN) {
            flow_fail(f, sock_status(errno, false));
            return;
        }
        f->wr_shut = true;
        f->want_writable = false;
    }
    if (f->closing) {
        if (f->wr_shut)
            flow_finish_close(f);
        else
            flow_update(f);
        return;
    }
    if (f->want_writable && f->out_len <= SOCK_SEND_CAP / 2) {
        f->want_writable = false;
        mg_stack_flow_writable(&f->base);
        if (f->obj.dead) return;
    }
    if (f->rd_eof && f->wr_shut && !f->out_len) {
        sock_destroy(&f->obj);
        mg_stack_flow_closed(&f->base, MG_OK);
        return;
    }
    flow_update(f);
}

static void flow_later(void *arg)
{
    flow_progress(arg);
}

static void flow_defer(struct sock_flow *f)
{
    /* should the timer not arm (no memory), the next event of the flow
     * makes the same progress */
    mg_loop_defer(&f->later, flow_later, f);
}

static void flow_read(struct sock_flow *f)
{
    for (int i = 0; i < SOCK_READS_PER_EVENT; i++) {
        if (f->obj.dead || !flow_reading(f)) return;
        ssize_t n = recv(f->obj.fd, S.rbuf, sizeof S.rbuf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) {
            flow_fail(f, sock_status(errno, false));
            return;
        }
        if (n == 0) {
            f->rd_eof = true;
            mg_stack_flow_recv(&f->base, NULL, 0);
            flow_progress(f);
            return;
        }
        mg_stack_flow_recv(&f->base, S.rbuf, (size_t)n);
        if ((size_t)n < sizeof S.rbuf) return; /* drained: no need to ask again */
    }
}

static void flow_event(struct sock_flow *f, uint32_t events)
{
    if (f->connect_fn) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(f->obj.fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
        if (e == 0 && (events & (EPOLLERR | EPOLLHUP))) e = ECONNREFUSED;
        flow_connect_done(f, e ? sock_status(e, true) : MG_OK);
        return;
    }
    if (events & EPOLLERR) {
        int e = 0;
        socklen_t len = sizeof e;
        getsockopt(f->obj.fd, SOL_SOCKET, SO_ERROR, &e, &len);
        if (e) {
            flow_fail(f, sock_status(e, false));
            return;
        }
    }
    if (events & EPOLLIN) flow_read(f);
    if (f->obj.dead) return;
    if (events & EPOLLOUT) {
        flow_flush(f);
        if (f->obj.dead) return;
        flow_progress(f);
        if (f->obj.dead) return;
    }
    /* both directions are over but the flow does not read (paused, no
     * recv yet): a hang-up would be reported on every turn, so leave the
     * set until the application reads again */
    if ((events & EPOLLHUP) && !flow_reading(f) && !f->out_len) {
        sock_unregister(&f->obj);
        f->parked = true;
    }
}

/* ---- listeners ---- */

static void listener_accept(struct sock_listener *l);

static void listener_retry(void *arg)
{
    struct sock_listener *l = arg;
    if (!l->obj.dead && sock_ctl(&l->obj, EPOLLIN) != 0)
        mg_loop_timer_start(&l->retry, mg_loop_now() + SOCK_ACCEPT_RETRY_NS, listener_retry, l);
}

static void listener_accept(struct sock_listener *l)
{
    for (int i = 0; i < SOCK_ACCEPT_BURST && !l->obj.dead; i++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept4(l->obj.fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            /* out of descriptors or memory: the pending connection stays
             * ready, and would wake the loop on every turn; stop listening
             * for a while instead */
            sock_unregister(&l->obj);
            mg_loop_timer_start(&l->retry, mg_loop_now() + SOCK_ACCEPT_RETRY_NS, listener_retry, l);
            return;
        }
        struct sock_flow *f = flow_new(fd);
        if (!f) {
            close(fd);
            continue;
        }
        flow_names(f);
        flow_update(f);
        if (f->obj.dead) continue;
        l->fn(l->arg, &l->base, &f->base);
    }
}

static int sock_tcp_listen(mg_tcp *t, uint16_t port, mg_tcp_accept_fn *fn, void *arg,
                           mg_tcp_listener **out)
{
    (void)t;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sock_setup_status(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = sock_sockaddr(NULL, port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, SOCK_BACKLOG) != 0) {
        int status = sock_setup_status(errno);
        close(fd);
        return status;
    }
    struct sock_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return MG_ENOMEM;
    }
    l->base.ops = &sock_ops;
    l->obj = (struct sock_obj){.kind = SOCK_LISTENER, .fd = fd, .mem = l};
    l->fn = fn;
    l->arg = arg;
    if (sock_ctl(&l->obj, EPOLLIN) != 0) {
        close(fd);
        free(l);
        return MG_ENOMEM;
    }
    sock_live_add();
    *out = &l->base;
    return MG_OK;
}

static void sock_tcp_unlisten(mg_tcp_listener *base)
{
    sock_destroy(&((struct sock_listener *)base)->obj);
}

static int sock_tcp_connect(mg_tcp *t, const mg_ipaddr *addr, uint16_t port, mg_tcp_connect_fn *fn,
                            void *arg)
{
    (void)t;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return MG_ENOMEM;
    struct sock_flow *f = flow_new(fd);
    if (!f) {
        close(fd);
        return MG_ENOMEM;
    }
    f->connect_fn = fn;
    f->connect_arg = arg;
    struct sockaddr_in sa = sock_sockaddr(addr, port);
    int r;
    do r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    while (r != 0 && errno == EINTR);
    if (r != 0 && errno == EINPROGRESS) {
        if (sock_ctl(&f->obj, EPOLLOUT) == 0) return MG_OK;
        f->connect_status = MG_ENOMEM;
    } else
        f->connect_status = r == 0 ? MG_OK : sock_status(errno, true);
    /* done already (loopback may answer at once): told from the loop */
    if (mg_loop_defer(&f->later, flow_later, f) != MG_OK) {
        f->connect_fn = NULL;
        sock_destroy(&f->obj);
        return MG_ENOMEM;
    }
    return MG_OK;
}

static int sock_flow_write(mg_flow *base, const void *data, size_t size, size_t *taken)
{
    struct sock_flow *f = (struct sock_flow *)base;
    if (f->obj.dead || f->error || f->failed || f->connect_fn || f->want_shutdown)
        return MG_ENOTCONN;
    size_t done = 0;
    if (!f->out_len) {
        for (;;) {
            ssize_t n = send(f->obj.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                done = (size_t)n;
                break;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            /* the connection is over: `closed` comes from the loop */
            f->error = sock_status(errno, false);
            flow_defer(f);
            return MG_ENOTCONN;
        }
    }
    if (done < size && (f->out || (f->out = malloc(SOCK_SEND_CAP)))) {
        if (f->out_head + f->out_len + (size - done) > SOCK_SEND_CAP && f->out_head) {
            memmove(f->out, f->out + f->out_head, f->out_len);
            f->out_head = 0;
        }
        size_t room = SOCK_SEND_CAP - f->out_head - f->out_len;
        size_t n = size - done < room ? size - done : room;
        memcpy(f->out + f->out_head + f->out_len, (const uint8_t *)data + done, n);
        f->out_len += n;
        done += n;
    }
    *taken = done;
    /* without memory for a buffer, `writable` follows when the host
     * itself has room again (EPOLLOUT) */
    if (done < size) f->want_writable = true;
    flow_update(f);
    return done == size ? MG_OK : MG_EAGAIN;
}

static size_t sock_flow_unsent(const mg_flow *base)
{
    return ((const struct sock_flow *)base)->out_len;
}

static void sock_flow_pause(mg_flow *base)
{
    flow_update((struct sock_flow *)base);
}

static void sock_flow_resume(mg_flow *base)
{
    flow_update((struct sock_flow *)base);
}

static void sock_flow_callbacks_set(mg_flow *base)
{
    struct sock_flow *f = (struct sock_flow *)base;
    f->cb_set = true;
    flow_update(f);
}

static void sock_flow_shutdown(mg_flow *base)
{
    struct sock_flow *f = (struct sock_flow *)base;
    if (f->obj.dead || f->want_shutdown) return;
    f->want_shutdown = true;
    flow_defer(f);
}

/* How long a closed flow's unsent bytes may wait for the peer. */
#define SOCK_CLOSE_TIMEOUT_MS 60000u

static void sock_flow_close(mg_flow *base)
{
    struct sock_flow *f = (struct sock_flow *)base;
    if (f->obj.dead) return;
    f->closing = true;
    f->want_shutdown = true;
    f->want_writable = false;
    /* the application is done with it: a peer that stops acknowledging
     * (or keeps its window shut) must not hold the descriptor and the
     * buffer forever; the host resets the connection after this long */
    unsigned ms = SOCK_CLOSE_TIMEOUT_MS;
    setsockopt(f->obj.fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    flow_defer(f);
}

static void sock_flow_abort(mg_flow *base)
{
    struct sock_flow *f = (struct sock_flow *)base;
    if (f->obj.dead) return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close sends a reset */
    setsockopt(f->obj.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    sock_destroy(&f->obj);
}

static void sock_flow_ends(const mg_flow *base, bool peer, mg_ipaddr *addr, uint16_t *port)
{
    const struct sock_flow *f = (const struct sock_flow *)base;
    const struct sockaddr_in *sa = peer ? &f->peer : &f->local;
    if (addr) *addr = sock_ipaddr(sa);
    if (port) *port = ntohs(sa->sin_port);
}

/* ---- UDP ---- */

static void udp_read(struct sock_udp *u)
{
    for (int i = 0; i < SOCK_UDP_BURST && !u->obj.dead; i++) {
        struct sockaddr_in src;
        socklen_t len = sizeof src;
        ssize_t n =
            recvfrom(u->obj.fd, S.rbuf, sizeof S.rbuf, MSG_DONTWAIT, (struct sockaddr *)&src, &len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) continue; /* EINTR, or an error of an earlier datagram: go on */
        mg_ipaddr a = sock_ipaddr(&src);
        u->fn(u->arg, &u->base, &a, ntohs(src.sin_port), S.rbuf, (size_t)n);
    }
}

static int sock_udp_bind(mg_udp *base, uint16_t port, mg_udp_recv_fn *fn, void *arg,
                         mg_udp_socket **out)
{
    (void)base;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sock_setup_status(errno);
    /* no SO_REUSEADDR: for UDP it would let a second socket share the
     * port silently instead of saying MG_EADDRINUSE */
    struct sockaddr_in sa = sock_sockaddr(NULL, port);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        int status = sock_setup_status(errno);
        close(fd);
        return status;
    }
    struct sock_udp *u = calloc(1, sizeof *u);
    if (!u) {
        close(fd);
        return MG_ENOMEM;
    }
    u->base.ops = &sock_ops;
    u->obj = (struct sock_obj){.kind = SOCK_UDP, .fd = fd, .mem = u};
    u->fn = fn;
    u->arg = arg;
    u->port = ntohs(sa.sin_port);
    if (sock_ctl(&u->obj, EPOLLIN) != 0) {
        close(fd);
        free(u);
        return MG_ENOMEM;
    }
    sock_live_add();
    *out = &u->base;
    return MG_OK;
}

static uint16_t sock_udp_port(const mg_udp_socket *base)
{
    return ((const struct sock_udp *)base)->port;
}

static int sock_udp_sendto(mg_udp_socket *base, const mg_ipaddr *dst, uint16_t port,
                           const void *data, size_t size)
{
    struct sock_udp *u = (struct sock_udp *)base;
    if (u->obj.dead) return MG_EINVAL;
    struct sockaddr_in sa = sock_sockaddr(dst, port);
    for (;;) {
        ssize_t n = sendto(u->obj.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL,
                           (struct sockaddr *)&sa, sizeof sa);
        if (n == (ssize_t)size) return MG_OK;
        if (n >= 0) return MG_EIO; /* a datagram goes whole or not at all */
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == ENOMEM)
            return MG_EAGAIN;
        return errno == EMSGSIZE ? MG_EINVAL : MG_EIO;
    }
}

static void sock_udp_close(mg_udp_socket *base)
{
    sock_destroy(&((struct sock_udp *)base)->obj);
}

/* ---- the stack ---- */

static size_t sock_addresses(mg_stackv4v6 *s, mg_ipaddr *out, size_t max)
{
    (void)s, (void)out, (void)max;
    return 0; /* the host's addresses, not the stack's own */
}

/* The epoll handle is ready: handle what is waiting, up to SOCK_EVENTS. */
static void sock_ready(void *arg, mg_handle h)
{
    (void)arg, (void)h;
    struct epoll_event ev[SOCK_EVENTS];
    int n = epoll_wait(S.epfd, ev, SOCK_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        struct sock_obj *o = ev[i].data.ptr;
        if (o->dead) continue; /* destroyed by an earlier callback of this turn */
        switch (o->kind) {
        case SOCK_LISTENER:
            listener_accept(SOCK_OF(sock_listener, o));
            break;
        case SOCK_FLOW:
            flow_event(SOCK_OF(sock_flow, o), ev[i].events);
            break;
        case SOCK_UDP:
            udp_read(SOCK_OF(sock_udp, o));
            break;
        }
        if (mg_loop_exiting()) return;
    }
}

static const mg_stack_ops sock_ops = {
    .tcp_listen = sock_tcp_listen,
    .tcp_unlisten = sock_tcp_unlisten,
    .tcp_connect = sock_tcp_connect,
    .flow_write = sock_flow_write,
    .flow_unsent = sock_flow_unsent,
    .flow_pause = sock_flow_pause,
    .flow_resume = sock_flow_resume,
    .flow_shutdown = sock_flow_shutdown,
    .flow_close = sock_flow_close,
    .flow_abort = sock_flow_abort,
    .flow_ends = sock_flow_ends,
    .udp_bind = sock_udp_bind,
    .udp_port = sock_udp_port,
    .udp_sendto = sock_udp_sendto,
    .udp_close = sock_udp_close,
    .addresses = sock_addresses,
    .flow_callbacks_set = sock_flow_callbacks_set,
};

int mg_socket_stackv4v6_connect(mg_stackv4v6 **out)
{
    /* one stack per image: a second connect gives the same one, as the
     * host has one set of sockets */
    if (!S.up) {
        S.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (S.epfd < 0) {
            mg_printf("socket_stackv4v6: cannot make an epoll descriptor: %s\n", strerror(errno));
            return MG_EIO;
        }
        int r = mg_unix_watch_fd(S.epfd, &S.handle);
        if (r != MG_OK) {
            mg_printf("socket_stackv4v6: no platform handle left for the sockets: %s\n",
                      mg_strerror(r));
            close(S.epfd);
            return r;
        }
        S.stack = (struct mg_stackv4v6){.ops = &sock_ops, .tcp = &S.tcp, .udp = &S.udp};
        S.tcp.ops = &sock_ops;
        S.udp.ops = &sock_ops;
        S.up = true;
    }
    *out = &S.stack;
    return MG_OK;
}
