/*
 * direct.h - the direct stack's parts as they see each other (private to
 * runtime/tcpip/direct/): one lwIP (global, NO_SYS) for the image, one
 * lwIP interface per IPv4 layer, and the mg/stack.h objects over it.
 *
 * - lwip_port.c: what lwIP asks of the system (sys_now, LWIP_RAND, its
 *   assertions), its timers on one loop timer, and its licence in the image;
 * - lwip_if.c: the interface (frames in and out); layers.c: the connects;
 * - lwip_stack.c: TCP and UDP over lwIP's raw API (stack_impl.h).
 */
#ifndef MG_TCPIP_DIRECT_H
#define MG_TCPIP_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/netif.h"
#include "../stack_impl.h"

/* How an interface sends a frame: mg_network_write on a network device,
 * or a test's in-memory link. MG_OK or an MG_E* status. */
typedef int mg_direct_output_fn(void *arg, const uint8_t *frame, size_t size);

/* Received bytes an interface's flows may hold in the heap together (paused
 * flows, flows whose callbacks are not set yet): past it a flow refuses
 * what arrives, lwIP keeps it in its buffers and offers it again, and the
 * peer's window stays shut. Each flow holds at most TCP_WND anyway; this
 * bounds them all (1100 pcbs times TCP_WND would be 276 MB). */
#define MG_DIRECT_HELD_MAX (8u * 1024 * 1024)

typedef struct mg_direct_if {
    struct netif netif; /* lwIP's; netif.state points back here */
    mg_direct_output_fn *output;
    void *output_arg;
    uint8_t *tx; /* one frame, for linkoutput's copy of a pbuf chain */
    size_t mtu;
    /* start/stop when users come and go (a network device listening) */
    void (*set_running)(struct mg_direct_if *i, bool running);
    bool running;
    size_t users;      /* listeners, flows, UDP sockets: what keeps it alive */
    bool added;        /* netif_add done */
    size_t held_bytes; /* what its flows hold, at most MG_DIRECT_HELD_MAX */
    struct mg_stackv4v6 stack;
    struct mg_tcp tcp;
    struct mg_udp udp;
} mg_direct_if;

/* Starts lwIP once (lwip_init) and its timer; MG_OK or MG_ENOMEM. */
int mg_direct_lwip_init(void);
/* Re-arms the loop timer for lwIP's next timeout: after anything that may
 * have added one (a frame in, an application call). */
void mg_direct_kick(void);
/* Whether lwIP's timers run: while some interface has users or waits for
 * a lease. Counted. */
void mg_direct_timers_hold(void);
void mg_direct_timers_release(void);

/* A new interface that sends through `output`; mac is its address. Not in
 * lwIP yet (mg_direct_if_add). NULL when out of memory. */
mg_direct_if *mg_direct_if_new(const uint8_t mac[6], size_t mtu, mg_direct_output_fn *output,
                               void *arg);
/* Adds it to lwIP with an address (all zero for DHCP) and brings it up.
 * MG_OK or MG_ENOMEM. */
int mg_direct_if_add(mg_direct_if *i, uint32_t addr, uint8_t prefix, uint32_t gateway);
/* Hands a received frame to lwIP (copied): lwIP checks everything in it;
 * here only its length. */
void mg_direct_if_input(mg_direct_if *i, const uint8_t *frame, size_t size);
/* One more or one fewer user: the interface runs while it has any. */
void mg_direct_if_use(mg_direct_if *i);
void mg_direct_if_unuse(mg_direct_if *i);

/* Sets up i->stack, i->tcp, i->udp with the lwIP operations. */
void mg_direct_stack_init(mg_direct_if *i);

#endif
