/*
 * virtio_net.c - virtio network devices, the legacy interface, over the
 * arch's transport (virtio.h: QEMU's virtio-net-pci with
 * disable-modern=on on x86_64, virtio-net-device on virtio-mmio
 * elsewhere), polled: the binding's yield watches the receive queues'
 * used rings. The receive queue's interrupt only wakes yield's sleep (the
 * arch's handler acknowledges and returns); frames are never handled in
 * it.
 *
 * Only VIRTIO_NET_F_MAC and VIRTIO_NET_F_MTU are negotiated: no checksum
 * or segmentation offload and no mergeable receive buffers, so every
 * buffer starts with
 * the legacy 10-byte virtio_net_hdr (all zero on transmit: nothing to
 * offload) and holds one whole frame. Without VIRTIO_F_ANY_LAYOUT a
 * legacy device may expect that header in a descriptor of its own, so
 * each buffer is a chain of two descriptors (header, frame) with fixed
 * numbers: buffer k is descriptors 2k and 2k + 1.
 *
 * The MTU is the device's when it offers VIRTIO_NET_F_MTU (QEMU does when
 * given host_mtu=, which mgd run sets to the tap's MTU), else 1500; it is
 * read from the configuration at offset 10 (after mac[6], status and
 * max_virtqueue_pairs). Buffers are sized by it: a
 * receive buffer takes one byte more than the largest frame, so that a
 * frame the device had to cut (a host that sends more than its MTU says)
 * shows by filling it, and is dropped rather than passed on cut, as spt
 * does. The number of buffers shrinks for a large MTU, so that a device
 * never takes more than about 3 MiB of the heap.
 *
 * Receiving: every receive buffer is offered at boot and each goes back
 * to the device as soon as its frame is copied out, so the queue stays
 * full and the device drops frames only when the image reads too slowly.
 * Transmitting: a frame is copied into a free transmit buffer and offered;
 * buffers the device has used are reclaimed on the next write, so a write
 * waits only when every buffer is still in flight (for at most a second).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

#define NET_F_MTU (1u << 3) /* the host's MTU is in the configuration */
#define NET_F_MAC (1u << 5) /* the MAC address is in the configuration */
#define CONFIG_MTU 10       /* the mtu field's offset in virtio_net_config */

#define RX_QUEUE 0
#define TX_QUEUE 1
#define HDR_SIZE 10 /* the legacy virtio_net_hdr without num_buffers */
/* caps on buffers, whatever the queue size: 128 frames of backlog cover a
 * burst a polled image cannot drain at once (under 200 KiB per device at
 * an MTU of 1500); with larger frames, as many as 2 MiB (receive) and
 * 1 MiB (transmit) hold, but never fewer than 8 and 4 */
#define RX_MAX 128
#define TX_MAX 32
#define RX_BYTES (2u << 20)
#define TX_BYTES (1u << 20)
#define RX_MIN 8
#define TX_MIN 4

#define TX_WAIT_NS 1000000000ull

struct nic {
    struct mg_virtio_dev dev;
    uint8_t mac[6];
    int failed; /* its setup failed: it only holds its place in the bus order */
    int broken; /* the device did something impossible or asked for a reset */
    size_t mtu;
    size_t frame_max; /* mtu + 14 */
    size_t stride;    /* one buffer: HDR_SIZE + frame_max + 1, in whole cache lines */
    struct mg_vq rx, tx;
    uint16_t n_rx, n_tx;
    uint8_t *rx_bufs, *tx_bufs; /* stride bytes each */
    uint16_t *tx_free;          /* a stack of free transmit buffers */
    uint16_t n_free;
    uint8_t *tx_busy; /* per transmit buffer: offered, not yet used */
};

static struct nic nics[MG_VIRTIO_MAX_DEVICES];
static int n_nics;

static void chain(struct mg_vq *q, uint16_t k, uint8_t *buf, uint32_t frame_len, uint16_t write)
{
    q->desc[2 * k] = (struct mg_vq_desc){(uintptr_t)buf, HDR_SIZE, (uint16_t)(VQ_DESC_NEXT | write),
                                         (uint16_t)(2 * k + 1)};
    q->desc[2 * k + 1] = (struct mg_vq_desc){(uintptr_t)(buf + HDR_SIZE), frame_len, write, 0};
}

static uint16_t at_most(uint16_t a, uint16_t b)
{
    return a < b ? a : b;
}

/* How many buffers of `stride` bytes: what the queue holds and `cap`
 * allows, within `bytes` unless that leaves fewer than `least`. */
static uint16_t buffers(uint16_t queue_size, uint16_t cap, size_t stride, size_t bytes,
                        uint16_t least)
{
    size_t fit = bytes / stride;
    uint16_t n = fit < least ? least : fit < cap ? (uint16_t)fit : cap;
    return at_most(queue_size / 2, n);
}

static int setup(struct nic *d)
{
    const struct mg_virtio_dev *dev = &d->dev;
    uint32_t offered = mg_virtio_begin(dev);
    uint32_t features = offered & (NET_F_MAC | NET_F_MTU);
    d->mtu = MG_VIRTIO_NET_MTU;
    if (features & NET_F_MTU) {
        uint16_t mtu = mg_virtio_config16(dev, CONFIG_MTU);
        /* 68: the least IPv4 asks of a link (and the least the spec lets a
         * device say); below it, the device is taken at its default */
        if (mtu >= 68)
            d->mtu = mtu;
        else
            features &= ~NET_F_MTU;
    }
    mg_virtio_set_features(dev, features);
    d->frame_max = d->mtu + 14;
    d->stride = (HDR_SIZE + d->frame_max + 1 + 63) & ~(size_t)63;
    /* a buffer is two descriptors: a queue needs room for one at least */
    if (mg_vq_setup(dev, RX_QUEUE, &d->rx, 2) != MG_OK) goto failed;
    if (mg_vq_setup(dev, TX_QUEUE, &d->tx, 2) != MG_OK) goto failed;
    d->n_rx = buffers(d->rx.size, RX_MAX, d->stride, RX_BYTES, RX_MIN);
    d->n_tx = buffers(d->tx.size, TX_MAX, d->stride, TX_BYTES, TX_MIN);
    d->rx_bufs = malloc((size_t)d->n_rx * d->stride);
    d->tx_bufs = malloc((size_t)d->n_tx * d->stride);
    d->tx_free = malloc((size_t)d->n_tx * sizeof *d->tx_free);
    d->tx_busy = calloc(d->n_tx, 1);
    if (!d->rx_bufs || !d->tx_bufs || !d->tx_free || !d->tx_busy) goto failed;

    if (features & NET_F_MAC) {
        for (int k = 0; k < 6; k++) d->mac[k] = mg_virtio_config8(dev, (unsigned)k);
    } else {
        /* a random address, locally administered and unicast */
        if (mg_platform_entropy(d->mac, sizeof d->mac) != MG_OK) goto failed;
        d->mac[0] = (uint8_t)((d->mac[0] & 0xfe) | 0x02);
        /* a legacy device takes the address written to its configuration,
         * for the filter it may apply before the image sees a frame */
        for (int k = 0; k < 6; k++) mg_virtio_config_write8(dev, (unsigned)k, d->mac[k]);
    }

    for (uint16_t k = 0; k < d->n_rx; k++) {
        chain(&d->rx, k, d->rx_bufs + (size_t)k * d->stride, (uint32_t)d->frame_max + 1,
              VQ_DESC_WRITE);
        d->rx.avail[2 + k] = (uint16_t)(2 * k);
    }
    d->rx.avail[0] = 0; /* interrupts on receive: they wake yield's sleep */
    mg_virtio_wmb();    /* the entries before the index */
    d->rx.avail[1] = d->n_rx;
    for (uint16_t k = 0; k < d->n_tx; k++) {
        chain(&d->tx, k, d->tx_bufs + (size_t)k * d->stride, 0, 0);
        d->tx_free[k] = (uint16_t)(d->n_tx - 1 - k);
    }
    d->n_free = d->n_tx;
    d->tx.avail[0] = VQ_AVAIL_NO_INTERRUPT;

    mg_virtio_set_status(dev, VP_STATUS_ACK | VP_STATUS_DRIVER | VP_STATUS_DRIVER_OK);
    if (mg_virtio_get_status(dev) & (VP_STATUS_NEEDS_RESET | VP_STATUS_FAILED)) goto failed;
    /* the receive buffers went in before the device was live: tell it */
    mg_virtio_mb();
    mg_virtio_notify(dev, RX_QUEUE);
    return 0;
failed:
    /* what was allocated stays: the heap has no use for it at boot's end,
     * and a device that failed once is not retried */
    mg_virtio_set_status(dev, VP_STATUS_FAILED);
    return -1;
}

void mg_virtio_net_init(void)
{
    int cursor = 0;
    while (n_nics < MG_VIRTIO_MAX_DEVICES) {
        struct mg_virtio_dev dev;
        if (mg_virtio_find(MG_VIRTIO_TYPE_NET, &cursor, &dev) != 0) break;
        /* a device that fails keeps its place, or the next one would
         * take the name (and the tap) meant for it */
        memset(&nics[n_nics], 0, sizeof nics[n_nics]);
        nics[n_nics].dev = dev;
        nics[n_nics].failed = setup(&nics[n_nics]) != 0;
        /* a received frame wakes yield's sleep at once, not at the next tick */
        if (!nics[n_nics].failed && dev.irq != MG_VIRTIO_NO_IRQ) mg_virtio_irq_wake(dev.irq);
        n_nics++;
    }
}

int mg_virtio_net_count(void)
{
    return n_nics;
}

int mg_virtio_net_failed(int i)
{
    return nics[i].failed;
}

void mg_virtio_net_mac(int i, uint8_t mac[6])
{
    memcpy(mac, nics[i].mac, 6);
}

size_t mg_virtio_net_mtu(int i)
{
    return nics[i].mtu;
}

int mg_virtio_net_pending(int i)
{
    /* a broken device shows as ready, so its reader comes and learns it */
    return nics[i].broken || mg_vq_pending(&nics[i].rx);
}

/* Takes back the transmit buffers the device has used. */
static void reclaim(struct nic *d)
{
    while (!d->broken && mg_vq_pending(&d->tx)) {
        struct mg_vq_used_elem e = mg_vq_take(&d->tx);
        uint32_t k = e.id / 2;
        if (e.id % 2 || k >= d->n_tx || !d->tx_busy[k]) {
            d->broken = 1; /* a buffer we never offered, or offered once and used twice */
            return;
        }
        d->tx_busy[k] = 0;
        d->tx_free[d->n_free++] = (uint16_t)k;
    }
}

int mg_virtio_net_write(int i, const void *frame, size_t size)
{
    struct nic *d = &nics[i];
    reclaim(d);
    if (!d->n_free && !d->broken) {
        /* every buffer in flight: the device is behind (a tap the host
         * does not drain); give it a while, not forever */
        uint64_t until = mg_platform_clock_monotonic() + TX_WAIT_NS;
        while (!d->n_free && !d->broken) {
            if (mg_platform_clock_monotonic() >= until) {
                if (mg_virtio_get_status(&d->dev) & (VP_STATUS_NEEDS_RESET | VP_STATUS_FAILED))
                    d->broken = 1;
                return MG_EIO;
            }
            mg_virtio_relax();
            reclaim(d);
        }
    }
    if (d->broken) return MG_EIO;
    uint16_t k = d->tx_free[--d->n_free];
    uint8_t *buf = d->tx_bufs + (size_t)k * d->stride;
    memset(buf, 0, HDR_SIZE); /* no offload asked for */
    memcpy(buf + HDR_SIZE, frame, size);
    d->tx.desc[2 * k + 1].len = (uint32_t)size;
    d->tx_busy[k] = 1;
    mg_vq_offer(&d->dev, TX_QUEUE, &d->tx, (uint16_t)(2 * k));
    return MG_OK;
}

void mg_virtio_net_flush(uint64_t timeout)
{
    if (!n_nics) return;
    uint64_t deadline = mg_platform_clock_monotonic() + timeout;
    for (int i = 0; i < n_nics; i++) {
        struct nic *d = &nics[i];
        if (d->failed) continue;
        reclaim(d);
        while (!d->broken && d->n_free < d->n_tx && mg_platform_clock_monotonic() < deadline) {
            mg_virtio_relax();
            reclaim(d);
        }
    }
}

int mg_virtio_net_read(int i, void *buf, size_t *size)
{
    struct nic *d = &nics[i];
    while (!d->broken && mg_vq_pending(&d->rx)) {
        struct mg_vq_used_elem e = mg_vq_take(&d->rx);
        uint32_t k = e.id / 2;
        if (e.id % 2 || k >= d->n_rx) {
            d->broken = 1; /* not a head we offered: the ring cannot be trusted */
            break;
        }
        const uint8_t *b = d->rx_bufs + (size_t)k * d->stride;
        /* the length counts the header; a frame without a whole Ethernet
         * header, or longer than the MTU allows (cut by the device: it
         * filled the extra byte), is dropped */
        size_t len = e.len > HDR_SIZE ? e.len - HDR_SIZE : 0;
        int whole = len >= 14 && len <= d->frame_max;
        if (whole) memcpy(buf, b + HDR_SIZE, len);
        mg_vq_offer(&d->dev, RX_QUEUE, &d->rx, (uint16_t)e.id); /* back in the queue */
        if (whole) {
            *size = len;
            return MG_OK;
        }
    }
    return d->broken ? MG_EIO : MG_EAGAIN;
}
