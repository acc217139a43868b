/*
 * stack.h - TCP/IP for applications (MirageOS's Tcpip.Stack.V4V6, its
 * TCP flows and UDP): callbacks on the event loop, never blocking.
 *
 * Implementations (the catalog's network rows, docs/catalog.md):
 * - direct_stackv4v6 and its layers (ethif, arp, create_ipv4 or
 *   ipv4_of_dhcp, direct_udp, direct_tcp): lwIP on the image's own network
 *   device, on every target;
 * - socket_stackv4v6: the host's sockets, on unix only, so that a unix
 *   image serves on the host's addresses without a tap.
 * Both behave the same through this header; an image may hold both.
 *
 * The model, as MirageOS's flows:
 * - A stack (mg_stackv4v6) gives its TCP (mg_tcp) and UDP (mg_udp); a
 *   config may also hand an application a `tcp` or `udp` alone.
 * - mg_tcp_listen calls an accept callback with each new connection (an
 *   mg_flow); the callback sets the flow's callbacks. mg_tcp_connect
 *   reports the new flow, or why there is none, to a callback.
 * - Received bytes go to the flow's `recv` callback as they arrive; size 0
 *   is the end of the stream (the peer shut its sending side down). The
 *   bytes are only valid during the call.
 * - mg_flow_write copies what fits into the flow's send buffer and says
 *   how much it took. When it took less than asked (MG_EAGAIN), the flow
 *   calls `writable` once room is back: that is the back-pressure.
 * - mg_flow_pause stops `recv` calls (and, through the receive window,
 *   the peer) until mg_flow_resume.
 * - mg_flow_shutdown sends the end of the stream once the buffered bytes
 *   are out; receiving goes on. mg_flow_close does that and also stops
 *   every callback: the application is done with the flow, which the
 *   stack frees once the connection is over. mg_flow_abort resets it.
 * - `closed` tells the application that the connection is over without
 *   it having closed it: MG_OK (both sides ended their streams and every
 *   byte was acknowledged), MG_ECONNRESET, MG_ETIMEDOUT. The flow is
 *   freed when the callback returns.
 * - Callbacks never run from inside the call that caused them (a write
 *   never calls `writable`, a listen never accepts): only from the loop.
 * - A listener, an open flow and a bound UDP socket keep the image alive;
 *   when all are closed the image can end.
 *
 * Addresses are mg_ipaddr, IPv4 or IPv6, so the API stays when IPv6
 * comes; today both stacks are IPv4 only and refuse an IPv6 address with
 * MG_EUNSUPPORTED. Ports are host order.
 */
#ifndef MG_STACK_H
#define MG_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_stackv4v6 mg_stackv4v6;
typedef struct mg_tcp mg_tcp;
typedef struct mg_udp mg_udp;
typedef struct mg_flow mg_flow;
typedef struct mg_tcp_listener mg_tcp_listener;
typedef struct mg_udp_socket mg_udp_socket;

/* ---- addresses ---- */

enum { MG_IPV4 = 4, MG_IPV6 = 6 };

/* An IP address: family MG_IPV4 (the first 4 bytes, network order) or
 * MG_IPV6 (16 bytes). The zero address of a family is "any". */
typedef struct mg_ipaddr {
    uint8_t family;
    uint8_t bytes[16];
} mg_ipaddr;

/* Longest text of an address with its terminating NUL. */
#define MG_IPADDR_STRLEN 46

/* The IPv4 address `host_order` (0x0a000002 is 10.0.0.2). */
mg_ipaddr mg_ipaddr_v4(uint32_t host_order);
/* The IPv4 address in host order (0 for an IPv6 one). */
uint32_t mg_ipaddr_v4_value(const mg_ipaddr *a);
/* "10.0.0.2" into a; false if it is not a dotted-quad IPv4 address. */
bool mg_ipaddr_parse(const char *text, mg_ipaddr *a);
/* The address as text into buf (MG_IPADDR_STRLEN bytes); returns buf. */
char *mg_ipaddr_format(const mg_ipaddr *a, char buf[MG_IPADDR_STRLEN]);
bool mg_ipaddr_equal(const mg_ipaddr *a, const mg_ipaddr *b);

/* ---- the stack ---- */

mg_tcp *mg_stackv4v6_tcp(mg_stackv4v6 *s);
mg_udp *mg_stackv4v6_udp(mg_stackv4v6 *s);
/* The stack's own addresses, at most `max` of them into `out`; returns
 * how many it has. A socket stack has none of its own: it answers 0 and
 * serves on the host's addresses. */
size_t mg_stackv4v6_addresses(mg_stackv4v6 *s, mg_ipaddr *out, size_t max);

/* ---- TCP ---- */

typedef struct mg_flow_callbacks {
    /* bytes received, or size 0: the peer ended its stream */
    void (*recv)(void *arg, mg_flow *f, const uint8_t *data, size_t size);
    /* room in the send buffer again after a short mg_flow_write */
    void (*writable)(void *arg, mg_flow *f);
    /* the connection is over: MG_OK, MG_ECONNRESET or MG_ETIMEDOUT;
     * `f` is freed when this returns */
    void (*closed)(void *arg, mg_flow *f, int status);
} mg_flow_callbacks;

/* A new connection on a listener. Set its callbacks here or later from
 * the loop (until then received bytes wait, and a connection that ends
 * meanwhile is told to them once set); a flow the callback neither adopts
 * nor closes is still open. */
typedef void mg_tcp_accept_fn(void *arg, mg_tcp_listener *l, mg_flow *f);

/* Listens on `port` of every address of the stack. MG_OK with the
 * listener in *out; MG_EADDRINUSE; MG_ENOMEM; MG_EINVAL (port 0). */
int mg_tcp_listen(mg_tcp *t, uint16_t port, mg_tcp_accept_fn *fn, void *arg, mg_tcp_listener **out);
/* Stops listening and frees `l`; connections already accepted stay. */
void mg_tcp_unlisten(mg_tcp_listener *l);

/* The outcome of a connect: a flow and MG_OK, or NULL and
 * MG_ECONNREFUSED, MG_ETIMEDOUT, MG_ECONNRESET, MG_ENOMEM. */
typedef void mg_tcp_connect_fn(void *arg, mg_flow *f, int status);

/* Opens a connection to addr:port and calls fn from the loop when it is
 * established or has failed. MG_OK (fn will be called), MG_EINVAL,
 * MG_EUNSUPPORTED (an IPv6 address), MG_ENOMEM. */
int mg_tcp_connect(mg_tcp *t, const mg_ipaddr *addr, uint16_t port, mg_tcp_connect_fn *fn,
                   void *arg);

/* Sets the flow's callbacks (any may be NULL) and their argument. */
void mg_flow_set_callbacks(mg_flow *f, const mg_flow_callbacks *cb, void *arg);

/* Copies up to `size` bytes into the send buffer; *taken says how many
 * it took. MG_OK: all of them; MG_EAGAIN: fewer (maybe 0), and
 * `writable` follows when room is back; MG_ENOTCONN: the flow was shut
 * down or is over (nothing taken). */
int mg_flow_write(mg_flow *f, const void *data, size_t size, size_t *taken);
/* Bytes written but not yet acknowledged by the peer (or, on a socket
 * stack, not yet taken by the host). */
size_t mg_flow_unsent(const mg_flow *f);

void mg_flow_pause(mg_flow *f);
void mg_flow_resume(mg_flow *f);

/* Ends the sending side once the buffered bytes are sent. */
void mg_flow_shutdown(mg_flow *f);
/* Shuts down and lets go of the flow: no callback runs for it after. */
void mg_flow_close(mg_flow *f);
/* Resets the connection at once, dropping unsent bytes; no callback
 * runs for it after. */
void mg_flow_abort(mg_flow *f);

/* The two ends of the connection. */
void mg_flow_peer(const mg_flow *f, mg_ipaddr *addr, uint16_t *port);
void mg_flow_local(const mg_flow *f, mg_ipaddr *addr, uint16_t *port);

/* ---- UDP ---- */

/* A datagram received on a bound socket; the bytes are only valid during
 * the call. */
typedef void mg_udp_recv_fn(void *arg, mg_udp_socket *s, const mg_ipaddr *src, uint16_t src_port,
                            const uint8_t *data, size_t size);

/* Binds `port` (0: an ephemeral one) of every address. MG_OK;
 * MG_EADDRINUSE; MG_ENOMEM. */
int mg_udp_bind(mg_udp *u, uint16_t port, mg_udp_recv_fn *fn, void *arg, mg_udp_socket **out);
/* The port a socket is bound to. */
uint16_t mg_udp_port(const mg_udp_socket *s);
/* Sends one datagram (copied). MG_OK; MG_EINVAL (over 65507 bytes);
 * MG_EUNSUPPORTED (IPv6); MG_EAGAIN (no buffer now: dropped, as UDP
 * may); MG_EIO. */
int mg_udp_sendto(mg_udp_socket *s, const mg_ipaddr *dst, uint16_t port, const void *data,
                  size_t size);
void mg_udp_close(mg_udp_socket *s);

#endif
