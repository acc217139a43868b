/*
 * netif.c - netif(name): a network interface over the platform's net calls
 * (abi/platform.h), the same code on every target.
 *
 * Receiving: the loop watches the platform handle; when the platform says
 * frames are waiting, up to NETIF_BURST of them are read into one buffer
 * of mtu + 14 bytes and handed to the listener one by one. The burst is
 * bounded so that a flood of frames cannot keep the loop from its timers:
 * the handle stays ready while frames remain, and the loop comes back to
 * them after its due timers. A listener that stops the device midway
 * leaves the rest for later; one that disconnects it is honoured after
 * its call returns.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mg/loop.h"
#include "mg/network.h"
#include "abi/platform.h"

/* frames handed over per wake-up at most */
#define NETIF_BURST 32

struct mg_network {
    mg_handle handle;
    bool delivering;    /* inside netif_ready: a disconnect waits for it */
    bool disconnecting; /* disconnected from a listener: freed on return */
    struct mg_net_info info;
    mg_network_stats stats;
    mg_network_frame_fn *listener;
    void *listener_arg;
    uint8_t *rx; /* mtu + 14 bytes */
    char name[];
};

int mg_netif_connect(mg_network **out, const char *name)
{
    if (!name || !*name) {
        mg_printf("netif: the device needs a name\n");
        return MG_EINVAL;
    }
    mg_handle handle;
    struct mg_net_info info;
    int rc = mg_platform_net_acquire(name, &handle, &info);
    if (rc != MG_OK) {
        /* not found: on unix no such tap, elsewhere not attached */
        if (rc == MG_ENOENT)
            mg_printf("netif %s: cannot acquire the network device: %s (attach an existing tap: "
                      "mgd run IMAGE --net %s=TAP)\n",
                      name, mg_strerror(rc), name);
        else if (rc == MG_EEXIST)
            mg_printf("netif %s: cannot acquire the network device: another device of this image "
                      "(or, on unix, another program) already uses it\n",
                      name);
        else
            mg_printf("netif %s: cannot acquire the network device: %s\n", name, mg_strerror(rc));
        return rc;
    }
    if (info.mtu < 68 || info.mtu > 65535) { /* 68: the least IPv4 asks of a link */
        mg_printf("netif %s: unusable MTU %zu\n", name, info.mtu);
        return MG_EIO;
    }
    size_t len = strlen(name);
    mg_network *n = calloc(1, sizeof *n + len + 1);
    uint8_t *rx = malloc(info.mtu + MG_ETHER_HEADER_SIZE);
    if (!n || !rx) {
        free(n);
        free(rx);
        mg_printf("netif %s: out of memory\n", name);
        return MG_ENOMEM;
    }
    memcpy(n->name, name, len + 1);
    n->handle = handle;
    n->info = info;
    n->rx = rx;
    *out = n;
    return MG_OK;
}

const char *mg_network_name(const mg_network *n)
{
    return n->name;
}

void mg_network_mac(const mg_network *n, uint8_t mac[6])
{
    memcpy(mac, n->info.mac, 6);
}

size_t mg_network_mtu(const mg_network *n)
{
    return n->info.mtu;
}

mg_network_stats mg_network_get_stats(const mg_network *n)
{
    return n->stats;
}

int mg_network_write(mg_network *n, const void *frame, size_t size)
{
    if (!frame || size < MG_ETHER_HEADER_SIZE || size > n->info.mtu + MG_ETHER_HEADER_SIZE)
        return MG_EINVAL;
    int rc = mg_platform_net_write(n->handle, frame, size);
    if (rc == MG_OK) {
        n->stats.tx_frames++;
        n->stats.tx_bytes += size;
    } else {
        n->stats.tx_errors++;
    }
    return rc;
}

static void netif_ready(void *arg, mg_handle handle)
{
    (void)handle;
    mg_network *n = arg;
    size_t cap = n->info.mtu + MG_ETHER_HEADER_SIZE;
    n->delivering = true;
    for (int i = 0; i < NETIF_BURST && n->listener && !mg_loop_exiting(); i++) {
        size_t got = 0;
        int rc = mg_platform_net_read(n->handle, n->rx, cap, &got);
        if (rc == MG_EAGAIN) break;
        if (rc != MG_OK) {
            /* a broken device would wake the loop forever: stop listening */
            n->stats.rx_errors++;
            mg_printf("netif %s: receive failed: %s; no longer listening\n", n->name,
                      mg_strerror(rc));
            mg_network_stop(n);
            break;
        }
        if (got < MG_ETHER_HEADER_SIZE) {
            n->stats.rx_errors++; /* a runt: nothing a listener could use */
            continue;
        }
        n->stats.rx_frames++;
        n->stats.rx_bytes += got;
        n->listener(n->listener_arg, n, n->rx, got);
    }
    n->delivering = false;
    if (n->disconnecting) mg_network_disconnect(n);
}

int mg_network_listen(mg_network *n, mg_network_frame_fn *fn, void *arg)
{
    if (!fn) return MG_EINVAL;
    if (n->listener) return MG_EEXIST;
    int rc = mg_loop_watch(n->handle, netif_ready, n);
    if (rc != MG_OK) return rc;
    n->listener = fn;
    n->listener_arg = arg;
    return MG_OK;
}

void mg_network_stop(mg_network *n)
{
    if (!n->listener) return;
    mg_loop_unwatch(n->handle);
    n->listener = NULL;
    n->listener_arg = NULL;
}

void mg_network_disconnect(mg_network *n)
{
    if (!n) return;
    mg_network_stop(n);
    if (n->delivering) { /* from a listener: netif_ready still holds n */
        n->disconnecting = true;
        return;
    }
    free(n->rx);
    free(n);
}

void mg_network_format_mac(const uint8_t mac[6], char buf[18])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        buf[i * 3] = hex[mac[i] >> 4];
        buf[i * 3 + 1] = hex[mac[i] & 15];
        buf[i * 3 + 2] = i < 5 ? ':' : '\0';
    }
}
