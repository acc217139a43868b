/*
 * clock.c - the virtio binding's clocks: the monotonic clock is the TSC,
 * its rate measured at boot against the PIT's channel 2; the wall clock
 * is the RTC, read once at boot, plus the monotonic clock.
 */
#include <stdint.h>

#include "x86.h"

static uint64_t tsc_hz, tsc_at_boot, wall_at_boot_ns;

/* The TSC's rate: ticks during 10 ms of the PIT's channel 2. */
static void tsc_calibrate(void)
{
    const uint32_t pit_hz = 1193182, count = pit_hz / 100;
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xb0);                                  /* channel 2, mode 0, both bytes */
    outb(0x42, (uint8_t)(count & 0xff));
    outb(0x42, (uint8_t)(count >> 8));
    uint64_t t0 = mg_virtio_rdtsc();
    while (!(inb(0x61) & 0x20)) __asm__ volatile("pause");
    uint64_t t1 = mg_virtio_rdtsc();
    tsc_hz = (t1 - t0) * 100;
    if (tsc_hz == 0) tsc_hz = 1000000000; /* a broken PIT: assume 1 GHz */
}

static unsigned bcd(unsigned v)
{
    return (v & 0x0f) + (v >> 4) * 10;
}

static unsigned cmos(unsigned reg)
{
    outb(0x70, (uint8_t)reg);
    return inb(0x71);
}

/* The RTC's time as nanoseconds since the epoch (UTC, as PCs keep it). */
static uint64_t rtc_ns(void)
{
    while (cmos(0x0a) & 0x80) { /* an update in progress */
    }
    unsigned sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), day = cmos(0x07),
             mon = cmos(0x08), year = cmos(0x09), century = cmos(0x32);
    if (!(cmos(0x0b) & 0x04)) { /* BCD */
        sec = bcd(sec), min = bcd(min), hour = bcd(hour & 0x7f), day = bcd(day);
        mon = bcd(mon), year = bcd(year), century = bcd(century);
    }
    unsigned y = (century >= 19 && century <= 21 ? century : 20) * 100 + year;
    /* days since 1970-01-01 (the civil-from-days inverse) */
    int yy = (int)y - (mon <= 2);
    int era = yy / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return ((uint64_t)days * 86400 + hour * 3600 + min * 60 + sec) * 1000000000ull;
}

uint64_t mg_platform_clock_monotonic(void)
{
    uint64_t t = mg_virtio_rdtsc() - tsc_at_boot;
    /* ticks to ns without overflowing for years: whole seconds, then the rest */
    return t / tsc_hz * 1000000000ull + (t % tsc_hz) * 1000000000ull / tsc_hz;
}

uint64_t mg_platform_clock_wall(void)
{
    return wall_at_boot_ns + mg_platform_clock_monotonic();
}

void mg_virtio_clock_init(void)
{
    tsc_calibrate();
    tsc_at_boot = mg_virtio_rdtsc();
    wall_at_boot_ns = rtc_ns();
}
