/*
 * mmio.c - the virtio-mmio transport (virtio.h's "the transport"), the
 * legacy register layout (version 1: what QEMU 7.2's virtio-mmio devices
 * show by default, force-legacy=true): 32 feature bits, GuestPageSize,
 * and each queue placed by QueuePFN with QueueAlign 4096, the layout
 * vq.c builds. A window of version 2 (QEMU with
 * -global virtio-mmio.force-legacy=false) is not driven: it is skipped,
 * as is an empty window (device id 0: a transport with no device
 * plugged in).
 *
 * The arch registers the windows (mmio.h); nothing here knows the
 * machine. Registers are read and written with single accesses of their
 * width through volatile pointers, and the configuration in the guest's
 * byte order (little-endian on aarch64 and riscv64, as the legacy
 * interface is).
 */
#include <stdint.h>

#include "mmio.h"

#define MMIO_MAGIC 0x000         /* "virt" */
#define MMIO_VERSION 0x004       /* 1: legacy */
#define MMIO_DEVICE_ID 0x008     /* the virtio device type; 0: none */
#define MMIO_HOST_FEATURES 0x010 /* the 32 bits HostFeaturesSel selects */
#define MMIO_HOST_FEATURES_SEL 0x014
#define MMIO_GUEST_FEATURES 0x020
#define MMIO_GUEST_FEATURES_SEL 0x024
#define MMIO_GUEST_PAGE_SIZE 0x028 /* the unit of QueuePFN */
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034 /* 0: no such queue */
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_ALIGN 0x03c /* where the used ring starts */
#define MMIO_QUEUE_PFN 0x040
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_CONFIG 0x100

#define MAGIC_VIRT 0x74726976u
#define PAGE 4096u

static struct mg_virtio_dev windows[MG_VIRTIO_MMIO_MAX];
static int n_windows;

static volatile uint32_t *reg32(uintptr_t base, unsigned off)
{
    return (volatile uint32_t *)(base + off);
}

static uint32_t rd(uintptr_t base, unsigned off)
{
    return *reg32(base, off);
}

static void wr(uintptr_t base, unsigned off, uint32_t v)
{
    *reg32(base, off) = v;
}

int mg_virtio_mmio_add(uintptr_t base, uint32_t irq)
{
    if (n_windows >= MG_VIRTIO_MMIO_MAX) return -1;
    windows[n_windows++] = (struct mg_virtio_dev){base, irq};
    return 0;
}

int mg_virtio_mmio_ack(void)
{
    int any = 0;
    for (int i = 0; i < n_windows; i++) {
        uintptr_t b = windows[i].base;
        /* an empty or modern window has nothing of ours to acknowledge */
        if (rd(b, MMIO_MAGIC) != MAGIC_VIRT || rd(b, MMIO_VERSION) != 1) continue;
        uint32_t pending = rd(b, MMIO_INTERRUPT_STATUS);
        if (pending) {
            wr(b, MMIO_INTERRUPT_ACK, pending);
            any = 1;
        }
    }
    return any;
}

int mg_virtio_find(int type, int *cursor, struct mg_virtio_dev *dev)
{
    for (; *cursor >= 0 && *cursor < n_windows; (*cursor)++) {
        uintptr_t b = windows[*cursor].base;
        if (rd(b, MMIO_MAGIC) != MAGIC_VIRT || rd(b, MMIO_VERSION) != 1) continue;
        if (rd(b, MMIO_DEVICE_ID) != (uint32_t)type) continue;
        *dev = windows[(*cursor)++];
        return 0;
    }
    return -1;
}

uint32_t mg_virtio_begin(const struct mg_virtio_dev *dev)
{
    wr(dev->base, MMIO_STATUS, 0); /* reset: forget whatever a loader did */
    wr(dev->base, MMIO_STATUS, VP_STATUS_ACK | VP_STATUS_DRIVER);
    /* the unit of every QueuePFN written later */
    wr(dev->base, MMIO_GUEST_PAGE_SIZE, PAGE);
    wr(dev->base, MMIO_HOST_FEATURES_SEL, 0);
    return rd(dev->base, MMIO_HOST_FEATURES);
}

void mg_virtio_set_features(const struct mg_virtio_dev *dev, uint32_t features)
{
    wr(dev->base, MMIO_GUEST_FEATURES_SEL, 0);
    wr(dev->base, MMIO_GUEST_FEATURES, features);
}

void mg_virtio_set_status(const struct mg_virtio_dev *dev, uint8_t status)
{
    wr(dev->base, MMIO_STATUS, status);
}

uint8_t mg_virtio_get_status(const struct mg_virtio_dev *dev)
{
    return (uint8_t)rd(dev->base, MMIO_STATUS);
}

uint8_t mg_virtio_config8(const struct mg_virtio_dev *dev, unsigned offset)
{
    return *(volatile uint8_t *)(dev->base + MMIO_CONFIG + offset);
}

uint16_t mg_virtio_config16(const struct mg_virtio_dev *dev, unsigned offset)
{
    return *(volatile uint16_t *)(dev->base + MMIO_CONFIG + offset);
}

uint32_t mg_virtio_config32(const struct mg_virtio_dev *dev, unsigned offset)
{
    return *(volatile uint32_t *)(dev->base + MMIO_CONFIG + offset);
}

void mg_virtio_config_write8(const struct mg_virtio_dev *dev, unsigned offset, uint8_t v)
{
    *(volatile uint8_t *)(dev->base + MMIO_CONFIG + offset) = v;
}

uint16_t mg_virtio_queue_max(const struct mg_virtio_dev *dev, uint16_t index)
{
    wr(dev->base, MMIO_QUEUE_SEL, index);
    /* a queue already placed (a PFN set) belongs to someone else: none */
    if (rd(dev->base, MMIO_QUEUE_PFN) != 0) return 0;
    uint32_t max = rd(dev->base, MMIO_QUEUE_NUM_MAX);
    /* vq.c takes the whole of what the device offers; the legacy layout
     * caps a queue at 32768 entries, and a larger offer is refused there
     * rather than cut here */
    return max > 0xffff ? 0 : (uint16_t)max;
}

void mg_virtio_queue_set(const struct mg_virtio_dev *dev, uint16_t index, uint16_t size, void *mem)
{
    (void)index; /* selected by mg_virtio_queue_max */
    wr(dev->base, MMIO_QUEUE_NUM, size);
    wr(dev->base, MMIO_QUEUE_ALIGN, PAGE);
    /* physical = virtual (identity-mapped); the heap lies below 16 TiB on
     * every machine this drives, so the page number fits */
    wr(dev->base, MMIO_QUEUE_PFN, (uint32_t)((uintptr_t)mem / PAGE));
}

void mg_virtio_notify(const struct mg_virtio_dev *dev, uint16_t index)
{
    wr(dev->base, MMIO_QUEUE_NOTIFY, index);
}
