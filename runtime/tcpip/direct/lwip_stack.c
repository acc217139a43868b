/*
 * lwip_stack.c - mg/stack.h's TCP and UDP on lwIP's raw API (the
 * operations of stack_impl.h for the direct stack).
 *
 * A flow owns its tcp_pcb until the connection is over or the application
 * lets go. Received bytes go to the application straight from lwIP's
 * pbufs when it takes them, and are acknowledged to lwIP with tcp_recved
 * only once delivered, so a paused flow, or one whose callbacks are not
 * set yet, holds its bytes and its window closes: that is how the peer is
 * slowed down. What a flow holds is copied out of lwIP's receive buffers
 * (PBUF_POOL, shared by the whole interface) into the heap, in chunks that
 * tiny segments fill together: a paused flow fed 1-byte segments must not
 * pin every buffer and make the interface deaf. It holds at most its
 * receive window (TCP_WND), which the peer cannot exceed anyway, and all
 * flows of an interface together MG_DIRECT_HELD_MAX (direct.h): past it a
 * segment is refused, lwIP keeps it and offers it again.
 *
 * lwIP frees a pcb in TIME_WAIT without a callback (after 2 * TCP_MSL, or
 * at once to reuse it when its pool is full), and moves one from CLOSING
 * to TIME_WAIT without one. So when the peer's end of stream arrives and
 * the pcb is in either state, the flow lets go of it at once (lwIP ends
 * the connection on its own); likewise lwIP frees the pcb after ERR_CLSD
 * (our FIN acknowledged in LAST_ACK). Such a flow is `ended`: it still
 * hands what it holds, then the end of the stream, to the application,
 * even if that waits for a resume, and says closed(MG_OK) after. (Its
 * MG_OK after CLOSING comes before the peer acknowledged our FIN: there
 * is no later moment at which lwIP would tell.) Writes copy into
 * lwIP (TCP_WRITE_FLAG_COPY) up to tcp_sndbuf; what does not fit is the
 * application's, told by `writable` from tcp_sent (or tcp_poll when lwIP
 * ran out of segments with nothing in flight).
 *
 * Every lwIP callback may call into the application, which may close or
 * abort the flow meanwhile: `depth` counts the callbacks running for a
 * flow, its memory is freed only when none is, and a close or abort from
 * inside one is done from the flow's timer (flow_let_go_soon); a callback
 * whose pcb was aborted returns ERR_ABRT as lwIP requires.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/loop.h"
#include "mg/mg.h"
#include "direct.h"
#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h" /* tcp_ticks, tcp_keepalive, tcp_process_refused_data */
#include "lwip/tcp.h"
#include "lwip/udp.h"

/* Received bytes the application has not taken yet, in the heap: a
 * chunk of at least HELD_CHUNK bytes that later segments fill up. At most
 * 0xffff bytes (a segment's), so tcp_recved (a u16_t) takes a chunk. */
typedef struct held_buf {
    struct held_buf *next;
    size_t start, end, cap; /* data[start, end) is unread */
    uint8_t data[];
} held_buf;
#define HELD_CHUNK 2048

typedef struct lwip_flow {
    struct mg_flow base;
    mg_direct_if *iface;
    struct tcp_pcb *pcb;        /* NULL once lwIP freed it or we let go of it */
    held_buf *held, *held_last; /* received, not yet delivered */
    size_t held_bytes;
    mg_ipaddr local, remote;
    uint16_t local_port, remote_port;
    mg_loop_timer timer;           /* delivery, a deferred close or abort */
    mg_tcp_connect_fn *connect_fn; /* while connecting */
    void *connect_arg;
    int depth;          /* lwIP callbacks running for this flow */
    bool fin;           /* the peer ended its stream */
    bool fin_delivered; /* and the application was told */
    bool shut;          /* our sending side is shut down */
    bool want_writable; /* a write fell short */
    bool aborted_in_cb; /* tcp_abort'ed during one of its callbacks */
    bool dead;          /* over: free once depth is 0 */
    bool counted;       /* a user of the interface */
    bool ended;         /* lwIP let go after both streams ended: closed(MG_OK) once delivered */
    bool cb_set;        /* the application set its callbacks */
    bool closing;       /* mg_flow_close from inside a callback: tcp_close from the timer */
    bool aborting;      /* likewise mg_flow_abort: tcp_abort from the timer */
    int end_status;     /* of an `ended` flow: what closed() says */
    u32_t probe_tick;   /* tcp_ticks of the last keep-alive of a shut flow */
} lwip_flow;

/* A flow that shut its sending side down (FIN_WAIT_2) and hears nothing
 * from the peer: lwIP neither sends keep-alives there nor times it out
 * (only after a close), so the flow probes the peer itself and gives up
 * with MG_ETIMEDOUT. In ms; any segment from the peer restarts the count
 * (lwIP's pcb->tmr). */
#define SHUT_IDLE_PROBE_MS 30000u
#define SHUT_PROBE_EVERY_MS 10000u
#define SHUT_IDLE_MAX_MS 60000u

typedef struct lwip_listener {
    struct mg_tcp_listener base;
    mg_direct_if *iface;
    struct tcp_pcb *pcb;
    mg_tcp_accept_fn *fn;
    void *arg;
} lwip_listener;

typedef struct lwip_udp_socket {
    struct mg_udp_socket base;
    mg_direct_if *iface;
    struct udp_pcb *pcb;
    mg_udp_recv_fn *fn;
    void *arg;
} lwip_udp_socket;

static const mg_stack_ops lwip_ops;

static mg_direct_if *iface_of_tcp(mg_tcp *t)
{
    return (mg_direct_if *)((char *)t - offsetof(mg_direct_if, tcp));
}

static mg_direct_if *iface_of_udp(mg_udp *u)
{
    return (mg_direct_if *)((char *)u - offsetof(mg_direct_if, udp));
}

static mg_ipaddr from_lwip(const ip_addr_t *a)
{
    return mg_ipaddr_v4(lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(a))));
}

/* ---- flows ---- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
static void on_err(void *arg, err_t err);
static err_t on_poll(void *arg, struct tcp_pcb *pcb);

static lwip_flow *flow_new(mg_direct_if *i, struct tcp_pcb *pcb)
{
    lwip_flow *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->base.ops = &lwip_ops;
    f->iface = i;
    f->pcb = pcb;
    tcp_arg(pcb, f);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, 2); /* every second */
    ip_set_option(pcb, SOF_KEEPALIVE);
    tcp_nagle_disable(pcb); /* the application writes whole messages */
    mg_direct_if_use(i);
    f->counted = true;
    return f;
}

static void flow_ends_from_pcb(lwip_flow *f)
{
    f->local = from_lwip(&f->pcb->local_ip);
    f->remote = from_lwip(&f->pcb->remote_ip);
    f->local_port = f->pcb->local_port;
    f->remote_port = f->pcb->remote_port;
}

/* Lets go of the pcb: no lwIP callback reaches this flow after. */
static void flow_detach(lwip_flow *f)
{
    if (!f->pcb) return;
    tcp_arg(f->pcb, NULL);
    tcp_recv(f->pcb, NULL);
    tcp_sent(f->pcb, NULL);
    tcp_err(f->pcb, NULL);
    tcp_poll(f->pcb, NULL, 0);
    f->pcb = NULL;
}

/* Copies p's bytes from `off` on to the end of what the flow holds;
 * false when out of memory. */
static bool held_append(lwip_flow *f, const struct pbuf *p, size_t off)
{
    size_t n = p->tot_len - off;
    held_buf *t = f->held_last;
    if (t && t->cap - t->end >= n) {
        pbuf_copy_partial(p, t->data + t->end, (u16_t)n, (u16_t)off);
        t->end += n;
    } else {
        size_t cap = n > HELD_CHUNK ? n : HELD_CHUNK;
        held_buf *b = malloc(sizeof *b + cap);
        if (!b) return false;
        b->next = NULL;
        b->start = 0;
        b->end = n;
        b->cap = cap;
        pbuf_copy_partial(p, b->data, (u16_t)n, (u16_t)off);
        if (t)
            t->next = b;
        else
            f->held = b;
        f->held_last = b;
    }
    f->held_bytes += n;
    f->iface->held_bytes += n;
    return true;
}

/* Takes the first chunk off the queue. */
static held_buf *held_pop(lwip_flow *f)
{
    held_buf *b = f->held;
    f->held = b->next;
    if (!f->held) f->held_last = NULL;
    f->held_bytes -= b->end - b->start;
    f->iface->held_bytes -= b->end - b->start;
    return b;
}

/* Drops what is held; returns how many bytes that was. */
static size_t held_drop(lwip_flow *f)
{
    size_t n = f->held_bytes;
    while (f->held) free(held_pop(f));
    return n;
}

/* The flow is over for us: drop what it holds; freed once no callback of
 * it runs. */
static void flow_end(lwip_flow *f)
{
    held_drop(f);
    mg_loop_timer_stop(&f->timer);
    if (f->counted) mg_direct_if_unuse(f->iface);
    f->counted = false;
    f->dead = true;
}

static void flow_maybe_free(lwip_flow *f)
{
    if (f->dead && f->depth == 0) free(f);
}

/* What an lwIP callback of `f` returns, after which f may be gone. */
static err_t flow_finish(lwip_flow *f)
{
    err_t r = f->aborted_in_cb ? ERR_ABRT : ERR_OK;
    if (f->depth == 0) f->aborted_in_cb = false;
    flow_maybe_free(f);
    return r;
}

static bool flow_can_deliver(const lwip_flow *f)
{
    return !f->dead && !f->base.released && !f->base.paused && f->base.cb.recv;
}

/* An ended flow is over once the application had everything:
 * closed(end_status). One that set callbacks without `recv` takes no
 * bytes; one that set none yet may still; one the application let go of
 * is over at once. */
static void flow_check_over(lwip_flow *f)
{
    if (f->dead || f->pcb || !f->ended) return;
    if (!f->base.released &&
        (f->base.cb.recv ? f->held || (f->fin && !f->fin_delivered) : !f->cb_set))
        return;
    mg_stack_flow_closed(&f->base, f->end_status);
    flow_end(f);
}

/* The connection is over (lwIP let go of the pcb) with `status`. A flow
 * whose callbacks are not set yet stays, with what it holds, until they
 * are: the application may still set them (mg/stack.h), and is then told
 * (flow_callbacks_set). Called with depth raised. */
static void flow_over(lwip_flow *f, int status)
{
    if (!f->cb_set && !f->base.released) {
        f->ended = true;
        f->end_status = status;
        return;
    }
    mg_stack_flow_closed(&f->base, status);
    flow_end(f);
}

/* Hands held bytes, then the end of the stream, to the application while
 * it takes them. */
static void flow_deliver(lwip_flow *f)
{
    f->depth++;
    while (flow_can_deliver(f)) {
        if (f->held) {
            held_buf *b = held_pop(f);
            /* acknowledged first: the window reopens as it is consumed, and a
             * close from inside the callback finds nothing unread (which
             * lwIP would answer with a reset) */
            if (f->pcb) tcp_recved(f->pcb, (u16_t)(b->end - b->start));
            mg_stack_flow_recv(&f->base, b->data + b->start, b->end - b->start);
            free(b);
            continue;
        }
        if (f->fin && !f->fin_delivered) {
            f->fin_delivered = true;
            mg_stack_flow_recv(&f->base, NULL, 0);
        }
        break;
    }
    flow_check_over(f);
    f->depth--;
}

/* Out of memory for bytes lwIP will not offer again: the stream would have
 * a hole, so the connection is reset and the application told. */
static void flow_fail(lwip_flow *f, struct tcp_pcb *pcb)
{
    if (f->pcb) {
        flow_detach(f);
        if (pcb->state != TIME_WAIT) { /* lwIP ends a TIME_WAIT on its own */
            tcp_abort(pcb);
            f->aborted_in_cb = true;
        }
    }
    f->depth++;
    flow_over(f, MG_ECONNRESET);
    f->depth--;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    lwip_flow *f = arg;
    if (!f) { /* cannot happen: a detached pcb has no callbacks */
        if (p) pbuf_free(p);
        return ERR_OK;
    }
    if (!p) {
        f->fin = true;
        /* both FINs are in: lwIP finishes (and frees) this pcb silently */
        if (pcb->state == CLOSING || pcb->state == TIME_WAIT) {
            flow_detach(f);
            f->ended = true;
            f->end_status = MG_OK;
        }
        flow_deliver(f);
        return flow_finish(f);
    }
    size_t off = 0;
    if (!f->held && flow_can_deliver(f)) {
        /* straight from lwIP's buffers, each acknowledged before the
         * callback (see flow_deliver) */
        f->depth++;
        for (struct pbuf *q = p; q && flow_can_deliver(f); q = q->next) {
            if (f->pcb) tcp_recved(f->pcb, q->len);
            off += q->len;
            if (q->len) mg_stack_flow_recv(&f->base, q->payload, q->len);
        }
        f->depth--;
    }
    if (f->closing || f->aborting) {
        /* let go of by the application, the pcb still ours until the
         * timer: what arrives meanwhile is taken and dropped, so lwIP
         * neither keeps it (and its pool buffers) nor resets on close */
        if (off < p->tot_len && f->pcb) tcp_recved(f->pcb, (u16_t)(p->tot_len - off));
    } else if (off < p->tot_len && !f->dead) {
        size_t n = p->tot_len - off;
        /* lwIP keeps a refused pbuf and offers it again (tcp_fasttmr,
         * the next segment), except to a pcb in TIME_WAIT or CLOSING,
         * which may be gone before it does; a pbuf partly delivered
         * cannot be refused, so the budget is exceeded by at most that */
        bool may_refuse = !off && pcb->state != TIME_WAIT && pcb->state != CLOSING;
        if (may_refuse && f->iface->held_bytes + n > MG_DIRECT_HELD_MAX) return ERR_MEM;
        if (f->held_bytes + n > TCP_WND || !held_append(f, p, off)) {
            if (may_refuse) return ERR_MEM;
            flow_fail(f, pcb);
        }
    }
    pbuf_free(p);
    return flow_finish(f);
}

static bool flow_room(const lwip_flow *f)
{
    return f->pcb && (tcp_sndbuf(f->pcb) >= TCP_SND_BUF / 4 || !f->pcb->unacked) &&
           tcp_sndbuf(f->pcb) > 0 && tcp_sndqueuelen(f->pcb) < TCP_SNDQUEUELOWAT;
}

static void flow_maybe_writable(lwip_flow *f)
{
    if (!f->want_writable || f->dead || !flow_room(f)) return;
    f->want_writable = false;
    f->depth++;
    mg_stack_flow_writable(&f->base);
    f->depth--;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    lwip_flow *f = arg;
    if (!f || f->closing || f->aborting) return ERR_OK;
    flow_maybe_writable(f);
    return flow_finish(f);
}

/* A shut flow in FIN_WAIT_2: probes a silent peer, and gives up on one
 * that stays silent (see SHUT_IDLE_MAX_MS); true when it did. */
static bool flow_shut_idle(lwip_flow *f, struct tcp_pcb *pcb)
{
    if (!f->shut || pcb->state != FIN_WAIT_2) return false;
    u32_t idle = (u32_t)(tcp_ticks - pcb->tmr) * TCP_SLOW_INTERVAL;
    if (idle >= SHUT_IDLE_MAX_MS) {
        flow_detach(f);
        tcp_abort(pcb);
        f->aborted_in_cb = true;
        f->depth++;
        flow_over(f, MG_ETIMEDOUT);
        f->depth--;
        return true;
    }
    if (idle >= SHUT_IDLE_PROBE_MS &&
        (u32_t)(tcp_ticks - f->probe_tick) * TCP_SLOW_INTERVAL >= SHUT_PROBE_EVERY_MS) {
        f->probe_tick = tcp_ticks;
        tcp_keepalive(pcb); /* a live peer answers with an ACK: pcb->tmr */
        mg_direct_kick();
    }
    return false;
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    lwip_flow *f = arg;
    if (!f || f->closing || f->aborting) return ERR_OK;
    if (flow_shut_idle(f, pcb)) return flow_finish(f);
    flow_maybe_writable(f);
    if (f->held || (f->fin && !f->fin_delivered)) flow_deliver(f);
    return flow_finish(f);
}

static void on_err(void *arg, err_t err)
{
    lwip_flow *f = arg;
    if (!f) return;
    f->pcb = NULL; /* lwIP frees it */
    int status = err == ERR_RST ? MG_ECONNRESET : err == ERR_CLSD ? MG_OK : MG_ETIMEDOUT;
    f->depth++;
    if (f->connect_fn) {
        mg_tcp_connect_fn *fn = f->connect_fn;
        f->connect_fn = NULL;
        f->base.released = true; /* the application never saw it */
        flow_end(f);
        fn(f->connect_arg, NULL, err == ERR_RST ? MG_ECONNREFUSED : status);
    } else if (err == ERR_CLSD) {
        /* both streams ended, ours acknowledged: what the flow holds still
         * goes to the application, closed(MG_OK) after */
        f->ended = true;
        f->end_status = MG_OK;
        flow_deliver(f);
    } else {
        flow_over(f, status);
    }
    f->depth--;
    flow_maybe_free(f);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    lwip_flow *f = arg;
    if (!f) return ERR_OK;
    mg_tcp_connect_fn *fn = f->connect_fn;
    f->connect_fn = NULL;
    flow_ends_from_pcb(f);
    f->depth++;
    if (fn) fn(f->connect_arg, &f->base, MG_OK);
    f->depth--;
    if (!f->dead && f->held) flow_deliver(f);
    return flow_finish(f);
}

/* Ends the pcb of a flow the application closed or aborted, from outside
 * lwIP's callbacks; the flow is over after. */
static void flow_let_go(lwip_flow *f)
{
    if (f->pcb && f->closing && f->pcb->refused_data && !f->depth) {
        /* lwIP resets a connection closed with data it kept back: on_recv
         * takes and drops it now (which may end the pcb: a FIN in it) */
        f->depth++;
        tcp_process_refused_data(f->pcb);
        f->depth--;
    }
    if (f->pcb) {
        struct tcp_pcb *pcb = f->pcb;
        flow_detach(f);
        if (f->aborting || tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            if (f->depth) f->aborted_in_cb = true; /* no timer: from a callback */
        }
        mg_direct_kick();
    }
    flow_end(f);
}

/* The flow's timer: a deferred close or abort, or delivery. */
static void on_timer(void *arg)
{
    lwip_flow *f = arg;
    if (f->closing || f->aborting)
        flow_let_go(f);
    else
        flow_deliver(f);
    f->aborted_in_cb = false;
    flow_maybe_free(f);
}

static int flow_write(mg_flow *base, const void *data, size_t size, size_t *taken)
{
    lwip_flow *f = (lwip_flow *)base;
    if (!f->pcb || f->shut || f->dead) return MG_ENOTCONN;
    const uint8_t *d = data;
    size_t done = 0;
    while (done < size) {
        size_t n = size - done, room = tcp_sndbuf(f->pcb);
        if (n > room) n = room;
        if (n > 0xffff) n = 0xffff; /* tcp_write takes a u16_t */
        if (!n) break;
        err_t e = tcp_write(f->pcb, d + done, (u16_t)n, TCP_WRITE_FLAG_COPY);
        while (e == ERR_MEM && n > TCP_MSS) { /* out of segments: try less */
            n /= 2;
            e = tcp_write(f->pcb, d + done, (u16_t)n, TCP_WRITE_FLAG_COPY);
        }
        if (e == ERR_MEM) break;
        if (e != ERR_OK) return done ? (*taken = done, MG_EAGAIN) : MG_ENOTCONN;
        done += n;
    }
    if (done) tcp_output(f->pcb);
    mg_direct_kick();
    *taken = done;
    if (done == size) return MG_OK;
    f->want_writable = true;
    return MG_EAGAIN;
}

static size_t flow_unsent(const mg_flow *base)
{
    const lwip_flow *f = (const lwip_flow *)base;
    if (!f->pcb) return 0;
    return (size_t)(TCP_SND_BUF - tcp_sndbuf(f->pcb));
}

static void flow_pause(mg_flow *base)
{
    (void)base; /* stack.c set `paused`: delivery stops, tcp_recved with it */
}

static void flow_resume(mg_flow *base)
{
    lwip_flow *f = (lwip_flow *)base;
    /* from the loop, never from inside mg_flow_resume */
    if (f->held || (f->fin && !f->fin_delivered) || f->ended) mg_loop_defer(&f->timer, on_timer, f);
}

static void flow_callbacks_set(mg_flow *base)
{
    lwip_flow *f = (lwip_flow *)base;
    f->cb_set = true;
    /* a flow lwIP let go of has no callback of lwIP's left to deliver it */
    if (f->held || (f->fin && !f->fin_delivered) || f->ended) mg_loop_defer(&f->timer, on_timer, f);
}

static void flow_shutdown(mg_flow *base)
{
    lwip_flow *f = (lwip_flow *)base;
    if (f->shut || !f->pcb) return;
    f->shut = true;
    /* the FIN goes after the buffered bytes; lwIP retries it if out of
     * memory now */
    tcp_shutdown(f->pcb, 0, 1);
    mg_direct_kick();
}

/* Close and abort. From inside one of the flow's callbacks, lwIP may be
 * in the middle of a segment (`sent` runs before its data is handed over):
 * closing then would miss that data (a reset instead of a FIN, and lwIP's
 * delayed close leaks its buffers), aborting would drop it the same way.
 * So the pcb is left alone, its callbacks attached (on_recv takes and
 * drops what arrives), and the timer ends it from the loop. */
static void flow_let_go_soon(lwip_flow *f)
{
    if (f->pcb && (!f->depth || mg_loop_defer(&f->timer, on_timer, f) != MG_OK))
        flow_let_go(f); /* nothing in flight, or no timer: at once */
    else if (!f->pcb)
        flow_end(f);
    flow_maybe_free(f);
}

static void flow_close(mg_flow *base)
{
    lwip_flow *f = (lwip_flow *)base;
    f->closing = true;
    /* bytes never delivered are dropped, but acknowledged first: lwIP
     * resets a connection closed with unread bytes */
    size_t n = held_drop(f);
    while (f->pcb && n) {
        u16_t k = n > 0xffff ? 0xffff : (u16_t)n;
        tcp_recved(f->pcb, k);
        n -= k;
    }
    flow_let_go_soon(f);
}

static void flow_abort(mg_flow *base)
{
    lwip_flow *f = (lwip_flow *)base;
    f->aborting = true;
    held_drop(f);
    flow_let_go_soon(f);
}

static void flow_ends(const mg_flow *base, bool peer, mg_ipaddr *addr, uint16_t *port)
{
    const lwip_flow *f = (const lwip_flow *)base;
    if (addr) *addr = peer ? f->remote : f->local;
    if (port) *port = peer ? f->remote_port : f->local_port;
}

/* ---- listening and connecting ---- */

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    lwip_listener *l = arg;
    if (err != ERR_OK || !pcb) return ERR_VAL;
    lwip_flow *f = flow_new(l->iface, pcb);
    if (!f) return ERR_MEM; /* lwIP aborts the connection */
    flow_ends_from_pcb(f);
    f->depth++;
    l->fn(l->arg, &l->base, &f->base);
    f->depth--;
    if (!f->dead && f->held) flow_deliver(f);
    return flow_finish(f);
}

static int tcp_listen_op(mg_tcp *t, uint16_t port, mg_tcp_accept_fn *fn, void *arg,
                         mg_tcp_listener **out)
{
    mg_direct_if *i = iface_of_tcp(t);
    lwip_listener *l = calloc(1, sizeof *l);
    struct tcp_pcb *pcb = l ? tcp_new_ip_type(IPADDR_TYPE_V4) : NULL;
    if (!pcb) {
        free(l);
        return MG_ENOMEM;
    }
    tcp_bind_netif(pcb, &i->netif);
    /* connections of an earlier listener in TIME_WAIT do not hold the port */
    ip_set_option(pcb, SOF_REUSEADDR);
    if (tcp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
        tcp_close(pcb);
        free(l);
        return MG_EADDRINUSE;
    }
    err_t e = ERR_OK;
    struct tcp_pcb *lpcb = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &e);
    if (!lpcb) {
        tcp_close(pcb);
        free(l);
        return e == ERR_USE ? MG_EADDRINUSE : MG_ENOMEM;
    }
    l->base.ops = &lwip_ops;
    l->iface = i;
    l->pcb = lpcb;
    l->fn = fn;
    l->arg = arg;
    tcp_arg(lpcb, l);
    tcp_accept(lpcb, on_accept);
    mg_direct_if_use(i);
    *out = &l->base;
    return MG_OK;
}

static void tcp_unlisten_op(mg_tcp_listener *base)
{
    lwip_listener *l = (lwip_listener *)base;
    tcp_arg(l->pcb, NULL);
    tcp_accept(l->pcb, NULL);
    tcp_close(l->pcb); /* a listening pcb closes at once */
    mg_direct_if_unuse(l->iface);
    free(l);
}

static int tcp_connect_op(mg_tcp *t, const mg_ipaddr *addr, uint16_t port, mg_tcp_connect_fn *fn,
                          void *arg)
{
    mg_direct_if *i = iface_of_tcp(t);
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) return MG_ENOMEM;
    tcp_bind_netif(pcb, &i->netif);
    lwip_flow *f = flow_new(i, pcb);
    if (!f) {
        tcp_abort(pcb);
        return MG_ENOMEM;
    }
    f->connect_fn = fn;
    f->connect_arg = arg;
    ip_addr_t dst;
    ip_addr_set_ip4_u32_val(dst, lwip_htonl(mg_ipaddr_v4_value(addr)));
    err_t e = tcp_connect(pcb, &dst, port, on_connected);
    if (e != ERR_OK) {
        flow_detach(f);
        tcp_abort(pcb);
        f->base.released = true;
        flow_end(f);
        flow_maybe_free(f);
        /* no route: an address the stack cannot reach (no gateway) */
        return e == ERR_MEM ? MG_ENOMEM : MG_EINVAL;
    }
    mg_direct_kick();
    return MG_OK;
}

/* ---- UDP ---- */

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                   u16_t port)
{
    lwip_udp_socket *s = arg;
    mg_ipaddr src = from_lwip(addr);
    if (p->len == p->tot_len) {
        s->fn(s->arg, &s->base, &src, port, p->payload, p->len);
    } else { /* a reassembled datagram is a chain: one contiguous copy */
        uint8_t *buf = malloc(p->tot_len ? p->tot_len : 1);
        if (buf) {
            pbuf_copy_partial(p, buf, p->tot_len, 0);
            s->fn(s->arg, &s->base, &src, port, buf, p->tot_len);
            free(buf);
        }
    }
    pbuf_free(p);
}

static int udp_bind_op(mg_udp *u, uint16_t port, mg_udp_recv_fn *fn, void *arg, mg_udp_socket **out)
{
    mg_direct_if *i = iface_of_udp(u);
    lwip_udp_socket *s = calloc(1, sizeof *s);
    struct udp_pcb *pcb = s ? udp_new_ip_type(IPADDR_TYPE_V4) : NULL;
    if (!pcb) {
        free(s);
        return MG_ENOMEM;
    }
    udp_bind_netif(pcb, &i->netif);
    if (udp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
        udp_remove(pcb);
        free(s);
        return MG_EADDRINUSE;
    }
    s->base.ops = &lwip_ops;
    s->iface = i;
    s->pcb = pcb;
    s->fn = fn;
    s->arg = arg;
    udp_recv(pcb, on_udp, s);
    mg_direct_if_use(i);
    *out = &s->base;
    return MG_OK;
}

static uint16_t udp_port_op(const mg_udp_socket *base)
{
    return ((const lwip_udp_socket *)base)->pcb->local_port;
}

static int udp_sendto_op(mg_udp_socket *base, const mg_ipaddr *dst, uint16_t port, const void *data,
                         size_t size)
{
    lwip_udp_socket *s = (lwip_udp_socket *)base;
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)size, PBUF_RAM);
    if (!p) return MG_EAGAIN;
    if (size) pbuf_take(p, data, (u16_t)size);
    ip_addr_t to;
    ip_addr_set_ip4_u32_val(to, lwip_htonl(mg_ipaddr_v4_value(dst)));
    err_t e = udp_sendto(s->pcb, p, &to, port);
    pbuf_free(p);
    mg_direct_kick();
    return e == ERR_OK ? MG_OK : e == ERR_MEM || e == ERR_BUF ? MG_EAGAIN : MG_EIO;
}

static void udp_close_op(mg_udp_socket *base)
{
    lwip_udp_socket *s = (lwip_udp_socket *)base;
    udp_remove(s->pcb);
    mg_direct_if_unuse(s->iface);
    free(s);
}

static size_t addresses_op(mg_stackv4v6 *st, mg_ipaddr *out, size_t max)
{
    mg_direct_if *i = (mg_direct_if *)((char *)st - offsetof(mg_direct_if, stack));
    uint32_t a = lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&i->netif)));
    if (!a) return 0;
    if (max) out[0] = mg_ipaddr_v4(a);
    return 1;
}

static const mg_stack_ops lwip_ops = {
    .tcp_listen = tcp_listen_op,
    .tcp_unlisten = tcp_unlisten_op,
    .tcp_connect = tcp_connect_op,
    .flow_write = flow_write,
    .flow_unsent = flow_unsent,
    .flow_pause = flow_pause,
    .flow_resume = flow_resume,
    .flow_shutdown = flow_shutdown,
    .flow_close = flow_close,
    .flow_abort = flow_abort,
    .flow_ends = flow_ends,
    .flow_callbacks_set = flow_callbacks_set,
    .udp_bind = udp_bind_op,
    .udp_port = udp_port_op,
    .udp_sendto = udp_sendto_op,
    .udp_close = udp_close_op,
    .addresses = addresses_op,
};

void mg_direct_stack_init(mg_direct_if *i)
{
    i->stack.ops = &lwip_ops;
    i->stack.tcp = &i->tcp;
    i->stack.udp = &i->udp;
    i->tcp.ops = &lwip_ops;
    i->udp.ops = &lwip_ops;
}
