/*
 * entropy.c - the virtio binding's random source on riscv64 (../entropy.c
 * makes mg_platform_entropy of it): the Zkr extension's `seed` CSR, when
 * the hart has it (QEMU's -cpu rv64,zkr=true, which targets/virtio.json
 * asks for; the device tree's riscv,isa then names zkr), 16 bits a read;
 * none without, and mg_platform_entropy says MG_EIO, as on x86_64 without
 * RDRAND. M-mode may always read it (mseccfg only gates the lower modes).
 */
#include <stddef.h>
#include <stdint.h>

#include "riscv.h"

#define SEED_OPST(v) ((v) >> 30 & 3)
#define SEED_ES16 2 /* 16 bits of entropy in the low half */
#define SEED_DEAD 3 /* the source failed for good */

static int has_seed;

void mg_riscv_entropy_init(int has_zkr)
{
    has_seed = has_zkr;
}

/* 16 bits from the source, or -1: it is dead, or busy for too long. The
 * CSR must be read with a write (csrrw): a plain read is an illegal
 * instruction. */
static int seed16(void)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t v;
        __asm__ volatile("csrrw %0, 0x015, zero" : "=r"(v)::"memory");
        if (SEED_OPST(v) == SEED_ES16) return (int)(v & 0xffff);
        if (SEED_OPST(v) == SEED_DEAD) return -1;
        mg_virtio_relax(); /* BIST or WAIT: try again */
    }
    return -1;
}

size_t mg_virtio_arch_entropy(uint64_t *v)
{
    if (!has_seed) return 0;
    int bits = seed16();
    if (bits < 0) return 0;
    *v = (uint64_t)bits;
    return 2;
}
