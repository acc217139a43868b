/*
 * clock.c - the virtio clocks' sources on aarch64 (../clock.c makes the
 * clocks of them): the counter is the generic timer's virtual count
 * (CNTVCT_EL0) at the rate CNTFRQ_EL0 says (62.5 MHz under QEMU); the wall
 * clock starts from the PL031 RTC's seconds.
 */
#include <stdint.h>

#include "aarch64.h"

#define RTC_DR 0x000 /* seconds since the epoch (QEMU: UTC) */

uint64_t mg_virtio_arch_count(void)
{
    /* isb: the read is not taken early, before what precedes it */
    __asm__ volatile("isb" ::: "memory");
    return SYSREG_READ(cntvct_el0);
}

void mg_virtio_clock_init(void)
{
    uint64_t hz = SYSREG_READ(cntfrq_el0) & 0xffffffffu;
    if (hz == 0) hz = 62500000; /* firmware sets it; QEMU's rate without */
    mg_virtio_clock_start(hz, (uint64_t)mmio_read32(VIRT_RTC + RTC_DR) * 1000000000ull);
}
