/*
 * virtio_blk.c - virtio block devices over PCI, the legacy interface (an
 * I/O BAR; QEMU's virtio-blk-pci with disable-modern=on), polled: no
 * interrupts, one request at a time, which is what the platform's
 * synchronous block calls need (as in Solo5).
 *
 * Each device gets one queue of its own size, in memory from the heap
 * aligned to 4 KiB (the legacy queue address is a page number). A request
 * is three descriptors: the header (type, sector), the data, and the
 * status byte the device writes; the driver waits for the used ring to
 * move.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg/mg.h"
#include "virtio.h"

#define MAX_DEVICES 16

/* legacy virtio PCI registers, from BAR0 */
#define VP_FEATURES 0x00
#define VP_GUEST_FEATURES 0x04
#define VP_QUEUE_PFN 0x08
#define VP_QUEUE_SIZE 0x0c
#define VP_QUEUE_SELECT 0x0e
#define VP_QUEUE_NOTIFY 0x10
#define VP_STATUS 0x12
#define VP_CONFIG 0x14 /* virtio-blk: capacity in sectors, 64 bits */

#define STATUS_ACK 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FAILED 128

#define DESC_NEXT 1
#define DESC_WRITE 2

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct blk {
    uint16_t io;
    uint16_t size; /* of the queue */
    struct desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size] */
    volatile uint16_t *used;  /* flags, idx, then {id, len} pairs */
    uint16_t last_used;
    uint64_t capacity;
    struct {
        uint32_t type, reserved;
        uint64_t sector;
    } header;
    volatile uint8_t status;
};

static struct blk devices[MAX_DEVICES];
static int n_devices;

static uint32_t pci_read(int bus, int slot, int func, int offset)
{
    outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 | (uint32_t)func << 8 |
                    (uint32_t)(offset & 0xfc));
    return inl(0xcfc);
}

static void pci_write(int bus, int slot, int func, int offset, uint32_t v)
{
    outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 | (uint32_t)func << 8 |
                    (uint32_t)(offset & 0xfc));
    outl(0xcfc, v);
}

static int setup(struct blk *d, uint16_t io)
{
    d->io = io;
    outb(io + VP_STATUS, 0); /* reset */
    outb(io + VP_STATUS, STATUS_ACK | STATUS_DRIVER);
    (void)inl(io + VP_FEATURES);
    outl(io + VP_GUEST_FEATURES, 0); /* none: plain reads and writes */
    outw(io + VP_QUEUE_SELECT, 0);
    d->size = inw(io + VP_QUEUE_SIZE);
    if (d->size == 0 || d->size > 32768) goto failed;
    /* the legacy layout: descriptors, the available ring, then at the next
     * page the used ring */
    size_t avail_end = (size_t)d->size * 16 + 6 + 2 * (size_t)d->size;
    size_t used_at = (avail_end + 4095) & ~(size_t)4095;
    size_t total = used_at + 6 + 8 * (size_t)d->size;
    unsigned char *mem = malloc(total + 4096);
    if (!mem) goto failed;
    mem = (unsigned char *)(((uintptr_t)mem + 4095) & ~(uintptr_t)4095);
    memset(mem, 0, total);
    d->desc = (struct desc *)mem;
    d->avail = (volatile uint16_t *)(mem + (size_t)d->size * 16);
    d->used = (volatile uint16_t *)(mem + used_at);
    outl(io + VP_QUEUE_PFN, (uint32_t)((uintptr_t)mem >> 12));
    d->capacity = ((uint64_t)inl(io + VP_CONFIG + 4) << 32 | inl(io + VP_CONFIG)) * 512;
    outb(io + VP_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_DRIVER_OK);
    return 0;
failed:
    outb(io + VP_STATUS, STATUS_FAILED);
    return -1;
}

int mg_virtio_blk_init(void)
{
    for (int slot = 0; slot < 32 && n_devices < MAX_DEVICES; slot++) {
        uint32_t id = pci_read(0, slot, 0, 0);
        /* vendor 0x1af4; legacy block 0x1001 (modern 0x1042 is not driven) */
        if ((id & 0xffff) != 0x1af4 || (id >> 16) != 0x1001) continue;
        uint32_t bar0 = pci_read(0, slot, 0, 0x10);
        if (!(bar0 & 1)) continue; /* no I/O BAR: not the legacy interface */
        uint32_t cmd = pci_read(0, slot, 0, 0x04);
        pci_write(0, slot, 0, 0x04, cmd | 0x1 | 0x4); /* I/O space, bus master */
        if (setup(&devices[n_devices], (uint16_t)(bar0 & ~3u)) == 0) n_devices++;
    }
    return n_devices;
}

uint64_t mg_virtio_blk_capacity(int i)
{
    return devices[i].capacity;
}

int mg_virtio_blk_io(int i, int write, uint64_t sector, void *buf, size_t size)
{
    struct blk *d = &devices[i];
    if (d->size < 3) return MG_EIO;
    d->header.type = write ? 1 : 0; /* VIRTIO_BLK_T_OUT / _IN */
    d->header.reserved = 0;
    d->header.sector = sector;
    d->status = 0xff;
    d->desc[0] = (struct desc){(uintptr_t)&d->header, sizeof d->header, DESC_NEXT, 1};
    d->desc[1] = (struct desc){(uintptr_t)buf, (uint32_t)size,
                               (uint16_t)(DESC_NEXT | (write ? 0 : DESC_WRITE)), 2};
    d->desc[2] = (struct desc){(uintptr_t)&d->status, 1, DESC_WRITE, 0};
    uint16_t idx = d->avail[1];
    d->avail[2 + idx % d->size] = 0;
    __asm__ volatile("" ::: "memory");
    d->avail[1] = (uint16_t)(idx + 1);
    __asm__ volatile("mfence" ::: "memory");
    outw(d->io + VP_QUEUE_NOTIFY, 0);
    while (d->used[1] == d->last_used) __asm__ volatile("pause" ::: "memory");
    d->last_used++;
    return d->status == 0 ? MG_OK : MG_EIO;
}
