/*
 * layers.c - the connects of the direct stack's layers (mg/tcpip.h): ethif,
 * arp, create_ipv4, ipv4_of_dhcp, direct_udp, direct_tcp, direct_stackv4v6.
 *
 * lwIP cannot be assembled layer by layer, so ethif makes the interface
 * (one lwIP netif on the network device, lwip_if.c, not yet in lwIP), arp
 * records that ARP runs on it (lwIP's etharp, always there with Ethernet),
 * and the IPv4 layer adds it to lwIP with its address: static, or DHCP's,
 * waited for with mg_loop_run_until before the image's start function
 * runs. The layers above hand out the interface's stack, TCP and UDP.
 *
 * A DHCP lease is a permanent user of its interface (DHCP must renew it
 * for as long as anything may use the address), so an image whose IPv4
 * layer is ipv4_of_dhcp never ends on its own when its last listener and
 * flow are gone, unlike one with a static address: it runs until stopped.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/loop.h"
#include "mg/mg.h"
#include "mg/network.h"
#include "mg/tcpip.h"
#include "direct.h"
#include "lwip/dhcp.h"
#include "lwip/ip4_addr.h"

struct mg_ethernet {
    mg_network *network;
    mg_direct_if *iface;
};
struct mg_arpv4 {
    mg_ethernet *ethernet;
};
struct mg_ipv4 {
    mg_direct_if *iface;
};

static int net_output(void *arg, const uint8_t *frame, size_t size)
{
    return mg_network_write(arg, frame, size);
}

static void net_frame(void *arg, mg_network *n, const uint8_t *frame, size_t size)
{
    (void)n;
    mg_direct_if_input(arg, frame, size);
}

/* Listening on the device keeps the image alive: only while the stack has
 * users, so that an image whose application closed everything ends. */
static void net_set_running(mg_direct_if *i, bool running)
{
    mg_network *n = i->output_arg;
    if (running == i->running) return;
    i->running = running;
    if (running) {
        if (mg_network_listen(n, net_frame, i) != MG_OK)
            mg_printf("tcpip: cannot listen on %s\n", mg_network_name(n));
    } else {
        mg_network_stop(n);
    }
}

int mg_ethif_connect(mg_ethernet **out, mg_network *network)
{
    if (!network) return MG_EINVAL;
    mg_ethernet *e = calloc(1, sizeof *e);
    uint8_t mac[6];
    mg_network_mac(network, mac);
    mg_direct_if *i =
        e ? mg_direct_if_new(mac, mg_network_mtu(network), net_output, network) : NULL;
    if (!i) {
        free(e);
        mg_printf("ethif(%s): out of memory\n", mg_network_name(network));
        return MG_ENOMEM;
    }
    i->set_running = net_set_running;
    e->network = network;
    e->iface = i;
    *out = e;
    return MG_OK;
}

int mg_arp_connect(mg_arpv4 **out, mg_ethernet *ethernet)
{
    if (!ethernet) return MG_EINVAL;
    mg_arpv4 *a = calloc(1, sizeof *a);
    if (!a) {
        mg_printf("arp: out of memory\n");
        return MG_ENOMEM;
    }
    a->ethernet = ethernet;
    *out = a;
    return MG_OK;
}

static void print_up(mg_direct_if *i, const char *how)
{
    char mac[18];
    mg_network_format_mac(i->netif.hwaddr, mac);
    uint32_t addr = lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&i->netif)));
    uint32_t mask = lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&i->netif)));
    int prefix = 0;
    while (prefix < 32 && (mask << prefix & 0x80000000u)) prefix++;
    mg_printf("tcpip: %s up at %u.%u.%u.%u/%d (mac %s, mtu %u%s)\n", mg_network_name(i->output_arg),
              addr >> 24, addr >> 16 & 255, addr >> 8 & 255, addr & 255, prefix, mac,
              (unsigned)i->mtu, how);
}

static mg_ipv4 *ipv4_layer(mg_direct_if *i)
{
    mg_ipv4 *ip = calloc(1, sizeof *ip);
    if (ip) ip->iface = i;
    return ip;
}

int mg_create_ipv4_connect(mg_ipv4 **out, mg_ethernet *ethernet, mg_arpv4 *arp, mg_ipv4_prefix cidr,
                           uint32_t gateway)
{
    if (!ethernet || !arp || arp->ethernet != ethernet) {
        mg_printf("create_ipv4: the ARP layer is not on this Ethernet layer\n");
        return MG_EINVAL;
    }
    mg_direct_if *i = ethernet->iface;
    if (i->added) {
        mg_printf("create_ipv4: %s already has an IPv4 layer\n", mg_network_name(i->output_arg));
        return MG_EEXIST;
    }
    if (cidr.length > 32 || cidr.address == 0) {
        mg_printf("create_ipv4: %u.%u.%u.%u/%u is not an address for an interface\n",
                  cidr.address >> 24, cidr.address >> 16 & 255, cidr.address >> 8 & 255,
                  cidr.address & 255, cidr.length);
        return MG_EINVAL;
    }
    mg_ipv4 *ip = ipv4_layer(i);
    if (!ip || mg_direct_if_add(i, cidr.address, cidr.length, gateway) != MG_OK) {
        free(ip);
        mg_printf("create_ipv4: out of memory\n");
        return MG_ENOMEM;
    }
    print_up(i, "");
    *out = ip;
    return MG_OK;
}

static bool dhcp_bound(void *arg)
{
    mg_direct_if *i = arg;
    return dhcp_supplied_address(&i->netif) != 0;
}

int mg_ipv4_of_dhcp_connect(mg_ipv4 **out, mg_network *network, mg_ethernet *ethernet,
                            mg_arpv4 *arp, int64_t timeout)
{
    if (!ethernet || !arp || arp->ethernet != ethernet || ethernet->network != network) {
        mg_printf("ipv4_of_dhcp: the layers are not on one network interface\n");
        return MG_EINVAL;
    }
    mg_direct_if *i = ethernet->iface;
    if (i->added) {
        mg_printf("ipv4_of_dhcp: %s already has an IPv4 layer\n", mg_network_name(network));
        return MG_EEXIST;
    }
    if (timeout < 1 || timeout > 3600) {
        mg_printf("ipv4_of_dhcp: a timeout of %lld s is not between 1 and 3600\n",
                  (long long)timeout);
        return MG_EINVAL;
    }
    mg_ipv4 *ip = ipv4_layer(i);
    if (!ip || mg_direct_if_add(i, 0, 0, 0) != MG_OK) {
        free(ip);
        mg_printf("ipv4_of_dhcp: out of memory\n");
        return MG_ENOMEM;
    }
    /* the lease is a user: DHCP renews it for as long as the stack runs */
    mg_direct_if_use(i);
    if (dhcp_start(&i->netif) != ERR_OK) {
        mg_direct_if_unuse(i);
        free(ip);
        mg_printf("ipv4_of_dhcp: out of memory\n");
        return MG_ENOMEM;
    }
    mg_direct_kick();
    uint64_t deadline = mg_loop_now() + (uint64_t)timeout * 1000000000u;
    int rc = mg_loop_run_until(dhcp_bound, i, deadline);
    if (rc != MG_OK) {
        dhcp_stop(&i->netif);
        mg_direct_if_unuse(i);
        free(ip);
        if (rc == MG_ETIMEDOUT)
            mg_printf("ipv4_of_dhcp: no DHCP lease on %s within %lld s\n", mg_network_name(network),
                      (long long)timeout);
        return rc;
    }
    struct dhcp *d = netif_dhcp_data(&i->netif);
    uint32_t server = lwip_ntohl(ip4_addr_get_u32(&d->server_ip_addr));
    uint32_t a = lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&i->netif)));
    uint32_t mask = lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&i->netif)));
    int prefix = 0;
    while (prefix < 32 && (mask << prefix & 0x80000000u)) prefix++;
    mg_printf("dhcp: lease %u.%u.%u.%u/%d from %u.%u.%u.%u\n", a >> 24, a >> 16 & 255, a >> 8 & 255,
              a & 255, prefix, server >> 24, server >> 16 & 255, server >> 8 & 255, server & 255);
    print_up(i, ", by DHCP");
    *out = ip;
    return MG_OK;
}

int mg_direct_udp_connect(mg_udp **out, mg_ipv4 *ipv4)
{
    if (!ipv4) return MG_EINVAL;
    *out = &ipv4->iface->udp;
    return MG_OK;
}

int mg_direct_tcp_connect(mg_tcp **out, mg_ipv4 *ipv4)
{
    if (!ipv4) return MG_EINVAL;
    *out = &ipv4->iface->tcp;
    return MG_OK;
}

int mg_direct_stackv4v6_connect(mg_stackv4v6 **out, mg_network *network, mg_ethernet *ethernet,
                                mg_arpv4 *arp, mg_ipv4 *ipv4)
{
    if (!ethernet || !arp || !ipv4 || ethernet->network != network || arp->ethernet != ethernet ||
        ipv4->iface != ethernet->iface) {
        mg_printf("direct_stackv4v6: the layers are not on one network interface\n");
        return MG_EINVAL;
    }
    *out = &ipv4->iface->stack;
    return MG_OK;
}
