/*
 * entropy.c - the unix binding's entropy: getrandom(2), or /dev/urandom
 * on kernels without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "abi/platform.h"

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
