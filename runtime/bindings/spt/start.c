/*
 * start.c - the spt binding's entry: spt images are Linux processes run
 * by the mg-spt tender under a seccomp filter, which calls
 * _start(boot) (abi/spt.h) on its own stack. _start checks the boot
 * structure, keeps it for the other files (spt.h), sets the stack
 * protector's guard and the heap, and runs main.
 *
 * Run directly by the host instead, _start finds no boot structure (the
 * kernel starts a process with %rdi = 0) and refuses with a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "spt.h"

const struct mg_spt_boot *mg_spt_boot_info;
uint32_t mg_spt_nets_acquired;

int main(int argc, char **argv);
extern uintptr_t __stack_chk_guard;
_Noreturn void _start(const struct mg_spt_boot *b);

__attribute__((no_stack_protector)) _Noreturn void _start(const struct mg_spt_boot *b)
{
    if (!b || b->magic != MG_SPT_MAGIC || b->abi != MG_SPT_ABI) {
        static const char refuse[] =
            "this is an spt unikernel: it runs under its tender, mg-spt (mgd run IMAGE)\n";
        mg_spt_sys3(SYS_WRITE, 2, (long)refuse, sizeof refuse - 1);
        mg_platform_exit(126);
    }
    mg_spt_boot_info = b;
    uintptr_t guard = 0;
    if (mg_platform_entropy(&guard, sizeof guard) != MG_OK || !guard)
        guard = (uintptr_t)0x595e9fbd94fda766ull ^ (uintptr_t)mg_platform_clock_monotonic();
    __stack_chk_guard = guard & ~(uintptr_t)0xff; /* a NUL byte stops string overruns */
    mg_libc_heap_init((void *)(uintptr_t)b->heap_start, (size_t)b->heap_size);
    mg_platform_exit(main(b->argc, b->argv));
}
