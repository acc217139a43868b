/*
 * unix_only: the checks of the catalog entries that only unix has, run as
 * a second job of allunix (unix.json) next to portable.c's: direct_kv_ro
 * and direct_kv_rw reach the host's file system, socket_stackv4v6 the
 * host's sockets. Prints "ok <what>" or "FAIL <what>" per check; a failed
 * synchronous check makes the job, and so the image, fail.
 *
 * The socket stack's checks are real round trips through the host's
 * kernel inside the image: a TCP listener on 127.0.0.1 and a connection
 * to it through mg_tcp_connect, bytes there and back; a UDP socket on an
 * ephemeral port and a datagram to it from another. They finish through
 * portable.c's everything_wait/everything_done, which end the image once
 * every check of both jobs is done.
 */
#include <string.h>

#include "mg/console.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"
#include "mg/stack.h"

int unix_only_start(mg_console *console, mg_kv_ro *host, mg_kv_rw *rw, mg_stackv4v6 *sock);
int everything_wait(const char *what);
void everything_done(int id, int ok);

#define ECHO_PORT 7003 /* the test's namespace is fresh: nothing else holds it */

static int value_is(mg_kv_ro *kv, const char *key, const char *want)
{
    char buf[64];
    size_t len = 0;
    int rc = mg_kv_ro_get(kv, key, buf, sizeof buf, &len);
    return rc == 0 && len == strlen(want) && !memcmp(buf, want, len);
}

static mg_ipaddr loopback;

/* TCP: the server answers what it gets reversed, at the end of the
 * client's stream, and closes; the client checks the answer. */
static struct {
    mg_tcp_listener *listener;
    char got[64], reply[64];
    size_t got_len, reply_len;
    int wait;
} t;

static const char message[] = "over the host's loopback";

static void server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    (void)arg;
    if (size == 0) {
        char back[64];
        for (size_t i = 0; i < t.got_len; i++) back[i] = t.got[t.got_len - 1 - i];
        size_t taken;
        mg_flow_write(f, back, t.got_len, &taken);
        mg_flow_close(f);
        return;
    }
    if (size > sizeof t.got - t.got_len) size = sizeof t.got - t.got_len;
    memcpy(t.got + t.got_len, data, size);
    t.got_len += size;
}

static void server_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)arg;
    static const mg_flow_callbacks cb = {.recv = server_recv};
    mg_flow_set_callbacks(f, &cb, NULL);
    mg_tcp_unlisten(l);
}

static void client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    (void)arg;
    if (size == 0) {
        int ok = t.reply_len == strlen(message);
        for (size_t i = 0; ok && i < t.reply_len; i++)
            ok = t.reply[i] == message[t.reply_len - 1 - i];
        mg_flow_close(f);
        everything_done(t.wait, ok);
        return;
    }
    if (size > sizeof t.reply - t.reply_len) size = sizeof t.reply - t.reply_len;
    memcpy(t.reply + t.reply_len, data, size);
    t.reply_len += size;
}

static void client_closed(void *arg, mg_flow *f, int status)
{
    (void)arg;
    (void)f;
    (void)status;
    everything_done(t.wait, 0);
}

static void client_connected(void *arg, mg_flow *f, int status)
{
    (void)arg;
    size_t taken;
    if (status != MG_OK) {
        everything_done(t.wait, 0);
        return;
    }
    static const mg_flow_callbacks cb = {.recv = client_recv, .closed = client_closed};
    mg_flow_set_callbacks(f, &cb, NULL);
    if (mg_flow_write(f, message, strlen(message), &taken) != MG_OK) {
        mg_flow_abort(f);
        everything_done(t.wait, 0);
        return;
    }
    mg_flow_shutdown(f);
}

/* UDP: a datagram from one socket to the other's ephemeral port. */
static struct {
    mg_udp_socket *a, *b;
    int wait;
} u;

static void udp_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t port,
                     const uint8_t *data, size_t size)
{
    (void)arg;
    (void)s;
    everything_done(u.wait, mg_ipaddr_equal(src, &loopback) && port == mg_udp_port(u.a) &&
                                size == 5 && !memcmp(data, "hello", 5));
}

/* the sending socket expects nothing */
static void udp_ignore(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t port,
                       const uint8_t *data, size_t size)
{
    (void)arg, (void)s, (void)src, (void)port, (void)data, (void)size;
}

int unix_only_start(mg_console *console, mg_kv_ro *host, mg_kv_rw *rw, mg_stackv4v6 *sock)
{
    int ok1 = value_is(host, "/a.txt", "alpha\n") && value_is(host, "sub/b.txt", "beta\n");
    mg_console_printf(console, "%s direct_kv_ro reads the host directory\n", ok1 ? "ok" : "FAIL");
    int ok2 = mg_kv_rw_set(rw, "k/v", "disk", 4) == 0 && value_is(mg_kv_rw_ro(rw), "k/v", "disk");
    mg_console_printf(console, "%s direct_kv_rw stores\n", ok2 ? "ok" : "FAIL");
    mg_ipaddr none[1];
    int ok3 = mg_stackv4v6_addresses(sock, none, 1) == 0 && mg_ipaddr_parse("127.0.0.1", &loopback);
    mg_console_printf(console, "%s socket_stackv4v6 has no address of its own\n",
                      ok3 ? "ok" : "FAIL");

    t.wait = everything_wait("socket_stackv4v6: TCP through the host's loopback and back");
    mg_tcp *tcp = mg_stackv4v6_tcp(sock);
    if (mg_tcp_listen(tcp, ECHO_PORT, server_accept, NULL, &t.listener) != MG_OK ||
        mg_tcp_connect(tcp, &loopback, ECHO_PORT, client_connected, NULL) != MG_OK)
        everything_done(t.wait, 0);

    u.wait = everything_wait("socket_stackv4v6: a UDP datagram to an ephemeral port");
    mg_udp *udp = mg_stackv4v6_udp(sock);
    if (mg_udp_bind(udp, 0, udp_ignore, NULL, &u.a) != MG_OK ||
        mg_udp_bind(udp, 0, udp_recv, NULL, &u.b) != MG_OK || mg_udp_port(u.b) == 0 ||
        mg_udp_sendto(u.a, &loopback, mg_udp_port(u.b), "hello", 5) != MG_OK)
        everything_done(u.wait, 0);
    return ok1 && ok2 && ok3 ? 0 : 1;
}
