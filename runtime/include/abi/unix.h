/*
 * abi/unix.h - a unix-only extension of the platform interface: a device
 * library that owns a host descriptor (the socket stack's epoll
 * descriptor, runtime/tcpip/socket_stack.c) hands it to the unix binding
 * and gets a platform handle for it, which mg_platform_yield then polls
 * for input like a tap's. The library watches that handle with
 * mg_loop_watch as any other, so the loop stays the one place that waits.
 *
 * Only the unix binding implements this (runtime/bindings/unix/handles.c);
 * abi/platform.h, which spt and virtio implement, is unchanged. Code that
 * includes this header is unix-only by its catalog entry ("targets":
 * ["unix"]).
 */
#ifndef MG_ABI_UNIX_H
#define MG_ABI_UNIX_H

#include "abi/platform.h"

/* Takes a free handle for the host descriptor `fd` into *h: from now on
 * mg_platform_yield reports h ready while fd is readable (or in error).
 * The caller keeps owning fd. MG_OK; MG_EINVAL (a negative fd);
 * MG_ENOSPC (every handle is taken: block, network devices and watched
 * descriptors share MG_PLATFORM_MAX_HANDLES). */
int mg_unix_watch_fd(int fd, mg_handle *h);

/* Gives handle h back (the descriptor is not closed). A handle that is
 * not a watched descriptor is left alone. */
void mg_unix_unwatch_fd(mg_handle h);

#endif
