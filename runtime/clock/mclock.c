/*
 * mclock.c - the `monotonic_clock` device (mg/mclock.h): the platform's
 * monotonic clock. It has no state, so every connect returns the same
 * device.
 */
#include "mg/mclock.h"
#include "abi/platform.h"

static uint64_t mg_monotonic_clock_now_ns(mg_mclock *c)
{
    (void)c;
    return mg_platform_clock_monotonic();
}

static const struct mg_mclock_ops mg_monotonic_clock_ops = {.now_ns = mg_monotonic_clock_now_ns};
static mg_mclock mg_monotonic_clock = {.ops = &mg_monotonic_clock_ops};

int mg_mclock_connect(mg_mclock **out)
{
    *out = &mg_monotonic_clock;
    return MG_OK;
}

uint64_t mg_mclock_now_ns(mg_mclock *c)
{
    return c->ops->now_ns(c);
}
