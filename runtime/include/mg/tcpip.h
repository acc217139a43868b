/*
 * tcpip.h - the network rows of the catalog (runtime/tcpip/catalog.json):
 * the layers of MirageOS's direct stack, the stacks, and their connect
 * functions. Applications use the stack through mg/stack.h, which this
 * header includes.
 *
 * The direct stack is lwIP (Debian's lwip 2.1.3, NO_SYS mode, raw API),
 * which cannot be assembled layer by layer: so the layers a config writes
 * (ethif, arp, create_ipv4 or ipv4_of_dhcp, direct_udp, direct_tcp,
 * direct_stackv4v6) are small handles that record how the user wired
 * them, and the IPv4 layer is where one lwIP interface comes to life on
 * the network device under it. direct_udp, direct_tcp and
 * direct_stackv4v6 over the same IPv4 layer all use that one interface.
 * `mgd describe` and the dashboard show the layers as the user wrote them.
 *
 * socket_stackv4v6 (unix only) is TCP and UDP over the host's sockets:
 * no layers, no address of its own.
 *
 * Connect functions follow docs/generated-code.md; a failing one prints
 * one line saying why and returns an MG_E* status.
 */
#ifndef MG_TCPIP_H
#define MG_TCPIP_H

#include <stdint.h>

#include "mg/mg.h"
#include "mg/network.h"
#include "mg/stack.h"

typedef struct mg_ethernet mg_ethernet;
typedef struct mg_arpv4 mg_arpv4;
typedef struct mg_ipv4 mg_ipv4;

/* ethif(network): Ethernet on the interface. */
int mg_ethif_connect(mg_ethernet **out, mg_network *network);
/* arp(ethernet): ARP over the Ethernet layer. */
int mg_arp_connect(mg_arpv4 **out, mg_ethernet *ethernet);
/* create_ipv4(ethernet, arp, cidr, gateway): a static address; gateway 0
 * is none. */
int mg_create_ipv4_connect(mg_ipv4 **out, mg_ethernet *ethernet, mg_arpv4 *arp, mg_ipv4_prefix cidr,
                           uint32_t gateway);
/* ipv4_of_dhcp(network, ethernet, arp, timeout): returns once a lease is
 * held (the loop runs meanwhile), or MG_ETIMEDOUT after `timeout`
 * seconds. */
int mg_ipv4_of_dhcp_connect(mg_ipv4 **out, mg_network *network, mg_ethernet *ethernet,
                            mg_arpv4 *arp, int64_t timeout);
/* direct_udp(ipv4), direct_tcp(ipv4). */
int mg_direct_udp_connect(mg_udp **out, mg_ipv4 *ipv4);
int mg_direct_tcp_connect(mg_tcp **out, mg_ipv4 *ipv4);
/* direct_stackv4v6(network, ethernet, arp, ipv4). */
int mg_direct_stackv4v6_connect(mg_stackv4v6 **out, mg_network *network, mg_ethernet *ethernet,
                                mg_arpv4 *arp, mg_ipv4 *ipv4);
/* socket_stackv4v6(): the host's sockets (unix only). */
int mg_socket_stackv4v6_connect(mg_stackv4v6 **out);

#endif
