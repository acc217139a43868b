/*
 * clock.c - the virtio clocks on every arch, over the arch's free-running
 * counter (x86_64: the TSC; aarch64: the generic timer's virtual count;
 * riscv64: the CLINT's mtime): the monotonic clock is the counter since
 * boot at its rate; the wall clock is the arch's RTC, read once at boot,
 * plus the monotonic clock. The conversions are written once here, so
 * that every arch's clock and every arch's timer agree to the tick.
 */
#include <stdint.h>

#include "virtio.h"

#define NS 1000000000ull

static uint64_t hz = 1, count_at_boot, wall_at_boot_ns;

void mg_virtio_clock_start(uint64_t rate_hz, uint64_t wall_ns)
{
    /* up to 16 GHz (a TSC of a few GHz included): the conversions below
     * multiply a remainder below a second by it within 64 bits; a rate
     * out of range is taken for 1 GHz */
    hz = rate_hz >= 1 && rate_hz <= 16 * NS ? rate_hz : NS;
    count_at_boot = mg_virtio_arch_count();
    wall_at_boot_ns = wall_ns;
}

uint64_t mg_platform_clock_monotonic(void)
{
    uint64_t t = mg_virtio_arch_count() - count_at_boot;
    /* ticks to ns without overflowing for years: whole seconds, then the rest */
    return t / hz * NS + (t % hz) * NS / hz;
}

uint64_t mg_platform_clock_wall(void)
{
    return wall_at_boot_ns + mg_platform_clock_monotonic();
}

uint64_t mg_virtio_clock_count_at(uint64_t ns)
{
    /* the inverse of mg_platform_clock_monotonic, rounded up so that a
     * timer set to it never fires before `ns` */
    uint64_t s = ns / NS, rest = ns % NS;
    /* a deadline the counter never reaches (a loop with nothing to time:
     * UINT64_MAX) stays out of reach rather than wrapping to the past */
    if (s >= (UINT64_MAX - count_at_boot) / hz - 1) return UINT64_MAX;
    return count_at_boot + s * hz + (rest * hz + NS - 1) / NS;
}
