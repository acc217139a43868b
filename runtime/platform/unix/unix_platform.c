/*
 * unix_platform.c - mg/platform.h on Linux and its C library: console,
 * clocks, yield, entropy, exit and abort. Block devices are in
 * unix_block.c and network devices in unix_net.c, so that images without
 * them do not link them; yield polls the descriptors unix_net.c registers
 * (unix.h).
 *
 * The console is standard output, written with write(2) and no buffer of
 * our own: every mg_printf is one line already formatted, and an image that
 * crashes must not lose what it printed before.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mg/platform.h"
#include "unix.h"

void mg_platform_console_write(const char *buf, size_t size)
{
    while (size > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere to report it: the console is the report */
        }
        buf += n;
        size -= (size_t)n;
    }
}

static uint64_t mg_unix_clock(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0 || ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mg_platform_clock_monotonic(void)
{
    return mg_unix_clock(CLOCK_MONOTONIC);
}

uint64_t mg_platform_clock_wall(void)
{
    return mg_unix_clock(CLOCK_REALTIME);
}

/* Bit h set: handle h is taken (by a block or a network device). */
static mg_handle_set mg_unix_handles_taken;
int mg_unix_poll_fds[MG_PLATFORM_MAX_HANDLES];

int mg_unix_handle_take(mg_handle *h)
{
    for (mg_handle i = 0; i < MG_PLATFORM_MAX_HANDLES; i++)
        if (!(mg_unix_handles_taken & ((mg_handle_set)1 << i))) {
            mg_unix_handles_taken |= (mg_handle_set)1 << i;
            *h = i;
            return MG_OK;
        }
    return MG_ENOSPC;
}

/* Before main: /dev/null on whichever standard descriptor the image was
 * started without, so that no file it opens (a disk, a tap, a store's
 * temporary file) becomes descriptor 1 and gets what the console prints.
 * If even /dev/null cannot be opened, the descriptor stays closed: the
 * console's writes then fail, and a device may take the slot, as before. */
__attribute__((constructor)) static void mg_unix_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int opened = open("/dev/null", O_RDWR);
        if (opened >= 0 && opened != fd) close(opened);
    }
}

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* The network devices the caller listens to are polled even when the deadline
     * has passed (with no wait), so that due timers cannot starve input.
     * ppoll may wake early on a signal: wait again until the deadline. */
    struct pollfd fds[MG_PLATFORM_MAX_HANDLES];
    mg_handle of[MG_PLATFORM_MAX_HANDLES];
    nfds_t n = 0;
    for (mg_handle h = 0; h < MG_PLATFORM_MAX_HANDLES; h++)
        if (mg_unix_poll_fds[h] > 0 && (*ready_set & ((mg_handle_set)1 << h))) {
            fds[n] = (struct pollfd){.fd = mg_unix_poll_fds[h] - 1, .events = POLLIN};
            of[n++] = h;
        }
    *ready_set = 0;
    for (;;) {
        uint64_t now = mg_platform_clock_monotonic();
        uint64_t left = now >= deadline ? 0 : deadline - now;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u),
                              .tv_nsec = (long)(left % 1000000000u)};
        /* A deadline centuries away (UINT64_MAX: no timer) waits forever. */
        bool forever = left / 1000000000u > (uint64_t)INT32_MAX;
        int r = ppoll(n ? fds : NULL, n, forever ? NULL : &ts, NULL);
        if (r > 0) {
            /* an error or hang-up counts as ready: the read reports it */
            for (nfds_t i = 0; i < n; i++)
                if (fds[i].revents) *ready_set |= (mg_handle_set)1 << of[i];
            return;
        }
        if (left == 0 || (r < 0 && errno != EINTR)) return;
    }
}

/* getrandom(2) returns at most 32 MiB per call and may be interrupted:
 * loop. Kernels without it (before 3.17) fall back to /dev/urandom. */
static int mg_unix_urandom(unsigned char *p, size_t size)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MG_EIO;
    while (size > 0) {
        ssize_t n = read(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return MG_EIO;
        }
        p += n;
        size -= (size_t)n;
    }
    close(fd);
    return MG_OK;
}

int mg_platform_entropy(void *buf, size_t size)
{
    unsigned char *p = buf;
    while (size > 0) {
        ssize_t n = getrandom(p, size, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS) return mg_unix_urandom(p, size);
            return MG_EIO;
        }
        p += n;
        size -= (size_t)n;
    }
    return MG_OK;
}

_Noreturn void mg_platform_exit(int status)
{
    /* Nothing is buffered here (see the top comment); exit() still runs the
     * C library's handlers, for user code that used stdio after all. */
    exit(status);
}

_Noreturn void mg_platform_abort(const char *msg)
{
    static const char prefix[] = "abort: ";
    mg_platform_console_write(prefix, sizeof prefix - 1);
    mg_platform_console_write(msg, strlen(msg));
    mg_platform_console_write("\n", 1);
    abort();
}
