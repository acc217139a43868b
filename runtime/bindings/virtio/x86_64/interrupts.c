/*
 * interrupts.c - the x86_64 sleep (mg_virtio_arch_wait, for the common
 * yield.c) and what wakes it from `hlt`: the
 * IDT's vectors from 32 (exceptions.c has the table and the CPU's
 * exceptions below 32), the two 8259 PICs, and the PIT's channel 0 ticking at
 * MG_VIRTIO_TICK_HZ, plus the lines of the network devices
 * (mg_virtio_irq_wake). Interrupts are enabled only inside
 * mg_virtio_arch_wait's `sti; hlt`, and the handlers (boot.S) only count or acknowledge: no
 * work is ever done in them.
 */
#include <stdint.h>

#include "x86.h"

/* IRQ 0s taken (boot.S); and whether they come, so that yield may sleep */
volatile uint32_t mg_virtio_ticks;
int mg_virtio_can_sleep;

/* the handlers (boot.S) */
void mg_virtio_tick(void);
void mg_virtio_spurious(void);
void mg_virtio_spurious_slave(void);
void mg_virtio_irq(void);

/* the PIC's vectors take the interrupted stack (yield's): no IST */
static void idt_set(int vector, void (*handler)(void))
{
    mg_virtio_idt_set(vector, handler, 0);
}

void mg_virtio_interrupts_init(void)
{
    for (int v = 32; v < 256; v++) idt_set(v, mg_virtio_spurious);
    idt_set(32, mg_virtio_tick);
    idt_set(47, mg_virtio_spurious_slave);
    /* the 8259 PICs: IRQs 0-15 to vectors 32-47 (not the CPU's exception
     * vectors), every line masked but the PIT's */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 32);
    outb(0xa1, 40);
    outb(0x21, 4);
    outb(0xa1, 2);
    outb(0x21, 1);
    outb(0xa1, 1);
    outb(0x21, 0xfe);
    outb(0xa1, 0xff);
    /* the PIT's channel 0 as a rate generator at MG_VIRTIO_TICK_HZ (channel 2 is the
     * TSC's calibration, separate) */
    uint16_t divisor = (uint16_t)(1193182 / MG_VIRTIO_TICK_HZ);
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)(divisor & 0xff));
    outb(0x40, (uint8_t)(divisor >> 8));
    /* sleeping in hlt trusts the tick to come: a machine whose timer does
     * not reach the CPU (a masked LINT0, no 8254) would sleep for ever.
     * Wait up to 20 ms for one; without it yield spins as it must. */
    uint32_t before = mg_virtio_ticks;
    uint64_t until = mg_platform_clock_monotonic() + 20000000u;
    __asm__ volatile("sti" ::: "memory");
    while (mg_virtio_ticks == before && mg_platform_clock_monotonic() < until)
        __asm__ volatile("pause" ::: "memory");
    __asm__ volatile("cli" ::: "memory");
    mg_virtio_can_sleep = mg_virtio_ticks != before;
}

void mg_virtio_irq_wake(uint32_t irq)
{
    if (irq == 0 || irq == 2 || irq > 15) return; /* the timer, the cascade, none */
    idt_set(32 + irq, mg_virtio_irq);
    if (irq < 8) {
        outb(0x21, (uint8_t)(inb(0x21) & ~(1u << irq)));
    } else {
        outb(0xa1, (uint8_t)(inb(0xa1) & ~(1u << (irq - 8))));
        outb(0x21, (uint8_t)(inb(0x21) & ~(1u << 2))); /* the slave's cascade */
    }
}

void mg_virtio_arch_wait(uint64_t now, uint64_t deadline)
{
    /* sleep in hlt until the next tick while the deadline is more than a
     * tick away, else spin (`pause` eases it on the pipeline and on a
     * hyperthread sibling) */
    if (mg_virtio_can_sleep && now < deadline && deadline - now > MG_VIRTIO_TICK_NS) {
        /* sti's one-instruction shadow: the tick cannot come between it
         * and hlt, so it always wakes the hlt */
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        return;
    }
    __asm__ volatile("pause" ::: "memory");
}
