/*
 * clock.c - the virtio binding's clocks on riscv64: the monotonic clock is
 * the CLINT's mtime, which counts at the device tree's timebase-frequency
 * (10 MHz on QEMU's `virt`) from the machine's reset; the wall clock is
 * the goldfish RTC (nanoseconds since the epoch, the host's time), read
 * once at boot, plus the monotonic clock.
 */
#include <stdint.h>

#include "riscv.h"

#define RTC_TIME_LOW 0x00 /* reading it latches TIME_HIGH */
#define RTC_TIME_HIGH 0x04

static uint64_t hz, mtime_at_boot, wall_at_boot_ns;

static uint64_t rtc_ns(void)
{
    uint64_t lo = mmio_read32(RV_RTC + RTC_TIME_LOW);
    uint64_t hi = mmio_read32(RV_RTC + RTC_TIME_HIGH);
    return hi << 32 | lo;
}

uint64_t mg_platform_clock_monotonic(void)
{
    uint64_t t = mg_riscv_mtime() - mtime_at_boot;
    /* ticks to ns without overflowing for years: whole seconds, then the rest */
    return t / hz * 1000000000ull + (t % hz) * 1000000000ull / hz;
}

uint64_t mg_platform_clock_wall(void)
{
    return wall_at_boot_ns + mg_platform_clock_monotonic();
}

uint64_t mg_riscv_ns_to_ticks(uint64_t ns)
{
    return ns / 1000000000ull * hz + ns % 1000000000ull * hz / 1000000000ull;
}

void mg_riscv_clock_init(uint64_t timebase)
{
    /* a device tree without the rate: QEMU's own (10 MHz); more than 1 GHz
     * is no timer QEMU has, and would overflow the conversions above */
    hz = timebase && timebase <= 1000000000ull ? timebase : 10000000ull;
    mtime_at_boot = mg_riscv_mtime();
    wall_at_boot_ns = rtc_ns();
}
