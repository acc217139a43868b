/*
 * yield.c - the virtio binding's one blocking call, on every arch. It
 * checks the clock and the receive queues of the network handles the
 * caller listens to; between checks the arch's mg_virtio_arch_wait sleeps
 * until its next tick or a network device's interrupt (x86_64: `hlt`,
 * interrupts.c), which only wake it, so an idle image costs its host
 * almost nothing and still hears a frame at once.
 */
#include "virtio.h"

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* poll the receive queues (plain memory reads) and the clock. Only
     * the handles the caller listens to count. */
    mg_handle_set wanted = *ready_set;
    for (;;) {
        mg_handle_set ready = mg_virtio_nets_ready() & wanted;
        uint64_t now = mg_platform_clock_monotonic();
        if (ready || now >= deadline) {
            *ready_set = ready;
            return;
        }
        mg_virtio_arch_wait(now, deadline);
    }
}
