/*
 * virtio_blk.c - virtio block devices, the legacy interface, over the
 * arch's transport (virtio.h: QEMU's virtio-blk-pci with
 * disable-modern=on on x86_64, virtio-blk-device on virtio-mmio
 * elsewhere), polled: no interrupts, one request at a time, which is what the platform's
 * synchronous block calls need (as in Solo5).
 *
 * Each device gets one queue of its own size (vq.c). A request is
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

#define BLK_F_RO (1u << 5) /* the device is read-only */

struct blk {
    struct mg_virtio_dev dev;
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

static int setup(struct blk *d)
{
    const struct mg_virtio_dev *dev = &d->dev;
    uint32_t features = mg_virtio_begin(dev) & BLK_F_RO; /* only whether it is read-only */
    mg_virtio_set_features(dev, features);
    d->read_only = features != 0;
    if (mg_vq_setup(dev, 0, &d->q, 4) != MG_OK) goto failed; /* a request takes 3 */
    d->q.avail[0] = VQ_AVAIL_NO_INTERRUPT;
    /* virtio-blk's configuration: the capacity in sectors, 64 bits */
    d->capacity = ((uint64_t)mg_virtio_config32(dev, 4) << 32 | mg_virtio_config32(dev, 0)) * 512;
    mg_virtio_set_status(dev, VP_STATUS_ACK | VP_STATUS_DRIVER | VP_STATUS_DRIVER_OK);
    return 0;
failed:
    mg_virtio_set_status(dev, VP_STATUS_FAILED);
    return -1;
}

void mg_virtio_blk_init(void)
{
    int cursor = 0;
    while (n_devices < MG_VIRTIO_MAX_DEVICES) {
        /* its interrupt is never wanted: block requests are waited for by
         * polling */
        if (mg_virtio_find(MG_VIRTIO_TYPE_BLOCK, &cursor, &devices[n_devices].dev) != 0) break;
        /* a device that fails keeps its place, or the next one would
         * take the name (and the file) meant for it */
        devices[n_devices].failed = setup(&devices[n_devices]) != 0;
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
    mg_vq_offer(&d->dev, 0, &d->q, 0);
    while (!mg_vq_pending(&d->q)) mg_virtio_relax();
    (void)mg_vq_take(&d->q);
    return d->status == 0 ? MG_OK : MG_EIO;
}
