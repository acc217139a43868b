/*
 * yield.c - the spt binding's one blocking call: ppoll on the taps of the
 * acquired network handles the caller listens to, the only descriptors
 * the tender's filter lets it pass (at most as many as there are taps, no
 * signal mask).
 */

#include "spt.h"

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* only the taps the caller listens to: frames on another would end
     * every wait at once */
    struct kernel_pollfd fds[MG_SPT_MAX_NETS];
    uint32_t of[MG_SPT_MAX_NETS], n = 0;
    for (uint32_t i = 0; i < mg_spt_boot_info->n_nets; i++)
        if (mg_spt_nets_acquired & (1u << i) &&
            *ready_set & ((mg_handle_set)1 << (MG_SPT_MAX_BLOCKS + i))) {
            fds[n] = (struct kernel_pollfd){mg_spt_boot_info->nets[i].fd, POLLIN, 0};
            of[n++] = i;
        }
    *ready_set = 0;
    for (;;) {
        uint64_t now = mg_platform_clock_monotonic();
        uint64_t left = now >= deadline ? 0 : deadline - now;
        /* past the deadline the taps are still polled once, without
         * waiting: a loop always behind its timers still hears the network */
        if (!left && !n) return;
        struct kernel_timespec ts = {(long)(left / 1000000000u), (long)(left % 1000000000u)};
        long r = mg_spt_sys4(SYS_PPOLL, n ? (long)fds : 0, (long)n, (long)&ts, 0);
        if (r > 0) {
            /* errors and hang-ups count as ready too: the read that
             * follows reports them instead of the loop waking for nothing */
            for (uint32_t k = 0; k < n; k++)
                if (fds[k].revents) *ready_set |= (mg_handle_set)1 << (MG_SPT_MAX_BLOCKS + of[k]);
            if (*ready_set) return;
        }
        if (!left || (r < 0 && r != -EINTR)) return;
    }
}
