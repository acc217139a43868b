/*
 * clock.c - the virtio clocks' sources on riscv64 (../clock.c makes the
 * clocks of them): the counter is the CLINT's mtime, which counts at the
 * device tree's timebase-frequency (10 MHz on QEMU's `virt`) from the
 * machine's reset; the wall clock starts from the goldfish RTC
 * (nanoseconds since the epoch, the host's time).
 */
#include <stdint.h>

#include "riscv.h"

#define RTC_TIME_LOW 0x00 /* reading it latches TIME_HIGH */
#define RTC_TIME_HIGH 0x04

static uint64_t rtc_ns(void)
{
    uint64_t lo = mmio_read32(RV_RTC + RTC_TIME_LOW);
    uint64_t hi = mmio_read32(RV_RTC + RTC_TIME_HIGH);
    return hi << 32 | lo;
}

uint64_t mg_virtio_arch_count(void)
{
    return mg_riscv_mtime();
}

void mg_riscv_clock_init(uint64_t timebase)
{
    /* a device tree without the rate: QEMU's own (10 MHz) */
    mg_virtio_clock_start(timebase ? timebase : 10000000ull, rtc_ns());
}
