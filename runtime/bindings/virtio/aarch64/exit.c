/*
 * exit.c - the end of a virtio image on aarch64: ARM semihosting's
 * SYS_EXIT_EXTENDED (`hlt #0xf000`; QEMU's -semihosting-config
 * enable=on,target=native), whose subcode QEMU exits with. The subcode is
 * 2 * mg_vm_exit_value(status) + 1 (abi/vm_exit.h), the status x86_64's
 * isa-debug-exit gives, so that `mgd run` reads every arch the same way.
 * (mg_platform_exit, which flushes the network first, is the common
 * ../exit.c.)
 */
#include <stdint.h>

#include "abi/vm_exit.h"
#include "aarch64.h"

#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

_Noreturn void mg_virtio_debug_exit(int status)
{
    static volatile uint64_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = 2 * mg_vm_exit_value(status) + 1;
    register uint64_t x0 __asm__("x0") = SYS_EXIT_EXTENDED;
    register uint64_t x1 __asm__("x1") = (uintptr_t)block;
    __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    for (;;) __asm__ volatile("wfi"); /* not reached: QEMU has exited */
}
