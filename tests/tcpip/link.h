/*
 * link.h - the test double of the platform for the direct stack's host
 * tests: a fake monotonic clock that mg_platform_yield advances, and an
 * in-memory Ethernet link between lwIP interfaces that loses, reorders and
 * duplicates frames from a seeded PRNG, so every run is the same.
 */
#ifndef MG_TESTS_TCPIP_LINK_H
#define MG_TESTS_TCPIP_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/tcpip/direct/direct.h"

typedef struct link_opts {
    unsigned loss_permille, dup_permille; /* per frame */
    uint64_t latency_ns, jitter_ns;       /* jitter reorders frames */
} link_opts;

/* Resets the clock, the PRNG (seed) and the link. */
void link_reset(uint64_t seed, link_opts opts);
/* Changes the link's behaviour from now on (the clock and PRNG go on). */
void link_set_opts(link_opts opts);
/* Two interfaces joined by the link: a at 10.0.0.1/24, b at 10.0.0.2/24
 * (made once per process: lwIP's interfaces cannot be removed safely). */
void link_pair(mg_direct_if **a, mg_direct_if **b);
/* Frames each side sent (each direction), and what the link dropped. */
extern uint64_t link_frames, link_dropped;
/* When not NULL, called with every frame `a` sends (for fuzz seeds). */
extern void (*link_tap)(const uint8_t *frame, size_t size);
uint64_t link_rand(void);
uint64_t link_now(void);

#endif
