/*
 * virtio.h - what the virtio binding's files share (private to
 * runtime/bindings/virtio/). The files, from the bottom up; each calls
 * only those above it, so that there is no cycle among them:
 *
 *   boot.S         the Multiboot header, 32 to 64-bit mode, the interrupt
 *                  and exception entry points, the stacks and their
 *                  guards; calls mg_virtio_start
 *   virtio.ld      the image's layout (one loaded block from 1 MiB: code,
 *                  read-only data, data, each 4 KiB aligned)
 *   console.c      COM1 (mg_platform_console_write)
 *   exceptions.c   the GDT and TSS, the IDT, the CPU exceptions' handler
 *   paging.c       the page tables: what may be read, written, executed
 *   clock.c        the TSC and the RTC (mg_platform_clock_*)
 *   entropy.c      RDRAND (mg_platform_entropy)
 *   interrupts.c   the IDT, the 8259 PICs, the PIT's tick: what wakes yield
 *   pci.c          PCI configuration space, the legacy virtio PCI
 *                  interface and its split queues
 *   virtio_blk.c   the virtio-blk driver
 *   virtio_net.c   the virtio-net driver
 *   note.c         the image's note: which device is which
 *   block.c        the platform's block calls over virtio_blk.c
 *   net.c          the platform's network calls over virtio_net.c
 *   yield.c        mg_platform_yield
 *   exit.c         mg_platform_exit (through isa-debug-exit)
 *   start.c        mg_virtio_start: the boot, then main
 *
 * mg_platform_abort is the bindings' shared one (runtime/bindings/abort.c).
 *
 * Only the legacy virtio interface is driven (an I/O BAR0; QEMU's devices
 * with disable-modern=on): it needs no PCI capability walk and no MMIO
 * mapping, and every device is polled.
 */
#ifndef MG_BINDINGS_VIRTIO_H
#define MG_BINDINGS_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

#include "abi/platform.h"

/* ---- instructions ---- */

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t mg_virtio_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* ---- console.c, exceptions.c, paging.c, clock.c, interrupts.c: set up
 * by start.c, in this order ---- */

/* Sets COM1 up for mg_platform_console_write. */
void mg_virtio_console_init(void);

/* Clears the thread pointer (FS and GS bases), loads the GDT with the TSS
 * and the IDT with the CPU's 32 exception vectors: from here on a CPU
 * exception prints abi/fault.h's line and ends the image with
 * MG_EXIT_ABORT. Needs the console. */
void mg_virtio_cpu_init(void);

/* Sets IDT entry `vector` to `handler`, on the TSS's IST `ist` (0: the
 * interrupted stack). */
void mg_virtio_idt_set(int vector, void (*handler)(void), int ist);

/* Called by boot.S's exception entries; never returns. */
_Noreturn void mg_virtio_exception(const uint64_t *frame);

/* Builds the strict page tables (paging.c's list) over memory up to
 * `mem_end` and switches to them, with no-execute and CR0.WP on. The
 * tables take the pages after the image; [*free_start, *free_end) is the
 * read-write memory left after them, for the heap. Whatever the loader
 * left in low memory or after the image must have been read before.
 * Needs the exceptions. */
void mg_virtio_paging_init(uintptr_t mem_end, uintptr_t *free_start, uintptr_t *free_end);

/* Measures the TSC's rate and reads the RTC: the clocks work from here on. */
void mg_virtio_clock_init(void);

/* The PIT's tick, which wakes yield's hlt. */
#define MG_VIRTIO_TICK_HZ 1000
#define MG_VIRTIO_TICK_NS (1000000000ull / MG_VIRTIO_TICK_HZ)

/* Loads the IDT, programs the PICs and the PIT's tick, and checks that
 * ticks come (mg_virtio_can_sleep). Needs the clocks. */
void mg_virtio_interrupts_init(void);

/* IRQ 0s taken (counted by boot.S's handler). */
extern volatile uint32_t mg_virtio_ticks;

/* Whether ticks reach the CPU, so that yield may sleep in hlt: a machine
 * whose timer does not (a masked LINT0, no 8254) would sleep for ever. */
extern int mg_virtio_can_sleep;

/* Lets interrupt line `irq` wake the image from yield's hlt; a line the
 * 8259s cannot route (0xff, the timer's, the cascade's) is left alone: the
 * PIT's tick still wakes it. */
void mg_virtio_irq_wake(uint8_t irq);

/* ---- the legacy virtio PCI interface (pci.c) ---- */

/* registers, from BAR0 */
#define VP_FEATURES 0x00
#define VP_GUEST_FEATURES 0x04
#define VP_QUEUE_PFN 0x08
#define VP_QUEUE_SIZE 0x0c
#define VP_QUEUE_SELECT 0x0e
#define VP_QUEUE_NOTIFY 0x10
#define VP_STATUS 0x12
#define VP_ISR 0x13
#define VP_CONFIG 0x14 /* the device's own configuration (MSI-X is never enabled) */

#define VP_STATUS_ACK 1
#define VP_STATUS_DRIVER 2
#define VP_STATUS_DRIVER_OK 4
#define VP_STATUS_NEEDS_RESET 64 /* the device hit an error it cannot recover from */
#define VP_STATUS_FAILED 128

#define VQ_DESC_NEXT 1
#define VQ_DESC_WRITE 2         /* the device writes into the buffer */
#define VQ_AVAIL_NO_INTERRUPT 1 /* we poll: spare the device raising interrupts */
#define VQ_USED_NO_NOTIFY 1     /* the device polls: spare the notify's VM exit */

struct mg_vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct mg_vq_used_elem {
    uint32_t id;  /* the head descriptor of the buffer the device used */
    uint32_t len; /* bytes the device wrote into it */
};

/* One split queue in the legacy layout: descriptors, the available ring,
 * then at the next 4 KiB page the used ring, in one block the device
 * finds by its page number. */
struct mg_vq {
    uint16_t size; /* entries, a power of two the device chooses */
    struct mg_vq_desc *desc;
    volatile uint16_t *avail;                 /* flags, idx, ring[size] */
    volatile uint16_t *used;                  /* flags, idx, then the elements */
    volatile struct mg_vq_used_elem *used_el; /* used + 2 */
    uint16_t last_used;                       /* the used entries seen so far */
};

/* From slot *slot on of PCI bus 0, finds the next legacy virtio device
 * whose PCI device id is `device` and whose subsystem id (the virtio
 * device type) is `type`, turns on its I/O space and bus mastering, and
 * returns its I/O base; *slot is left after it. 0: no more devices.
 * *irq (irq may be NULL) is the device's interrupt line (what the firmware
 * wrote in its configuration; 0xff: none). Every device found has its ISR status port
 * listed for the interrupt handler (boot.S), which reads them all: a
 * line shared with a device nobody waits for is still acknowledged. */
uint16_t mg_virtio_pci_next(int *slot, uint16_t device, uint16_t type, uint8_t *irq);

/* The ISR status ports the interrupt handler reads (boot.S). */
#define MG_VIRTIO_MAX_ISR_PORTS 32
extern uint16_t mg_virtio_isr_ports[MG_VIRTIO_MAX_ISR_PORTS];
extern uint32_t mg_virtio_n_isr_ports;

/* Resets the device and says a driver is here (ACK, DRIVER); returns the
 * features the device offers. */
uint32_t mg_virtio_begin(uint16_t io);

/* Sets up queue `index` of the device at `io` in memory from the heap.
 * The device's size must be a power of two of at least `min_size`.
 * MG_OK, MG_EIO (no such queue, an odd size) or MG_ENOMEM. */
int mg_vq_setup(uint16_t io, uint16_t index, struct mg_vq *q, uint16_t min_size);

/* Offers the buffer whose head descriptor is `head` to the device and
 * tells it, unless the device said it needs no telling. */
void mg_vq_offer(uint16_t io, uint16_t index, struct mg_vq *q, uint16_t head);

/* Whether the device used buffers not yet taken with mg_vq_take. */
static inline int mg_vq_pending(const struct mg_vq *q)
{
    return q->used[1] != q->last_used;
}

/* The next used buffer: its element, copied. Call only when pending. */
struct mg_vq_used_elem mg_vq_take(struct mg_vq *q);

/* ---- the drivers (virtio_blk.c, virtio_net.c) ---- */

/* Devices of each kind driven at most: what an image may declare (mgd
 * run refuses more before QEMU starts). */
#define MG_VIRTIO_MAX_DEVICES 16
_Static_assert(MG_VIRTIO_MAX_DEVICES == MG_PLATFORM_MAX_BLOCKS &&
                   MG_VIRTIO_MAX_DEVICES == MG_PLATFORM_MAX_NETS,
               "the drivers take every device an image may declare");

/* Finds the virtio block devices on PCI bus 0 and sets them up, in slot
 * order (mgd run attaches them in the order of the image's note). Called
 * once at boot, after the heap exists. */
void mg_virtio_blk_init(void);
/* How many were found, counting those whose setup failed, which keep
 * their place. */
int mg_virtio_blk_count(void);
/* Whether the i-th device's setup failed (it must not be used). */
int mg_virtio_blk_failed(int i);
/* The i-th device's capacity in bytes. */
uint64_t mg_virtio_blk_capacity(int i);
/* Whether the i-th device is read-only (VIRTIO_BLK_F_RO: QEMU's
 * -drive readonly=on). */
int mg_virtio_blk_read_only(int i);
/* Reads or writes whole 512-byte sectors; MG_OK or MG_EIO. */
int mg_virtio_blk_io(int i, int write, uint64_t sector, void *buf, size_t size);

/* The MTU of a device that does not say its own (no VIRTIO_NET_F_MTU). */
#define MG_VIRTIO_NET_MTU 1500

/* Finds the virtio network devices on PCI bus 0 and sets them up, in slot
 * order, as mg_virtio_blk_init does. */
void mg_virtio_net_init(void);
/* How many were found, failed ones too. */
int mg_virtio_net_count(void);
/* Whether the i-th device's setup failed (it must not be used). */
int mg_virtio_net_failed(int i);
/* The i-th device's MTU: the host's (VIRTIO_NET_F_MTU, which mgd run
 * asks QEMU for with host_mtu=), else MG_VIRTIO_NET_MTU. */
size_t mg_virtio_net_mtu(int i);
/* The i-th device's MAC address: the device's, or a random locally
 * administered one if it has none. */
void mg_virtio_net_mac(int i, uint8_t mac[6]);
/* Whether frames are waiting on the i-th device (cheap: reads memory
 * only, for yield's polling loop). */
int mg_virtio_net_pending(int i);
/* Sends one frame (14 to mtu + 14 bytes; the caller checks): copied into a
 * transmit buffer. MG_OK, MG_EIO (the device is broken or has not taken a
 * frame for a second). */
int mg_virtio_net_write(int i, const void *frame, size_t size);
/* Waits until every device has sent the frames written to it, for
 * `timeout` ns at most: QEMU sends a frame some time after it was offered,
 * and an image that exits at once would lose its last ones
 * (mg_platform_exit calls this; with no device it returns at once). */
void mg_virtio_net_flush(uint64_t timeout);
/* Takes the next waiting frame into buf (at least mtu + 14 bytes). MG_OK with
 * *size set, MG_EAGAIN when none waits, MG_EIO (the device is broken). */
int mg_virtio_net_read(int i, void *buf, size_t *size);

/* ---- note.c ---- */

/* The position of device `name` among the image's note's devices of
 * `kind` ("block", "net"), or -1 if the note does not declare it. */
int mg_virtio_note_index(const char *kind, const char *name);

/* ---- net.c ---- */

/* The acquired network handles with frames waiting (or a broken device,
 * whose reader must come and learn it), for yield. */
mg_handle_set mg_virtio_nets_ready(void);

/* ---- exit.c ---- */

/* Ends the run at once with `status` through isa-debug-exit
 * (abi/vm_exit.h), without mg_platform_exit's network flush: for the
 * exception handler, after which nothing is trusted. */
_Noreturn void mg_virtio_debug_exit(int status);

/* ---- start.c ---- */

/* Called by boot.S in 64-bit mode with what the Multiboot loader passed:
 * its magic and the address of its information. Never returns. */
void mg_virtio_start(uint32_t magic, uint32_t info);

#endif
