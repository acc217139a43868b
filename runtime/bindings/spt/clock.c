/*
 * clock.c - the spt binding's clocks: clock_gettime, CLOCK_MONOTONIC and
 * CLOCK_REALTIME.
 */

#include "spt.h"

static uint64_t clock_ns(int id)
{
    struct kernel_timespec ts = {0, 0};
    mg_spt_sys3(SYS_CLOCK_GETTIME, id, (long)&ts, 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mg_platform_clock_monotonic(void)
{
    return clock_ns(1); /* CLOCK_MONOTONIC */
}

uint64_t mg_platform_clock_wall(void)
{
    return clock_ns(0); /* CLOCK_REALTIME */
}
