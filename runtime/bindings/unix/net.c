/*
 * net.c - the unix binding's network devices: host tap interfaces.
 *
 * A device NAME is the tap interface named by the environment variable
 * MG_NET_<name> when set (`mgd run --net NAME=TAP` sets it), else the
 * interface NAME. The interface must exist (`ip tuntap add TAP mode tap`):
 * opening /dev/net/tun with a name that does not exist would make a new
 * tap that nothing is connected to, which is never what was meant. The
 * descriptor is non-blocking and registered with yield (unix.h, handles.c).
 *
 * The image's MAC address is MG_MAC_<name> when set, else a random
 * locally administered unicast address: the tap's own address belongs to
 * the host side. The MTU is the interface's. At most MG_PLATFORM_MAX_NETS
 * devices are acquired (MG_ENOSPC after that), the limit of every target.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "abi/platform.h"
#include "unix.h"

static struct mg_unix_net {
    int fd;
    size_t mtu;
} mg_unix_nets[MG_PLATFORM_MAX_HANDLES];

/* The value of the variable PREFIX followed by `name`, or NULL. */
static const char *mg_unix_net_env(const char *prefix, const char *name)
{
    char var[256];
    int n = snprintf(var, sizeof var, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof var) return NULL;
    const char *v = getenv(var);
    return v && *v ? v : NULL;
}

/* The value of a hex digit, or -1. */
static int mg_unix_hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Exactly six pairs of hex digits joined by ':' (as mg-spt's --net-mac),
 * and an address an interface can have: unicast, not all zeros. */
static bool mg_unix_parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        int hi = mg_unix_hex(s[0]), lo = hi < 0 ? -1 : mg_unix_hex(s[1]);
        if (lo < 0 || s[2] != (i < 5 ? ':' : '\0')) return false;
        mac[i] = (uint8_t)(hi << 4 | lo);
        s += 3;
    }
    static const uint8_t zero[6];
    return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

int mg_platform_net_acquire(const char *name, mg_handle *handle, struct mg_net_info *info)
{
    if (!name || !*name) return MG_EINVAL;
    const char *ifname = mg_unix_net_env("MG_NET_", name);
    if (!ifname) ifname = name;
    if (strlen(ifname) >= IFNAMSIZ) return MG_EINVAL;
    if (if_nametoindex(ifname) == 0) return MG_ENOENT;
    uint8_t mac[6];
    const char *mac_text = mg_unix_net_env("MG_MAC_", name);
    if (mac_text) {
        if (!mg_unix_parse_mac(mac_text, mac)) return MG_EINVAL;
    } else {
        if (mg_platform_entropy(mac, sizeof mac) != MG_OK) return MG_EIO;
        mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
    }

    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? MG_EUNSUPPORTED : errno == EACCES ? MG_EACCES : MG_EIO;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        /* EBUSY: another process has it; EINVAL: a tun, not a tap */
        int e = errno;
        close(fd);
        return e == EPERM || e == EACCES ? MG_EACCES : e == EBUSY ? MG_EEXIST : MG_EINVAL;
    }
    /* a device is acquired once (a tap has one reader): each counts, and
     * the limit comes after the tap's own refusal, so that acquiring one
     * already taken is MG_EEXIST whatever the count */
    int n_acquired = 0;
    for (int h = 0; h < MG_PLATFORM_MAX_HANDLES; h++) n_acquired += mg_unix_nets[h].mtu != 0;
    if (n_acquired >= MG_PLATFORM_MAX_NETS) {
        close(fd);
        return MG_ENOSPC;
    }
    size_t mtu = 1500;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock >= 0) {
        memset(&ifr, 0, sizeof ifr);
        memcpy(ifr.ifr_name, ifname, strlen(ifname));
        if (ioctl(sock, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 68) mtu = (size_t)ifr.ifr_mtu;
        close(sock);
    }
    mg_handle h;
    if (mg_unix_handle_take(&h) != MG_OK) {
        close(fd);
        return MG_ENOSPC;
    }
    mg_unix_nets[h] = (struct mg_unix_net){.fd = fd, .mtu = mtu};
    mg_unix_poll_fds[h] = fd + 1;
    *handle = h;
    memcpy(info->mac, mac, sizeof mac);
    info->mtu = mtu;
    return MG_OK;
}

static struct mg_unix_net *mg_unix_net_of(mg_handle h)
{
    /* by its own table, not by mg_unix_poll_fds: a descriptor watched
     * through abi/unix.h is polled too, but it is not a tap */
    if (h >= MG_PLATFORM_MAX_HANDLES || mg_unix_nets[h].mtu == 0) return NULL;
    return &mg_unix_nets[h];
}

int mg_platform_net_write(mg_handle handle, const void *buf, size_t size)
{
    struct mg_unix_net *n = mg_unix_net_of(handle);
    if (!n || !buf || size < MG_NET_HEADER_SIZE || size > n->mtu + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    for (;;) {
        ssize_t w = write(n->fd, buf, size);
        if (w < 0 && errno == EINTR) continue;
        /* a tap takes a frame whole or not at all; a full queue drops it,
         * as a busy wire would */
        return w == (ssize_t)size ? MG_OK : MG_EIO;
    }
}

int mg_platform_net_read(mg_handle handle, void *buf, size_t size, size_t *read_size)
{
    struct mg_unix_net *n = mg_unix_net_of(handle);
    if (!n || !buf || size < n->mtu + MG_NET_HEADER_SIZE) return MG_EINVAL;
    /* one byte more than the buffer: a tap cuts a frame that does not
     * fit, and only the extra byte tells (the host's MTU grew, a VLAN
     * tag); such a frame is dropped, not passed on cut */
    uint8_t extra;
    struct iovec iov[2] = {{buf, size}, {&extra, 1}};
    for (;;) {
        ssize_t r = readv(n->fd, iov, 2);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? MG_EAGAIN : MG_EIO;
        if (r == 0) return MG_EIO; /* a tap never gives an empty frame */
        if ((size_t)r > size) continue;
        *read_size = (size_t)r;
        return MG_OK;
    }
}
