/*
 * lwip_if.c - the direct stack's lwIP interface and the connects of the
 * layers (mg/tcpip.h): ethif, arp, create_ipv4, ipv4_of_dhcp, direct_udp,
 * direct_tcp, direct_stackv4v6.
 *
 * lwIP cannot be assembled layer by layer, so ethif makes the interface
 * (one lwIP netif on the network device, not yet in lwIP), arp records
 * that ARP runs on it (lwIP's etharp, always there with Ethernet), and
 * the IPv4 layer adds it to lwIP with its address: static, or DHCP's,
 * waited for with mg_loop_run_until before the image's start function
 * runs. The layers above hand out the interface's stack, TCP and UDP.
 *
 * Frames: out, lwIP's pbuf chain is copied into one frame and written to
 * the device; in, each frame the device hands over is copied into a
 * PBUF_POOL chain (so a flood is bounded by the pool) for ethernet_input,
 * which checks the rest.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/loop.h"
#include "mg/mg.h"
#include "mg/network.h"
#include "mg/tcpip.h"
#include "direct.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

/* ---- the interface ---- */

static err_t direct_linkoutput(struct netif *netif, struct pbuf *p)
{
    mg_direct_if *i = netif->state;
    if (p->tot_len > i->mtu + MG_ETHER_HEADER_SIZE)
        return ERR_IF; /* cannot happen: lwIP fragments */
    u16_t n = pbuf_copy_partial(p, i->tx, p->tot_len, 0);
    int rc = i->output(i->output_arg, i->tx, n);
    /* a device that cannot send now is a lost frame, as on a wire: TCP
     * retransmits; ERR_IF would only make lwIP report it to no one */
    return rc == MG_OK ? ERR_OK : ERR_IF;
}

static err_t direct_netif_init(struct netif *netif)
{
    mg_direct_if *i = netif->state;
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = direct_linkoutput;
    netif->mtu = (u16_t)i->mtu;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

mg_direct_if *mg_direct_if_new(const uint8_t mac[6], size_t mtu, mg_direct_output_fn *output,
                               void *arg)
{
    if (mg_direct_lwip_init() != MG_OK) return NULL;
    if (mtu < 576 || mtu > 9000) mtu = mtu < 576 ? 576 : 9000; /* what lwIP and IPv4 can use */
    mg_direct_if *i = calloc(1, sizeof *i);
    if (!i) return NULL;
    i->tx = malloc(mtu + MG_ETHER_HEADER_SIZE);
    if (!i->tx) {
        free(i);
        return NULL;
    }
    i->mtu = mtu;
    i->output = output;
    i->output_arg = arg;
    memcpy(i->netif.hwaddr, mac, 6);
    mg_direct_stack_init(i);
    return i;
}

int mg_direct_if_add(mg_direct_if *i, uint32_t addr, uint8_t prefix, uint32_t gateway)
{
    ip4_addr_t ip, mask, gw;
    ip4_addr_set_u32(&ip, lwip_htonl(addr));
    ip4_addr_set_u32(&mask, lwip_htonl(prefix ? 0xffffffffu << (32 - prefix) : 0));
    ip4_addr_set_u32(&gw, lwip_htonl(gateway));
    /* the MAC must be set before netif_add: the init callback reads it */
    uint8_t mac[6];
    memcpy(mac, i->netif.hwaddr, 6);
    if (!netif_add(&i->netif, &ip, &mask, &gw, i, direct_netif_init, ethernet_input))
        return MG_ENOMEM;
    memcpy(i->netif.hwaddr, mac, 6);
    i->added = true;
    if (!netif_default) netif_set_default(&i->netif);
    netif_set_link_up(&i->netif);
    netif_set_up(&i->netif);
    mg_direct_kick();
    return MG_OK;
}

void mg_direct_if_input(mg_direct_if *i, const uint8_t *frame, size_t size)
{
    /* the device only hands over whole frames of at least a header; more
     * than the MTU is not ours to take (lwIP would reassemble anything) */
    if (!i->added || size < MG_ETHER_HEADER_SIZE || size > i->mtu + MG_ETHER_HEADER_SIZE) return;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)size, PBUF_POOL);
    if (!p) return; /* the pool is full: dropped, as a busy NIC would */
    pbuf_take(p, frame, (u16_t)size);
    if (i->netif.input(p, &i->netif) != ERR_OK) pbuf_free(p);
    mg_direct_kick();
}

void mg_direct_if_use(mg_direct_if *i)
{
    if (i->users++ == 0) {
        mg_direct_timers_hold();
        if (i->set_running) i->set_running(i, true);
    }
}

void mg_direct_if_unuse(mg_direct_if *i)
{
    if (!i->users) mg_platform_abort("mg_direct_if_unuse: no user");
    if (--i->users == 0) {
        if (i->set_running) i->set_running(i, false);
        mg_direct_timers_release();
    }
}

/* ---- the layers ---- */

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
