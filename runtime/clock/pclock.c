/*
 * pclock.c - the `posix_clock` device (mg/pclock.h): the platform's wall
 * clock. It has no state, so every connect returns the same device.
 */
#include "mg/pclock.h"
#include "abi/platform.h"

static uint64_t mg_posix_clock_now_ns(mg_pclock *c)
{
    (void)c;
    return mg_platform_clock_wall();
}

static const struct mg_pclock_ops mg_posix_clock_ops = {.now_ns = mg_posix_clock_now_ns};
static mg_pclock mg_posix_clock = {.ops = &mg_posix_clock_ops};

int mg_pclock_connect(mg_pclock **out)
{
    *out = &mg_posix_clock;
    return MG_OK;
}

uint64_t mg_pclock_now_ns(mg_pclock *c)
{
    return c->ops->now_ns(c);
}
