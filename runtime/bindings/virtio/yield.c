/*
 * yield.c - the virtio binding's one blocking call. It checks the TSC and
 * the receive queues of the network handles the caller listens to;
 * between checks it sleeps in `hlt` until the next tick of the PIT or a
 * network device's interrupt (interrupts.c), which only wake it, so an
 * idle image costs its host almost nothing and still hears a frame at
 * once.
 */
#include "virtio.h"

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* poll the receive queues (plain memory reads) and the TSC; sleep in
     * hlt until the next tick while the deadline is more than a tick away,
     * else spin (`pause` eases it on the pipeline and on a hyperthread
     * sibling). Only the handles the caller listens to count. */
    mg_handle_set wanted = *ready_set;
    for (;;) {
        mg_handle_set ready = mg_virtio_nets_ready() & wanted;
        uint64_t now = mg_platform_clock_monotonic();
        if (mg_virtio_can_sleep && !ready && now < deadline && deadline - now > MG_VIRTIO_TICK_NS) {
            /* sti's one-instruction shadow: the tick cannot come between
             * it and hlt, so it always wakes the hlt */
            __asm__ volatile("sti; hlt; cli" ::: "memory");
            continue;
        }
        if (ready || now >= deadline) {
            *ready_set = ready;
            return;
        }
        __asm__ volatile("pause" ::: "memory");
    }
}
