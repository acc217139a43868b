/*
 * unix.h - what the unix platform's files share: the handle space, which
 * block devices (unix_block.c) and network devices (unix_net.c) draw from
 * through mg_unix_handle_take,
 * and the descriptors mg_platform_yield polls. Kept as data in
 * unix_platform.c so that an image without network devices does not link
 * unix_net.c just because yield must know about them.
 */
#ifndef MG_UNIX_H
#define MG_UNIX_H

#include "mg/platform.h"

/* For each handle, the descriptor yield polls for input, plus one; 0 for
 * handles that are not polled (block devices, free handles). */
extern int mg_unix_poll_fds[MG_PLATFORM_MAX_HANDLES];

/* Takes the lowest free handle into *h; MG_ENOSPC when all are taken. */
int mg_unix_handle_take(mg_handle *h);

#endif
