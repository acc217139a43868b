/*
 * exit.c - the end of a virtio image on riscv64, through the `virt`
 * board's sifive_test device at 0x100000: writing (code << 16) | 0x3333
 * makes QEMU exit with `code`. The code is abi/vm_exit.h's 2 * value + 1,
 * what isa-debug-exit makes of `value` on x86_64, so that `mgd run`
 * decodes every arch's exit the same way.
 */
#include <stdint.h>

#include "abi/vm_exit.h"
#include "riscv.h"

#define TEST_FAIL 0x3333 /* QEMU exits with the code in the upper 16 bits */

_Noreturn void mg_virtio_debug_exit(int status)
{
    uint32_t code = 2 * mg_vm_exit_value(status) + 1;
    mmio_write32(RV_TEST, code << 16 | TEST_FAIL);
    for (;;) __asm__ volatile("wfi"); /* no such device: stop here */
}
