/*
 * entropy.c - the virtio binding's random source on x86_64 (../entropy.c
 * makes mg_platform_entropy of it): RDRAND, when the CPU has it (QEMU's
 * -cpu max does); none without, and mg_platform_entropy says MG_EIO.
 */
#include <stddef.h>
#include <stdint.h>

#include "x86.h"

static int has_rdrand(void)
{
    uint32_t a = 1, b, c, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    return (c >> 30) & 1;
}

size_t mg_virtio_arch_entropy(uint64_t *v)
{
    static int rdrand = -1;
    if (rdrand < 0) rdrand = has_rdrand();
    if (!rdrand) return 0;
    unsigned char ok = 0;
    /* RDRAND clears CF when it has no number this time: try a few times */
    for (int tries = 0; tries < 10 && !ok; tries++)
        __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
    return ok ? sizeof *v : 0;
}
