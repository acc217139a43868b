/*
 * clock.c - the unix binding's clocks: clock_gettime(2), CLOCK_MONOTONIC
 * and CLOCK_REALTIME.
 */
#include <time.h>

#include "abi/platform.h"

static uint64_t mg_unix_clock(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0 || ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mg_platform_clock_monotonic(void)
{
    return mg_unix_clock(CLOCK_MONOTONIC);
}

uint64_t mg_platform_clock_wall(void)
{
    return mg_unix_clock(CLOCK_REALTIME);
}
