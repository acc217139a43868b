/*
 * unix.h - what the unix binding's files share (private to
 * runtime/bindings/unix/): the handle space (handles.c), which block
 * devices (block.c) and network devices (net.c) draw from through
 * mg_unix_handle_take, and the descriptors mg_platform_yield (yield.c)
 * polls.
 *
 * The unix binding has no start.c: the host's C library starts the
 * process and calls main with its arguments, and malloc is the host's.
 */
#ifndef MG_BINDINGS_UNIX_H
#define MG_BINDINGS_UNIX_H

#include "abi/platform.h"

/* For each handle, the descriptor yield polls for input, plus one; 0 for
 * handles that are not polled (block devices, free handles). */
extern int mg_unix_poll_fds[MG_PLATFORM_MAX_HANDLES];

/* Takes the lowest free handle into *h; MG_ENOSPC when all are taken. */
int mg_unix_handle_take(mg_handle *h);

#endif
