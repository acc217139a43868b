/*
 * vq.c - split virtqueues in the legacy layout, over the transport
 * (virtio.h): the queue's address is a page number, so its memory is
 * 4 KiB aligned, with the used ring on a page of its own. Shared by
 * virtio_blk.c and virtio_net.c on every arch; the barriers are
 * mg_virtio_mb/wmb/rmb, which each arch defines in virtio.h.
 *
 * Memory is identity-mapped on every arch, so the heap addresses handed
 * to a device are its physical addresses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

size_t mg_vq_bytes(uint16_t size)
{
    size_t avail_end = (size_t)size * 16 + 6 + 2 * (size_t)size;
    size_t used_at = (avail_end + 4095) & ~(size_t)4095;
    return used_at + 6 + 8 * (size_t)size;
}

void mg_vq_place(const struct mg_virtio_dev *dev, uint16_t index, struct mg_vq *q, uint16_t size,
                 void *at)
{
    unsigned char *mem = at;
    size_t avail_end = (size_t)size * 16 + 6 + 2 * (size_t)size;
    size_t used_at = (avail_end + 4095) & ~(size_t)4095;
    memset(mem, 0, mg_vq_bytes(size));
    q->size = size;
    q->desc = (struct mg_vq_desc *)mem;
    q->avail = (volatile uint16_t *)(mem + (size_t)size * 16);
    q->used = (volatile uint16_t *)(mem + used_at);
    q->used_el = (volatile struct mg_vq_used_elem *)(mem + used_at + 4);
    q->last_used = 0;
    /* the zeroed rings before the device may look at them */
    mg_virtio_mb();
    mg_virtio_queue_set(dev, index, size, mem);
}

int mg_vq_setup(const struct mg_virtio_dev *dev, uint16_t index, struct mg_vq *q, uint16_t min_size)
{
    uint16_t size = mg_virtio_queue_max(dev, index);
    /* the ring indexes wrap at 65536: only a power of two divides that */
    if (size == 0 || size < min_size || size > 32768 || (size & (size - 1))) return MG_EIO;
    /* never freed: a device set up at boot lives as long as the image */
    unsigned char *mem = malloc(mg_vq_bytes(size) + 4096);
    if (!mem) return MG_ENOMEM;
    mem = (unsigned char *)(((uintptr_t)mem + 4095) & ~(uintptr_t)4095);
    mg_vq_place(dev, index, q, size, mem);
    return MG_OK;
}

void mg_vq_offer(const struct mg_virtio_dev *dev, uint16_t index, struct mg_vq *q, uint16_t head)
{
    uint16_t idx = q->avail[1];
    q->avail[2 + idx % q->size] = head;
    /* the descriptors and the entry before the index that publishes them */
    mg_virtio_wmb();
    q->avail[1] = (uint16_t)(idx + 1);
    /* the new index must be visible before the device's flag is read, or
     * a device going to sleep could miss it: a store-load fence */
    mg_virtio_mb();
    if (!(q->used[0] & VQ_USED_NO_NOTIFY)) mg_virtio_notify(dev, index);
}

struct mg_vq_used_elem mg_vq_take(struct mg_vq *q)
{
    /* the element after the index that announced it */
    mg_virtio_rmb();
    volatile struct mg_vq_used_elem *e = &q->used_el[q->last_used % q->size];
    struct mg_vq_used_elem out = {e->id, e->len};
    q->last_used++;
    return out;
}
