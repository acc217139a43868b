/*
 * exit.c - the end of a virtio image, through QEMU's isa-debug-exit
 * device (port 0xf4), with the value abi/vm_exit.h gives for the status,
 * so that `mgd run` tells the image's end from QEMU's own failures.
 */
#include <stdint.h>

#include "abi/vm_exit.h"
#include "virtio.h"

_Noreturn void mg_platform_exit(int status)
{
    /* the last frames out first (a reply sent just before exiting), for
     * 100 ms at most: a device that stopped taking frames must not keep
     * the image from ending */
    mg_virtio_net_flush(100000000ull);
    mg_virtio_debug_exit(status);
}

_Noreturn void mg_virtio_debug_exit(int status)
{
    outl(0xf4, mg_vm_exit_value(status));  /* QEMU exits with 2 * value + 1 */
    for (;;) __asm__ volatile("cli; hlt"); /* no such device: stop here */
}
