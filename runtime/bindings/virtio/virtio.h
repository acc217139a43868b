/*
 * virtio.h - what the virtio binding's files share (private to
 * runtime/bindings/virtio/), and the interface between its common part
 * and the code of each arch. The binding is one target on several arches:
 *
 *   runtime/bindings/virtio/           every arch: the drivers, the
 *                                      platform calls, the run of main
 *   runtime/bindings/virtio/x86_64/    an x86_64 PC: Multiboot, legacy
 *                                      virtio over PCI (pci.c)
 *   runtime/bindings/virtio/mmio/      the virtio-mmio transport, for
 *                                      machines without PCI (aarch64, riscv64)
 *   runtime/bindings/virtio/fdt/       a flattened device tree reader
 *                                      (fdt.h), for machines that boot with one
 *
 * The build compiles the top level and the subdirectories the arch's
 * entry in targets/virtio.json lists ("bindings"), for that arch only.
 * The common files, from the bottom up; each calls only those above it
 * or the arch's, so that there is no cycle among them:
 *
 *   clock.c        mg_platform_clock_*, over the arch's counter
 *   entropy.c      mg_platform_entropy, over the arch's random source
 *   vq.c           split virtqueues in the legacy layout, over the transport
 *   virtio_blk.c   the virtio-blk driver
 *   virtio_net.c   the virtio-net driver
 *   note.c         the image's note: which device is which
 *   block.c        the platform's block calls over virtio_blk.c
 *   net.c          the platform's network calls over virtio_net.c
 *   yield.c        mg_platform_yield, over the arch's mg_virtio_arch_wait
 *   exit.c         mg_platform_exit: the network's last frames, then the
 *                  arch's mg_virtio_debug_exit
 *   start.c        mg_virtio_run: argv, the stack guard, the heap, the
 *                  devices, main
 *
 * mg_platform_abort is the bindings' shared one (runtime/bindings/abort.c).
 *
 * Only the legacy virtio interface (version 0.9.5: 32 feature bits, a
 * queue placed by its page number) is driven, on every transport: QEMU's
 * virtio-*-pci with disable-modern=on, and its virtio-mmio devices, which
 * QEMU 7.2 gives the legacy register layout (version 1) by default. Every
 * device is polled; a network device's interrupt only wakes the sleep.
 */
#ifndef MG_BINDINGS_VIRTIO_H
#define MG_BINDINGS_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

#include "abi/platform.h"

/* ==== what each arch provides (runtime/bindings/virtio/<arch>/) ====
 *
 *  - the boot entry, which brings the CPU to C with a stack, and the
 *    linker script that places it (targets/virtio.json's
 *    "linker_script" of the arch);
 *  - the CPU's setup before any other C: exceptions that print
 *    abi/fault.h's line and end the image with MG_EXIT_ABORT through
 *    mg_virtio_debug_exit, strict page tables (page 0 unmapped, W^X), the
 *    thread pointer cleared;
 *  - mg_platform_console_write (abi/platform.h), and
 *    mg_virtio_arch_entropy, its random source (entropy.c makes
 *    mg_platform_entropy of it);
 *  - mg_virtio_arch_count, its free-running counter, and a call to
 *    mg_virtio_clock_start with its rate and the RTC's time, after which
 *    the clocks of abi/platform.h work (clock.c, shared);
 *  - mg_virtio_debug_exit, mg_virtio_arch_wait and mg_virtio_irq_wake
 *    below;
 *  - a transport (the functions under "the transport"): x86_64 has its
 *    own (x86_64/pci.c), aarch64 and riscv64 list "mmio" and register the
 *    machine's virtio-mmio windows with mg_virtio_mmio_add (mmio/mmio.h);
 *  - an interrupt handler that acknowledges the devices' interrupts
 *    (x86_64: the ISR ports pci.c lists; mmio: mg_virtio_mmio_ack) and
 *    does nothing else: no work is ever done in an interrupt;
 *  - then a call to mg_virtio_run with the command line and the heap.
 */

/* Ends the run at once with `status`, encoded as abi/vm_exit.h says
 * (the same on every arch: mgd run decodes QEMU's exit status with it),
 * without mg_platform_exit's network flush: for the exception handler,
 * after which nothing is trusted. */
_Noreturn void mg_virtio_debug_exit(int status);

/* Waits a while and returns, for yield's loop, which polls again: sleeps
 * until the next interrupt (a tick, a device that mg_virtio_irq_wake let
 * through) if the arch can and `deadline` is far enough, else spins
 * briefly. Never sleeps past `deadline` by more than a tick. `now` is
 * mg_platform_clock_monotonic()'s reading the caller just made. */
void mg_virtio_arch_wait(uint64_t now, uint64_t deadline);

/* The arch's free-running counter: never goes backwards, counts at the
 * rate given to mg_virtio_clock_start. */
uint64_t mg_virtio_arch_count(void);

/* The arch's hardware random source: fills the low bytes of *v with
 * random bytes and returns how many (1 to 8), or 0 when the CPU has no
 * such source or it failed. entropy.c makes mg_platform_entropy of it. */
size_t mg_virtio_arch_entropy(uint64_t *v);

/* clock.c: starts the clocks (mg_platform_clock_monotonic from 0 now,
 * mg_platform_clock_wall from `wall_ns`, nanoseconds since the epoch)
 * over a counter of `rate_hz` ticks a second. */
void mg_virtio_clock_start(uint64_t rate_hz, uint64_t wall_ns);

/* clock.c: the counter's value when mg_platform_clock_monotonic reaches
 * `ns`, rounded up (a timer set to it never fires early); UINT64_MAX for
 * a time it never reaches. */
uint64_t mg_virtio_clock_count_at(uint64_t ns);

/* Lets interrupt `irq` (a struct mg_virtio_dev's irq) wake
 * mg_virtio_arch_wait; one the arch cannot route is left alone: the
 * tick still wakes the sleep. */
void mg_virtio_irq_wake(uint32_t irq);

/* A full memory barrier between the virtqueues' memory and the device
 * (the device is another CPU, or a thread of QEMU): stores before it are
 * visible before loads after it, and before a register access after it
 * (a notify). aarch64 and riscv64 order normal memory against device
 * registers only with their system-wide forms. */
static inline void mg_virtio_mb(void)
{
#if defined(__x86_64__)
    __asm__ volatile("mfence" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("dmb sy" ::: "memory");
#elif defined(__riscv)
    __asm__ volatile("fence iorw, iorw" ::: "memory");
#else
#error "no memory barrier for this arch"
#endif
}

/* Orders stores before it before stores after it (a ring's entry before
 * the index that publishes it), and loads likewise (the index before the
 * entry it announces): x86 keeps both in order, so only the compiler is
 * held back there. */
static inline void mg_virtio_wmb(void)
{
#if defined(__x86_64__)
    __asm__ volatile("" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("dmb ishst" ::: "memory");
#elif defined(__riscv)
    __asm__ volatile("fence w, w" ::: "memory");
#endif
}

static inline void mg_virtio_rmb(void)
{
#if defined(__x86_64__)
    __asm__ volatile("" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("dmb ishld" ::: "memory");
#elif defined(__riscv)
    __asm__ volatile("fence r, r" ::: "memory");
#endif
}

/* One turn of a busy wait: eases it on the pipeline (and on a
 * hyperthread sibling), and rereads memory. */
static inline void mg_virtio_relax(void)
{
#if defined(__x86_64__)
    __asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

/* ==== the transport (x86_64/pci.c, mmio/mmio.c) ==== */

/* A device found on the transport. */
struct mg_virtio_dev {
    uintptr_t base; /* its registers: an I/O port base (PCI) or an address (MMIO) */
    uint32_t irq;   /* its interrupt, for mg_virtio_irq_wake (0xffffffff: none) */
};

#define MG_VIRTIO_NO_IRQ 0xffffffffu

/* virtio device types */
#define MG_VIRTIO_TYPE_NET 1
#define MG_VIRTIO_TYPE_BLOCK 2

#define VP_STATUS_ACK 1
#define VP_STATUS_DRIVER 2
#define VP_STATUS_DRIVER_OK 4
#define VP_STATUS_NEEDS_RESET 64 /* the device hit an error it cannot recover from */
#define VP_STATUS_FAILED 128

/* From *cursor on (0 at first), finds the next device of virtio type
 * `type` in the transport's order (PCI: slot order; MMIO: the order of
 * the windows the arch registered, which is mgd run's order), makes it
 * reachable (PCI: I/O space and bus mastering) and fills *dev; *cursor is
 * left after it. 0: found; -1: no more. */
int mg_virtio_find(int type, int *cursor, struct mg_virtio_dev *dev);

/* Resets the device and says a driver is here (ACK, DRIVER); returns the
 * features the device offers (the legacy interface's 32 bits). */
uint32_t mg_virtio_begin(const struct mg_virtio_dev *dev);
/* The features the driver takes (a subset of what begin returned). */
void mg_virtio_set_features(const struct mg_virtio_dev *dev, uint32_t features);
void mg_virtio_set_status(const struct mg_virtio_dev *dev, uint8_t status);
uint8_t mg_virtio_get_status(const struct mg_virtio_dev *dev);
/* The device's own configuration (virtio_blk_config, virtio_net_config),
 * at byte `offset`, in the guest's byte order (the legacy interface's). */
uint8_t mg_virtio_config8(const struct mg_virtio_dev *dev, unsigned offset);
uint16_t mg_virtio_config16(const struct mg_virtio_dev *dev, unsigned offset);
uint32_t mg_virtio_config32(const struct mg_virtio_dev *dev, unsigned offset);
void mg_virtio_config_write8(const struct mg_virtio_dev *dev, unsigned offset, uint8_t v);
/* Selects queue `index` and returns the most entries the device takes in
 * it (0: no such queue). */
uint16_t mg_virtio_queue_max(const struct mg_virtio_dev *dev, uint16_t index);
/* Hands queue `index` (selected by mg_virtio_queue_max just before) of
 * `size` entries, in the legacy layout at `mem` (4 KiB aligned,
 * physical = virtual), to the device. */
void mg_virtio_queue_set(const struct mg_virtio_dev *dev, uint16_t index, uint16_t size, void *mem);
/* Tells the device that queue `index` has new buffers. */
void mg_virtio_notify(const struct mg_virtio_dev *dev, uint16_t index);

/* ==== split virtqueues (vq.c) ==== */

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

/* Sets up queue `index` of `dev` in memory from the heap. The device's
 * size must be a power of two of at least `min_size`. MG_OK, MG_EIO (no
 * such queue, an odd size) or MG_ENOMEM. */
int mg_vq_setup(const struct mg_virtio_dev *dev, uint16_t index, struct mg_vq *q,
                uint16_t min_size);

/* The bytes a queue of `size` entries takes in the legacy layout. */
size_t mg_vq_bytes(uint16_t size);

/* Sets up queue `index` of `dev` (selected by mg_virtio_queue_max just
 * before) with `size` entries (a power of two, at most the device's
 * maximum: the maximum itself over PCI, whose legacy interface cannot
 * shrink a queue) in the caller's memory `at` (4 KiB aligned,
 * mg_vq_bytes(size) bytes, zeroed here): for a queue that must exist
 * before the heap does (aarch64's exit console). */
void mg_vq_place(const struct mg_virtio_dev *dev, uint16_t index, struct mg_vq *q, uint16_t size,
                 void *at);

/* Offers the buffer whose head descriptor is `head` to the device and
 * tells it, unless the device said it needs no telling. */
void mg_vq_offer(const struct mg_virtio_dev *dev, uint16_t index, struct mg_vq *q, uint16_t head);

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

/* Finds the virtio block devices on the transport and sets them up, in
 * its order (mgd run attaches them in the order of the image's note). Called
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

/* Finds the virtio network devices on the transport and sets them up, in
 * its order, as mg_virtio_blk_init does. */
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

/* ---- note.c ---- */

/* The position of device `name` among the image's note's devices of
 * `kind` ("block", "net"), or -1 if the note does not declare it. */
int mg_virtio_note_index(const char *kind, const char *name);

/* ---- net.c ---- */

/* The acquired network handles with frames waiting (or a broken device,
 * whose reader must come and learn it), for yield. */
mg_handle_set mg_virtio_nets_ready(void);

/* ---- start.c ---- */

/* Called by the arch once the CPU, the memory, the clocks and the
 * interrupts are set up: sets the stack protector's guard, splits `line`
 * (the kernel's command line, a copy the arch made, NUL-terminated; the
 * loader's first word is argv[0]) into argv, makes [heap_start,
 * heap_end) the heap, finds the devices and runs main, then exits with
 * its status. Never returns. */
_Noreturn void mg_virtio_run(char *line, uintptr_t heap_start, uintptr_t heap_end);

#endif
