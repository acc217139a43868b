/*
 * pci.c - what virtio_blk.c and virtio_net.c share: PCI
 * configuration space through the 0xcf8/0xcfc ports, finding legacy
 * virtio devices on bus 0, the start of the legacy status handshake, and
 * split queues in the legacy layout (the queue's address is a page
 * number, so its memory is 4 KiB aligned, with the used ring on a page of
 * its own).
 *
 * Memory is identity-mapped (paging.c), so the heap addresses handed to a
 * device are its physical addresses; the heap ends below 1 GiB, so page
 * numbers fit the 32-bit register.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

static uint32_t pci_address(int bus, int slot, int func, int offset)
{
    return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 | (uint32_t)func << 8 |
           (uint32_t)(offset & 0xfc);
}

static uint32_t pci_read(int bus, int slot, int func, int offset)
{
    outl(0xcf8, pci_address(bus, slot, func, offset));
    return inl(0xcfc);
}

static void pci_write(int bus, int slot, int func, int offset, uint32_t v)
{
    outl(0xcf8, pci_address(bus, slot, func, offset));
    outl(0xcfc, v);
}

uint16_t mg_virtio_isr_ports[MG_VIRTIO_MAX_ISR_PORTS];
uint32_t mg_virtio_n_isr_ports;

uint16_t mg_virtio_pci_next(int *slot, uint16_t device, uint16_t type, uint8_t *irq)
{
    for (; *slot < 32; (*slot)++) {
        int s = *slot;
        uint32_t id = pci_read(0, s, 0, 0x00);
        if ((id & 0xffff) != 0x1af4 || (id >> 16) != device) continue;
        /* the legacy device ids are shared by transitional devices of
         * every kind: the subsystem id says which kind this one is */
        if ((pci_read(0, s, 0, 0x2c) >> 16) != type) continue;
        uint32_t bar0 = pci_read(0, s, 0, 0x10);
        if (!(bar0 & 1)) continue; /* no I/O BAR: not the legacy interface */
        uint32_t cmd = pci_read(0, s, 0, 0x04);
        pci_write(0, s, 0, 0x04, cmd | 0x1 | 0x4); /* I/O space, bus master */
        (*slot)++;
        uint16_t io = (uint16_t)(bar0 & ~3u);
        if (irq) *irq = (uint8_t)(pci_read(0, s, 0, 0x3c) & 0xff);
        if (mg_virtio_n_isr_ports < MG_VIRTIO_MAX_ISR_PORTS)
            mg_virtio_isr_ports[mg_virtio_n_isr_ports++] = (uint16_t)(io + VP_ISR);
        return io;
    }
    return 0;
}

uint32_t mg_virtio_begin(uint16_t io)
{
    outb(io + VP_STATUS, 0); /* reset: forget whatever a loader did */
    outb(io + VP_STATUS, VP_STATUS_ACK | VP_STATUS_DRIVER);
    return inl(io + VP_FEATURES);
}

int mg_vq_setup(uint16_t io, uint16_t index, struct mg_vq *q, uint16_t min_size)
{
    outw(io + VP_QUEUE_SELECT, index);
    uint16_t size = inw(io + VP_QUEUE_SIZE);
    /* the ring indexes wrap at 65536: only a power of two divides that */
    if (size == 0 || size < min_size || size > 32768 || (size & (size - 1))) return MG_EIO;
    size_t avail_end = (size_t)size * 16 + 6 + 2 * (size_t)size;
    size_t used_at = (avail_end + 4095) & ~(size_t)4095;
    size_t total = used_at + 6 + 8 * (size_t)size;
    /* never freed: a device set up at boot lives as long as the image */
    unsigned char *mem = malloc(total + 4096);
    if (!mem) return MG_ENOMEM;
    mem = (unsigned char *)(((uintptr_t)mem + 4095) & ~(uintptr_t)4095);
    memset(mem, 0, total);
    q->size = size;
    q->desc = (struct mg_vq_desc *)mem;
    q->avail = (volatile uint16_t *)(mem + (size_t)size * 16);
    q->used = (volatile uint16_t *)(mem + used_at);
    q->used_el = (volatile struct mg_vq_used_elem *)(mem + used_at + 4);
    q->last_used = 0;
    outl(io + VP_QUEUE_PFN, (uint32_t)((uintptr_t)mem >> 12));
    return MG_OK;
}

void mg_vq_offer(uint16_t io, uint16_t index, struct mg_vq *q, uint16_t head)
{
    uint16_t idx = q->avail[1];
    q->avail[2 + idx % q->size] = head;
    /* the entry before the index that publishes it (x86 keeps stores in
     * order; the compiler must too) */
    __asm__ volatile("" ::: "memory");
    q->avail[1] = (uint16_t)(idx + 1);
    /* the new index must be visible before the device's flag is read, or
     * a device going to sleep could miss it: a store-load fence */
    __asm__ volatile("mfence" ::: "memory");
    if (!(q->used[0] & VQ_USED_NO_NOTIFY)) outw(io + VP_QUEUE_NOTIFY, index);
}

struct mg_vq_used_elem mg_vq_take(struct mg_vq *q)
{
    /* the element after the index that announced it */
    __asm__ volatile("" ::: "memory");
    volatile struct mg_vq_used_elem *e = &q->used_el[q->last_used % q->size];
    struct mg_vq_used_elem out = {e->id, e->len};
    q->last_used++;
    return out;
}
