/*
 * spt_platform.c - mg/platform.h for spt images: Linux processes run by
 * the mg-spt tender under a seccomp filter, talking to the host only
 * through the few system calls the filter lets through (raw `syscall`
 * instructions: there is no C library here but runtime/libc).
 *
 * Entry: the tender calls _start(boot) (spt_abi.h). Run directly by the
 * host instead, _start finds no boot structure (the kernel starts a
 * process with %rdi = 0) and refuses with a message.
 *
 * Handles: block i is handle i, network device i is handle
 * MG_SPT_MAX_BLOCKS + i (spt_abi.h). A network device is a tap the tender
 * opened non-blocking: a frame is one read or one write on its descriptor,
 * and mg_platform_yield waits in ppoll on the taps acquired so far, the
 * only descriptors the filter lets it pass (at most as many as there are
 * taps, no signal mask).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg/platform.h"
#include "spt_abi.h"

/* ---- system calls (x86-64 Linux) -------------------------------------------------- */

#define SYS_READV 19
#define SYS_WRITE 1
#define SYS_PREAD64 17
#define SYS_PWRITE64 18
#define SYS_CLOCK_GETTIME 228
#define SYS_EXIT_GROUP 231
#define SYS_PPOLL 271
#define SYS_GETRANDOM 318

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static long sys4(long n, long a, long b, long c, long d)
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

static const struct mg_spt_boot *boot;

/* Bit i set: network device i (boot->nets[i]) is acquired; yield polls
 * its tap when asked to. */
static uint32_t nets_acquired;
_Static_assert(MG_SPT_MAX_NETS <= 32, "nets_acquired has a bit per network device");

_Noreturn static void exit_group(int status)
{
    for (;;) sys3(SYS_EXIT_GROUP, status, 0, 0);
}

/* ---- the platform -------------------------------------------------------------------- */

void mg_platform_console_write(const char *buf, size_t size)
{
    while (size) {
        long n = sys3(SYS_WRITE, 1, (long)buf, (long)size);
        if (n == -EINTR) continue;
        if (n <= 0) return; /* the console is gone: nothing to tell */
        buf += n;
        size -= (size_t)n;
    }
}

static uint64_t clock_ns(int id)
{
    struct kernel_timespec ts = {0, 0};
    sys3(SYS_CLOCK_GETTIME, id, (long)&ts, 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mg_platform_clock_monotonic(void)
{
    return clock_ns(1); /* CLOCK_MONOTONIC */
}

uint64_t mg_platform_clock_wall(void)
{
    return clock_ns(0); /* CLOCK_REALTIME */
}

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* only the taps the caller listens to: frames on another would end
     * every wait at once */
    struct kernel_pollfd fds[MG_SPT_MAX_NETS];
    uint32_t of[MG_SPT_MAX_NETS], n = 0;
    for (uint32_t i = 0; i < boot->n_nets; i++)
        if (nets_acquired & (1u << i) &&
            *ready_set & ((mg_handle_set)1 << (MG_SPT_MAX_BLOCKS + i))) {
            fds[n] = (struct kernel_pollfd){boot->nets[i].fd, POLLIN, 0};
            of[n++] = i;
        }
    *ready_set = 0;
    for (;;) {
        uint64_t now = mg_platform_clock_monotonic();
        uint64_t left = now >= deadline ? 0 : deadline - now;
        /* past the deadline the taps are still polled once, without
         * waiting: a loop always behind its timers still hears the network */
        if (!left && !n) return;
        struct kernel_timespec ts = {(long)(left / 1000000000u), (long)(left % 1000000000u)};
        long r = sys4(SYS_PPOLL, n ? (long)fds : 0, (long)n, (long)&ts, 0);
        if (r > 0) {
            /* errors and hang-ups count as ready too: the read that
             * follows reports them instead of the loop waking for nothing */
            for (uint32_t k = 0; k < n; k++)
                if (fds[k].revents) *ready_set |= (mg_handle_set)1 << (MG_SPT_MAX_BLOCKS + of[k]);
            if (*ready_set) return;
        }
        if (!left || (r < 0 && r != -EINTR)) return;
    }
}

int mg_platform_entropy(void *buf, size_t size)
{
    unsigned char *p = buf;
    while (size) {
        long n = sys3(SYS_GETRANDOM, (long)p, (long)(size > 256 ? 256 : size), 0);
        if (n == -EINTR) continue;
        if (n <= 0) return MG_EIO;
        p += n;
        size -= (size_t)n;
    }
    return MG_OK;
}

int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info)
{
    for (uint32_t i = 0; i < boot->n_blocks; i++)
        if (strcmp(boot->blocks[i].name, name) == 0) {
            *handle = i;
            info->capacity = boot->blocks[i].capacity;
            info->block_size = 512;
            return MG_OK;
        }
    return MG_ENOENT;
}

static int block_check(mg_handle h, uint64_t offset, size_t size)
{
    if (h >= boot->n_blocks) return MG_EINVAL;
    if (offset % 512 || size % 512) return MG_EINVAL;
    if (offset > boot->blocks[h].capacity || size > boot->blocks[h].capacity - offset)
        return MG_ERANGE;
    return MG_OK;
}

int mg_platform_block_read(mg_handle h, uint64_t offset, void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc) return rc;
    unsigned char *p = buf;
    while (size) {
        long n = sys4(SYS_PREAD64, boot->blocks[h].fd, (long)p, (long)size, (long)offset);
        if (n == -EINTR) continue;
        if (n <= 0) return MG_EIO;
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return MG_OK;
}

int mg_platform_block_write(mg_handle h, uint64_t offset, const void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc) return rc;
    if (!boot->blocks[h].writable) return MG_EACCES;
    const unsigned char *p = buf;
    while (size) {
        long n = sys4(SYS_PWRITE64, boot->blocks[h].fd, (long)p, (long)size, (long)offset);
        if (n == -EINTR) continue;
        if (n <= 0) return MG_EIO;
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return MG_OK;
}

/* The network device behind a handle, if the handle is one that was
 * acquired; else NULL. */
static const struct mg_spt_net *net_of(mg_handle h)
{
    if (h < MG_SPT_MAX_BLOCKS || h - MG_SPT_MAX_BLOCKS >= boot->n_nets) return NULL;
    uint32_t i = (uint32_t)(h - MG_SPT_MAX_BLOCKS);
    return nets_acquired & (1u << i) ? &boot->nets[i] : NULL;
}

int mg_platform_net_acquire(const char *name, mg_handle *handle, struct mg_net_info *info)
{
    for (uint32_t i = 0; i < boot->n_nets; i++) {
        const struct mg_spt_net *net = &boot->nets[i];
        if (strcmp(net->name, name) != 0) continue;
        /* once: two readers of one tap would take each other's frames */
        if (nets_acquired & (1u << i)) return MG_EEXIST;
        nets_acquired |= 1u << i;
        *handle = MG_SPT_MAX_BLOCKS + i;
        memcpy(info->mac, net->mac, sizeof info->mac);
        info->mtu = net->mtu;
        return MG_OK;
    }
    return MG_ENOENT;
}

int mg_platform_net_write(mg_handle h, const void *buf, size_t size)
{
    const struct mg_spt_net *net = net_of(h);
    if (!net || size < MG_NET_HEADER_SIZE || size > (size_t)net->mtu + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    for (;;) {
        /* a tap takes a frame whole or not at all */
        long n = sys3(SYS_WRITE, net->fd, (long)buf, (long)size);
        if (n == -EINTR) continue;
        return n == (long)size ? MG_OK : MG_EIO;
    }
}

int mg_platform_net_read(mg_handle h, void *buf, size_t size, size_t *read_size)
{
    const struct mg_spt_net *net = net_of(h);
    if (!net || size < (size_t)net->mtu + MG_NET_HEADER_SIZE) return MG_EINVAL;
    /* one byte more than the buffer: a tap cuts a frame that does not
     * fit, and only the extra byte tells (the host's MTU grew, a VLAN
     * tag); such a frame is dropped, not passed on cut */
    uint8_t extra;
    struct kernel_iovec {
        void *base;
        size_t len;
    } iov[2] = {{buf, size}, {&extra, 1}};
    for (;;) {
        long n = sys3(SYS_READV, net->fd, (long)iov, 2);
        if (n == -EINTR) continue;
        if (n == -EAGAIN) return MG_EAGAIN;
        /* 0 is no frame at all (a tap never gives an empty one): an error
         * rather than a success a listener would ask again for, forever */
        if (n <= 0) return MG_EIO;
        if ((size_t)n > size) continue;
        *read_size = (size_t)n;
        return MG_OK;
    }
}

_Noreturn void mg_platform_exit(int status)
{
    exit_group(status);
}

_Noreturn void mg_platform_abort(const char *msg)
{
    static const char head[] = "abort: ";
    mg_platform_console_write(head, sizeof head - 1);
    mg_platform_console_write(msg, strlen(msg));
    mg_platform_console_write("\n", 1);
    exit_group(255); /* as Solo5's abort */
}

/* ---- boot -------------------------------------------------------------------------------- */

int main(int argc, char **argv);
extern uintptr_t __stack_chk_guard;
_Noreturn void _start(const struct mg_spt_boot *b);

__attribute__((no_stack_protector)) _Noreturn void _start(const struct mg_spt_boot *b)
{
    if (!b || b->magic != MG_SPT_MAGIC || b->abi != MG_SPT_ABI) {
        static const char refuse[] =
            "this is an spt unikernel: it runs under its tender, mg-spt (mgd run IMAGE)\n";
        sys3(SYS_WRITE, 2, (long)refuse, sizeof refuse - 1);
        exit_group(126);
    }
    boot = b;
    uintptr_t guard = 0;
    if (mg_platform_entropy(&guard, sizeof guard) != MG_OK || !guard)
        guard = (uintptr_t)0x595e9fbd94fda766ull ^ (uintptr_t)clock_ns(1);
    __stack_chk_guard = guard & ~(uintptr_t)0xff; /* a NUL byte stops string overruns */
    mg_libc_heap_init((void *)(uintptr_t)b->heap_start, (size_t)b->heap_size);
    exit_group(main(b->argc, b->argv));
}
