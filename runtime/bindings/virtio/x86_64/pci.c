/*
 * pci.c - the x86_64 PC's virtio transport (virtio.h's "the transport"):
 * PCI configuration space through the 0xcf8/0xcfc ports, legacy virtio
 * devices on bus 0 (QEMU's virtio-*-pci with disable-modern=on: an I/O
 * BAR0, so no capability walk and no MMIO mapping), and their registers.
 *
 * Memory is identity-mapped (paging.c), so the heap addresses handed to a
 * device are its physical addresses; the heap ends below 1 GiB, so page
 * numbers fit the 32-bit queue register.
 */
#include <stdint.h>

#include "x86.h"

/* legacy registers, from BAR0 */
#define VP_FEATURES 0x00
#define VP_GUEST_FEATURES 0x04
#define VP_QUEUE_PFN 0x08
#define VP_QUEUE_SIZE 0x0c
#define VP_QUEUE_SELECT 0x0e
#define VP_QUEUE_NOTIFY 0x10
#define VP_STATUS 0x12
#define VP_ISR 0x13
#define VP_CONFIG 0x14 /* the device's own configuration (MSI-X is never enabled) */

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

int mg_virtio_find(int type, int *cursor, struct mg_virtio_dev *dev)
{
    /* the legacy (transitional) PCI device ids: 0x1000 network, 0x1001
     * block (the modern 0x1040 + type are not driven) */
    uint32_t device = type == MG_VIRTIO_TYPE_NET     ? 0x1000
                      : type == MG_VIRTIO_TYPE_BLOCK ? 0x1001
                                                     : 0;
    if (!device) return -1;
    for (; *cursor < 32; (*cursor)++) {
        int s = *cursor;
        uint32_t id = pci_read(0, s, 0, 0x00);
        if ((id & 0xffff) != 0x1af4 || (id >> 16) != device) continue;
        /* the legacy device ids are shared by transitional devices of
         * every kind: the subsystem id says which kind this one is */
        if ((pci_read(0, s, 0, 0x2c) >> 16) != (uint32_t)type) continue;
        uint32_t bar0 = pci_read(0, s, 0, 0x10);
        if (!(bar0 & 1)) continue; /* no I/O BAR: not the legacy interface */
        uint32_t cmd = pci_read(0, s, 0, 0x04);
        pci_write(0, s, 0, 0x04, cmd | 0x1 | 0x4); /* I/O space, bus master */
        (*cursor)++;
        uint16_t io = (uint16_t)(bar0 & ~3u);
        dev->base = io;
        /* the line the firmware wrote in its configuration (0xff: none) */
        uint8_t line = (uint8_t)(pci_read(0, s, 0, 0x3c) & 0xff);
        dev->irq = line == 0xff ? MG_VIRTIO_NO_IRQ : line;
        if (mg_virtio_n_isr_ports < MG_VIRTIO_MAX_ISR_PORTS)
            mg_virtio_isr_ports[mg_virtio_n_isr_ports++] = (uint16_t)(io + VP_ISR);
        return 0;
    }
    return -1;
}

static uint16_t io(const struct mg_virtio_dev *dev, unsigned reg)
{
    return (uint16_t)(dev->base + reg);
}

uint32_t mg_virtio_begin(const struct mg_virtio_dev *dev)
{
    outb(io(dev, VP_STATUS), 0); /* reset: forget whatever a loader did */
    outb(io(dev, VP_STATUS), VP_STATUS_ACK | VP_STATUS_DRIVER);
    return inl(io(dev, VP_FEATURES));
}

void mg_virtio_set_features(const struct mg_virtio_dev *dev, uint32_t features)
{
    outl(io(dev, VP_GUEST_FEATURES), features);
}

void mg_virtio_set_status(const struct mg_virtio_dev *dev, uint8_t status)
{
    outb(io(dev, VP_STATUS), status);
}

uint8_t mg_virtio_get_status(const struct mg_virtio_dev *dev)
{
    return inb(io(dev, VP_STATUS));
}

uint8_t mg_virtio_config8(const struct mg_virtio_dev *dev, unsigned offset)
{
    return inb(io(dev, VP_CONFIG + offset));
}

uint16_t mg_virtio_config16(const struct mg_virtio_dev *dev, unsigned offset)
{
    return inw(io(dev, VP_CONFIG + offset));
}

uint32_t mg_virtio_config32(const struct mg_virtio_dev *dev, unsigned offset)
{
    return inl(io(dev, VP_CONFIG + offset));
}

void mg_virtio_config_write8(const struct mg_virtio_dev *dev, unsigned offset, uint8_t v)
{
    outb(io(dev, VP_CONFIG + offset), v);
}

uint16_t mg_virtio_queue_max(const struct mg_virtio_dev *dev, uint16_t index)
{
    outw(io(dev, VP_QUEUE_SELECT), index);
    /* the legacy PCI interface's size is the device's, not the driver's */
    return inw(io(dev, VP_QUEUE_SIZE));
}

void mg_virtio_queue_set(const struct mg_virtio_dev *dev, uint16_t index, uint16_t size, void *mem)
{
    (void)index;
    (void)size;
    outl(io(dev, VP_QUEUE_PFN), (uint32_t)((uintptr_t)mem >> 12));
}

void mg_virtio_notify(const struct mg_virtio_dev *dev, uint16_t index)
{
    outw(io(dev, VP_QUEUE_NOTIFY), index);
}
