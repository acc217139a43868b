/*
 * net.c - the spt binding's network devices: the taps the tender opened
 * non-blocking (--net:NAME=TAP); a frame is one read or one write on its
 * descriptor. Network device i of the boot structure is handle
 * MG_SPT_MAX_BLOCKS + i.
 */
#include <string.h>

#include "spt.h"

_Static_assert(MG_SPT_MAX_NETS == MG_PLATFORM_MAX_NETS,
               "the boot structure has room for the network devices an image may declare");

/* The network device behind a handle, if the handle is one that was
 * acquired; else NULL. */
static const struct mg_spt_net *net_of(mg_handle h)
{
    if (h < MG_SPT_MAX_BLOCKS || h - MG_SPT_MAX_BLOCKS >= mg_spt_boot_info->n_nets) return NULL;
    uint32_t i = (uint32_t)(h - MG_SPT_MAX_BLOCKS);
    return mg_spt_nets_acquired & (1u << i) ? &mg_spt_boot_info->nets[i] : NULL;
}

int mg_platform_net_acquire(const char *name, mg_handle *handle, struct mg_net_info *info)
{
    for (uint32_t i = 0; i < mg_spt_boot_info->n_nets; i++) {
        const struct mg_spt_net *net = &mg_spt_boot_info->nets[i];
        if (strcmp(net->name, name) != 0) continue;
        /* once: two readers of one tap would take each other's frames */
        if (mg_spt_nets_acquired & (1u << i)) return MG_EEXIST;
        mg_spt_nets_acquired |= 1u << i;
        *handle = MG_SPT_MAX_BLOCKS + i;
        memcpy(info->mac, net->mac, sizeof info->mac);
        info->mtu = net->mtu;
        return MG_OK;
    }
    return MG_ENOENT;
}

int mg_platform_net_write(mg_handle h, const void *buf, size_t size)
{
    const struct mg_spt_net *net = net_of(h);
    if (!net || size < MG_NET_HEADER_SIZE || size > (size_t)net->mtu + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    for (;;) {
        /* a tap takes a frame whole or not at all */
        long n = mg_spt_sys3(SYS_WRITE, net->fd, (long)buf, (long)size);
        if (n == -EINTR) continue;
        return n == (long)size ? MG_OK : MG_EIO;
    }
}

int mg_platform_net_read(mg_handle h, void *buf, size_t size, size_t *read_size)
{
    const struct mg_spt_net *net = net_of(h);
    if (!net || size < (size_t)net->mtu + MG_NET_HEADER_SIZE) return MG_EINVAL;
    /* one byte more than the buffer: a tap cuts a frame that does not
     * fit, and only the extra byte tells (the host's MTU grew, a VLAN
     * tag); such a frame is dropped, not passed on cut */
    uint8_t extra;
    struct kernel_iovec {
        void *base;
        size_t len;
    } iov[2] = {{buf, size}, {&extra, 1}};
    for (;;) {
        long n = mg_spt_sys3(SYS_READV, net->fd, (long)iov, 2);
        if (n == -EINTR) continue;
        if (n == -EAGAIN) return MG_EAGAIN;
        /* 0 is no frame at all (a tap never gives an empty one): an error
         * rather than a success a listener would ask again for, forever */
        if (n <= 0) return MG_EIO;
        if ((size_t)n > size) continue;
        *read_size = (size_t)n;
        return MG_OK;
    }
}
