/*
 * entropy.c - mg_platform_entropy on every arch, over the arch's hardware
 * source (mg_virtio_arch_entropy: RDRAND, RNDR, Zkr's seed), which gives
 * a few bytes a call: the filling of the caller's buffer is written once.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtio.h"

int mg_platform_entropy(void *buf, size_t size)
{
    unsigned char *p = buf;
    while (size) {
        uint64_t v = 0;
        size_t got = mg_virtio_arch_entropy(&v);
        if (got == 0) return MG_EIO;
        size_t n = size < got ? size : got;
        memcpy(p, &v, n);
        p += n;
        size -= n;
    }
    return MG_OK;
}
