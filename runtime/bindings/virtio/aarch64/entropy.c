/*
 * entropy.c - the virtio binding's entropy on aarch64: the RNDR register
 * (FEAT_RNG, which QEMU's -cpu max has, fed from the host's random
 * source); MG_EIO on a CPU without it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aarch64.h"

static int has_rndr(void)
{
    /* ID_AA64ISAR0_EL1.RNDR, bits 63:60 */
    return (SYSREG_READ(id_aa64isar0_el1) >> 60) != 0;
}

int mg_platform_entropy(void *buf, size_t size)
{
    static int rndr = -1;
    if (rndr < 0) rndr = has_rndr();
    if (!rndr) return MG_EIO;
    unsigned char *p = buf;
    while (size) {
        uint64_t v = 0, ok = 0;
        /* RNDR sets Z when it has no number this time: try again a few times */
        for (int tries = 0; tries < 10 && !ok; tries++)
            __asm__ volatile("mrs %0, s3_3_c2_c4_0\n\tcset %1, ne" : "=r"(v), "=r"(ok)::"cc");
        if (!ok) return MG_EIO;
        size_t n = size < sizeof v ? size : sizeof v;
        memcpy(p, &v, n);
        p += n;
        size -= n;
    }
    return MG_OK;
}
