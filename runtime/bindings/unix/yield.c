/*
 * yield.c - the unix binding's one blocking call: ppoll(2) on the taps of
 * the network handles the caller listens to (their descriptors are in
 * mg_unix_poll_fds, handles.c), until the deadline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "abi/platform.h"
#include "unix.h"

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* The network devices the caller listens to are polled even when the deadline
     * has passed (with no wait), so that due timers cannot starve input.
     * ppoll may wake early on a signal: wait again until the deadline. */
    struct pollfd fds[MG_PLATFORM_MAX_HANDLES];
    mg_handle of[MG_PLATFORM_MAX_HANDLES];
    nfds_t n = 0;
    for (mg_handle h = 0; h < MG_PLATFORM_MAX_HANDLES; h++)
        if (mg_unix_poll_fds[h] > 0 && (*ready_set & ((mg_handle_set)1 << h))) {
            fds[n] = (struct pollfd){.fd = mg_unix_poll_fds[h] - 1, .events = POLLIN};
            of[n++] = h;
        }
    *ready_set = 0;
    for (;;) {
        uint64_t now = mg_platform_clock_monotonic();
        uint64_t left = now >= deadline ? 0 : deadline - now;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u),
                              .tv_nsec = (long)(left % 1000000000u)};
        /* A deadline centuries away (UINT64_MAX: no timer) waits forever. */
        bool forever = left / 1000000000u > (uint64_t)INT32_MAX;
        int r = ppoll(n ? fds : NULL, n, forever ? NULL : &ts, NULL);
        if (r > 0) {
            /* an error or hang-up counts as ready: the read reports it */
            for (nfds_t i = 0; i < n; i++)
                if (fds[i].revents) *ready_set |= (mg_handle_set)1 << of[i];
            return;
        }
        if (left == 0 || (r < 0 && errno != EINTR)) return;
    }
}
