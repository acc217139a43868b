/*
 * ping example: answers ARP requests and ICMP echo requests (ping) for the
 * address in the `ip` key, straight on Ethernet frames: the smallest
 * network unikernel, with no TCP/IP stack. `--count=N` makes it exit 0
 * after N echo replies.
 *
 * On the host, with a tap interface at 10.0.0.1/24:
 *   mgd run ping.spt --net service=tap0 -- --count=3 &  ping -c 3 10.0.0.2
 */
#include <stdint.h>
#include <string.h>

#include "mg/console.h"
#include "mg/network.h"
#include "mg_keys.h"

int ping_start(mg_console *console, mg_network *net);

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IP_PROTO_ICMP 1
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

static struct {
    mg_console *console;
    uint8_t mac[6];
    uint8_t ip[4];
    int64_t count, replies;
    uint8_t out[1514 + 64];
} pinger;

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071) of `size` bytes. */
static uint16_t checksum(const uint8_t *p, size_t size)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < size; i += 2) sum += get16(p + i);
    if (size & 1) sum += (uint32_t)p[size - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* "a.b.c.d" into ip; 0 if it is not one. */
static int parse_ipv4(const char *s, uint8_t ip[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) v = v * 10 + (unsigned)(*s++ - '0'), digits++;
        if (!digits || v > 255 || *s != (i < 3 ? '.' : '\0')) return 0;
        ip[i] = (uint8_t)v;
        s++;
    }
    return 1;
}

/* Sends `size` bytes of pinger.out to `dst` with our source address. */
static void send_frame(mg_network *net, const uint8_t *dst, uint16_t type, size_t size)
{
    memcpy(pinger.out, dst, 6);
    memcpy(pinger.out + 6, pinger.mac, 6);
    put16(pinger.out + 12, type);
    int rc = mg_network_write(net, pinger.out, size);
    if (rc != MG_OK) mg_console_printf(pinger.console, "ping: send failed: %s\n", mg_strerror(rc));
}

static void answer_arp(mg_network *net, const uint8_t *f, size_t size)
{
    const uint8_t *a = f + 14;
    /* Ethernet/IPv4 requests for our address only */
    if (size < 14 + 28 || get16(a) != 1 || get16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 ||
        a[5] != 4 || get16(a + 6) != 1 || memcmp(a + 24, pinger.ip, 4) != 0)
        return;
    uint8_t *r = pinger.out + 14;
    put16(r, 1);
    put16(r + 2, ETHERTYPE_IPV4);
    r[4] = 6;
    r[5] = 4;
    put16(r + 6, 2); /* reply */
    memcpy(r + 8, pinger.mac, 6);
    memcpy(r + 14, pinger.ip, 4);
    memcpy(r + 18, a + 8, 10); /* the asker's MAC and address */
    memset(r + 28, 0, 18);     /* pad to Ethernet's 60-byte minimum */
    send_frame(net, a + 8, ETHERTYPE_ARP, 60);
}

static void answer_echo(mg_network *net, const uint8_t *f, size_t size)
{
    const uint8_t *ip = f + 14;
    if (size < 14 + 20 || (ip[0] >> 4) != 4) return;
    size_t ihl = (size_t)(ip[0] & 15) * 4, total = get16(ip + 2);
    if (ihl < 20 || total < ihl + 8 || 14 + total > size || checksum(ip, ihl) != 0) return;
    if (ip[9] != IP_PROTO_ICMP || memcmp(ip + 16, pinger.ip, 4) != 0) return;
    if (get16(ip + 6) & 0x3fff) return; /* a fragment: not reassembled here */
    const uint8_t *icmp = ip + ihl;
    size_t icmp_size = total - ihl;
    if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0 || checksum(icmp, icmp_size) != 0) return;
    if (14 + 20 + icmp_size > sizeof pinger.out) return;

    uint8_t *r = pinger.out + 14;
    r[0] = 0x45; /* no options in the reply */
    r[1] = 0;
    put16(r + 2, (uint16_t)(20 + icmp_size));
    put16(r + 4, get16(ip + 4));
    put16(r + 6, 0);
    r[8] = 64;
    r[9] = IP_PROTO_ICMP;
    put16(r + 10, 0);
    memcpy(r + 12, pinger.ip, 4);
    memcpy(r + 16, ip + 12, 4);
    put16(r + 10, checksum(r, 20));
    uint8_t *e = r + 20;
    memcpy(e, icmp, icmp_size);
    e[0] = ICMP_ECHO_REPLY;
    put16(e + 2, 0);
    put16(e + 2, checksum(e, icmp_size));
    size_t len = 14 + 20 + icmp_size;
    if (len < 60) {
        memset(pinger.out + len, 0, 60 - len);
        len = 60;
    }
    send_frame(net, f + 6, ETHERTYPE_IPV4, len);
    pinger.replies++;
    mg_console_printf(pinger.console,
                      "ping: echo reply %lld to %u.%u.%u.%u (id %u, seq %u, %zu bytes)\n",
                      (long long)pinger.replies, ip[12], ip[13], ip[14], ip[15], get16(icmp + 4),
                      get16(icmp + 6), icmp_size - 8);
    if (pinger.count && pinger.replies >= pinger.count) {
        mg_network_stats s = mg_network_get_stats(net);
        mg_console_printf(pinger.console, "ping: %lld replies; %llu frames in, %llu out\n",
                          (long long)pinger.replies, (unsigned long long)s.rx_frames,
                          (unsigned long long)s.tx_frames);
        mg_network_stop(net); /* nothing else pending: the image exits 0 */
    }
}

static void on_frame(void *arg, mg_network *net, const uint8_t *frame, size_t size)
{
    (void)arg;
    /* for us: our address or broadcast */
    if (memcmp(frame, pinger.mac, 6) != 0 && memcmp(frame, "\xff\xff\xff\xff\xff\xff", 6) != 0)
        return;
    switch (get16(frame + 12)) {
    case ETHERTYPE_ARP:
        answer_arp(net, frame, size);
        break;
    case ETHERTYPE_IPV4:
        answer_echo(net, frame, size);
        break;
    default:
        break;
    }
}

int ping_start(mg_console *console, mg_network *net)
{
    pinger.console = console;
    pinger.count = mg_key_count();
    if (pinger.count < 0) {
        mg_console_printf(console, "ping: --count must be 0 or more, not %lld\n",
                          (long long)pinger.count);
        return 1;
    }
    if (!parse_ipv4(mg_key_ip(), pinger.ip)) {
        mg_console_printf(console, "ping: --ip must be an IPv4 address like 10.0.0.2, not '%s'\n",
                          mg_key_ip());
        return 1;
    }
    mg_network_mac(net, pinger.mac);
    char mac[18];
    mg_network_format_mac(pinger.mac, mac);
    mg_console_printf(console, "ping: answering for %u.%u.%u.%u on %s (mac %s, mtu %zu)\n",
                      pinger.ip[0], pinger.ip[1], pinger.ip[2], pinger.ip[3], mg_network_name(net),
                      mac, mg_network_mtu(net));
    int rc = mg_network_listen(net, on_frame, NULL);
    if (rc != MG_OK) {
        mg_console_printf(console, "ping: cannot listen: %s\n", mg_strerror(rc));
        return 1;
    }
    return 0;
}
