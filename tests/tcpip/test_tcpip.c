/*
 * test_tcpip.c - the direct stack (lwIP and runtime/tcpip/direct/) between
 * two interfaces of one host process over a lossy in-memory link (link.c):
 * bulk transfer with back-pressure, many connections, pools and heap back
 * where they began, and malformed frames that must not crash it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "mg/loop.h"
#include "mg/stack.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"

static mg_direct_if *A, *B;

static void setup(uint64_t seed, unsigned loss, unsigned dup)
{
    link_reset(seed, (link_opts){.loss_permille = loss,
                                 .dup_permille = dup,
                                 .latency_ns = 500000,
                                 .jitter_ns = 1000000});
    link_pair(&A, &B);
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* Runs the loop for `s` seconds of fake time. */
static __attribute__((unused)) void run_for(uint64_t s)
{
    mg_loop_run_until(never, NULL, link_now() + s * 1000000000ull);
}

/* ---- bulk transfer: A sends, B counts and checksums ---- */

#define BULK (10u * 1000 * 1000)

static struct bulk {
    mg_flow *tx;
    size_t sent, received;
    uint64_t sum_tx, sum_rx; /* FNV-1a over the bytes in order */
    uint64_t gen;            /* the sender's byte generator */
    bool eof, closed_tx, closed_rx;
    int connect_status;
    size_t writables, pauses;
} bulk;

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void bulk_fill(void *arg, mg_flow *f)
{
    (void)arg;
    uint8_t buf[8192];
    while (bulk.sent < BULK) {
        size_t n = BULK - bulk.sent < sizeof buf ? BULK - bulk.sent : sizeof buf;
        uint64_t g = bulk.gen;
        for (size_t i = 0; i < n; i++) {
            g = g * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(g >> 56);
        }
        size_t taken = 0;
        int rc = mg_flow_write(f, buf, n, &taken);
        /* advance the generator by what was taken only */
        for (size_t i = 0; i < taken; i++)
            bulk.gen = bulk.gen * 6364136223846793005ull + 1442695040888963407ull;
        bulk.sum_tx = fnv(bulk.sum_tx, buf, taken);
        bulk.sent += taken;
        if (rc == MG_EAGAIN) {
            bulk.writables++;
            return; /* `writable` follows */
        }
        cr_assert_eq(rc, MG_OK);
    }
    mg_flow_shutdown(f);
}

static void bulk_closed_tx(void *arg, mg_flow *f, int status)
{
    cr_assert_eq(status, MG_OK, "sender closed with %d", status);
    bulk.closed_tx = true;
}

static void bulk_recv_tx(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    cr_assert_eq(n, 0, "the receiver sends nothing");
}

static void bulk_connected(void *arg, mg_flow *f, int status)
{
    bulk.connect_status = status;
    if (status != MG_OK) return;
    bulk.tx = f;
    static const mg_flow_callbacks cb = {bulk_recv_tx, bulk_fill, bulk_closed_tx};
    mg_flow_set_callbacks(f, &cb, NULL);
    bulk_fill(NULL, f);
}

static mg_loop_timer resume_timer;
static void bulk_resume(void *arg)
{
    mg_flow_resume(arg);
}

static void bulk_recv_rx(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    if (!n) {
        bulk.eof = true;
        mg_flow_close(f);
        return;
    }
    bulk.sum_rx = fnv(bulk.sum_rx, d, n);
    bulk.received += n;
    /* pause now and then, for 50 ms: the window must close and reopen */
    if (bulk.received / 1000000 != (bulk.received - n) / 1000000) {
        bulk.pauses++;
        mg_flow_pause(f);
        mg_loop_timer_start(&resume_timer, link_now() + 50000000, bulk_resume, f);
    }
}

static void bulk_closed_rx(void *arg, mg_flow *f, int status)
{
    bulk.closed_rx = true;
}

static void bulk_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {bulk_recv_rx, NULL, bulk_closed_rx};
    mg_flow_set_callbacks(f, &cb, NULL);
}

static bool bulk_done(void *arg)
{
    return bulk.closed_tx && bulk.eof;
}

Test(tcpip, bulk_10mb_over_a_lossy_link)
{
    setup(1, 10, 10); /* 1 % loss, 1 % duplicates, reordering */
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 5001, bulk_accept, NULL, &l), MG_OK);
    mg_ipaddr dst = mg_ipaddr_v4(0x0a000002);
    bulk = (struct bulk){.sum_tx = 0xcbf29ce484222325ull,
                         .sum_rx = 0xcbf29ce484222325ull,
                         .gen = 42,
                         .connect_status = -1};
    cr_assert_eq(mg_tcp_connect(&A->tcp, &dst, 5001, bulk_connected, NULL), MG_OK);
    int rc = mg_loop_run_until(bulk_done, NULL, link_now() + 600 * 1000000000ull);
    cr_assert_eq(rc, MG_OK, "not done: sent %zu, received %zu, eof %d, closed %d", bulk.sent,
                 bulk.received, bulk.eof, bulk.closed_tx);
    cr_assert_eq(bulk.received, BULK);
    cr_assert_eq(bulk.sum_rx, bulk.sum_tx, "the bytes differ");
    cr_assert_gt(link_dropped, 0, "the link lost nothing: not the test it claims to be");
    cr_assert_gt(bulk.writables, 0, "no back-pressure was exercised");
    cr_assert_eq(bulk.pauses, 10);
    mg_tcp_unlisten(l);
    printf("bulk: %u bytes, %llu frames, %llu lost, %zu writables\n", BULK,
           (unsigned long long)link_frames, (unsigned long long)link_dropped, bulk.writables);
}

/* ---- 10,000 connections opened and closed ---- */

#define CHURN 10000
#define CHURN_PARALLEL 100

static struct churn {
    size_t started, connected, completed, failed;
    size_t bytes_ok;
} churn;

static void churn_next(void);

static void churn_connected(void *arg, mg_flow *f, int status)
{
    if (status != MG_OK) {
        churn.failed++;
        churn_next();
        return;
    }
    churn.connected++;
    static const uint8_t msg[100] = "hello";
    size_t taken;
    cr_assert_eq(mg_flow_write(f, msg, sizeof msg, &taken), MG_OK);
    mg_flow_close(f); /* the FIN follows the bytes; A keeps the TIME_WAIT */
}

static void churn_next(void)
{
    if (churn.started >= CHURN) return;
    churn.started++;
    mg_ipaddr dst = mg_ipaddr_v4(0x0a000002);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &dst, 7000, churn_connected, NULL), MG_OK);
}

struct churn_conn {
    size_t got;
};

static void churn_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    struct churn_conn *c = arg;
    if (n) {
        c->got += n;
        return;
    }
    if (c->got == 100) churn.bytes_ok++;
    churn.completed++;
    free(c);
    mg_flow_close(f);
    churn_next();
}

static void churn_closed(void *arg, mg_flow *f, int status)
{
    free(arg);
    churn.failed++;
    churn_next();
}

static void churn_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {churn_recv, NULL, churn_closed};
    struct churn_conn *c = calloc(1, sizeof *c);
    cr_assert(c);
    mg_flow_set_callbacks(f, &cb, c);
}

static bool churn_done(void *arg)
{
    return churn.completed + churn.failed >= CHURN;
}

Test(tcpip, ten_thousand_connections_leave_pools_and_heap_as_they_were)
{
    setup(2, 10, 10);
    /* lwIP's timers settle first (ARP, the first TCP timer) */
    size_t pcb0 = lwip_stats.memp[MEMP_TCP_PCB]->used;
    size_t seg0 = lwip_stats.memp[MEMP_TCP_SEG]->used;
    size_t pool0 = lwip_stats.memp[MEMP_PBUF_POOL]->used;
    size_t listen0 = lwip_stats.memp[MEMP_TCP_PCB_LISTEN]->used;
    mem_size_t heap0 = lwip_stats.mem.used;
    size_t users_a = A->users, users_b = B->users;

    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 7000, churn_accept, NULL, &l), MG_OK);
    churn = (struct churn){0};
    uint64_t t0 = link_now();
    for (int i = 0; i < CHURN_PARALLEL; i++) churn_next();
    int rc = mg_loop_run_until(churn_done, NULL, link_now() + 3600 * 1000000000ull);
    cr_assert_eq(rc, MG_OK, "stuck: %zu started, %zu completed, %zu failed", churn.started,
                 churn.completed, churn.failed);
    cr_assert_eq(churn.failed, 0);
    cr_assert_eq(churn.bytes_ok, CHURN, "a connection lost bytes");
    /* A's TIME_WAITs outnumber the pool: lwIP must have run out of PCBs and
     * recycled the oldest TIME_WAIT rather than refuse a connection */
    /* every connection leaves a TIME_WAIT on A for 2 * TCP_MSL, and they
     * all came within that time: 10,000 TIME_WAITs cannot fit in the pool,
     * so lwIP must have recycled the oldest ones (tcp_alloc's
     * tcp_kill_timewait) rather than refuse connections */
    uint64_t elapsed_ms = (link_now() - t0) / 1000000;
    cr_assert_lt(elapsed_ms, 2 * TCP_MSL, "took %llu ms", (unsigned long long)elapsed_ms);
    cr_assert_eq(lwip_stats.memp[MEMP_TCP_PCB]->max, MEMP_NUM_TCP_PCB);
    /* past TIME_WAIT, with the listener still there: lwIP's timers (and
     * so TCP's clock) run only while the stack has users */
    mg_loop_run_until(never, NULL, link_now() + 60 * 1000000000ull);
    mg_tcp_unlisten(l);

    cr_assert_eq(lwip_stats.memp[MEMP_TCP_PCB]->used, pcb0, "%u PCBs left",
                 (unsigned)lwip_stats.memp[MEMP_TCP_PCB]->used);
    cr_assert_eq(lwip_stats.memp[MEMP_TCP_PCB_LISTEN]->used, listen0);
    cr_assert_eq(lwip_stats.memp[MEMP_TCP_SEG]->used, seg0);
    cr_assert_eq(lwip_stats.memp[MEMP_PBUF_POOL]->used, pool0);
    cr_assert_eq(lwip_stats.mem.used, heap0, "lwIP's heap: %u bytes then, %u now", (unsigned)heap0,
                 (unsigned)lwip_stats.mem.used);
    cr_assert_eq(A->users, users_a);
    cr_assert_eq(B->users, users_b);
    printf("churn: %d connections in %llu ms of link time, %llu frames, %llu lost\n", CHURN,
           (unsigned long long)elapsed_ms, (unsigned long long)link_frames,
           (unsigned long long)link_dropped);
}
