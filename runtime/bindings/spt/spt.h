/*
 * spt.h - what the spt binding's files share (private to
 * runtime/bindings/spt/): raw Linux system calls, the only way out of an
 * spt image (there is no C library here but runtime/libc, and the
 * tender's seccomp filter lets through only the calls these files make),
 * and what the tender handed over at boot (abi/spt.h).
 */
#ifndef MG_BINDINGS_SPT_H
#define MG_BINDINGS_SPT_H

#include <stdint.h>

#include "abi/platform.h"
#include "abi/spt.h"

/* ---- system calls (x86-64 Linux) ---- */

#define SYS_READV 19
#define SYS_WRITE 1
#define SYS_PREAD64 17
#define SYS_PWRITE64 18
#define SYS_CLOCK_GETTIME 228
#define SYS_EXIT_GROUP 231
#define SYS_PPOLL 271
#define SYS_GETRANDOM 318

static inline long mg_spt_sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static inline long mg_spt_sys4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

#define EINTR 4
#define EAGAIN 11

#define POLLIN 0x001

_Static_assert(MG_SPT_MAX_BLOCKS + MG_SPT_MAX_NETS <= MG_PLATFORM_MAX_HANDLES,
               "every block and network handle must fit in an mg_handle_set");

struct kernel_timespec {
    long tv_sec, tv_nsec;
};

struct kernel_pollfd {
    int fd;
    short events, revents;
};

/* ---- the boot structure (start.c) ---- */

/* What the tender handed over, set by _start before main. */
extern const struct mg_spt_boot *mg_spt_boot_info;

/* Bit i set: network device i (mg_spt_boot_info->nets[i]) is acquired
 * (net.c); yield polls its tap when asked to. */
extern uint32_t mg_spt_nets_acquired;
_Static_assert(MG_SPT_MAX_NETS <= 32, "mg_spt_nets_acquired has a bit per network device");

#endif
