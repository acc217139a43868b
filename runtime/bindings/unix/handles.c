/*
 * handles.c - the unix binding's handle space (unix.h): block devices
 * (block.c) and network devices (net.c) take their handles here, and
 * network devices leave here the descriptor yield polls. Kept apart from
 * both so that an image without network devices does not link net.c just
 * because yield must know about them.
 */
#include "abi/platform.h"
#include "unix.h"

/* Bit h set: handle h is taken (by a block or a network device). */
static mg_handle_set mg_unix_handles_taken;
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
