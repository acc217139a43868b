/*
 * entropy.c - the virtio binding's entropy: RDRAND, when the CPU has it
 * (QEMU's -cpu max does); MG_EIO without.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "x86.h"

static int has_rdrand(void)
{
    uint32_t a = 1, b, c, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    return (c >> 30) & 1;
}

int mg_platform_entropy(void *buf, size_t size)
{
    static int rdrand = -1;
    if (rdrand < 0) rdrand = has_rdrand();
    if (!rdrand) return MG_EIO;
    unsigned char *p = buf;
    while (size) {
        uint64_t v;
        unsigned char ok = 0;
        for (int tries = 0; tries < 10 && !ok; tries++)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        if (!ok) return MG_EIO;
        size_t n = size < sizeof v ? size : sizeof v;
        memcpy(p, &v, n);
        p += n;
        size -= n;
    }
    return MG_OK;
}
