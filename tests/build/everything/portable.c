/*
 * portable: the checks of every catalog entry that works on all targets,
 * the job of allunix (unix.json, with unix_only.c) and of allfree
 * (freestanding.json, for spt and virtio): each entry connected and used
 * a little, so that an entry that claims a target without really working
 * there fails a test. Prints "ok <what>" per check, then "ALL OK", or
 * "FAIL <what>" and, at the end, "SOME FAILED" with exit status 1.
 *
 * The network (catalog.sh makes it, in a namespace of its own, with the
 * host forwarding between its taps):
 * - `lan` is a raw netif on a tap at 10.0.0.1/24: the check asks the
 *   host's kernel who has 10.0.0.1, over raw Ethernet, and waits for its
 *   answer;
 * - the static direct stack (ethif, arp, create_ipv4 at 10.0.1.2/24 with
 *   the host's 10.0.1.1 as gateway, direct_udp, direct_tcp,
 *   direct_stackv4v6, and an http_server on it) is on the default network
 *   device;
 * - the DHCP direct stack (ipv4_of_dhcp) is on `dh0`, where the test's
 *   dnsmasq leases 10.0.2.50-59 with 10.0.2.1 as the router.
 * The DHCP stack is the client of the static one's UDP, TCP and HTTP
 * servers: every packet crosses the host's routing between the two taps,
 * so each layer of both stacks really talks to a real peer.
 *
 * The DHCP lease keeps the image alive (lwIP renews it), so the last
 * check to finish ends the image with mg_exit. unix_only.c, the second
 * job of allunix, waits and finishes through everything_wait and
 * everything_done below, so that "ALL OK" comes after its checks too.
 */
#include <stdio.h>
#include <string.h>

#include "mg/block.h"
#include "mg/console.h"
#include "mg/http.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"
#include "mg/mclock.h"
#include "mg/network.h"
#include "mg/pclock.h"
#include "mg/random.h"
#include "mg/reporter.h"
#include "mg/stack.h"
#include "mg/time.h"

int portable_start(mg_console *out, mg_console *second, mg_time *time, mg_pclock *pclock,
                   mg_mclock *mclock, mg_random *random, mg_reporter *loud, mg_reporter *quiet,
                   mg_block *disk, mg_block *ram, mg_kv_ro *embedded, mg_kv_ro *tar, mg_kv_rw *mem,
                   mg_network *lan, mg_udp *udp, mg_tcp *tcp, mg_stackv4v6 *fixed, mg_http *http,
                   mg_stackv4v6 *leased);
int everything_wait(const char *what);
void everything_done(int id, int ok);

static mg_console *console;
static int failures;

static void check(int ok, const char *what)
{
    mg_console_printf(console, "%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) failures++;
}

static int value_is(mg_kv_ro *kv, const char *key, const char *want)
{
    char buf[64];
    size_t len = 0;
    int rc = mg_kv_ro_get(kv, key, buf, sizeof buf, &len);
    return rc == 0 && len == strlen(want) && !memcmp(buf, want, len);
}

static int block_round_trip(mg_block *b)
{
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    unsigned char w[512], r[512];
    for (size_t i = 0; i < sizeof w; i++) w[i] = (unsigned char)(i * 7);
    return g.n_sectors > 1 && mg_block_write(b, 1, w, 1) == 0 && mg_block_read(b, 1, r, 1) == 0 &&
           !memcmp(w, r, sizeof w) && mg_block_read(b, g.n_sectors, r, 1) == MG_ERANGE;
}

/* ---- the checks still to come back ----
 * Each asynchronous check is waited for by name; the last one to finish
 * says how it all went and ends the image (the DHCP lease would keep it
 * running). A watchdog fails whatever has not finished in 20 s, so that a
 * lost packet is a clear FAIL rather than a hang. */
enum { MAX_WAITS = 16 };
static const char *waiting[MAX_WAITS];
static int n_waits, outstanding;
static mg_http *server;
static int finished;

static void finish(void)
{
    if (finished++) return;
    mg_console_printf(console, failures ? "SOME FAILED\n" : "ALL OK\n");
    mg_http_disconnect(server);
    server = NULL;
    mg_exit(failures ? 1 : 0);
}

int everything_wait(const char *what)
{
    if (n_waits == MAX_WAITS) {
        check(0, what);
        return -1;
    }
    waiting[n_waits] = what;
    outstanding++;
    return n_waits++;
}

void everything_done(int id, int ok)
{
    if (id < 0 || !waiting[id]) return; /* done already, or never waited */
    check(ok, waiting[id]);
    waiting[id] = NULL;
    if (--outstanding == 0) finish();
}

static void watchdog(void *arg)
{
    (void)arg;
    if (!outstanding) return;
    for (int i = 0; i < n_waits; i++)
        if (waiting[i]) {
            mg_console_printf(console, "FAIL %s (not done within 20 s)\n", waiting[i]);
            failures++;
            waiting[i] = NULL;
        }
    finish();
}

static int sleep_wait;

static void after_sleep(void *arg)
{
    (void)arg;
    everything_done(sleep_wait, 1);
}

/* ---- the raw netif: ARP ----
 * An ARP request "who has 10.0.0.1? tell 10.0.0.2", sent again every
 * 100 ms (the host may miss the first while its tap comes up) until the
 * answer comes or 5 s have passed. */
struct arp_probe {
    mg_network *net;
    mg_time *time;
    uint8_t mac[6];
    int tries;
    int answered;
    int wait;
};

static void arp_send(void *arg)
{
    struct arp_probe *p = arg;
    if (p->answered) return;
    if (p->tries++ == 50) {
        mg_network_stop(p->net);
        everything_done(p->wait, 0);
        return;
    }
    uint8_t f[60] = {0};
    memset(f, 0xff, 6);
    memcpy(f + 6, p->mac, 6);
    static const uint8_t arp[] = {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
    memcpy(f + 12, arp, sizeof arp);
    memcpy(f + 22, p->mac, 6);
    memcpy(f + 28, "\x0a\x00\x00\x02", 4);
    memcpy(f + 38, "\x0a\x00\x00\x01", 4);
    if (mg_network_write(p->net, f, sizeof f) != MG_OK ||
        mg_time_sleep(p->time, 100 * MG_TIME_MS, arp_send, p) != MG_OK) {
        mg_network_stop(p->net);
        everything_done(p->wait, 0);
    }
}

static void arp_frame(void *arg, mg_network *net, const uint8_t *f, size_t size)
{
    struct arp_probe *p = arg;
    /* an ARP reply, to us, from 10.0.0.1 */
    if (p->answered || size < 42 || memcmp(f, p->mac, 6) || f[12] != 0x08 || f[13] != 0x06 ||
        f[20] != 0 || f[21] != 2 || memcmp(f + 28, "\x0a\x00\x00\x01", 4))
        return;
    p->answered = 1;
    mg_network_stats s = mg_network_get_stats(net);
    mg_network_stop(net);
    everything_done(p->wait, s.tx_frames >= 1 && s.rx_frames >= 1);
}

static struct arp_probe probe;

static void arp_probe_start(struct arp_probe *p, mg_network *net, mg_time *time)
{
    *p = (struct arp_probe){.net = net, .time = time};
    mg_network_mac(net, p->mac);
    int ok = mg_network_mtu(net) >= 576 && !(p->mac[0] & 1) &&
             mg_network_write(net, p->mac, 13) == MG_EINVAL &&
             mg_network_listen(net, arp_frame, p) == MG_OK &&
             mg_network_listen(net, arp_frame, p) == MG_EEXIST;
    check(ok, "netif: a unicast MAC, an MTU, runts refused, one listener");
    p->wait = everything_wait("netif: the host answers ARP");
    arp_send(p);
}

/* ---- the direct stacks ---- */
#define FIXED_ADDR 0x0a000102u /* create_ipv4's cidr in the configs */
#define UDP_PORT 7001
#define TCP_PORT 7002
#define HTTP_PORT 8080 /* http_server's port in the configs */
#define TCP_BYTES 200000u

static mg_time *timer;
static mg_udp *leased_udp;
static mg_tcp *leased_tcp;
static mg_ipaddr fixed_addr, leased_addr;

/* Whether `hay` holds `needle` (the freestanding libc has no strstr). */
static int contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncmp(hay, needle, n)) return 1;
    return 0;
}

static int pattern(uint32_t i)
{
    return (int)((i * 31u + (i >> 8)) & 255u);
}

/* UDP: the fixed stack's direct_udp answers "pong " + what came, to where
 * it came from; the leased stack sends "ping N" every 200 ms until the
 * answer to any of them is back (the first may wait on ARP at both ends
 * and at the host). */
static struct {
    mg_udp_socket *server, *client;
    int tries, wait;
} u;

static void udp_server_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t port,
                            const uint8_t *data, size_t size)
{
    (void)arg;
    uint8_t reply[64];
    if (size > sizeof reply - 5 || !mg_ipaddr_equal(src, &leased_addr)) return;
    memcpy(reply, "pong ", 5);
    memcpy(reply + 5, data, size);
    mg_udp_sendto(s, src, port, reply, size + 5);
}

static void udp_client_recv(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t port,
                            const uint8_t *data, size_t size)
{
    (void)arg;
    (void)s;
    int ok = mg_ipaddr_equal(src, &fixed_addr) && port == UDP_PORT && size > 10 &&
             !memcmp(data, "pong ping ", 10);
    u.client = NULL; /* no more pings; the image's end closes the sockets */
    everything_done(u.wait, ok);
}

static void udp_send(void *arg)
{
    (void)arg;
    if (!u.client) return;
    char msg[32];
    int n = snprintf(msg, sizeof msg, "ping %d", u.tries++);
    int rc = mg_udp_sendto(u.client, &fixed_addr, UDP_PORT, msg, (size_t)n);
    if ((rc != MG_OK && rc != MG_EAGAIN) ||
        mg_time_sleep(timer, 200 * MG_TIME_MS, udp_send, NULL) != MG_OK)
        everything_done(u.wait, 0);
}

static void udp_start(mg_udp *fixed)
{
    u.wait =
        everything_wait("direct_udp: a datagram from the leased stack answered, across the host");
    if (mg_udp_bind(fixed, UDP_PORT, udp_server_recv, NULL, &u.server) != MG_OK ||
        mg_udp_bind(leased_udp, 0, udp_client_recv, NULL, &u.client) != MG_OK ||
        mg_udp_port(u.client) == 0) {
        everything_done(u.wait, 0);
        return;
    }
    udp_send(NULL);
}

/* TCP: the leased stack sends TCP_BYTES of a pattern to the fixed stack's
 * direct_tcp (minding back-pressure) and shuts down; the server checks
 * every byte and, at the end of the stream, answers "N BAD" (bytes, and
 * how many differed from the pattern) and closes. */
static struct {
    mg_tcp_listener *listener;
    uint32_t got, bad;
    uint32_t sent;
    char reply[32];
    size_t reply_len;
    int wait;
} t;

static void tcp_server_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    (void)arg;
    if (size == 0) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "%u %u", (unsigned)t.got, (unsigned)t.bad);
        size_t taken;
        mg_flow_write(f, msg, (size_t)n, &taken);
        mg_flow_close(f);
        return;
    }
    for (size_t i = 0; i < size; i++, t.got++)
        if (data[i] != pattern(t.got)) t.bad++;
}

static void tcp_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    (void)arg;
    static const mg_flow_callbacks cb = {.recv = tcp_server_recv};
    mg_flow_set_callbacks(f, &cb, NULL);
    mg_tcp_unlisten(l);
    t.listener = NULL;
}

static void tcp_client_write(mg_flow *f)
{
    uint8_t chunk[4096];
    while (t.sent < TCP_BYTES) {
        size_t n = TCP_BYTES - t.sent < sizeof chunk ? TCP_BYTES - t.sent : sizeof chunk, taken = 0;
        for (size_t i = 0; i < n; i++) chunk[i] = (uint8_t)pattern(t.sent + (uint32_t)i);
        int rc = mg_flow_write(f, chunk, n, &taken);
        t.sent += (uint32_t)taken;
        if (rc == MG_EAGAIN) return; /* `writable` comes back here */
        if (rc != MG_OK) {
            mg_flow_abort(f);
            everything_done(t.wait, 0);
            return;
        }
    }
    mg_flow_shutdown(f);
}

static void tcp_client_writable(void *arg, mg_flow *f)
{
    (void)arg;
    tcp_client_write(f);
}

static void tcp_client_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    (void)arg;
    if (size == 0) {
        char want[32];
        snprintf(want, sizeof want, "%u 0", TCP_BYTES);
        mg_flow_close(f);
        everything_done(t.wait, t.reply_len == strlen(want) && !memcmp(t.reply, want, t.reply_len));
        return;
    }
    size_t room = sizeof t.reply - 1 - t.reply_len;
    if (size > room) size = room;
    memcpy(t.reply + t.reply_len, data, size);
    t.reply_len += size;
}

static void tcp_client_closed(void *arg, mg_flow *f, int status)
{
    (void)arg;
    (void)f;
    (void)status;
    everything_done(t.wait, 0);
}

static void tcp_connected(void *arg, mg_flow *f, int status)
{
    (void)arg;
    if (status != MG_OK) {
        mg_console_printf(console, "tcp: connect: %s\n", mg_strerror(status));
        everything_done(t.wait, 0);
        return;
    }
    static const mg_flow_callbacks cb = {
        .recv = tcp_client_recv, .writable = tcp_client_writable, .closed = tcp_client_closed};
    mg_flow_set_callbacks(f, &cb, NULL);
    tcp_client_write(f);
}

static void tcp_start(mg_tcp *fixed)
{
    t.wait = everything_wait("direct_tcp: 200000 bytes from the leased stack arrive intact, across "
                             "the host, and the answer comes back");
    if (mg_tcp_listen(fixed, TCP_PORT, tcp_accept, NULL, &t.listener) != MG_OK ||
        mg_tcp_connect(leased_tcp, &fixed_addr, TCP_PORT, tcp_connected, NULL) != MG_OK)
        everything_done(t.wait, 0);
}

/* HTTP: the leased stack asks the fixed stack's http_server for
 * sub/b.txt of the crunch store, and reads the whole answer. */
static struct {
    char buf[1024];
    size_t len;
    int wait;
} h;

static void http_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    (void)arg;
    if (size == 0) {
        h.buf[h.len] = 0;
        static const char body[] = "\r\n\r\nbeta\n";
        mg_http_stats s = mg_http_get_stats(server);
        int ok = !strncmp(h.buf, "HTTP/1.1 200 OK\r\n", 17) &&
                 contains(h.buf, "\r\nContent-Length: 5\r\n") &&
                 contains(h.buf, "\r\nContent-Type: text/plain; charset=utf-8\r\n") &&
                 h.len > strlen(body) && !strcmp(h.buf + h.len - strlen(body), body) &&
                 s.requests == 1 && s.connections == 1;
        mg_flow_close(f);
        everything_done(h.wait, ok);
        return;
    }
    size_t room = sizeof h.buf - 1 - h.len;
    if (size > room) size = room;
    memcpy(h.buf + h.len, data, size);
    h.len += size;
}

static void http_closed(void *arg, mg_flow *f, int status)
{
    (void)arg;
    (void)f;
    (void)status;
    everything_done(h.wait, 0);
}

static void http_connected(void *arg, mg_flow *f, int status)
{
    (void)arg;
    static const char req[] = "GET /sub/b.txt HTTP/1.1\r\nHost: fixed\r\nConnection: close\r\n\r\n";
    size_t taken;
    if (status != MG_OK) {
        mg_console_printf(console, "http: connect: %s\n", mg_strerror(status));
        everything_done(h.wait, 0);
        return;
    }
    static const mg_flow_callbacks cb = {.recv = http_recv, .closed = http_closed};
    mg_flow_set_callbacks(f, &cb, NULL);
    if (mg_flow_write(f, req, strlen(req), &taken) != MG_OK) {
        mg_flow_abort(f);
        everything_done(h.wait, 0);
    }
}

static void http_start(mg_http *http, mg_kv_ro *kv)
{
    server = http;
    check(mg_http_port(http) == HTTP_PORT && mg_http_serve_kv(http, kv) == MG_OK &&
              mg_http_serve_kv(http, kv) == MG_EEXIST,
          "http_server listens on its port");
    h.wait = everything_wait("http_server: GET /sub/b.txt from the leased stack, across the host");
    if (mg_tcp_connect(leased_tcp, &fixed_addr, HTTP_PORT, http_connected, NULL) != MG_OK)
        everything_done(h.wait, 0);
}

/* The addresses: the fixed one from create_ipv4, the leased one in
 * dnsmasq's range. */
static int addresses(mg_stackv4v6 *fixed, mg_stackv4v6 *leased)
{
    mg_ipaddr a[2];
    char text[MG_IPADDR_STRLEN];
    fixed_addr = mg_ipaddr_v4(FIXED_ADDR);
    check(mg_stackv4v6_addresses(fixed, a, 2) == 1 && mg_ipaddr_equal(&a[0], &fixed_addr),
          "create_ipv4: the stack has the address 10.0.1.2");
    int ok = mg_stackv4v6_addresses(leased, a, 2) == 1 && a[0].family == MG_IPV4;
    uint32_t v = ok ? mg_ipaddr_v4_value(&a[0]) : 0;
    ok = ok && v >= 0x0a000232u && v <= 0x0a00023bu;
    mg_console_printf(console, "leased address %s\n", ok ? mg_ipaddr_format(&a[0], text) : "none");
    check(ok, "ipv4_of_dhcp: an address in dnsmasq's range 10.0.2.50-59");
    leased_addr = a[0];
    return ok;
}

int portable_start(mg_console *out, mg_console *second, mg_time *time, mg_pclock *pclock,
                   mg_mclock *mclock, mg_random *random, mg_reporter *loud, mg_reporter *quiet,
                   mg_block *disk, mg_block *ram, mg_kv_ro *embedded, mg_kv_ro *tar, mg_kv_rw *mem,
                   mg_network *lan, mg_udp *udp, mg_tcp *tcp, mg_stackv4v6 *fixed, mg_http *http,
                   mg_stackv4v6 *leased)
{
    console = out;
    timer = time;
    check(mg_console_printf(second, "second console\n") == MG_OK, "custom_console writes");
    check(mg_pclock_now_ns(pclock) > UINT64_C(1700000000) * 1000000000, "posix_clock is recent");
    check(mg_mclock_now_ns(mclock) > 0, "monotonic_clock ticks");
    unsigned char r1[16], r2[16];
    check(mg_random_fill(random, r1, sizeof r1) == 0 &&
              mg_random_fill(random, r2, sizeof r2) == 0 && memcmp(r1, r2, sizeof r1),
          "chacha_random gives different bytes");
    check(mg_log_enabled(loud, MG_LOG_DEBUG, "any"), "log_reporter honours *:debug");
    mg_log(loud, MG_LOG_INFO, "portable", "a log line");
    check(!mg_log_enabled(quiet, MG_LOG_ERROR, "any"), "no_reporter drops everything");
    check(block_round_trip(disk), "block_of_file reads back and rejects out of range");
    check(block_round_trip(ram), "ramdisk reads back and rejects out of range");
    check(value_is(embedded, "a.txt", "alpha\n") && value_is(embedded, "sub/b.txt", "beta\n"),
          "crunch serves embedded files");
    check(value_is(tar, "t.txt", "from tar\n"), "tar_kv_ro reads the archive");
    check(mg_kv_rw_set(mem, "k/v", "mem", 3) == 0 && value_is(mg_kv_rw_ro(mem), "k/v", "mem"),
          "kv_rw_mem stores");
    /* held until every check is under way, so that none ends the image
     * before the others are waited for */
    int starting = everything_wait("every check under way");
    sleep_wait = everything_wait("time: a sleep fired");
    check(mg_time_sleep(time, 10 * MG_TIME_MS, after_sleep, NULL) == 0, "time: sleep queued");
    check(mg_time_sleep(time, 20000 * MG_TIME_MS, watchdog, NULL) == 0, "time: watchdog queued");
    arp_probe_start(&probe, lan, time);
    leased_udp = mg_stackv4v6_udp(leased);
    leased_tcp = mg_stackv4v6_tcp(leased);
    check(mg_stackv4v6_tcp(fixed) == tcp && mg_stackv4v6_udp(fixed) == udp,
          "direct_stackv4v6 shares the IPv4 layer of direct_tcp and direct_udp");
    if (addresses(fixed, leased)) {
        udp_start(udp);
        tcp_start(tcp);
        http_start(http, embedded);
    }
    everything_done(starting, 1);
    return 0;
}
