/*
 * exit.c - the end of a virtio image, on every arch: the network's last
 * frames out, then the arch's mg_virtio_debug_exit, which ends the
 * machine with the value abi/vm_exit.h gives for the status, so that
 * `mgd run` tells the image's end from QEMU's own failures.
 */
#include "virtio.h"

_Noreturn void mg_platform_exit(int status)
{
    /* the last frames out first (a reply sent just before exiting), for
     * 100 ms at most: a device that stopped taking frames must not keep
     * the image from ending */
    mg_virtio_net_flush(100000000ull);
    mg_virtio_debug_exit(status);
}
