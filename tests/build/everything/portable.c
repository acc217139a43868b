/*
 * portable: the checks of every catalog entry that works on all targets,
 * the job of allunix (unix.json, with unix_only.c) and of allfree
 * (freestanding.json, for spt and virtio): each entry connected and used
 * a little, so that an entry that claims a target without really working
 * there fails a test. Prints "ok <what>" per check, then "ALL OK", or
 * "FAIL <what>" and, at the end, "SOME FAILED" with exit status 1.
 *
 * The network devices are taps at 10.0.0.1/24 on the host (catalog.sh
 * makes them in a namespace of its own): the check asks the host's kernel
 * who has 10.0.0.1, over raw Ethernet, and waits for its answer.
 */
#include <string.h>

#include "mg/block.h"
#include "mg/console.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"
#include "mg/mclock.h"
#include "mg/network.h"
#include "mg/pclock.h"
#include "mg/random.h"
#include "mg/reporter.h"
#include "mg/time.h"

int portable_start(mg_console *out, mg_console *second, mg_time *time, mg_pclock *pclock,
                   mg_mclock *mclock, mg_random *random, mg_reporter *loud, mg_reporter *quiet,
                   mg_block *disk, mg_block *ram, mg_kv_ro *embedded, mg_kv_ro *tar, mg_kv_rw *mem,
                   mg_network *lan, mg_network *service);

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

/* What is still to come back: the sleep and one ARP answer per network
 * device. The last one to finish says how it all went. */
static int outstanding;

static void done(void)
{
    if (--outstanding) return;
    mg_console_printf(console, failures ? "SOME FAILED\n" : "ALL OK\n");
    if (failures) mg_exit(1);
}

static void after_sleep(void *arg)
{
    (void)arg;
    check(1, "time: a sleep fired");
    done();
}

/* An ARP request "who has 10.0.0.1? tell 10.0.0.2", sent again every
 * 100 ms (the host may miss the first while its tap comes up) until the
 * answer comes or 5 s have passed. */
struct arp_probe {
    mg_network *net;
    mg_time *time;
    uint8_t mac[6];
    int tries;
    int answered;
};

static void arp_send(void *arg)
{
    struct arp_probe *p = arg;
    if (p->answered) return;
    if (p->tries++ == 50) {
        check(0, "netif: the host answers ARP (no answer in 5 s)");
        mg_network_stop(p->net);
        done();
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
        check(0, "netif: an ARP request goes out");
        mg_network_stop(p->net);
        done();
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
    check(s.tx_frames >= 1 && s.rx_frames >= 1, "netif: the host answers ARP");
    mg_network_stop(net);
    done();
}

static struct arp_probe probes[2];

static void arp_probe_start(struct arp_probe *p, mg_network *net, mg_time *time)
{
    *p = (struct arp_probe){.net = net, .time = time};
    mg_network_mac(net, p->mac);
    int ok = mg_network_mtu(net) >= 576 && !(p->mac[0] & 1) &&
             mg_network_write(net, p->mac, 13) == MG_EINVAL &&
             mg_network_listen(net, arp_frame, p) == MG_OK &&
             mg_network_listen(net, arp_frame, p) == MG_EEXIST;
    check(ok, "netif: a unicast MAC, an MTU, runts refused, one listener");
    outstanding++;
    arp_send(p);
}

int portable_start(mg_console *out, mg_console *second, mg_time *time, mg_pclock *pclock,
                   mg_mclock *mclock, mg_random *random, mg_reporter *loud, mg_reporter *quiet,
                   mg_block *disk, mg_block *ram, mg_kv_ro *embedded, mg_kv_ro *tar, mg_kv_rw *mem,
                   mg_network *lan, mg_network *service)
{
    console = out;
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
    outstanding = 1;
    check(mg_time_sleep(time, 10 * MG_TIME_MS, after_sleep, mclock) == 0, "time: sleep queued");
    arp_probe_start(&probes[0], lan, time);
    arp_probe_start(&probes[1], service, time);
    return failures ? 1 : 0;
}
