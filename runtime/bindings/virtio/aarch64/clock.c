/*
 * clock.c - the virtio clocks on aarch64: the monotonic clock is the
 * generic timer's virtual count (CNTVCT_EL0) at the rate CNTFRQ_EL0 says
 * (62.5 MHz under QEMU); the wall clock is the PL031 RTC's seconds, read
 * once at boot, plus the monotonic clock.
 */
#include <stdint.h>

#include "aarch64.h"

#define RTC_DR 0x000 /* seconds since the epoch (QEMU: UTC) */

static uint64_t hz, count_at_boot, wall_at_boot_ns;

static uint64_t count(void)
{
    /* isb: the read is not taken early, before what precedes it */
    __asm__ volatile("isb" ::: "memory");
    return SYSREG_READ(cntvct_el0);
}

uint64_t mg_platform_clock_monotonic(void)
{
    uint64_t t = count() - count_at_boot;
    /* ticks to ns without overflowing for years: whole seconds, then the rest */
    return t / hz * 1000000000ull + (t % hz) * 1000000000ull / hz;
}

uint64_t mg_platform_clock_wall(void)
{
    return wall_at_boot_ns + mg_platform_clock_monotonic();
}

uint64_t mg_virtio_clock_ticks_at(uint64_t ns)
{
    /* the inverse of mg_platform_clock_monotonic, rounded up so that the
     * timer never fires before `ns` */
    uint64_t s = ns / 1000000000ull, rest = ns % 1000000000ull;
    /* a deadline the counter never reaches (a loop with nothing to time:
     * UINT64_MAX) stays out of reach rather than wrapping to the past */
    if (s >= (UINT64_MAX - count_at_boot) / hz - 1) return UINT64_MAX;
    return count_at_boot + s * hz + (rest * hz + 999999999ull) / 1000000000ull;
}

void mg_virtio_clock_init(void)
{
    hz = SYSREG_READ(cntfrq_el0) & 0xffffffffu;
    if (hz == 0) hz = 62500000; /* firmware sets it; QEMU's rate without */
    count_at_boot = count();
    wall_at_boot_ns = (uint64_t)mmio_read32(VIRT_RTC + RTC_DR) * 1000000000ull;
}
