/*
 * clock.c - the virtio clocks' sources on x86_64 (../clock.c makes the
 * clocks of them): the counter is the TSC, its rate measured at boot
 * against the PIT's channel 2; the wall clock starts from the RTC.
 */
#include <stdint.h>

#include "x86.h"

/* The TSC's rate: ticks during 10 ms of the PIT's channel 2. */
static uint64_t tsc_rate(void)
{
    const uint32_t pit_hz = 1193182, count = pit_hz / 100;
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xb0);                                  /* channel 2, mode 0, both bytes */
    outb(0x42, (uint8_t)(count & 0xff));
    outb(0x42, (uint8_t)(count >> 8));
    uint64_t t0 = mg_virtio_rdtsc();
    while (!(inb(0x61) & 0x20)) __asm__ volatile("pause");
    uint64_t t1 = mg_virtio_rdtsc();
    uint64_t hz = (t1 - t0) * 100;
    return hz ? hz : 1000000000; /* a broken PIT: assume 1 GHz */
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

uint64_t mg_virtio_arch_count(void)
{
    return mg_virtio_rdtsc();
}

void mg_virtio_clock_init(void)
{
    uint64_t hz = tsc_rate();
    mg_virtio_clock_start(hz, rtc_ns());
}
