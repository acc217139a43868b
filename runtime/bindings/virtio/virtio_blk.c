/*
 * virtio_blk.c - virtio block devices over PCI, the legacy interface (an
 * I/O BAR; QEMU's virtio-blk-pci with disable-modern=on), polled: no
 * interrupts, one request at a time, which is what the platform's
 * synchronous block calls need (as in Solo5).
 *
 * Each device gets one queue of its own size (pci.c). A request is
 * three descriptors: the header (type, sector), the data, and the status
 * byte the device writes; the driver waits for the used ring to move.
 *
 * The one feature taken is VIRTIO_BLK_F_RO: QEMU offers it for a drive
 * attached with readonly=on (mgd run --block NAME=FILE:ro, or a file the
 * host refuses writing), and block.c then refuses writes itself, before
 * the device would fail them. The capacity is what QEMU says: mgd run
 * gives the raw drive a size= rounded down to whole sectors, so the guest
 * sees the same capacity as on unix and spt, and QEMU never writes past
 * it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

#define BLK_PCI_DEVICE 0x1001 /* legacy block (modern 0x1042 is not driven) */
#define BLK_TYPE 2            /* virtio device type: block */
#define BLK_F_RO (1u << 5)    /* the device is read-only */

struct blk {
    uint16_t io;
    struct mg_vq q;
    uint64_t capacity;
    int failed;    /* its setup failed: it only holds its place in the bus order */
    int read_only; /* VIRTIO_BLK_F_RO offered */
    struct {
        uint32_t type, reserved;
        uint64_t sector;
    } header;
    volatile uint8_t status;
};

static struct blk devices[MG_VIRTIO_MAX_DEVICES];
static int n_devices;

static int setup(struct blk *d, uint16_t io)
{
    d->io = io;
    uint32_t features = mg_virtio_begin(io) & BLK_F_RO; /* only whether it is read-only */
    outl(io + VP_GUEST_FEATURES, features);
    d->read_only = features != 0;
    if (mg_vq_setup(io, 0, &d->q, 4) != MG_OK) goto failed; /* a request takes 3 */
    d->q.avail[0] = VQ_AVAIL_NO_INTERRUPT;
    /* virtio-blk's configuration: the capacity in sectors, 64 bits */
    d->capacity = ((uint64_t)inl(io + VP_CONFIG + 4) << 32 | inl(io + VP_CONFIG)) * 512;
    outb(io + VP_STATUS, VP_STATUS_ACK | VP_STATUS_DRIVER | VP_STATUS_DRIVER_OK);
    return 0;
failed:
    outb(io + VP_STATUS, VP_STATUS_FAILED);
    return -1;
}

void mg_virtio_blk_init(void)
{
    int slot = 0;
    while (n_devices < MG_VIRTIO_MAX_DEVICES) {
        /* no interrupt line wanted: block requests are waited for by polling */
        uint16_t io = mg_virtio_pci_next(&slot, BLK_PCI_DEVICE, BLK_TYPE, NULL);
        if (!io) break;
        /* a device that fails keeps its place, or the next one would
         * take the name (and the file) meant for it */
        devices[n_devices].failed = setup(&devices[n_devices], io) != 0;
        n_devices++;
    }
}

int mg_virtio_blk_count(void)
{
    return n_devices;
}

int mg_virtio_blk_failed(int i)
{
    return devices[i].failed;
}

uint64_t mg_virtio_blk_capacity(int i)
{
    return devices[i].capacity;
}

int mg_virtio_blk_read_only(int i)
{
    return devices[i].read_only;
}

int mg_virtio_blk_io(int i, int write, uint64_t sector, void *buf, size_t size)
{
    struct blk *d = &devices[i];
    d->header.type = write ? 1 : 0; /* VIRTIO_BLK_T_OUT / _IN */
    d->header.reserved = 0;
    d->header.sector = sector;
    d->status = 0xff;
    d->q.desc[0] = (struct mg_vq_desc){(uintptr_t)&d->header, sizeof d->header, VQ_DESC_NEXT, 1};
    d->q.desc[1] = (struct mg_vq_desc){(uintptr_t)buf, (uint32_t)size,
                                       (uint16_t)(VQ_DESC_NEXT | (write ? 0 : VQ_DESC_WRITE)), 2};
    d->q.desc[2] = (struct mg_vq_desc){(uintptr_t)&d->status, 1, VQ_DESC_WRITE, 0};
    mg_vq_offer(d->io, 0, &d->q, 0);
    while (!mg_vq_pending(&d->q)) __asm__ volatile("pause" ::: "memory");
    (void)mg_vq_take(&d->q);
    return d->status == 0 ? MG_OK : MG_EIO;
}
