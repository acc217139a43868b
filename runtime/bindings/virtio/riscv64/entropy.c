/*
 * entropy.c - the virtio binding's entropy on riscv64: the Zkr
 * extension's `seed` CSR, when the hart has it (QEMU's -cpu
 * rv64,zkr=true, which targets/virtio.json asks for; the device tree's
 * riscv,isa then names zkr), 16 bits a read; MG_EIO without, as x86_64
 * without RDRAND. M-mode may always read it (mseccfg only gates the lower
 * modes).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

int mg_platform_entropy(void *buf, size_t size)
{
    if (!has_seed) return MG_EIO;
    unsigned char *p = buf;
    while (size) {
        int v = seed16();
        if (v < 0) return MG_EIO;
        *p++ = (unsigned char)v;
        if (--size) {
            *p++ = (unsigned char)(v >> 8);
            size--;
        }
    }
    return MG_OK;
}
