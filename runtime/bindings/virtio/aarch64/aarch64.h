/*
 * aarch64.h - what the aarch64 files of the virtio binding share (private
 * to runtime/bindings/virtio/aarch64/): QEMU's `virt` board's addresses,
 * the system register accessors, and each file's calls. The board's map
 * (QEMU's hw/arm/virt.c; fixed, so not read from the device tree):
 *
 *   0x08000000  the GICv2 distributor      (gic-version=2)
 *   0x08010000  the GICv2 CPU interface
 *   0x09000000  the PL011 UART             (the console)
 *   0x09010000  the PL031 RTC              (the wall clock)
 *   0x0a000000  32 virtio-mmio transports, 0x200 bytes each, transport n
 *               on SPI 16 + n (GIC interrupt 48 + n); mgd run puts the
 *               image's devices on 0.. and the exit's console on 31
 *   0x40000000  RAM, the device tree first (QEMU puts it there for an ELF
 *               kernel that is not Linux), the image from 0x40200000
 */
#ifndef MG_BINDINGS_VIRTIO_AARCH64_H
#define MG_BINDINGS_VIRTIO_AARCH64_H

#include <stddef.h>
#include <stdint.h>

#include "../mmio/mmio.h"
#include "../virtio.h"

#define VIRT_GICD 0x08000000ul
#define VIRT_GICC 0x08010000ul
#define VIRT_UART 0x09000000ul
#define VIRT_RTC 0x09010000ul
#define VIRT_MMIO 0x0a000000ul
#define VIRT_MMIO_SIZE 0x200ul
#define VIRT_MMIO_COUNT 32
#define VIRT_MMIO_IRQ 48 /* the GIC interrupt of transport 0: SPI 16 */
#define VIRT_RAM 0x40000000ul
#define VIRT_DTB VIRT_RAM

#define SYSREG_READ(name)                                                                          \
    ({                                                                                             \
        uint64_t v_;                                                                               \
        __asm__ volatile("mrs %0, " #name : "=r"(v_)::"memory");                                   \
        v_;                                                                                        \
    })
#define SYSREG_WRITE(name, v) __asm__ volatile("msr " #name ", %0" ::"r"((uint64_t)(v)) : "memory")

static inline uint32_t mmio_read32(uintptr_t a)
{
    return *(volatile uint32_t *)a;
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
}

/* console.c: turns the PL011 on. */
void mg_virtio_console_init(void);

/* exceptions.c: called by boot.S's vectors with the entry's index (0 to
 * 15); never returns. */
_Noreturn void mg_virtio_exception(unsigned entry);

/* paging.c: builds the strict translation tables over RAM up to `mem_end`
 * and switches to them, with WXN on. The tables take the pages after the
 * image; [*free_start, *free_end) is the read-write memory left after
 * them, for the heap. The device tree (below the image) must have been
 * read before: it is unmapped from here on. */
void mg_virtio_paging_init(uintptr_t mem_end, uintptr_t *free_start, uintptr_t *free_end);

/* clock.c: reads the counter's rate and the RTC: the clocks work from
 * here on. */
void mg_virtio_clock_init(void);

/* interrupts.c: the GIC, so that the timer and the devices' lines wake
 * mg_virtio_arch_wait's wfi (nothing is ever taken as an interrupt:
 * PSTATE.I stays set). A device's `irq` (struct mg_virtio_dev) is its
 * transport's index, 0 to 31, which mg_virtio_irq_wake maps to the GIC's
 * interrupt 48 + n. */
void mg_virtio_interrupts_init(void);

/* exit.c: mg_virtio_debug_exit (virtio.h), through the virtio console
 * whose QEMU chardev is `testdev`. mg_virtio_exit_init finds and sets it
 * up: called once at boot, after the virtio-mmio windows are registered
 * (before, the exit powers the machine off: a crash for mgd run).
 * mg_virtio_power_off is PSCI's SYSTEM_OFF (QEMU exits 0), the end when
 * all else fails. */
void mg_virtio_exit_init(void);
_Noreturn void mg_virtio_power_off(void);

#endif
