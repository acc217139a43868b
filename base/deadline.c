#include "base/deadline.h"

uint64_t mg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mg_now_ms(void)
{
    return mg_now_ns() / 1000000u;
}

uint64_t mg_ms_since(uint64_t start_ms)
{
    uint64_t now = mg_now_ms();
    return now > start_ms ? now - start_ms : 0;
}

uint64_t mg_deadline_in(uint64_t timeout_ms)
{
    uint64_t now = mg_now_ms();
    return timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms;
}

struct timespec mg_abstime_in(clockid_t clock, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    /* a wait of years is a wait forever: keep tv_sec from overflowing */
    uint64_t secs = ms / 1000;
    if (secs > (uint64_t)INT32_MAX) secs = INT32_MAX;
    ts.tv_sec += (time_t)secs;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
