/*
 * lwip_if.c - the direct stack's lwIP interface: one lwIP netif that sends
 * through a function (a network device's write, or a test's link) and
 * takes received frames from its caller. The layers (layers.c) put it on a
 * network device.
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
#include "direct.h"
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
