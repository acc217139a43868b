/*
 * stack_impl.h - what a TCP/IP stack implements so that mg/stack.h works
 * on it (private to runtime/tcpip/).
 *
 * mg/stack.h is one set of functions for every stack, and an image may
 * link two stacks (lwIP's and the host sockets' on unix): so each object
 * an implementation hands out starts with the common part below, whose
 * `ops` points at the implementation's table, and stack.c dispatches
 * through it. The common part also holds what every stack does the same
 * way (a flow's callbacks), so implementations only call them.
 *
 * Rules for implementations:
 * - Call a flow's callbacks only from the loop (a timer, a watcher, the
 *   network device's listener), never from inside an mg_* call of the
 *   application: mg_stack_flow_* below do the calling, and do nothing
 *   once the application has closed or aborted the flow.
 * - After `closed` has run, or after flow_close/flow_abort, the flow's
 *   memory is the implementation's to free (when its connection is over).
 */
#ifndef MG_TCPIP_STACK_IMPL_H
#define MG_TCPIP_STACK_IMPL_H

#include "mg/stack.h"

typedef struct mg_stack_ops {
    int (*tcp_listen)(mg_tcp *t, uint16_t port, mg_tcp_accept_fn *fn, void *arg,
                      mg_tcp_listener **out);
    void (*tcp_unlisten)(mg_tcp_listener *l);
    int (*tcp_connect)(mg_tcp *t, const mg_ipaddr *addr, uint16_t port, mg_tcp_connect_fn *fn,
                       void *arg);
    int (*flow_write)(mg_flow *f, const void *data, size_t size, size_t *taken);
    size_t (*flow_unsent)(const mg_flow *f);
    void (*flow_pause)(mg_flow *f);
    void (*flow_resume)(mg_flow *f);
    void (*flow_shutdown)(mg_flow *f);
    void (*flow_close)(mg_flow *f);
    void (*flow_abort)(mg_flow *f);
    void (*flow_ends)(const mg_flow *f, bool peer, mg_ipaddr *addr, uint16_t *port);
    int (*udp_bind)(mg_udp *u, uint16_t port, mg_udp_recv_fn *fn, void *arg, mg_udp_socket **out);
    uint16_t (*udp_port)(const mg_udp_socket *s);
    int (*udp_sendto)(mg_udp_socket *s, const mg_ipaddr *dst, uint16_t port, const void *data,
                      size_t size);
    void (*udp_close)(mg_udp_socket *s);
    size_t (*addresses)(mg_stackv4v6 *s, mg_ipaddr *out, size_t max);
    /* Optional (NULL: not called): the application has just set the
     * flow's callbacks (mg_flow_set_callbacks), e.g. so that a stack that
     * leaves received bytes waiting until there is a `recv` to take them
     * starts reading. */
    void (*flow_callbacks_set)(mg_flow *f);
} mg_stack_ops;

/* The objects of mg/stack.h, as stack.c sees them. An implementation
 * embeds each as the first member of its own struct and converts back
 * with a cast, e.g.
 *   struct lwip_flow { struct mg_flow base; struct tcp_pcb *pcb; ... };
 * `ops` is set by the implementation when it creates the object. */
struct mg_stackv4v6 {
    const mg_stack_ops *ops;
    mg_tcp *tcp;
    mg_udp *udp;
};
struct mg_tcp {
    const mg_stack_ops *ops;
};
struct mg_udp {
    const mg_stack_ops *ops;
};
struct mg_tcp_listener {
    const mg_stack_ops *ops;
};
struct mg_udp_socket {
    const mg_stack_ops *ops;
};
struct mg_flow {
    const mg_stack_ops *ops;
    mg_flow_callbacks cb; /* set by the application (stack.c) */
    void *cb_arg;
    bool released; /* closed or aborted by the application: no callbacks */
    bool paused;   /* mg_flow_pause: hold received bytes (stack.c sets it) */
};

/* Calls into the application, unless it has let go of the flow. */
void mg_stack_flow_recv(mg_flow *f, const uint8_t *data, size_t size);
void mg_stack_flow_writable(mg_flow *f);
/* Calls `closed` (unless released); the implementation frees f after. */
void mg_stack_flow_closed(mg_flow *f, int status);

#endif
