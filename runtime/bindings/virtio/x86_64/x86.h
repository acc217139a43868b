/*
 * x86.h - what the x86_64 files of the virtio binding share (private to
 * runtime/bindings/virtio/x86_64/): port I/O and the TSC, and the setup
 * steps x86_64/start.c takes, in order, before the common mg_virtio_run.
 * The files, from the bottom up:
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
 *   interrupts.c   the 8259 PICs, the PIT's tick: what wakes the sleep
 *                  (mg_virtio_arch_wait, mg_virtio_irq_wake)
 *   pci.c          the transport: PCI configuration space and the legacy
 *                  virtio PCI interface (an I/O BAR0, no capability walk,
 *                  no MMIO mapping)
 *   exit.c         mg_virtio_debug_exit, through isa-debug-exit
 *   start.c        mg_virtio_start: the Multiboot information, the
 *                  setup in order, then mg_virtio_run
 */
#ifndef MG_BINDINGS_VIRTIO_X86_H
#define MG_BINDINGS_VIRTIO_X86_H

#include <stdint.h>

#include "../virtio.h"

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

/* ---- pci.c ---- */

/* The ISR status port of every device found, which the interrupt handler
 * (boot.S) reads, all of them: a line shared with a device nobody waits
 * for is still acknowledged. */
#define MG_VIRTIO_MAX_ISR_PORTS 32
extern uint16_t mg_virtio_isr_ports[MG_VIRTIO_MAX_ISR_PORTS];
extern uint32_t mg_virtio_n_isr_ports;

/* ---- start.c ---- */

/* Called by boot.S in 64-bit mode with what the Multiboot loader passed:
 * its magic and the address of its information. Never returns. */
void mg_virtio_start(uint32_t magic, uint32_t info);

#endif
