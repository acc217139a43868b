/*
 * test_socket_stack.c - socket_stackv4v6 (runtime/tcpip/socket_stack.c),
 * mg/stack.h over the host's sockets, on loopback: both ends of each
 * connection are the stack's own (a client made with mg_tcp_connect), or
 * a plain host socket where a test needs a peer that does not read or that
 * resets. Everything runs on the real event loop (mg_run), so the tests
 * also prove that listeners, flows and UDP sockets keep the image alive
 * and that it ends once they are all closed: mg_run returning 0 is part
 * of every test. Criterion runs each test in a process of its own, so
 * each starts with a fresh loop and stack.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mg/loop.h"
#include "mg/tcpip.h"

#define MS 1000000ull

TestSuite(socket_stack, .timeout = 30);

static mg_stackv4v6 *stack;
static mg_tcp *tcp;
static mg_udp *udp;

static void up(void)
{
    cr_assert_eq(mg_socket_stackv4v6_connect(&stack), MG_OK);
    tcp = mg_stackv4v6_tcp(stack);
    udp = mg_stackv4v6_udp(stack);
    cr_assert(tcp && udp);
}

/* A port nothing uses right now, of the given socket type. */
/* A port that is free now, below the kernel's ephemeral range (32768 and
 * up): a port bind(0) hands out is also what the kernel picks for the
 * outgoing connections of tests running in parallel, which could take
 * it before the test listens. */
static uint16_t free_port(int type)
{
    static unsigned seed;
    if (!seed) seed = (unsigned)getpid();
    for (int tries = 0; tries < 1000; tries++) {
        seed = seed * 1103515245u + 12345u;
        uint16_t port = (uint16_t)(20000 + (seed >> 8) % 12000);
        int s = socket(AF_INET, type, 0);
        cr_assert(s >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        int ok = bind(s, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(s);
        if (ok) return port;
    }
    cr_assert_fail("no free port between 20000 and 32000");
    return 0;
}

static mg_ipaddr loopback(void)
{
    return mg_ipaddr_v4(0x7f000001);
}

/* What one end of a connection saw. */
struct end {
    mg_flow *flow;
    uint8_t *got;
    size_t n_got, cap;
    int eofs;       /* recv calls of size 0 */
    int closed;     /* closed calls */
    int status;     /* of the last closed */
    int writables;  /* writable calls */
    int after_done; /* callbacks after the test let go of the flow */
    bool done;
};

static void end_keep(struct end *e, const uint8_t *data, size_t size)
{
    if (e->n_got + size > e->cap) {
        e->cap = (e->n_got + size) * 2;
        e->got = realloc(e->got, e->cap);
        cr_assert(e->got);
    }
    memcpy(e->got + e->n_got, data, size);
    e->n_got += size;
}

/* ---- listen, accept, connect, echo ---- */

static struct {
    mg_tcp_listener *listener;
    struct end server, client;
    int accepts, connects;
    uint16_t port;
} echo;

static void echo_server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size == 0) {
        e->eofs++;
        mg_flow_close(f); /* the client ended: so do we */
        return;
    }
    end_keep(e, data, size);
    size_t taken;
    cr_assert_eq(mg_flow_write(f, data, size, &taken), MG_OK);
    cr_assert_eq(taken, size);
}

static void echo_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)arg;
    echo.accepts++;
    echo.server.flow = f;
    mg_ipaddr a;
    uint16_t port;
    mg_flow_local(f, &a, &port);
    cr_assert_eq(port, echo.port);
    mg_flow_peer(f, &a, &port);
    cr_assert(mg_ipaddr_equal(&a, &(mg_ipaddr){.family = MG_IPV4, .bytes = {127, 0, 0, 1}}));
    mg_flow_set_callbacks(f, &(mg_flow_callbacks){.recv = echo_server_recv}, &echo.server);
    mg_tcp_unlisten(l); /* one connection is all this test wants */
}

static void echo_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size == 0) {
        e->eofs++;
        return;
    }
    end_keep(e, data, size);
    if (e->n_got == 5) mg_flow_shutdown(f);
}

static void echo_client_closed(void *arg, mg_flow *f, int status)
{
    struct end *e = arg;
    e->closed++;
    e->status = status;
}

static void echo_connected(void *arg, mg_flow *f, int status)
{
    (void)arg;
    echo.connects++;
    cr_assert_eq(status, MG_OK);
    cr_assert(f);
    echo.client.flow = f;
    mg_flow_set_callbacks(
        f, &(mg_flow_callbacks){.recv = echo_client_recv, .closed = echo_client_closed},
        &echo.client);
    size_t taken;
    cr_assert_eq(mg_flow_write(f, "hello", 5, &taken), MG_OK);
    cr_assert_eq(taken, 5);
}

Test(socket_stack, listen_accept_echo_and_end)
{
    up();
    echo.port = free_port(SOCK_STREAM);
    cr_assert_eq(mg_tcp_listen(tcp, echo.port, echo_accept, NULL, &echo.listener), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, echo.port, echo_connected, NULL), MG_OK);
    cr_assert_eq(echo.connects, 0, "connect reported from inside the call");
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(echo.accepts, 1);
    cr_assert_eq(echo.server.n_got, 5);
    cr_assert_eq(echo.client.n_got, 5);
    cr_assert_arr_eq(echo.client.got, "hello", 5);
    cr_assert_eq(echo.server.eofs, 1, "the server saw the client's shutdown");
    cr_assert_eq(echo.client.eofs, 1, "the client saw the server's close");
    cr_assert_eq(echo.client.closed, 1);
    cr_assert_eq(echo.client.status, MG_OK, "both ends ended their streams");
}

Test(socket_stack, stack_has_no_addresses_of_its_own)
{
    up();
    mg_ipaddr a[2];
    cr_assert_eq(mg_stackv4v6_addresses(stack, a, 2), 0);
    mg_stackv4v6 *again;
    cr_assert_eq(mg_socket_stackv4v6_connect(&again), MG_OK);
    cr_assert_eq(again, stack, "one stack per image");
    cr_assert_eq(mg_run(), 0, "a stack with nothing open does not keep the image alive");
}

/* ---- back-pressure ---- */

static struct {
    struct end server, client;
    size_t written;  /* bytes the server's writes took */
    bool short_seen; /* a write took less than asked */
    size_t unsent_at_short;
    mg_loop_timer timer;
} bp;

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + i / 251);
}

/* Writes the pattern until a write is short. */
static void bp_fill(mg_flow *f)
{
    uint8_t chunk[16384];
    for (;;) {
        for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = pattern(bp.written + i);
        size_t taken;
        int r = mg_flow_write(f, chunk, sizeof chunk, &taken);
        bp.written += taken;
        if (r == MG_EAGAIN) {
            cr_assert_lt(taken, sizeof chunk);
            return;
        }
        cr_assert_eq(r, MG_OK);
        cr_assert_eq(taken, sizeof chunk);
    }
}

static void bp_server_writable(void *arg, mg_flow *f)
{
    struct end *e = arg;
    e->writables++;
    cr_assert(bp.short_seen, "writable without a short write");
    if (e->writables < 3) {
        bp_fill(f); /* again, twice: back-pressure is not a one-off */
        return;
    }
    mg_flow_close(f);
}

/* The client starts reading only now: until then bytes waited in the
 * host, and the server's buffer filled. */
static void bp_start_reading(void *arg);

static void bp_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size == 0) {
        e->eofs++;
        mg_flow_close(f);
        return;
    }
    for (size_t i = 0; i < size; i++)
        if (data[i] != pattern(e->n_got + i)) cr_assert_fail("byte %zu differs", e->n_got + i);
    e->n_got += size;
}

static void bp_start_reading(void *arg)
{
    (void)arg;
    cr_assert_eq(bp.server.writables, 0, "writable while nobody read");
    mg_flow_set_callbacks(bp.client.flow, &(mg_flow_callbacks){.recv = bp_client_recv}, &bp.client);
}

static void bp_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)arg;
    mg_tcp_unlisten(l);
    bp.server.flow = f;
    mg_flow_set_callbacks(f, &(mg_flow_callbacks){.writable = bp_server_writable}, &bp.server);
    bp_fill(f);
    bp.short_seen = true;
    bp.unsent_at_short = mg_flow_unsent(f);
}

static void bp_connected(void *arg, mg_flow *f, int status)
{
    (void)arg;
    cr_assert_eq(status, MG_OK);
    bp.client.flow = f; /* no callbacks yet: received bytes wait */
    mg_loop_timer_start(&bp.timer, mg_loop_now() + 200 * MS, bp_start_reading, NULL);
}

Test(socket_stack, write_back_pressure_then_writable)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, bp_accept, NULL, &l), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, port, bp_connected, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert(bp.short_seen);
    cr_assert_eq(bp.unsent_at_short, 64 * 1024, "the flow's own buffer is full at the short write");
    cr_assert_eq(bp.server.writables, 3);
    cr_assert_gt(bp.written, 64 * 1024);
    cr_assert_eq(bp.client.n_got, bp.written, "every byte taken arrived, in order");
    cr_assert_eq(bp.client.eofs, 1);
}

/* ---- pause and resume ---- */

static struct {
    struct end server;
    mg_loop_timer timer;
    int checks;
} pr;
static bool pr_paused;

static void pr_server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    cr_assert(!pr_paused, "recv while paused");
    if (size == 0) {
        e->eofs++;
        mg_flow_close(f);
        return;
    }
    end_keep(e, data, size);
}

static void pr_resume(void *arg)
{
    pr.checks++;
    cr_assert_eq(pr.server.n_got, 0, "bytes arrived while paused");
    pr_paused = false;
    mg_flow_resume(arg);
}

static void pr_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)arg;
    mg_tcp_unlisten(l);
    mg_flow_set_callbacks(f, &(mg_flow_callbacks){.recv = pr_server_recv}, &pr.server);
    mg_flow_pause(f);
    pr_paused = true;
    mg_loop_timer_start(&pr.timer, mg_loop_now() + 200 * MS, pr_resume, f);
}

static void pr_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    if (size == 0) mg_flow_close(f);
}

static void pr_connected(void *arg, mg_flow *f, int status)
{
    cr_assert_eq(status, MG_OK);
    mg_flow_set_callbacks(f, &(mg_flow_callbacks){.recv = pr_client_recv}, NULL);
    cr_assert_eq(mg_flow_write(f, "paused bytes", 12, NULL), MG_OK);
    mg_flow_shutdown(f);
    cr_assert_eq(mg_flow_write(f, "x", 1, NULL), MG_ENOTCONN, "a write after shutdown");
}

Test(socket_stack, pause_holds_bytes_until_resume)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, pr_accept, NULL, &l), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, port, pr_connected, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(pr.checks, 1);
    cr_assert_eq(pr.server.n_got, 12);
    cr_assert_arr_eq(pr.server.got, "paused bytes", 12);
    cr_assert_eq(pr.server.eofs, 1);
}

/* ---- shutdown and the end of a connection ---- */

static struct {
    struct end server, client;
    int order; /* the server's events: 1 eof, 2 closed */
    int eof_at, closed_at;
} sd;

static void sd_server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size) {
        end_keep(e, data, size);
        return;
    }
    e->eofs++;
    sd.eof_at = ++sd.order;
}

static void sd_server_closed(void *arg, mg_flow *f, int status)
{
    struct end *e = arg;
    e->closed++;
    e->status = status;
    sd.closed_at = ++sd.order;
}

static void sd_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_tcp_unlisten(l);
    mg_flow_set_callbacks(
        f, &(mg_flow_callbacks){.recv = sd_server_recv, .closed = sd_server_closed}, &sd.server);
    cr_assert_eq(mg_flow_write(f, "bye", 3, NULL), MG_OK);
    mg_flow_shutdown(f); /* after the bytes: the client reads them, then the end */
}

static void sd_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size) {
        end_keep(e, data, size);
        return;
    }
    e->eofs++;
    cr_assert_eq(e->n_got, 3, "the end came before the bytes");
    /* the client answers after the server's end (half-closed), then ends */
    cr_assert_eq(mg_flow_write(f, "ok", 2, NULL), MG_OK);
    mg_flow_close(f);
}

static void sd_client_closed(void *arg, mg_flow *f, int status)
{
    cr_assert_fail("closed after mg_flow_close");
}

static void sd_connected(void *arg, mg_flow *f, int status)
{
    cr_assert_eq(status, MG_OK);
    mg_flow_set_callbacks(
        f, &(mg_flow_callbacks){.recv = sd_client_recv, .closed = sd_client_closed}, &sd.client);
}

Test(socket_stack, shutdown_then_peer_close_ends_with_closed_ok)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, sd_accept, NULL, &l), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, port, sd_connected, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(sd.client.n_got, 3);
    cr_assert_eq(sd.client.eofs, 1, "the peer sees the shutdown as the end of the stream");
    cr_assert_eq(sd.server.n_got, 2, "a shut down flow still receives");
    cr_assert_arr_eq(sd.server.got, "ok", 2);
    cr_assert_eq(sd.server.eofs, 1);
    cr_assert_eq(sd.server.closed, 1);
    cr_assert_eq(sd.server.status, MG_OK);
    cr_assert_eq(sd.eof_at, 1, "recv of size 0 first");
    cr_assert_eq(sd.closed_at, 2, "then closed");
}

/* ---- failures ---- */

static struct {
    int calls, status;
    bool had_flow;
} cf;

static void cf_connected(void *arg, mg_flow *f, int status)
{
    cf.calls++;
    cf.status = status;
    cf.had_flow = f != NULL;
}

Test(socket_stack, connect_refused)
{
    up();
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, free_port(SOCK_STREAM), cf_connected, NULL), MG_OK);
    cr_assert_eq(cf.calls, 0);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(cf.calls, 1);
    cr_assert_eq(cf.status, MG_ECONNREFUSED);
    cr_assert(!cf.had_flow);
}

Test(socket_stack, bad_arguments_are_refused)
{
    up();
    mg_ipaddr lo = loopback(), v6 = {.family = MG_IPV6};
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, 0, echo_accept, NULL, &l), MG_EINVAL);
    cr_assert_eq(mg_tcp_connect(tcp, &lo, 0, cf_connected, NULL), MG_EINVAL);
    cr_assert_eq(mg_tcp_connect(tcp, &v6, 80, cf_connected, NULL), MG_EUNSUPPORTED);
    mg_udp_socket *u;
    cr_assert_eq(mg_udp_bind(udp, 0, NULL, NULL, &u), MG_EINVAL);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(cf.calls, 0);
}

static void never_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    cr_assert_fail("accepted");
}

static void never_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t src_port,
                       const uint8_t *data, size_t size)
{
    cr_assert_fail("received");
}

Test(socket_stack, address_in_use)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *a, *b;
    cr_assert_eq(mg_tcp_listen(tcp, port, never_accept, NULL, &a), MG_OK);
    cr_assert_eq(mg_tcp_listen(tcp, port, never_accept, NULL, &b), MG_EADDRINUSE);
    mg_tcp_unlisten(a);
    /* the port is free again once unlistened */
    cr_assert_eq(mg_tcp_listen(tcp, port, never_accept, NULL, &b), MG_OK);
    mg_tcp_unlisten(b);

    /* a host socket holding the port */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(s, 1), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    cr_assert_eq(mg_tcp_listen(tcp, ntohs(sa.sin_port), never_accept, NULL, &b), MG_EADDRINUSE);
    close(s);

    mg_udp_socket *u, *v;
    cr_assert_eq(mg_udp_bind(udp, 0, never_recv, NULL, &u), MG_OK);
    cr_assert_eq(mg_udp_bind(udp, mg_udp_port(u), never_recv, NULL, &v), MG_EADDRINUSE);
    mg_udp_close(u);
    cr_assert_eq(mg_run(), 0, "everything was closed");
}

/* A host socket as the peer: it resets the connection. */
static struct {
    int host;
    struct end server;
} rs;

static void rs_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size)
        end_keep(e, data, size);
    else
        e->eofs++;
}

static void rs_closed(void *arg, mg_flow *f, int status)
{
    struct end *e = arg;
    e->closed++;
    e->status = status;
}

static void rs_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_tcp_unlisten(l);
    mg_flow_set_callbacks(f, &(mg_flow_callbacks){.recv = rs_recv, .closed = rs_closed},
                          &rs.server);
    mg_flow_pause(f); /* a reset is noticed while paused too */
    struct linger lg = {1, 0};
    setsockopt(rs.host, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(rs.host);
}

Test(socket_stack, peer_reset_is_closed_econnreset)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, rs_accept, NULL, &l), MG_OK);
    rs.host = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(rs.host, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(rs.server.closed, 1);
    cr_assert_eq(rs.server.status, MG_ECONNRESET);
    cr_assert_eq(rs.server.eofs, 0);
}

/* A reset before the application set the flow's callbacks (allowed:
 * "until then received bytes wait"): the flow stays until they are set,
 * then hands over what came and says closed(MG_ECONNRESET). */
static struct {
    int host;
    mg_flow *flow;
    mg_loop_timer timer;
    struct end server;
} lr;

static void lr_adopt(void *arg)
{
    mg_flow_set_callbacks(lr.flow, &(mg_flow_callbacks){.recv = rs_recv, .closed = rs_closed},
                          &lr.server);
}

static void lr_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_tcp_unlisten(l);
    lr.flow = f; /* adopted later, from the loop */
    cr_assert_eq(send(lr.host, "hello", 5, 0), 5);
    struct linger lg = {1, 0};
    setsockopt(lr.host, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(lr.host);
    mg_loop_timer_start(&lr.timer, mg_loop_now() + 300000000ull, lr_adopt, NULL);
}

Test(socket_stack, a_reset_before_the_callbacks_are_set_is_told_once_they_are)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, lr_accept, NULL, &l), MG_OK);
    lr.host = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(lr.host, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(lr.server.closed, 1, "closed %d times", lr.server.closed);
    cr_assert_eq(lr.server.status, MG_ECONNRESET);
    cr_assert_eq(lr.server.eofs, 0);
    cr_assert_eq(lr.server.n_got, 5, "got %zu bytes", lr.server.n_got);
    cr_assert_eq(memcmp(lr.server.got, "hello", 5), 0);
}

/* ---- no callbacks after close or abort, freeing from inside them ---- */

static struct {
    struct end server, client;
    int mode; /* 0: the server closes in its recv, 1: it aborts */
    mg_loop_timer timer;
    int ticks;
} nc;

static void nc_server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (e->done) {
        e->after_done++;
        return;
    }
    end_keep(e, data, size);
    e->done = true;
    if (nc.mode == 0)
        mg_flow_close(f);
    else
        mg_flow_abort(f);
    /* the flow is let go, and freed later: still safe to ask from here */
    cr_assert_eq(mg_flow_write(f, "x", 1, NULL), MG_ENOTCONN);
}

static void nc_server_other(void *arg, mg_flow *f, int status)
{
    ((struct end *)arg)->after_done++;
}

static void nc_server_writable(void *arg, mg_flow *f)
{
    ((struct end *)arg)->after_done++;
}

static void nc_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_tcp_unlisten(l);
    mg_flow_set_callbacks(f,
                          &(mg_flow_callbacks){.recv = nc_server_recv,
                                               .writable = nc_server_writable,
                                               .closed = nc_server_other},
                          &nc.server);
}

/* The client keeps writing until its end is over. */
static void nc_tick(void *arg)
{
    mg_flow *f = arg;
    if (nc.client.closed || nc.client.eofs) return;
    nc.ticks++;
    uint8_t buf[1000] = {0};
    mg_flow_write(f, buf, sizeof buf, NULL);
    mg_loop_timer_start(&nc.timer, mg_loop_now() + 5 * MS, nc_tick, f);
}

static void nc_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct end *e = arg;
    if (size == 0) {
        e->eofs++;
        mg_loop_timer_stop(&nc.timer);
        mg_flow_close(f);
    }
}

static void nc_client_closed(void *arg, mg_flow *f, int status)
{
    struct end *e = arg;
    e->closed++;
    e->status = status;
    mg_loop_timer_stop(&nc.timer);
}

static void nc_connected(void *arg, mg_flow *f, int status)
{
    cr_assert_eq(status, MG_OK);
    mg_flow_set_callbacks(
        f, &(mg_flow_callbacks){.recv = nc_client_recv, .closed = nc_client_closed}, &nc.client);
    nc_tick(f);
}

static void nc_run(int mode)
{
    up();
    nc.mode = mode;
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, nc_accept, NULL, &l), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, port, nc_connected, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert(nc.server.done);
    cr_assert_eq(nc.server.after_done, 0, "a callback ran after the flow was let go");
}

Test(socket_stack, no_callbacks_after_close)
{
    nc_run(0);
    /* a closed flow ends its stream (it may be reset by the host when
     * bytes keep coming after it is gone) */
    cr_assert(nc.client.eofs == 1 || (nc.client.closed == 1 && nc.client.status == MG_ECONNRESET));
}

Test(socket_stack, no_callbacks_after_abort_and_the_peer_is_reset)
{
    nc_run(1);
    cr_assert_eq(nc.client.closed, 1);
    cr_assert_eq(nc.client.status, MG_ECONNRESET);
    cr_assert_eq(nc.client.eofs, 0);
}

/* ---- UDP ---- */

static struct {
    mg_udp_socket *a, *b;
    int a_got, b_got;
} ud;

static void ud_b_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t src_port,
                      const uint8_t *data, size_t size)
{
    ud.b_got++;
    cr_assert_eq(size, 4);
    cr_assert_arr_eq(data, "ping", 4);
    cr_assert_eq(src_port, mg_udp_port(ud.a));
    cr_assert_eq(mg_udp_sendto(s, src, src_port, "pong!", 5), MG_OK);
    mg_udp_close(s); /* from inside its own callback */
}

static void ud_a_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t src_port,
                      const uint8_t *data, size_t size)
{
    ud.a_got++;
    cr_assert_eq(size, 5);
    cr_assert_arr_eq(data, "pong!", 5);
    mg_udp_close(s);
}

Test(socket_stack, udp_round_trip)
{
    up();
    cr_assert_eq(mg_udp_bind(udp, 0, ud_a_recv, NULL, &ud.a), MG_OK);
    cr_assert_eq(mg_udp_bind(udp, 0, ud_b_recv, NULL, &ud.b), MG_OK);
    cr_assert_neq(mg_udp_port(ud.a), 0, "an ephemeral port was given");
    cr_assert_neq(mg_udp_port(ud.a), mg_udp_port(ud.b));
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_udp_sendto(ud.a, &lo, mg_udp_port(ud.b), "ping", 4), MG_OK);
    static uint8_t big[65508];
    cr_assert_eq(mg_udp_sendto(ud.a, &lo, mg_udp_port(ud.b), big, sizeof big), MG_EINVAL);
    cr_assert_eq(mg_run(), 0, "both sockets closed: the image ends");
    cr_assert_eq(ud.b_got, 1);
    cr_assert_eq(ud.a_got, 1);
}

/* ---- what keeps the image alive ---- */

static struct {
    mg_tcp_listener *l;
    mg_loop_timer timer;
    uint64_t unlistened_at;
} al;

static void al_unlisten(void *arg)
{
    al.unlistened_at = mg_loop_now();
    mg_tcp_unlisten(al.l);
}

Test(socket_stack, a_listener_keeps_the_image_alive_until_unlistened)
{
    up();
    cr_assert_eq(mg_tcp_listen(tcp, free_port(SOCK_STREAM), never_accept, NULL, &al.l), MG_OK);
    uint64_t start = mg_loop_now();
    mg_loop_timer_start(&al.timer, start + 150 * MS, al_unlisten, NULL);
    cr_assert_eq(mg_run(), 0);
    cr_assert_geq(al.unlistened_at - start, 150 * MS);
    cr_assert_lt(mg_loop_now() - al.unlistened_at, 100 * MS, "the image ended at once after");
}

/* An open flow keeps it alive after its listener is gone; a closed one
 * whose bytes are still going out too, until they are out. */
static struct {
    mg_flow *server, *client;
    mg_loop_timer timer;
    size_t written, client_got;
    int client_eofs;
} fl;

static void fl_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    fl.client_got += size;
    if (size == 0) {
        fl.client_eofs++;
        mg_flow_close(f);
    }
}

static void fl_start_reading(void *arg)
{
    mg_flow_set_callbacks(fl.client, &(mg_flow_callbacks){.recv = fl_client_recv}, NULL);
}

static void fl_close_server(void *arg)
{
    static uint8_t chunk[65536];
    size_t taken;
    while (mg_flow_write(fl.server, chunk, sizeof chunk, &taken) == MG_OK) fl.written += taken;
    fl.written += taken;
    cr_assert_eq(mg_flow_unsent(fl.server), 64 * 1024, "bytes waiting in the flow's own buffer");
    mg_flow_close(fl.server); /* the rest still goes out before the end */
    mg_loop_timer_start(&fl.timer, mg_loop_now() + 100 * MS, fl_start_reading, NULL);
}

static void fl_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_tcp_unlisten(l);
    fl.server = f;
    mg_loop_timer_start(&fl.timer, mg_loop_now() + 100 * MS, fl_close_server, NULL);
}

static void fl_connected(void *arg, mg_flow *f, int status)
{
    cr_assert_eq(status, MG_OK);
    fl.client = f; /* reads nothing until fl_start_reading */
}

Test(socket_stack, flows_keep_the_image_alive_until_their_bytes_are_out)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, fl_accept, NULL, &l), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, port, fl_connected, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(fl.client_eofs, 1);
    cr_assert_eq(fl.client_got, fl.written, "what the close left buffered was sent");
}

/* ---- many bytes, both ways, with pause and resume ---- */

#define BULK (4u << 20)

static struct {
    size_t sent, echoed_back;
    uint8_t *pending; /* the server's bytes its flow did not take */
    size_t pending_len;
    mg_flow *client;
    int pauses;
} bk;

static void bk_server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    if (size == 0) {
        mg_flow_close(f);
        return;
    }
    cr_assert_eq(bk.pending_len, 0, "recv while paused");
    size_t taken;
    if (mg_flow_write(f, data, size, &taken) == MG_EAGAIN) {
        bk.pending = malloc(size - taken);
        memcpy(bk.pending, data + taken, size - taken);
        bk.pending_len = size - taken;
        bk.pauses++;
        mg_flow_pause(f);
    }
}

static void bk_server_writable(void *arg, mg_flow *f)
{
    size_t taken;
    int r = mg_flow_write(f, bk.pending, bk.pending_len, &taken);
    memmove(bk.pending, bk.pending + taken, bk.pending_len - taken);
    bk.pending_len -= taken;
    if (r == MG_OK) {
        free(bk.pending);
        bk.pending = NULL;
        mg_flow_resume(f);
    }
}

static void bk_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    mg_tcp_unlisten(l);
    mg_flow_set_callbacks(
        f, &(mg_flow_callbacks){.recv = bk_server_recv, .writable = bk_server_writable}, NULL);
}

static void bk_client_send(mg_flow *f)
{
    uint8_t chunk[32768];
    while (bk.sent < BULK) {
        size_t n = BULK - bk.sent < sizeof chunk ? BULK - bk.sent : sizeof chunk;
        for (size_t i = 0; i < n; i++) chunk[i] = pattern(bk.sent + i);
        size_t taken;
        int r = mg_flow_write(f, chunk, n, &taken);
        bk.sent += taken;
        if (r == MG_EAGAIN) return;
    }
    mg_flow_shutdown(f);
}

static void bk_client_writable(void *arg, mg_flow *f)
{
    bk_client_send(f);
}

static void bk_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    if (size == 0) return;
    for (size_t i = 0; i < size; i++)
        if (data[i] != pattern(bk.echoed_back + i))
            cr_assert_fail("echoed byte %zu differs", bk.echoed_back + i);
    bk.echoed_back += size;
}

static int bk_status = -1;

static void bk_client_closed(void *arg, mg_flow *f, int status)
{
    bk_status = status;
}

static void bk_connected(void *arg, mg_flow *f, int status)
{
    cr_assert_eq(status, MG_OK);
    mg_flow_set_callbacks(f,
                          &(mg_flow_callbacks){.recv = bk_client_recv,
                                               .writable = bk_client_writable,
                                               .closed = bk_client_closed},
                          NULL);
    bk_client_send(f);
}

Test(socket_stack, four_megabytes_echoed_with_back_pressure)
{
    up();
    uint16_t port = free_port(SOCK_STREAM);
    mg_tcp_listener *l;
    cr_assert_eq(mg_tcp_listen(tcp, port, bk_accept, NULL, &l), MG_OK);
    mg_ipaddr lo = loopback();
    cr_assert_eq(mg_tcp_connect(tcp, &lo, port, bk_connected, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(bk.sent, BULK);
    cr_assert_eq(bk.echoed_back, BULK);
    cr_assert_eq(bk_status, MG_OK);
}
