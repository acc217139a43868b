/*
 * lwip_port.c - what lwIP (NO_SYS mode) asks of the system, on mgd's
 * runtime: the millisecond clock, random numbers, assertions, its timers
 * driven by one event-loop timer. (Its licence travels with every image
 * through the catalog's "notices": docs/network.md, "Licence".)
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mg/loop.h"
#include "mg/mg.h"
#include "mg/random.h"
#include "abi/platform.h"
#include "direct.h"
#include "lwip/init.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"

u32_t sys_now(void)
{
    /* lwIP compares times modulo 2^32 ms, so wrapping (49 days) is fine */
    return (u32_t)(mg_loop_now() / 1000000u);
}

uint32_t mg_lwip_rand(void)
{
    static mg_random *random;
    uint32_t v = 0;
    if (!random && mg_random_connect(&random) != MG_OK)
        mg_platform_abort("lwIP: no random numbers for TCP sequence numbers and ports");
    mg_random_fill(random, &v, sizeof v);
    return v;
}

/* RFC 6528: ISN = M + F(4-tuple, secret key), M a clock ticking every
 * 4 us and F a keyed pseudo-random function, here the ChaCha20 block of a
 * key drawn from the CSPRNG at the first connection with the 4-tuple as
 * nonce. Connections of one 4-tuple get increasing ISNs (so an old
 * duplicate does not fall in a new incarnation's window), and nothing
 * learned from one connection tells the ISN of another. */
uint32_t mg_lwip_tcp_isn(uint32_t local, uint16_t local_port, uint32_t remote, uint16_t remote_port)
{
    static uint8_t key[32];
    static bool keyed;
    if (!keyed) {
        for (size_t i = 0; i < sizeof key; i += 4) {
            uint32_t v = mg_lwip_rand();
            memcpy(key + i, &v, 4);
        }
        keyed = true;
    }
    uint8_t nonce[12], out[64];
    memcpy(nonce, &local, 4);
    memcpy(nonce + 4, &remote, 4);
    memcpy(nonce + 8, &local_port, 2);
    memcpy(nonce + 10, &remote_port, 2);
    mg_random_chacha20_block(key, 0, nonce, out);
    uint32_t f;
    memcpy(&f, out, 4);
    return f + (uint32_t)(mg_loop_now() / 4000u);
}

#if !__STDC_HOSTED__
/* For lwIP's netif_find ("en0"): the C library of the freestanding
 * targets has no atoi. Decimal digits after optional blanks and sign. */
int atoi(const char *s)
{
    int v = 0, neg = 0;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    while (*s >= '0' && *s <= '9' && v < 100000000) v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}
#endif

void mg_lwip_assert(const char *file, int line)
{
    mg_printf("lwIP: assertion failed at %s:%d\n", file, line);
    mg_platform_abort("lwIP assertion failed");
}

static mg_loop_timer lwip_timer;
static size_t lwip_timer_holds;
static bool lwip_started;

static void lwip_timer_fire(void *arg)
{
    (void)arg;
    sys_check_timeouts();
    mg_direct_kick();
}

void mg_direct_kick(void)
{
    if (!lwip_timer_holds) return;
    u32_t ms = sys_timeouts_sleeptime();
    if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE) {
        mg_loop_timer_stop(&lwip_timer);
        return;
    }
    uint64_t deadline = mg_loop_now() + (uint64_t)ms * 1000000u;
    /* re-arming moves the timer: skip it when the deadline is the same ms */
    if (mg_loop_timer_armed(&lwip_timer) && lwip_timer.deadline / 1000000u == deadline / 1000000u)
        return;
    if (mg_loop_timer_start(&lwip_timer, deadline, lwip_timer_fire, NULL) != MG_OK)
        mg_platform_abort("lwIP: out of memory for its timer");
}

void mg_direct_timers_hold(void)
{
    if (lwip_timer_holds++ == 0) mg_direct_kick();
}

void mg_direct_timers_release(void)
{
    if (!lwip_timer_holds) mg_platform_abort("mg_direct_timers_release: not held");
    if (--lwip_timer_holds == 0) mg_loop_timer_stop(&lwip_timer);
}

int mg_direct_lwip_init(void)
{
    if (lwip_started) return MG_OK;
    lwip_init();
    lwip_started = true;
    return MG_OK;
}
