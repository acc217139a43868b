/*
 * interrupts.c - what wakes a sleeping virtio image on riscv64: the
 * CLINT's machine timer, armed for the deadline itself (no periodic tick:
 * the sleep ends when it should, not at the next tick after), and the
 * network devices' interrupts through the PLIC.
 *
 * Neither is ever taken as a trap: mstatus.MIE stays 0, and wfi wakes on
 * an interrupt that is pending and enabled in mie whatever mstatus.MIE
 * says. So there is no interrupt handler to save registers in; after
 * wfi, mg_virtio_arch_wait disarms the timer and claims the PLIC's
 * pending sources, acknowledges each at its device (the line is level
 * triggered: it stays up until the device's interrupt status is
 * acknowledged) and completes it. No work is done there: the frames are
 * left for yield's checks.
 */
#include <stdint.h>

#include "../mmio/mmio.h"
#include "riscv.h"

#define MTIMECMP (RV_CLINT + 0x4000) /* hart 0's */
#define PLIC_PRIORITY(src) (RV_PLIC + 4 * (src))
#define PLIC_ENABLE(src) (RV_PLIC + 0x2000 + 4 * ((src) / 32)) /* context 0 */
#define PLIC_THRESHOLD (RV_PLIC + 0x200000)
#define PLIC_CLAIM (RV_PLIC + 0x200004)
#define PLIC_SOURCES 96 /* the `virt` board's (VIRT_IRQCHIP_NUM_SOURCES) */

void mg_riscv_interrupts_init(void)
{
    csr_clear(mstatus, 1ul << 3); /* MIE: interrupts only wake wfi */
    mmio_write64(MTIMECMP, ~0ull);
    for (int src = 1; src < PLIC_SOURCES; src++) mmio_write32(PLIC_PRIORITY(src), 0);
    for (int w = 0; w < PLIC_SOURCES / 32; w++) mmio_write32(RV_PLIC + 0x2000 + 4 * w, 0);
    mmio_write32(PLIC_THRESHOLD, 0);
    csr_write(mie, MIE_MTIE | MIE_MEIE);
}

void mg_virtio_irq_wake(uint32_t irq)
{
    if (irq == 0 || irq >= PLIC_SOURCES) return;
    mmio_write32(PLIC_PRIORITY(irq), 1);
    mmio_write32(PLIC_ENABLE(irq), mmio_read32(PLIC_ENABLE(irq)) | 1u << (irq % 32));
}

void mg_virtio_arch_wait(uint64_t now, uint64_t deadline)
{
    if (deadline <= now) return;
    mmio_write64(MTIMECMP, mg_virtio_clock_count_at(deadline));
    __asm__ volatile("wfi" ::: "memory");
    mmio_write64(MTIMECMP, ~0ull); /* MTIP falls */
    /* the sources pending, claimed (so that MEIP falls), their devices
     * acknowledged (which drops their lines), then completed: a source
     * completed with its line still up would be pending again at once.
     * A bounded number: a line that stays up after all that is claimed
     * again and again, which would keep this loop going for ever (it only
     * makes the next wfi return at once). */
    uint32_t claimed[RV_VIRTIO_COUNT];
    int n = 0;
    while (n < RV_VIRTIO_COUNT && (claimed[n] = mmio_read32(PLIC_CLAIM)) != 0) n++;
    if (n) mg_virtio_mmio_ack();
    for (int i = 0; i < n; i++) mmio_write32(PLIC_CLAIM, claimed[i]); /* complete */
}
