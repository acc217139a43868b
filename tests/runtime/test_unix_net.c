/*
 * The unix platform's network devices (runtime/bindings/unix/net.c)
 * and netif (runtime/net/netif.c) against a real tap. Each test runs in a
 * network namespace of its own (Criterion forks a process per test, which
 * unshares its namespace), so the tap it makes disappears with it and the
 * host's interfaces are never touched. The host's side of the tap is an
 * AF_PACKET socket: what it sends, the image reads; what the image
 * writes, it receives. Needs root (CAP_NET_ADMIN).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare, struct ifreq */
#endif

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mg/loop.h"
#include "mg/network.h"
#include "abi/platform.h"

#define MS 1000000ull
#define TAP "mgtest0"

static int host = -1; /* AF_PACKET on the tap */
static int ifindex;

/* A private namespace with the persistent tap TAP, up, and the host's
 * socket on it. */
static void setup(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        cr_skip_test("no network namespace (%s): these tests need root", strerror(errno));
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) cr_skip_test("no /dev/net/tun: this kernel has no tap devices");
    cr_assert_geq(fd, 0, "/dev/net/tun: %s", strerror(errno));
    struct ifreq ifr = {0};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strcpy(ifr.ifr_name, TAP);
    cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0, "TUNSETIFF: %s", strerror(errno));
    cr_assert_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
    close(fd); /* the platform attaches on its own */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, TAP);
    cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    close(s);
    ifindex = (int)if_nametoindex(TAP);
    host = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    cr_assert_geq(host, 0);
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
    cr_assert_eq(bind(host, (struct sockaddr *)&sll, sizeof sll), 0);
}

TestSuite(unix_net, .init = setup, .timeout = 30);

/* Once the image has attached, the kernel turns the tap's carrier on from
 * its link-watch work, up to a second later; frames sent before that are
 * dropped. Waits until the interface is running (and its queue with it). */
static void wait_running(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < 300; i++) {
        struct ifreq ifr = {0};
        strcpy(ifr.ifr_name, TAP);
        cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
        if (ifr.ifr_flags & IFF_RUNNING) {
            close(s);
            usleep(20000);
            return;
        }
        usleep(10000);
    }
    cr_assert_fail("%s is not running 3 s after the image attached", TAP);
}

/* A frame from the host to `dst` with EtherType 0x88b5 (local experimental)
 * and `fill` as its payload. */
static void host_send(const uint8_t dst[6], uint8_t fill, size_t payload)
{
    uint8_t f[1514];
    memcpy(f, dst, 6);
    memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    memset(f + 14, fill, payload);
    cr_assert_eq(send(host, f, 14 + payload, 0), (ssize_t)(14 + payload), "%s", strerror(errno));
}

/* The next frame the image wrote that has EtherType 0x88b5, or -1. */
static ssize_t host_receive(uint8_t *buf, size_t size)
{
    for (int i = 0; i < 100; i++) {
        struct pollfd p = {.fd = host, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1) return -1;
        struct sockaddr_ll from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(host, buf, size, 0, (struct sockaddr *)&from, &len);
        /* only what went out from the image's side (the host sees its
         * own sends too, as outgoing) */
        if (n >= 14 && buf[12] == 0x88 && buf[13] == 0xb5 && from.sll_pkttype != PACKET_OUTGOING)
            return n;
    }
    return -1;
}

Test(unix_net, acquire_maps_names_macs_and_refuses_what_is_not_there)
{
    mg_handle h;
    struct mg_net_info info;
    cr_assert_eq(mg_platform_net_acquire("nosuchtap", &h, &info), MG_ENOENT);
    setenv("MG_NET_service", TAP, 1);
    setenv("MG_MAC_service", "02:11:22:33:44:55", 1);
    cr_assert_eq(mg_platform_net_acquire("service", &h, &info), MG_OK);
    cr_assert_arr_eq(info.mac, "\x02\x11\x22\x33\x44\x55", 6);
    cr_assert_eq(info.mtu, 1500);
    /* the tap is taken: a second attach is refused, not shared */
    cr_assert_eq(mg_platform_net_acquire(TAP, &h, &info), MG_EEXIST);
    /* a MAC address must be six hex pairs of a unicast, nonzero address */
    setenv("MG_NET_bad", TAP, 1);
    static const char *const bad[] = {
        "01:00:5e:00:00:01",  "00:00:00:00:00:00",  "2:3:4:5:6:7",       "-1:00:00:00:00:01",
        " 02:00:00:00:00:01", "02:00:00:00:00:01:", "02-00-00-00-00-01", "02:00:00:00:00"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("MG_MAC_bad", bad[i], 1);
        cr_assert_eq(mg_platform_net_acquire("bad", &h, &info), MG_EINVAL, "%s", bad[i]);
    }
}

Test(unix_net, random_macs_are_unicast_and_local)
{
    mg_handle h;
    struct mg_net_info info;
    cr_assert_eq(mg_platform_net_acquire(TAP, &h, &info), MG_OK);
    cr_assert_eq(info.mac[0] & 3, 2, "mac[0] = %#x", info.mac[0]);
}

Test(unix_net, frames_both_ways_and_sizes_checked)
{
    mg_handle h;
    struct mg_net_info info;
    cr_assert_eq(mg_platform_net_acquire(TAP, &h, &info), MG_OK);
    wait_running();
    uint8_t buf[1514];
    size_t got = 0;
    /* whatever the host sent on its own drains, then reads never wait */
    int rc, reads = 0;
    while ((rc = mg_platform_net_read(h, buf, sizeof buf, &got)) == MG_OK && reads < 100) reads++;
    cr_assert_eq(rc, MG_EAGAIN);
    cr_assert_eq(mg_platform_net_read(h, buf, 100, &got), MG_EINVAL);

    host_send(info.mac, 0xab, 1500);
    mg_handle_set ready = (mg_handle_set)1 << h;
    mg_platform_yield(mg_platform_clock_monotonic() + 2000 * MS, &ready);
    cr_assert_eq(ready, (mg_handle_set)1 << h);
    /* the host may send its own frames (IPv6 neighbour discovery) first */
    do cr_assert_eq(mg_platform_net_read(h, buf, sizeof buf, &got), MG_OK);
    while (buf[12] != 0x88);
    cr_assert_eq(got, 1514);
    cr_assert_eq(buf[14], 0xab);
    cr_assert_eq(buf[1513], 0xab);

    uint8_t out[1514];
    memset(out, 0xff, 6);
    memcpy(out + 6, info.mac, 6);
    out[12] = 0x88;
    out[13] = 0xb5;
    memset(out + 14, 0x5a, 1500);
    cr_assert_eq(mg_platform_net_write(h, out, 1514), MG_OK);
    ssize_t n = host_receive(buf, sizeof buf);
    cr_assert_eq(n, 1514);
    cr_assert_arr_eq(buf, out, 1514);
    cr_assert_eq(mg_platform_net_write(h, out, 13), MG_EINVAL);
    cr_assert_eq(mg_platform_net_write(h, out, 1515), MG_EINVAL);
    cr_assert_eq(mg_platform_net_write(h + 1, out, 60), MG_EINVAL);
}

Test(unix_net, yield_hears_only_the_handles_asked_for)
{
    mg_handle h;
    struct mg_net_info info;
    cr_assert_eq(mg_platform_net_acquire(TAP, &h, &info), MG_OK);
    wait_running();
    host_send(info.mac, 1, 46);
    usleep(50000);
    /* not listening to h: the wait lasts until the deadline */
    uint64_t start = mg_platform_clock_monotonic();
    mg_handle_set ready = 0;
    mg_platform_yield(start + 100 * MS, &ready);
    cr_assert_geq(mg_platform_clock_monotonic() - start, 100 * MS);
    cr_assert_eq(ready, 0);
    /* listening: at once, even past the deadline */
    ready = (mg_handle_set)1 << h;
    mg_platform_yield(0, &ready);
    cr_assert_eq(ready, (mg_handle_set)1 << h);
}

/* netif over the same tap: listen gets the frames, stop ends the image */
static int frames_seen;

static void on_frame(void *arg, mg_network *n, const uint8_t *frame, size_t size)
{
    (void)arg;
    if (size != 60 || frame[12] != 0x88) return;
    frames_seen++;
    uint8_t reply[60];
    memcpy(reply, frame + 6, 6);
    mg_network_mac(n, reply + 6);
    memcpy(reply + 12, frame + 12, 48);
    cr_assert_eq(mg_network_write(n, reply, sizeof reply), MG_OK);
    if (frames_seen == 3) mg_network_stop(n);
}

Test(unix_net, netif_listens_until_stopped)
{
    mg_network *n = NULL;
    cr_assert_eq(mg_netif_connect(&n, TAP), MG_OK);
    cr_assert_str_eq(mg_network_name(n), TAP);
    wait_running();
    uint8_t mac[6];
    mg_network_mac(n, mac);
    char text[18];
    mg_network_format_mac(mac, text);
    cr_assert_eq(strlen(text), 17);
    cr_assert_eq(mg_network_listen(n, on_frame, NULL), MG_OK);
    cr_assert_eq(mg_network_listen(n, on_frame, NULL), MG_EEXIST);
    for (int i = 0; i < 3; i++) host_send(mac, (uint8_t)i, 46);
    cr_assert_eq(mg_run(), 0); /* returns once the listener stopped */
    cr_assert_eq(frames_seen, 3);
    uint8_t buf[1514];
    for (int i = 0; i < 3; i++) cr_assert_eq(host_receive(buf, sizeof buf), 60);
    mg_network_stats s = mg_network_get_stats(n);
    cr_assert_geq(s.rx_frames, 3);
    cr_assert_eq(s.tx_frames, 3);
    cr_assert_eq(s.tx_bytes, 180);
    /* netif itself refuses a frame longer than the MTU and its header, or
     * shorter than the header: the device never sees it, so it is no
     * device error (a mutant that passed a few bytes more down survived) */
    uint8_t big[1514 + 4] = {0};
    cr_assert_eq(mg_network_write(n, big, 1514 + 1), MG_EINVAL);
    cr_assert_eq(mg_network_write(n, big, 1514 + 4), MG_EINVAL);
    cr_assert_eq(mg_network_write(n, big, 13), MG_EINVAL);
    s = mg_network_get_stats(n);
    cr_assert_eq(s.tx_errors, 0, "a refused frame reached the device");
    cr_assert_eq(s.tx_frames, 3);
    mg_network_disconnect(n);
}

/* A flood of frames: the listener gets them in bursts, and a timer that
 * falls due meanwhile runs between bursts, not after the flood. */
static struct {
    int frames, frames_at_timer;
    mg_loop_timer timer;
} flood;

static void flood_timer(void *arg)
{
    (void)arg;
    flood.frames_at_timer = flood.frames;
}

static void flood_frame(void *arg, mg_network *n, const uint8_t *frame, size_t size)
{
    (void)arg;
    if (size != 60 || frame[12] != 0x88) return;
    uint64_t until = mg_loop_now() + 100000; /* 100 us of work per frame */
    while (mg_loop_now() < until) {
    }
    if (++flood.frames == 200) mg_network_stop(n);
}

/* A netif on TAP, with `frames` 60-byte frames from the host waiting. */
static mg_network *netif_with_frames(int frames)
{
    mg_network *n = NULL;
    cr_assert_eq(mg_netif_connect(&n, TAP), MG_OK);
    wait_running();
    uint8_t mac[6];
    mg_network_mac(n, mac);
    for (int i = 0; i < frames; i++) host_send(mac, (uint8_t)i, 46);
    usleep(20000);
    return n;
}

Test(unix_net, a_flood_of_frames_does_not_starve_timers)
{
    mg_network *n = netif_with_frames(200);
    cr_assert_eq(mg_network_listen(n, flood_frame, NULL), MG_OK);
    cr_assert_eq(mg_loop_timer_start(&flood.timer, mg_loop_now() + 2 * MS, flood_timer, NULL),
                 MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(flood.frames, 200);
    /* 20 ms of frames; the 2 ms timer ran between bursts of 32: after at
     * most the 20 frames of its first 2 ms and one burst, however slow
     * the machine (each frame takes 100 us at least) */
    cr_assert_leq(flood.frames_at_timer, 52, "the timer ran after %d frames",
                  flood.frames_at_timer);
    mg_network_disconnect(n);
}

/* A listener may disconnect its own device: freed once it returns. */
static int disconnects;

static void disconnect_frame(void *arg, mg_network *n, const uint8_t *frame, size_t size)
{
    (void)arg;
    (void)frame;
    (void)size;
    disconnects++;
    mg_network_disconnect(n);
}

Test(unix_net, a_listener_may_disconnect_its_device)
{
    mg_network *n = netif_with_frames(3);
    cr_assert_eq(mg_network_listen(n, disconnect_frame, NULL), MG_OK);
    cr_assert_eq(mg_run(), 0); /* nothing left after the disconnect */
    cr_assert_eq(disconnects, 1);
}
