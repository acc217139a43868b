/*
 * entropy.c - the virtio binding's random source on aarch64 (../entropy.c
 * makes mg_platform_entropy of it): the RNDR register (FEAT_RNG, which
 * QEMU's -cpu max has, fed from the host's random source); none on a CPU
 * without it, and mg_platform_entropy says MG_EIO.
 */
#include <stddef.h>
#include <stdint.h>

#include "aarch64.h"

static int has_rndr(void)
{
    /* ID_AA64ISAR0_EL1.RNDR, bits 63:60 */
    return (SYSREG_READ(id_aa64isar0_el1) >> 60) != 0;
}

size_t mg_virtio_arch_entropy(uint64_t *v)
{
    static int rndr = -1;
    if (rndr < 0) rndr = has_rndr();
    if (!rndr) return 0;
    uint64_t ok = 0;
    /* RNDR sets Z when it has no number this time: try again a few times */
    for (int tries = 0; tries < 10 && !ok; tries++)
        __asm__ volatile("mrs %0, s3_3_c2_c4_0\n\tcset %1, ne" : "=r"(*v), "=r"(ok)::"cc");
    return ok ? sizeof *v : 0;
}
