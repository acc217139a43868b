/*
 * test_flows.c - the direct stack's flows at their edges, from a second
 * review of lwip_stack.c: a close or abort from inside a callback while
 * the peer sends, a connection over before the application set its
 * callbacks, the bound on bytes held by paused flows, and a half-closed
 * flow whose peer vanished. Over the in-memory link and fake clock of
 * link.c, with lwIP's pool statistics to catch leaked buffers.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "link.h"
#include "mg/loop.h"
#include "mg/stack.h"
#include "lwip/memp.h"
#include "lwip/stats.h"

static mg_direct_if *A, *B;
static const mg_ipaddr B_ADDR = {MG_IPV4, {10, 0, 0, 2}};

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void run_for(uint64_t s)
{
    mg_loop_run_until(never, NULL, link_now() + s * 1000000000ull);
}

/* ---- 1: B writes 2 MB and closes (or aborts) from `writable`, which
 * lwIP calls from its `sent` before it hands over the data of the same
 * segment, while A keeps talking ---- */

#define TOTAL (2u * 1000 * 1000)

static struct cw {
    bool abort;
    mg_flow *a;
    size_t b_sent, a_got;
    bool a_eof, b_done;
    int a_closed;
    mg_loop_timer tick;
} cw;

static void cw_fill(void *arg, mg_flow *f)
{
    static uint8_t buf[65536];
    (void)arg;
    while (cw.b_sent < TOTAL) {
        size_t n = TOTAL - cw.b_sent < sizeof buf ? TOTAL - cw.b_sent : sizeof buf, taken = 0;
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(cw.b_sent + i);
        int rc = mg_flow_write(f, buf, n, &taken);
        cw.b_sent += taken;
        if (rc == MG_EAGAIN) return;
        cr_assert_eq(rc, MG_OK);
    }
    cw.b_done = true;
    if (cw.abort)
        mg_flow_abort(f);
    else
        mg_flow_close(f);
}

static void cw_b_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    (void)arg, (void)f, (void)d, (void)n;
}

static void cw_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {cw_b_recv, cw_fill, NULL};
    (void)arg, (void)l;
    mg_flow_set_callbacks(f, &cb, NULL);
    cw_fill(NULL, f);
}

static void cw_a_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    (void)arg;
    if (!n) {
        cw.a_eof = true;
        mg_flow_close(f);
        cw.a = NULL;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (d[i] != (uint8_t)(cw.a_got + i)) cr_assert_fail("byte %zu wrong", cw.a_got + i);
    cw.a_got += n;
    size_t taken; /* A answers as it reads: its ACKs ride on data */
    mg_flow_write(f, "0123456789", 10, &taken);
}

static void cw_a_closed(void *arg, mg_flow *f, int status)
{
    (void)arg, (void)f;
    cw.a_closed = status;
    cw.a = NULL;
}

static void cw_a_tick(void *arg)
{
    static const uint8_t msg[700];
    size_t taken;
    (void)arg;
    if (!cw.a) return;
    mg_flow_write(cw.a, msg, sizeof msg, &taken);
    mg_loop_timer_start(&cw.tick, link_now() + 2000000ull, cw_a_tick, NULL);
}

static void cw_connected(void *arg, mg_flow *f, int status)
{
    static const mg_flow_callbacks cb = {cw_a_recv, NULL, cw_a_closed};
    (void)arg;
    cr_assert_eq(status, MG_OK);
    cw.a = f;
    mg_flow_set_callbacks(f, &cb, NULL);
    cw_a_tick(NULL);
}

static void close_from_writable(bool abort, uint16_t port)
{
    link_reset(3, (link_opts){.latency_ns = 500000});
    link_pair(&A, &B);
    run_for(1);
    unsigned pool0 = lwip_stats.memp[MEMP_PBUF_POOL]->used;
    unsigned pcb0 = lwip_stats.memp[MEMP_TCP_PCB]->used;
    cw = (struct cw){.abort = abort, .a_closed = -100};
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, port, cw_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, port, cw_connected, NULL), MG_OK);
    run_for(60);
    mg_tcp_unlisten(l);
    run_for(60); /* TIME_WAIT is over */
    unsigned pool = lwip_stats.memp[MEMP_PBUF_POOL]->used;
    printf("%s from writable: A got %zu, eof %d, closed %d; PBUF_POOL %u -> %u, PCBs %u -> %u\n",
           abort ? "abort" : "close", cw.a_got, cw.a_eof, cw.a_closed, pool0, pool, pcb0,
           (unsigned)lwip_stats.memp[MEMP_TCP_PCB]->used);
    cr_assert(cw.b_done);
    if (abort) {
        cr_expect_eq(cw.a_closed, MG_ECONNRESET, "A closed %d", cw.a_closed);
    } else {
        cr_expect_eq(cw.a_got, TOTAL, "A got %zu of %u bytes", cw.a_got, TOTAL);
        cr_expect(cw.a_eof, "A was not told the end of the stream (closed %d)", cw.a_closed);
        cr_expect_eq(cw.a_closed, -100, "A's flow closed with %d", cw.a_closed);
    }
    cr_expect_eq(pool, pool0, "%d receive buffers leaked", (int)(pool - pool0));
    cr_expect_eq(lwip_stats.memp[MEMP_TCP_PCB]->used, pcb0, "PCBs left");
}

Test(flows, close_from_writable_while_the_peer_sends)
{
    close_from_writable(false, 9100);
}

Test(flows, abort_from_writable_while_the_peer_sends)
{
    close_from_writable(true, 9101);
}

/* ---- 2: a connection over before the application set its callbacks
 * (allowed: "until then received bytes wait"): the flow stays, and once
 * adopted it gets the bytes, then closed(MG_ECONNRESET) ---- */

static struct late {
    mg_flow *flow;
    mg_loop_timer set, abort;
    size_t got;
    int closed;
    bool with_recv;
} late;

static void late_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    (void)arg, (void)f, (void)d;
    cr_assert_eq(late.closed, -100, "bytes after closed");
    late.got += n;
}

static void late_closed(void *arg, mg_flow *f, int status)
{
    (void)arg, (void)f;
    late.closed = status;
}

static void late_adopt(void *arg)
{
    static const mg_flow_callbacks with = {late_recv, NULL, late_closed},
                                   without = {NULL, NULL, late_closed};
    (void)arg;
    mg_flow_set_callbacks(late.flow, late.with_recv ? &with : &without, NULL);
}

static void late_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)arg, (void)l;
    late.flow = f; /* adopted later, from the loop */
    mg_loop_timer_start(&late.set, link_now() + 500000000ull, late_adopt, NULL);
}

static void late_abort(void *arg)
{
    mg_flow_abort(arg);
}

static void late_connected(void *arg, mg_flow *f, int status)
{
    (void)arg;
    cr_assert_eq(status, MG_OK);
    size_t taken;
    mg_flow_write(f, "hello", 5, &taken);
    mg_loop_timer_start(&late.abort, link_now() + 100000000ull, late_abort, f);
}

static void reset_before_callbacks(bool with_recv, uint16_t port)
{
    link_reset(4, (link_opts){.latency_ns = 500000});
    link_pair(&A, &B);
    late = (struct late){.closed = -100, .with_recv = with_recv};
    size_t users0 = B->users;
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, port, late_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, port, late_connected, NULL), MG_OK);
    run_for(2);
    cr_assert_eq(late.closed, MG_ECONNRESET, "closed %d", late.closed);
    cr_assert_eq(late.got, with_recv ? 5u : 0u, "got %zu bytes", late.got);
    cr_assert_eq(B->users, users0 + 1, "the flow was not let go of (%zu users)", B->users);
    mg_tcp_unlisten(l);
}

Test(flows, a_reset_before_the_callbacks_are_set_is_reported_once_they_are)
{
    reset_before_callbacks(false, 9200);
}

Test(flows, a_reset_before_the_callbacks_are_set_still_hands_over_the_bytes)
{
    reset_before_callbacks(true, 9201);
}

/* ---- 3: paused flows hold what they received in the heap, within the
 * interface's budget; on resume every byte arrives ---- */

#define NPAUSED 40
#define PER_FLOW (400u * 1000)

static struct pz {
    mg_flow *rx[NPAUSED];
    size_t n_rx, got[NPAUSED], sent[NPAUSED], n_tx, eofs, peak;
} pz;

static void pz_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    size_t i = (size_t)(uintptr_t)arg;
    (void)d;
    if (n) {
        pz.got[i] += n;
    } else {
        pz.eofs++;
        mg_flow_close(f);
    }
}

static void pz_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {pz_recv, NULL, NULL};
    (void)arg, (void)l;
    cr_assert_lt(pz.n_rx, NPAUSED);
    mg_flow_set_callbacks(f, &cb, (void *)(uintptr_t)pz.n_rx);
    pz.rx[pz.n_rx++] = f;
    mg_flow_pause(f); /* a client that does not read its answers */
}

static void pz_fill(void *arg, mg_flow *f)
{
    static uint8_t buf[65536];
    size_t i = (size_t)(uintptr_t)arg;
    while (pz.sent[i] < PER_FLOW) {
        size_t n = PER_FLOW - pz.sent[i], taken = 0;
        if (n > sizeof buf) n = sizeof buf;
        int rc = mg_flow_write(f, buf, n, &taken);
        pz.sent[i] += taken;
        if (rc != MG_OK) return;
    }
    mg_flow_close(f);
}

static void pz_connected(void *arg, mg_flow *f, int status)
{
    static const mg_flow_callbacks cb = {NULL, pz_fill, NULL};
    (void)arg;
    cr_assert_eq(status, MG_OK);
    void *i = (void *)(uintptr_t)pz.n_tx++;
    mg_flow_set_callbacks(f, &cb, i);
    pz_fill(i, f);
}

static bool pz_sample(void *arg)
{
    (void)arg;
    if (B->held_bytes > pz.peak) pz.peak = B->held_bytes;
    return false;
}

Test(flows, paused_flows_hold_no_more_than_the_budget)
{
    link_reset(5, (link_opts){.latency_ns = 500000});
    link_pair(&A, &B);
    memset(&pz, 0, sizeof pz);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 9300, pz_accept, NULL, &l), MG_OK);
    for (int i = 0; i < NPAUSED; i++)
        cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 9300, pz_connected, NULL), MG_OK);
    mg_loop_run_until(pz_sample, NULL, link_now() + 10000000000ull);
    printf("%d paused flows: B held at most %zu bytes (budget %u)\n", NPAUSED, pz.peak,
           (unsigned)MG_DIRECT_HELD_MAX);
    cr_assert_eq(pz.n_rx, NPAUSED);
    cr_assert_leq(pz.peak, MG_DIRECT_HELD_MAX, "held %zu bytes", pz.peak);
    cr_assert_gt(pz.peak, MG_DIRECT_HELD_MAX / 2, "the budget was not reached: no test");
    for (int i = 0; i < NPAUSED; i++) mg_flow_resume(pz.rx[i]);
    mg_loop_run_until(pz_sample, NULL, link_now() + 30000000000ull);
    for (int i = 0; i < NPAUSED; i++)
        cr_expect_eq(pz.got[i], PER_FLOW, "flow %d got %zu bytes", i, pz.got[i]);
    cr_expect_eq(pz.eofs, NPAUSED);
    cr_expect_eq(B->held_bytes, 0u);
    cr_expect_leq(pz.peak, MG_DIRECT_HELD_MAX);
    mg_tcp_unlisten(l);
}

/* ---- 4: a flow that shut its sending side down (FIN_WAIT_2) ends when
 * its peer vanished, and only then ---- */

static struct sd {
    mg_flow *a;
    int a_closed, b_closed;
    bool a_eof;
} sd;

static void sd_a_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    (void)arg, (void)f, (void)d;
    if (!n) sd.a_eof = true;
}

static void sd_a_closed(void *arg, mg_flow *f, int status)
{
    (void)arg, (void)f;
    sd.a_closed = status;
    sd.a = NULL;
}

static void sd_b_closed(void *arg, mg_flow *f, int status)
{
    (void)arg, (void)f;
    sd.b_closed = status;
}

static mg_flow *sd_b;
static void sd_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {NULL, NULL, sd_b_closed};
    (void)arg, (void)l;
    sd_b = f;
    mg_flow_set_callbacks(f, &cb, NULL); /* and says nothing */
}

static void sd_connected(void *arg, mg_flow *f, int status)
{
    static const mg_flow_callbacks cb = {sd_a_recv, NULL, sd_a_closed};
    (void)arg;
    cr_assert_eq(status, MG_OK);
    sd.a = f;
    mg_flow_set_callbacks(f, &cb, NULL);
    mg_flow_shutdown(f);
}

static void shut_flow(uint16_t port, mg_tcp_listener **l)
{
    link_reset(6, (link_opts){.latency_ns = 500000});
    link_pair(&A, &B);
    sd = (struct sd){.a_closed = -100, .b_closed = -100};
    cr_assert_eq(mg_tcp_listen(&B->tcp, port, sd_accept, NULL, l), MG_OK);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, port, sd_connected, NULL), MG_OK);
    run_for(1); /* A's FIN is acknowledged: FIN_WAIT_2 */
    cr_assert(sd.a);
}

Test(flows, a_shut_down_flow_whose_peer_vanished_times_out)
{
    mg_tcp_listener *l;
    shut_flow(9400, &l);
    link_set_opts((link_opts){.loss_permille = 1000, .latency_ns = 500000});
    run_for(50);
    cr_assert_eq(sd.a_closed, -100, "closed after 50 s: %d", sd.a_closed);
    run_for(30);
    cr_assert_eq(sd.a_closed, MG_ETIMEDOUT, "closed %d after 80 s", sd.a_closed);
}

Test(flows, a_shut_down_flow_whose_peer_is_silent_stays)
{
    mg_tcp_listener *l;
    shut_flow(9401, &l);
    run_for(300);
    cr_assert_eq(sd.a_closed, -100, "closed %d while the peer is there", sd.a_closed);
    mg_flow_close(sd_b); /* the peer ends its side: the connection is over */
    run_for(2);
    cr_assert(sd.a_eof);
    cr_assert_eq(sd.a_closed, MG_OK, "closed %d", sd.a_closed);
}
