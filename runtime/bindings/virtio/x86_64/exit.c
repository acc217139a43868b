/*
 * exit.c - the x86_64 end of a virtio image: QEMU's isa-debug-exit device
 * (port 0xf4, which targets/virtio.json's x86_64 VM command attaches),
 * written with the value abi/vm_exit.h gives for the status; QEMU then
 * exits with 2 * value + 1, which mgd run decodes.
 */
#include <stdint.h>

#include "abi/vm_exit.h"
#include "x86.h"

_Noreturn void mg_virtio_debug_exit(int status)
{
    outl(0xf4, mg_vm_exit_value(status));
    for (;;) __asm__ volatile("cli; hlt"); /* no such device: stop here */
}
