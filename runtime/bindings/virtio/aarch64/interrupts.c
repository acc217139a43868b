/*
 * interrupts.c - what wakes a virtio image on aarch64 from wfi: the
 * generic timer's virtual timer (PPI 27, its compare value the sleep's
 * deadline) and the lines of the virtio-mmio transports that
 * mg_virtio_irq_wake enables, through the GICv2 (QEMU's gic-version=2):
 * mg_virtio_arch_wait (virtio.h) for the common yield.
 *
 * No interrupt is ever taken: PSTATE.I stays set, and wfi wakes on an
 * interrupt the GIC signals all the same. So there is no handler, nothing
 * runs behind the image's back, and nothing is acknowledged at the GIC
 * (an interrupt is never made active): the timer is turned off after each
 * sleep, which drops its line, and a device's line drops when the driver
 * acknowledges the interrupt at the device. Every line is level
 * triggered, so an interrupt raised just before wfi still wakes it: there
 * is no window in which a wake-up is lost.
 */
#include <stdint.h>

#include "aarch64.h"

#define GICD_CTLR 0x000
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ICPENDR 0x280
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICC_CTLR 0x000
#define GICC_PMR 0x004

#define TIMER_PPI 27 /* the EL1 virtual timer */

#define CNTV_CTL_ENABLE 1u
#define CNTV_CTL_IMASK 2u

static void gic_enable(unsigned irq)
{
    /* priority 0 (the highest), to CPU 0 (SPIs), then enabled */
    *(volatile uint8_t *)(VIRT_GICD + GICD_IPRIORITYR + irq) = 0;
    if (irq >= 32) *(volatile uint8_t *)(VIRT_GICD + GICD_ITARGETSR + irq) = 1;
    mmio_write32(VIRT_GICD + GICD_ISENABLER + 4 * (irq / 32), 1u << (irq % 32));
}

void mg_virtio_interrupts_init(void)
{
    SYSREG_WRITE(cntv_ctl_el0, CNTV_CTL_IMASK);
    /* every line off and not pending, then the timer's on; the CPU
     * interface signals whatever is above the lowest priority */
    for (unsigned i = 0; i < 1024 / 32; i++) {
        mmio_write32(VIRT_GICD + GICD_ICENABLER + 4 * i, 0xffffffffu);
        mmio_write32(VIRT_GICD + GICD_ICPENDR + 4 * i, 0xffffffffu);
    }
    gic_enable(TIMER_PPI);
    mmio_write32(VIRT_GICC + GICC_PMR, 0xff);
    mmio_write32(VIRT_GICC + GICC_CTLR, 1);
    mmio_write32(VIRT_GICD + GICD_CTLR, 1);
}

void mg_virtio_irq_wake(uint32_t irq)
{
    if (irq < VIRT_MMIO_COUNT) gic_enable(VIRT_MMIO_IRQ + irq);
}

/* Sleeps in wfi until `deadline` (the timer's compare value: no tick, so
 * exactly then) or a device's line, then acknowledges the devices'
 * interrupts at the devices, which drops their lines: one left high would
 * wake every later wfi at once. Yield's loop checks again after. */
void mg_virtio_arch_wait(uint64_t now, uint64_t deadline)
{
    if (deadline <= now) return;
    SYSREG_WRITE(cntv_cval_el0, mg_virtio_clock_count_at(deadline));
    SYSREG_WRITE(cntv_ctl_el0, CNTV_CTL_ENABLE);
    __asm__ volatile("isb\n\tdsb sy\n\twfi" ::: "memory");
    /* the timer off: its line drops, and it wakes no later wfi */
    SYSREG_WRITE(cntv_ctl_el0, CNTV_CTL_IMASK);
    __asm__ volatile("isb" ::: "memory");
    mg_virtio_mmio_ack();
}
