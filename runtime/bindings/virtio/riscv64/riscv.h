/*
 * riscv.h - what the riscv64 files of the virtio binding share (private
 * to runtime/bindings/virtio/riscv64/): QEMU's `virt` board's map, CSR and
 * MMIO access, and the setup steps riscv64/start.c takes, in order, before
 * the common mg_virtio_run. The image runs in M-mode with no firmware
 * (QEMU's -bios none), so it owns the machine: no SBI, no OpenSBI banner,
 * no firmware boot time. The files, from the bottom up:
 *
 *   boot.S         the entry (hart 0 in M-mode, a1 the device tree), the
 *                  FPU, the trap entry, the stacks and their guards
 *   virtio.ld      the image's layout (one loaded block from 0x80000000,
 *                  the start of RAM: code, read-only data, data, each
 *                  4 KiB aligned)
 *   console.c      the ns16550a UART (mg_platform_console_write)
 *   traps.c        what a CPU exception does: abi/fault.h's line, the end
 *   pmp.c          physical memory protection: what may be read, written,
 *                  executed, by the image's own M-mode code too
 *   clock.c        the CLINT's mtime and the goldfish RTC
 *                  (mg_platform_clock_*)
 *   entropy.c      the Zkr `seed` CSR (mg_platform_entropy)
 *   interrupts.c   the CLINT's mtimecmp and the PLIC: what wakes the sleep
 *                  (mg_virtio_arch_wait, mg_virtio_irq_wake)
 *   exit.c         mg_virtio_debug_exit, through the sifive_test device
 *   start.c        mg_virtio_start: the device tree, the setup in order,
 *                  then mg_virtio_run
 */
#ifndef MG_BINDINGS_VIRTIO_RISCV_H
#define MG_BINDINGS_VIRTIO_RISCV_H

#include <stdint.h>

#include "../virtio.h"

/* ---- QEMU's `virt` board (hw/riscv/virt.c): fixed addresses ---- */

#define RV_TEST 0x100000ul      /* sifive_test: the exit device */
#define RV_RTC 0x101000ul       /* goldfish RTC */
#define RV_CLINT 0x2000000ul    /* mtimecmp of hart 0 at +0x4000, mtime at +0xbff8 */
#define RV_PLIC 0xc000000ul     /* its context 0 is hart 0's M-mode */
#define RV_UART 0x10000000ul    /* ns16550a */
#define RV_VIRTIO 0x10001000ul  /* virtio-mmio transport n at + 0x1000 * n, */
#define RV_VIRTIO_STRIDE 0x1000 /* its interrupt PLIC source 1 + n */
#define RV_VIRTIO_COUNT 8       /* the board has no more */
#define RV_RAM 0x80000000ul     /* the image is linked and entered here */

/* ---- CSRs and memory-mapped registers ---- */

#define csr_read(csr)                                                                              \
    ({                                                                                             \
        uint64_t v_;                                                                               \
        __asm__ volatile("csrr %0, " #csr : "=r"(v_)::"memory");                                   \
        v_;                                                                                        \
    })
#define csr_write(csr, v) __asm__ volatile("csrw " #csr ", %0" ::"rK"((uint64_t)(v)) : "memory")
#define csr_set(csr, v) __asm__ volatile("csrs " #csr ", %0" ::"rK"((uint64_t)(v)) : "memory")
#define csr_clear(csr, v) __asm__ volatile("csrc " #csr ", %0" ::"rK"((uint64_t)(v)) : "memory")

#define MIE_MTIE (1ul << 7)  /* the machine timer may wake wfi */
#define MIE_MEIE (1ul << 11) /* the PLIC may wake wfi */

static inline uint32_t mmio_read32(uintptr_t a)
{
    return *(volatile uint32_t *)a;
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
}

static inline uint64_t mmio_read64(uintptr_t a)
{
    return *(volatile uint64_t *)a;
}

static inline void mmio_write64(uintptr_t a, uint64_t v)
{
    *(volatile uint64_t *)a = v;
}

static inline uint8_t mmio_read8(uintptr_t a)
{
    return *(volatile uint8_t *)a;
}

static inline void mmio_write8(uintptr_t a, uint8_t v)
{
    *(volatile uint8_t *)a = v;
}

/* ---- the setup, in start.c's order ---- */

/* Called by boot.S on hart 0 with its id and the device tree's address;
 * never returns. */
void mg_virtio_start(uint64_t hart, uintptr_t dtb);

/* Sets the UART up for mg_platform_console_write. */
void mg_riscv_console_init(void);

/* Points mtvec at boot.S's trap entry: from here on a CPU exception
 * prints abi/fault.h's line and ends the image with MG_EXIT_ABORT. Needs
 * the console. (boot.S has cleared the thread pointer already.) */
void mg_riscv_traps_init(void);

/* Called by boot.S's trap entry, on the fault stack, with the trap's
 * CSRs; never returns. */
_Noreturn void mg_riscv_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval);

/* Locks the PMP entries (pmp.c's list) over RAM up to `mem_end`: from
 * here on M-mode itself can touch only what they allow. Whatever the
 * loader left outside the image (the device tree) must have been read
 * before it is overwritten as heap. [*free_start, *free_end) is the
 * read-write memory after the image, for the heap. Needs the traps. */
void mg_riscv_pmp_init(uintptr_t mem_end, uintptr_t *free_start, uintptr_t *free_end);

/* Whether `a` is in memory the image may touch in some way (pmp.c's
 * regions, the guards excepted): a fault there hit a protection, a fault
 * elsewhere an unmapped address. For the trap handler. */
int mg_riscv_mapped(uint64_t a);

/* Starts the clocks: `timebase` is mtime's rate in Hz (the device tree's
 * /cpus timebase-frequency). */
void mg_riscv_clock_init(uint64_t timebase);

/* A time in ns as mtime ticks, and mtime itself (the CLINT's counter). */
static inline uint64_t mg_riscv_mtime(void)
{
    return mmio_read64(RV_CLINT + 0xbff8);
}

/* Turns Zkr's `seed` CSR on for mg_platform_entropy if the hart has it
 * (the device tree's riscv,isa names "zkr": QEMU's -cpu rv64,zkr=true);
 * without it entropy is MG_EIO. */
void mg_riscv_entropy_init(int has_zkr);

/* Arms the sleep's wake-ups: the machine timer and the PLIC's context 0
 * (every source masked until mg_virtio_irq_wake), with mstatus.MIE off so
 * that nothing is ever taken as a trap: wfi only wakes. */
void mg_riscv_interrupts_init(void);

#endif
