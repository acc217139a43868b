/*
 * net.c - the virtio binding's network devices: virtio-net
 * (virtio_net.c), the n-th of the note's network devices (note.c) being
 * the n-th on the bus, with handle 32 + n (NET_HANDLE_BASE), so that
 * block and network handles share one space below
 * MG_PLATFORM_MAX_HANDLES and yield's ready set can name any of them.
 */
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define NET_HANDLE_BASE 32
_Static_assert(MG_VIRTIO_MAX_DEVICES <= NET_HANDLE_BASE,
               "block handles (0 to the number of disks) stay below the network handles");
_Static_assert(NET_HANDLE_BASE + MG_VIRTIO_MAX_DEVICES <= MG_PLATFORM_MAX_HANDLES,
               "every network handle fits in an mg_handle_set");
static uint32_t nics_acquired; /* bit i: the i-th device was acquired */

int mg_platform_net_acquire(const char *name, mg_handle *handle, struct mg_net_info *info)
{
    int index = mg_virtio_note_index("net", name);
    if (index < 0 || index >= mg_virtio_net_count())
        return MG_ENOENT;                           /* not declared, or not attached */
    if (mg_virtio_net_failed(index)) return MG_EIO; /* attached, but it would not start */
    /* once: two readers of one device would take each other's frames */
    if (nics_acquired & (1u << index)) return MG_EEXIST;
    *handle = (mg_handle)(NET_HANDLE_BASE + index);
    mg_virtio_net_mac(index, info->mac);
    info->mtu = mg_virtio_net_mtu(index); /* the host's, when QEMU says it */
    nics_acquired |= 1u << index;
    return MG_OK;
}

/* The device behind a network handle, or -1 if it is none. */
static int nic_of(mg_handle h)
{
    if (h < NET_HANDLE_BASE || h >= NET_HANDLE_BASE + (mg_handle)mg_virtio_net_count()) return -1;
    int i = (int)(h - NET_HANDLE_BASE);
    return nics_acquired & (1u << i) ? i : -1;
}

mg_handle_set mg_virtio_nets_ready(void)
{
    mg_handle_set ready = 0;
    for (int i = 0; i < mg_virtio_net_count(); i++)
        if (nics_acquired & (1u << i) && mg_virtio_net_pending(i))
            ready |= (mg_handle_set)1 << (NET_HANDLE_BASE + i);
    return ready;
}

int mg_platform_net_write(mg_handle h, const void *buf, size_t size)
{
    int i = nic_of(h);
    if (i < 0 || !buf || size < MG_NET_HEADER_SIZE ||
        size > mg_virtio_net_mtu(i) + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    return mg_virtio_net_write(i, buf, size);
}

int mg_platform_net_read(mg_handle h, void *buf, size_t size, size_t *read_size)
{
    int i = nic_of(h);
    if (i < 0 || !buf || !read_size || size < mg_virtio_net_mtu(i) + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    return mg_virtio_net_read(i, buf, read_size);
}
