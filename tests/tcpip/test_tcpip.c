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
    /* the loop's wait for a condition ends at its deadline otherwise */
    uint64_t t = link_now();
    cr_assert_eq(mg_loop_run_until(never, NULL, t + 2000000000ull), MG_ETIMEDOUT);
    cr_assert_geq(link_now(), t + 2000000000ull);
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

/* ---- malformed frames ---- */

#define MAX_SEEDS 64
static struct {
    uint8_t data[1514];
    size_t size;
} seeds[MAX_SEEDS];
static size_t n_seeds;

static void capture(const uint8_t *frame, size_t size)
{
    if (n_seeds < MAX_SEEDS && size <= sizeof seeds[0].data) {
        memcpy(seeds[n_seeds].data, frame, size);
        seeds[n_seeds++].size = size;
    }
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1) sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Makes the checksums of a mutated IPv4 frame right again half the time, so
 * that mutations reach TCP, UDP and ICMP instead of dying at the IP check. */
static void fix_checksums(uint8_t *f, size_t size)
{
    if (size < 34 || f[12] != 0x08 || f[13] != 0x00) return;
    uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4, tot = (size_t)ip[2] << 8 | ip[3];
    if (ihl < 20 || 14 + ihl > size) return;
    ip[10] = ip[11] = 0;
    uint16_t c = csum(0, ip, ihl);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    if (tot < ihl || 14 + tot > size || (ip[6] & 0x3f) || ip[7])
        return; /* fragments: as they are */
    uint8_t *l4 = ip + ihl;
    size_t n = tot - ihl;
    size_t at = ip[9] == 6 ? 16 : ip[9] == 17 ? 6 : ip[9] == 1 ? 2 : 0;
    if (!at || n < at + 2) return;
    l4[at] = l4[at + 1] = 0;
    uint32_t pseudo = 0;
    if (ip[9] != 1) {
        for (int i = 12; i < 20; i += 2) pseudo += (uint32_t)ip[i] << 8 | ip[i + 1];
        pseudo += ip[9] + (uint32_t)n;
    }
    c = csum(pseudo, l4, n);
    l4[at] = (uint8_t)(c >> 8);
    l4[at + 1] = (uint8_t)c;
}

static void fuzz_udp_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t port,
                          const uint8_t *d, size_t n)
{
    (*(size_t *)arg)++;
}

static void fuzz_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {bulk_recv_rx, NULL, bulk_closed_rx};
    mg_flow_set_callbacks(f, &cb, NULL);
}

static void fuzz_connected(void *arg, mg_flow *f, int status)
{
    *(int *)arg = status;
    if (status != MG_OK) return;
    static const uint8_t msg[3000] = {1, 2, 3};
    size_t taken;
    mg_flow_write(f, msg, sizeof msg, &taken);
    mg_flow_close(f);
}

static bool status_set(void *arg)
{
    return *(int *)arg != -1;
}

static size_t udp_target;
static bool udp_got(void *arg)
{
    return *(size_t *)arg >= udp_target;
}

/* A round of traffic A -> B: TCP with data, a 3000-byte UDP datagram
 * (fragments), and ICMP echo by hand. Fails the test if B does not answer. */
static void traffic(mg_udp_socket *ua, size_t *udp_count)
{
    int st = -1;
    mg_ipaddr dst = mg_ipaddr_v4(0x0a000002);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &dst, 8000, fuzz_connected, &st), MG_OK);
    cr_assert_eq(mg_loop_run_until(status_set, &st, link_now() + 60000000000ull), MG_OK);
    cr_assert_eq(st, MG_OK, "B does not accept connections any more");
    static uint8_t big[3000];
    size_t before = *udp_count;
    cr_assert_eq(mg_udp_sendto(ua, &dst, 9000, big, sizeof big), MG_OK);
    cr_assert_eq(mg_udp_sendto(ua, &dst, 9000, "x", 1), MG_OK);
    udp_target = before + 2;
    mg_loop_run_until(udp_got, udp_count, link_now() + 5000000000ull);
    cr_assert_eq(*udp_count, before + 2, "B does not receive datagrams any more");
    mg_loop_run_until(never, NULL, link_now() + 1000000000ull);
}

static void fuzz_frames(size_t iterations)
{
    setup(3, 0, 0);
    mg_tcp_listener *l;
    mg_udp_socket *ub, *ua;
    size_t udp_count = 0, unused = 0;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 8000, fuzz_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_udp_bind(&B->udp, 9000, fuzz_udp_recv, &udp_count, &ub), MG_OK);
    cr_assert_eq(mg_udp_bind(&A->udp, 0, fuzz_udp_recv, &unused, &ua), MG_OK);
    /* the seeds: what A sends to B in a round of traffic (ARP, TCP
     * handshake, data, FIN, UDP fragments), plus an ICMP echo request */
    n_seeds = 0;
    link_tap = capture;
    traffic(ua, &udp_count);
    link_tap = NULL;
    static const uint8_t ping[] = {
        2,    0, 0, 0,  0,    2,    2, 0, 0,  0, 0, 1, 0x08, 0x00,                    /* Ethernet */
        0x45, 0, 0, 28, 0,    1,    0, 0, 64, 1, 0, 0, 10,   0,    0, 1, 10, 0, 0, 2, /* IPv4 */
        8,    0, 0, 0,  0x12, 0x34, 0, 1}; /* ICMP echo */
    capture(ping, sizeof ping);
    fix_checksums(seeds[n_seeds - 1].data, sizeof ping);
    cr_assert_geq(n_seeds, 8, "only %zu seeds", n_seeds);

    uint8_t f[1514 + 64];
    for (size_t it = 0; it < iterations; it++) {
        size_t pick = link_rand() % n_seeds, size = seeds[pick].size;
        memcpy(f, seeds[pick].data, size);
        unsigned kind = (unsigned)(link_rand() % 6);
        if (kind == 0) { /* a few random bytes */
            for (int k = 1 + (int)(link_rand() % 8); k > 0; k--)
                f[link_rand() % size] = (uint8_t)link_rand();
        } else if (kind == 1) { /* truncated */
            size = link_rand() % (size + 1);
        } else if (kind == 2) { /* longer, with junk */
            size_t extra = link_rand() % 64;
            for (size_t k = 0; k < extra; k++) f[size + k] = (uint8_t)link_rand();
            size += extra;
        } else { /* a 16-bit field of the headers to an edge value */
            static const uint16_t edges[] = {0, 1, 0x7fff, 0x8000, 0xffff, 20, 14, 1500};
            size_t at = link_rand() % (size < 60 ? size : 60);
            uint16_t v = edges[link_rand() % 8];
            f[at] = (uint8_t)(v >> 8);
            if (at + 1 < size) f[at + 1] = (uint8_t)v;
        }
        if (link_rand() & 1) fix_checksums(f, size);
        mg_direct_if_input(B, f, size);
        /* let timers and replies run now and then */
        if (it % 64 == 63) mg_loop_run_until(never, NULL, link_now() + 300000000ull);
    }
    mg_loop_run_until(never, NULL, link_now() + 30000000000ull);
    /* B still works */
    traffic(ua, &udp_count);
    mg_udp_close(ua);
    mg_udp_close(ub);
    mg_tcp_unlisten(l);
    printf("fuzz: %zu mutated frames from %zu seeds, B still serves\n", iterations, n_seeds);
}

/* 5,000 frames in every run; the long run (label `fuzz`, see
 * CMakeLists.txt) sets MG_TCPIP_FUZZ_ITERATIONS. */
Test(tcpip, malformed_frames_do_not_crash_the_stack, .timeout = 3600)
{
    const char *env = getenv("MG_TCPIP_FUZZ_ITERATIONS");
    fuzz_frames(env && atol(env) > 0 ? (size_t)atol(env) : 5000);
}

/* ---- review findings: each fails on the stack before its fix ---- */

static const mg_ipaddr B_ADDR = {.family = MG_IPV4, .bytes = {10, 0, 0, 2}};

/* A flow that shut its side down while paused, whose peer then ends its
 * stream: B's pcb goes to TIME_WAIT, which lwIP frees without a callback
 * (after 2 * TCP_MSL, or at once when the pool is full) and hands to the
 * next connection. The flow must not keep it: its held bytes and end of
 * stream still reach the application on resume, then closed(MG_OK), and
 * the connection that got the recycled pcb is not touched. */
static struct tw {
    mg_flow *old, *b_new;
    size_t old_got, accepts;
    bool old_eof, b_new_eof;
    int old_closed, a1, a2, a_new_closed, b_new_closed;
} tw;

static void tw_old_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    if (n)
        tw.old_got += n;
    else
        tw.old_eof = true;
}

static void tw_old_closed(void *arg, mg_flow *f, int status)
{
    tw.old_closed = status;
}

static void tw_new_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    if (!n) tw.b_new_eof = true;
}

static void tw_new_closed(void *arg, mg_flow *f, int status)
{
    tw.b_new_closed = status;
}

static void tw_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    if (++tw.accepts == 1) {
        static const mg_flow_callbacks cb = {tw_old_recv, NULL, tw_old_closed};
        tw.old = f;
        mg_flow_set_callbacks(f, &cb, NULL);
        mg_flow_pause(f);    /* the application is busy: it reads later */
        mg_flow_shutdown(f); /* and has said all it had to say */
    } else {
        static const mg_flow_callbacks cb = {tw_new_recv, NULL, tw_new_closed};
        tw.b_new = f;
        mg_flow_set_callbacks(f, &cb, NULL);
    }
}

static void close_on_eof(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    if (!n) mg_flow_close(f);
}

static void store_status(void *arg, mg_flow *f, int status)
{
    *(int *)arg = status;
}

static void tw_a1(void *arg, mg_flow *f, int status)
{
    tw.a1 = status;
    if (status) return;
    static const mg_flow_callbacks cb = {close_on_eof, NULL, NULL};
    mg_flow_set_callbacks(f, &cb, NULL);
    size_t taken;
    mg_flow_write(f, "hello", 5, &taken);
}

static void tw_a2(void *arg, mg_flow *f, int status)
{
    tw.a2 = status;
    if (status) return;
    static const mg_flow_callbacks cb = {NULL, NULL, store_status};
    mg_flow_set_callbacks(f, &cb, &tw.a_new_closed);
}

Test(tcpip, a_paused_flow_lets_go_of_its_time_wait_pcb)
{
    setup(7, 0, 0);
    tw = (struct tw){
        .old_closed = -100, .a1 = -1, .a2 = -1, .a_new_closed = -100, .b_new_closed = -100};
    size_t users0 = B->users;
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 80, tw_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, tw_a1, NULL), MG_OK);
    run_for(2);
    cr_assert_eq(tw.a1, MG_OK);
    cr_assert_eq(tw.old_got, 0, "delivered while paused");
    run_for(25); /* past 2 * TCP_MSL: lwIP has freed the TIME_WAIT pcb */
    cr_assert_eq(tw.old_closed, -100, "closed before the application read");
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, tw_a2, NULL), MG_OK);
    run_for(1);
    cr_assert_eq(tw.a2, MG_OK);
    cr_assert_eq(tw.accepts, 2);
    mg_flow_resume(tw.old);
    run_for(1);
    cr_assert_eq(tw.old_got, 5);
    cr_assert(tw.old_eof);
    cr_assert_eq(tw.old_closed, MG_OK, "the old flow was not told it is over (%d)", tw.old_closed);
    run_for(3);
    cr_assert(!tw.b_new_eof, "the new connection was ended by the old flow");
    cr_assert_eq(tw.b_new_closed, -100, "the new connection on B closed: %d", tw.b_new_closed);
    cr_assert_eq(tw.a_new_closed, -100, "the new connection on A closed: %d", tw.a_new_closed);
    cr_assert_eq(B->users, users0 + 2, "listener and the new flow: %zu users", B->users);
}

/* A paused flow whose connection ends (the peer's FIN, then ours
 * acknowledged: lwIP's ERR_CLSD) still gets the bytes it holds and the
 * end of the stream on resume, and only then closed(MG_OK). */
static struct pc {
    mg_flow *b;
    size_t got;
    bool eof;
    int closed;
} pc;

static void pc_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    cr_assert_eq(pc.closed, -100, "bytes after closed");
    if (n)
        pc.got += n;
    else
        pc.eof = true;
}

static void pc_closed(void *arg, mg_flow *f, int status)
{
    pc.closed = status;
}

static void pc_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {pc_recv, NULL, pc_closed};
    pc.b = f;
    mg_flow_set_callbacks(f, &cb, NULL);
    mg_flow_pause(f);
}

static void pc_connected(void *arg, mg_flow *f, int status)
{
    if (status) return;
    size_t taken;
    mg_flow_write(f, "hello", 5, &taken);
    mg_flow_close(f);
}

Test(tcpip, a_paused_flow_gets_its_bytes_after_the_connection_ended)
{
    setup(8, 0, 0);
    pc = (struct pc){.closed = -100};
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 80, pc_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, pc_connected, NULL), MG_OK);
    run_for(1);
    cr_assert(pc.b);
    cr_assert_eq(pc.got, 0);
    mg_flow_shutdown(pc.b); /* still paused */
    run_for(1);
    cr_assert_eq(pc.closed, -100, "closed(%d) with %zu of 5 bytes delivered", pc.closed, pc.got);
    mg_flow_resume(pc.b);
    run_for(1);
    cr_assert_eq(pc.got, 5);
    cr_assert(pc.eof);
    cr_assert_eq(pc.closed, MG_OK);
    mg_tcp_unlisten(l);
}

/* One paused flow fed 1-byte segments must not take every receive buffer
 * of the interface (lwIP's PBUF_POOL): another client still connects, and
 * the paused flow gets every byte once resumed. */
static struct pool_state {
    mg_flow *flood, *held;
    size_t sent, got;
    int late;
} ps;
static mg_loop_timer flood_timer;

static void ps_recv(void *arg, mg_flow *f, const uint8_t *d, size_t n)
{
    ps.got += n;
}

static void ps_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    static const mg_flow_callbacks cb = {ps_recv, NULL, NULL};
    ps.held = f;
    mg_flow_set_callbacks(f, &cb, NULL);
    mg_flow_pause(f); /* as echo does when its client does not read */
}

static void ps_late_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_flow_close(f);
}

static void ps_flood_connected(void *arg, mg_flow *f, int status)
{
    if (!status) ps.flood = f;
}

static void ps_late_connected(void *arg, mg_flow *f, int status)
{
    ps.late = status;
    if (!status) mg_flow_close(f);
}

static void flood_tick(void *arg)
{
    for (int i = 0; i < 8 && ps.flood; i++) {
        size_t taken;
        if (mg_flow_write(ps.flood, "x", 1, &taken) == MG_OK) ps.sent++;
    }
    mg_loop_timer_start(&flood_timer, link_now() + 1000000ull, flood_tick, NULL);
}

static bool late_done(void *arg)
{
    return ps.late != -1;
}

static bool all_got(void *arg)
{
    return ps.got == ps.sent;
}

Test(tcpip, tiny_segments_to_a_paused_flow_leave_the_interface_receiving)
{
    setup(9, 0, 0);
    ps = (struct pool_state){.late = -1};
    mg_tcp_listener *l, *l2;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 80, ps_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_tcp_listen(&B->tcp, 81, ps_late_accept, NULL, &l2), MG_OK);
    unsigned pool0 = lwip_stats.memp[MEMP_PBUF_POOL]->used;
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, ps_flood_connected, NULL), MG_OK);
    run_for(1);
    cr_assert(ps.flood && ps.held);
    flood_tick(NULL);
    run_for(5);
    unsigned pool = lwip_stats.memp[MEMP_PBUF_POOL]->used;
    cr_assert_gt(ps.sent, 1000, "only %zu bytes sent", ps.sent);
    cr_assert_lt(pool, pool0 + 16, "%u of %d receive buffers held", pool, PBUF_POOL_SIZE);
    printf("paused flow: %zu bytes in 1-byte segments, %u of %d receive buffers in use\n", ps.sent,
           pool, PBUF_POOL_SIZE);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 81, ps_late_connected, NULL), MG_OK);
    mg_loop_run_until(late_done, NULL, link_now() + 10 * 1000000000ull);
    cr_assert_eq(ps.late, MG_OK, "another client could not connect: %d", ps.late);
    mg_loop_timer_stop(&flood_timer);
    run_for(1);
    cr_assert_eq(ps.got, 0, "delivered while paused");
    mg_flow_resume(ps.held);
    mg_loop_run_until(all_got, NULL, link_now() + 10 * 1000000000ull);
    cr_assert_eq(ps.got, ps.sent, "got %zu of %zu bytes", ps.got, ps.sent);
}

/* Initial sequence numbers: RFC 6528's keyed hash of the connection plus a
 * clock, not lwIP 2.1.3's counter (6510 plus the ticks) that an attacker
 * predicts from one connection of their own. */
static uint32_t isns[8];
static size_t n_isns;

static void isn_tap(const uint8_t *f, size_t size)
{
    if (size < 54 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6) return;
    const uint8_t *tcp = f + 14 + (f[14] & 15) * 4;
    if (tcp + 20 > f + size || (tcp[13] & 0x12) != 0x02) return; /* a SYN, no ACK */
    if (n_isns < 8)
        isns[n_isns++] = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | tcp[6] << 8 | tcp[7];
}

static void isn_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_flow_close(f);
}

static void isn_connected(void *arg, mg_flow *f, int status)
{
    if (!status) mg_flow_close(f);
}

Test(tcpip, initial_sequence_numbers_are_not_predictable)
{
    setup(10, 0, 0);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 80, isn_accept, NULL, &l), MG_OK);
    n_isns = 0;
    link_tap = isn_tap;
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, isn_connected, NULL), MG_OK);
        run_for(1);
    }
    link_tap = NULL;
    cr_assert_eq(n_isns, 6);
    /* with a 32-bit keyed hash, a difference under 2^20 has odds 1 in
     * 4096; five of them, one in 2^60 */
    size_t small = 0;
    for (size_t i = 1; i < n_isns; i++) {
        uint32_t d = isns[i] - isns[i - 1];
        printf("ISN %u (previous + %u)\n", isns[i], d);
        if (d < (1u << 20) || -d < (1u << 20)) small++;
    }
    cr_assert_lt(small, n_isns - 1, "every ISN is close to the previous one");
    mg_tcp_unlisten(l);
}

/* Listening again on a port whose earlier connections are in TIME_WAIT
 * (as the socket stack does with SO_REUSEADDR). */
static void relisten_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_flow_close(f); /* B closes first: B keeps the TIME_WAIT */
}

static void relisten_connected(void *arg, mg_flow *f, int status)
{
    *(int *)arg = status;
    if (status) return;
    static const mg_flow_callbacks cb = {close_on_eof, NULL, NULL};
    mg_flow_set_callbacks(f, &cb, NULL);
}

Test(tcpip, a_port_listens_again_while_its_connections_are_in_time_wait)
{
    setup(11, 0, 0);
    mg_tcp_listener *l;
    int st = -1;
    cr_assert_eq(mg_tcp_listen(&B->tcp, 80, relisten_accept, NULL, &l), MG_OK);
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, relisten_connected, &st), MG_OK);
    run_for(1);
    cr_assert_eq(st, MG_OK);
    cr_assert_neq(tcp_tw_pcbs, NULL, "no TIME_WAIT: not the test it claims to be");
    mg_tcp_unlisten(l);
    cr_assert_eq(mg_tcp_listen(&B->tcp, 80, relisten_accept, NULL, &l), MG_OK);
    /* and it accepts */
    st = -1;
    cr_assert_eq(mg_tcp_connect(&A->tcp, &B_ADDR, 80, relisten_connected, &st), MG_OK);
    run_for(1);
    cr_assert_eq(st, MG_OK);
    mg_tcp_unlisten(l);
}
