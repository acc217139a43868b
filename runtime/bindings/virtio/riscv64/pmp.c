/*
 * pmp.c - what a virtio image on riscv64 may touch. It runs in M-mode
 * without paging (a pointer is a physical address, which the drivers hand
 * to devices as it is), so the protection is the hart's physical memory
 * protection (PMP): entries that are locked bind M-mode too, and the
 * first entry that matches an address decides. So a bug that touches what
 * it should not faults (traps.c reports it) instead of carrying on, as
 * under Solo5 and as spt's host enforces:
 *
 *   the exit device and the RTC, the CLINT, the PLIC,
 *   the UART and the virtio-mmio windows                read, write
 *   the image's code                                    read, execute
 *   its read-only data (.rodata, the note)              read
 *   .data, .bss, the stacks                             read, write
 *   the stacks' guards (boot.S)                         nothing
 *   the heap, from the image's end to the end of RAM    read, write
 *   everything else (address 0 and low memory among it,
 *   past the end of RAM)                                nothing
 *
 * Nothing but the code is executable. The last entry matches every
 * address and allows nothing: without it an M-mode access that matches no
 * entry would succeed. Entries are locked, so nothing (not even a bug of
 * the image's) can undo them before the next reset.
 */
#include <stdint.h>

#include "riscv.h"

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_OFF 0x00   /* matches nothing: only the bottom of the next TOR */
#define PMP_TOR 0x08   /* [the previous entry's address, this one's) */
#define PMP_NAPOT 0x18 /* a naturally aligned power-of-two region */
#define PMP_L 0x80     /* binds M-mode, and cannot be changed */

/* virtio.ld's bounds, 4 KiB aligned, and boot.S's guards */
extern char _mg_text_start[], _mg_text_end[], _mg_rodata_end[], _mg_bss_end[];
extern char mg_virtio_boot_stack_guard[], mg_virtio_boot_stack[];
extern char mg_virtio_fault_stack_guard[], mg_virtio_fault_stack[];

#define N_ENTRIES                                                                                  \
    16 /* what QEMU's harts have, and the most the spec allows                                     \
        * in pmpcfg0 and pmpcfg2 on RV64 */

static uint8_t cfg[N_ENTRIES];
static uint64_t addr[N_ENTRIES];
static int n;

/* [base, base + size): size a power of two of at least 8, base aligned to it */
static void napot(uint64_t base, uint64_t size, uint8_t perm)
{
    addr[n] = (base | (size / 2 - 1)) >> 2;
    cfg[n++] = PMP_NAPOT | PMP_L | perm;
}

/* [the previous entry's address, top) */
static void tor(uint64_t top, uint8_t perm)
{
    addr[n] = top >> 2;
    cfg[n++] = PMP_TOR | PMP_L | perm;
}

static void bottom(uint64_t base)
{
    addr[n] = base >> 2;
    cfg[n++] = PMP_OFF;
}

static uintptr_t ram_end;

/* The device windows pmp_init allows, for mg_riscv_mapped. */
static const struct {
    uint64_t base, size;
} windows[] = {
    {RV_TEST, 0x2000},   /* sifive_test, then the RTC */
    {RV_CLINT, 0x10000}, /* its timer registers */
    {RV_PLIC, 0x400000}, /* priorities, enables, context 0's claim */
    {RV_UART, 0x10000},  /* the UART, then the 8 virtio-mmio windows */
};

void mg_riscv_pmp_init(uintptr_t mem_end, uintptr_t *free_start, uintptr_t *free_end)
{
    mem_end &= ~(uintptr_t)4095;
    if (mem_end <= (uintptr_t)_mg_bss_end + 65536) mg_platform_abort("too little memory");
    ram_end = mem_end;
    for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++)
        napot(windows[i].base, windows[i].size, PMP_R | PMP_W);
    bottom((uintptr_t)_mg_text_start);
    tor((uintptr_t)_mg_text_end, PMP_R | PMP_X);
    tor((uintptr_t)_mg_rodata_end, PMP_R);
    tor((uintptr_t)mg_virtio_boot_stack_guard, PMP_R | PMP_W);
    tor((uintptr_t)mg_virtio_boot_stack, 0);
    tor((uintptr_t)mg_virtio_fault_stack_guard, PMP_R | PMP_W);
    tor((uintptr_t)mg_virtio_fault_stack, 0);
    tor(mem_end, PMP_R | PMP_W);
    while (n < N_ENTRIES - 1) {
        addr[n] = 0;
        cfg[n++] = PMP_OFF;
    }
    /* everything: all ones is the whole address space as one NAPOT region */
    addr[n] = ~0ull;
    cfg[n++] = PMP_NAPOT | PMP_L;

    /* the addresses first, then the configurations, the one that forbids
     * the rest last: up to that write nothing is forbidden yet, and from
     * the first one on the code that runs here is allowed */
    uint64_t cfg0 = 0, cfg2 = 0;
    for (int i = 0; i < 8; i++) {
        cfg0 |= (uint64_t)cfg[i] << (8 * i);
        cfg2 |= (uint64_t)cfg[8 + i] << (8 * i);
    }
    /* a CSR's number is part of the instruction: one write each */
    csr_write(pmpaddr0, addr[0]);
    csr_write(pmpaddr1, addr[1]);
    csr_write(pmpaddr2, addr[2]);
    csr_write(pmpaddr3, addr[3]);
    csr_write(pmpaddr4, addr[4]);
    csr_write(pmpaddr5, addr[5]);
    csr_write(pmpaddr6, addr[6]);
    csr_write(pmpaddr7, addr[7]);
    csr_write(pmpaddr8, addr[8]);
    csr_write(pmpaddr9, addr[9]);
    csr_write(pmpaddr10, addr[10]);
    csr_write(pmpaddr11, addr[11]);
    csr_write(pmpaddr12, addr[12]);
    csr_write(pmpaddr13, addr[13]);
    csr_write(pmpaddr14, addr[14]);
    csr_write(pmpaddr15, addr[15]);
    csr_write(pmpcfg0, cfg0);
    csr_write(pmpcfg2, cfg2);
    /* a hart with fewer entries keeps the ones it has not as zero: the
     * catch-all would be missing, which is worse than useless here */
    if (csr_read(pmpcfg2) != cfg2) mg_platform_abort("the hart lacks 16 PMP entries");

    *free_start = (uintptr_t)_mg_bss_end;
    *free_end = mem_end;
}

int mg_riscv_mapped(uint64_t a)
{
    for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++)
        if (a - windows[i].base < windows[i].size) return 1;
    if (a < (uintptr_t)_mg_text_start || a >= ram_end) return 0;
    if (a >= (uintptr_t)mg_virtio_boot_stack_guard && a < (uintptr_t)mg_virtio_boot_stack) return 0;
    if (a >= (uintptr_t)mg_virtio_fault_stack_guard && a < (uintptr_t)mg_virtio_fault_stack)
        return 0;
    return 1;
}
