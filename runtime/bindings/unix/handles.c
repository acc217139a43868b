/*
 * handles.c - the unix binding's handle space (unix.h): block devices
 * (block.c) and network devices (net.c) take their handles here, and
 * network devices leave here the descriptor yield polls. Kept apart from
 * both so that an image without network devices does not link net.c just
 * because yield must know about them.
 *
 * It also implements abi/unix.h: a device library's own descriptor (the
 * socket stack's epoll descriptor) gets a handle from the same space, so
 * yield polls it with the taps and nothing else in the binding changes.
 */
#include "abi/platform.h"
#include "abi/unix.h"
#include "unix.h"

/* Bit h set: handle h is taken (by a block or a network device). */
static mg_handle_set mg_unix_handles_taken;
/* Bit h set: handle h is a descriptor of mg_unix_watch_fd (which alone
 * may be given back: devices keep theirs for the image's life). */
static mg_handle_set mg_unix_handles_watched;
int mg_unix_poll_fds[MG_PLATFORM_MAX_HANDLES];

int mg_unix_handle_take(mg_handle *h)
{
    for (mg_handle i = 0; i < MG_PLATFORM_MAX_HANDLES; i++)
        if (!(mg_unix_handles_taken & ((mg_handle_set)1 << i))) {
            mg_unix_handles_taken |= (mg_handle_set)1 << i;
            *h = i;
            return MG_OK;
        }
    return MG_ENOSPC;
}

int mg_unix_watch_fd(int fd, mg_handle *h)
{
    if (fd < 0 || !h) return MG_EINVAL;
    int r = mg_unix_handle_take(h);
    if (r != MG_OK) return r;
    mg_unix_handles_watched |= (mg_handle_set)1 << *h;
    mg_unix_poll_fds[*h] = fd + 1;
    return MG_OK;
}

void mg_unix_unwatch_fd(mg_handle h)
{
    if (h >= MG_PLATFORM_MAX_HANDLES) return;
    mg_handle_set bit = (mg_handle_set)1 << h;
    if (!(mg_unix_handles_watched & bit)) return;
    mg_unix_handles_watched &= ~bit;
    mg_unix_handles_taken &= ~bit;
    mg_unix_poll_fds[h] = 0;
}
