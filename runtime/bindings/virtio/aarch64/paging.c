/*
 * paging.c - the strict translation tables of a virtio image on aarch64.
 * Memory stays mapped one to one (the drivers hand heap addresses to
 * devices as they are), but a bug that touches what it should not faults
 * (exceptions.c reports it) instead of carrying on, as on x86_64:
 *
 *   the first GiB but the device windows (address 0 among it)  not mapped
 *   the device windows (GIC, UART, RTC, virtio-mmio)  Device memory, read,
 *                                                     write, never execute
 *   RAM below the image (the device tree)             not mapped
 *   the code                                          read, execute
 *   read-only data (.rodata, the note)                read
 *   .data, .bss, the stacks                           read, write
 *   the stacks' guards (boot.S)                       not mapped
 *   these tables                                      read
 *   the heap, to the end of memory                    read, write
 *   past the end of memory                            not mapped
 *
 * Nothing but the code is executable: every other page has PXN and UXN,
 * and SCTLR_EL1.WXN makes every writable page non-executable besides.
 * The read-only pages bind EL1 too (AP). 4 KiB pages cover the device
 * windows and the 2 MiB regions from the image to the end of these
 * tables; 2 MiB blocks the rest of RAM, up to its last whole 2 MiB and
 * within 1 GiB of RAM.
 */
#include <stdint.h>
#include <string.h>

#include "aarch64.h"

#define PAGE 4096u
#define LARGE (2u << 20)
#define GIB (1ul << 30)

#define D_TABLE 3ull         /* a table, at levels 1 and 2 */
#define D_PAGE 3ull          /* a page, at level 3 */
#define D_BLOCK 1ull         /* a block, at levels 1 and 2 */
#define D_NORMAL (0ull << 2) /* MAIR attribute 0 (boot.S) */
#define D_DEVICE (1ull << 2) /* MAIR attribute 1 */
#define D_RO (1ull << 7)     /* AP[2]: read-only */
#define D_ISH (3ull << 8)
#define D_AF (1ull << 10)
#define D_XN (3ull << 53) /* PXN, UXN */

#define RAM_RW (D_NORMAL | D_ISH | D_AF | D_XN)
#define RAM_RO (RAM_RW | D_RO)
#define RAM_RX (D_NORMAL | D_ISH | D_AF | D_RO | (1ull << 54)) /* UXN only */
#define DEVICE (D_DEVICE | D_AF | D_XN)

/* virtio.ld's bounds, 4 KiB aligned, and boot.S's guards */
extern char _mg_text_start[], _mg_text_end[], _mg_rodata_end[], _mg_bss_end[];
extern char mg_virtio_boot_stack_guard[], mg_virtio_boot_stack[];
extern char mg_virtio_fault_stack_guard[], mg_virtio_fault_stack[];

/* The device windows, each mapped in 4 KiB pages. */
static const struct {
    uintptr_t base, size;
} windows[] = {
    {VIRT_GICD, 0x1000},
    {VIRT_GICC, 0x2000},
    {VIRT_UART, 0x1000},
    {VIRT_RTC, 0x1000},
    {VIRT_MMIO, VIRT_MMIO_SIZE *VIRT_MMIO_COUNT},
};
#define N_WINDOWS (sizeof windows / sizeof windows[0])
#define N_DEVICE_TABLES 3 /* the 2 MiB regions the windows lie in */

struct layout {
    uintptr_t tables, tables_end; /* these tables */
    uintptr_t mem_end;            /* the end of mapped RAM */
};

static int within(uintptr_t a, const char *start, const char *end)
{
    return a >= (uintptr_t)start && a < (uintptr_t)end;
}

/* The descriptor bits of the 4 KiB page of RAM at `a`; 0: not mapped. */
static uint64_t page_bits(const struct layout *l, uintptr_t a)
{
    if (a < (uintptr_t)_mg_text_start || a >= l->mem_end) return 0;
    if (a < (uintptr_t)_mg_text_end) return RAM_RX;
    if (a < (uintptr_t)_mg_rodata_end) return RAM_RO;
    if (within(a, mg_virtio_boot_stack_guard, mg_virtio_boot_stack) ||
        within(a, mg_virtio_fault_stack_guard, mg_virtio_fault_stack))
        return 0;
    if (within(a, (const char *)l->tables, (const char *)l->tables_end)) return RAM_RO;
    return RAM_RW;
}

void mg_virtio_paging_init(uintptr_t mem_end, uintptr_t *free_start, uintptr_t *free_end)
{
    struct layout l;
    if (mem_end > VIRT_RAM + GIB) mem_end = VIRT_RAM + GIB;
    l.mem_end = mem_end & ~(uintptr_t)(LARGE - 1);

    /* the tables, from the end of the image: level 1, level 2 for the
     * devices' GiB and for RAM's, the devices' level 3 tables, then one
     * level 3 table per 2 MiB region from the image's to the tables' own
     * end (a fixed point: more tables can reach into one more region) */
    uintptr_t first = (uintptr_t)_mg_text_start & ~(uintptr_t)(LARGE - 1);
    l.tables = (uintptr_t)_mg_bss_end;
    size_t n_small = 1;
    for (;;) {
        l.tables_end = l.tables + (3 + N_DEVICE_TABLES + n_small) * PAGE;
        size_t need = (l.tables_end - first + LARGE - 1) / LARGE;
        if (need <= n_small) break;
        n_small = need;
    }
    if (l.tables_end >= l.mem_end) mg_platform_abort("too little memory");
    uint64_t *l1 = (uint64_t *)l.tables, *l2dev = l1 + 512, *l2ram = l2dev + 512;
    uint64_t *l3dev = l2ram + 512, *l3ram = l3dev + 512 * N_DEVICE_TABLES;
    memset(l1, 0, l.tables_end - l.tables);
    /* the upper levels allow everything: each leaf says what it allows */
    l1[0] = (uintptr_t)l2dev | D_TABLE;
    l1[VIRT_RAM / GIB] = (uintptr_t)l2ram | D_TABLE;

    size_t used = 0;
    for (size_t w = 0; w < N_WINDOWS; w++) {
        for (uintptr_t a = windows[w].base; a < windows[w].base + windows[w].size; a += PAGE) {
            uint64_t *e = &l2dev[a / LARGE];
            if (!*e) {
                if (used == N_DEVICE_TABLES) mg_platform_abort("device windows: too many tables");
                *e = (uintptr_t)(l3dev + 512 * used++) | D_TABLE;
            }
            uint64_t *pt = (uint64_t *)(uintptr_t)(*e & 0xfffffffff000ull);
            pt[(a % LARGE) / PAGE] = a | DEVICE | D_PAGE;
        }
    }

    size_t first_index = (first - VIRT_RAM) / LARGE;
    for (size_t i = 0; i < n_small; i++) {
        uint64_t *pt = l3ram + 512 * i;
        l2ram[first_index + i] = (uintptr_t)pt | D_TABLE;
        for (size_t j = 0; j < 512; j++) {
            uintptr_t addr = first + i * LARGE + j * PAGE;
            uint64_t bits = page_bits(&l, addr);
            pt[j] = bits ? addr | bits | D_PAGE : 0;
        }
    }
    for (size_t i = first_index + n_small; i < (l.mem_end - VIRT_RAM) / LARGE; i++)
        l2ram[i] = (VIRT_RAM + i * LARGE) | RAM_RW | D_BLOCK;

    /* The tables written, then used. The boot map's 1 GiB blocks and
     * these finer entries must never be live together (the architecture's
     * break-before-make rule: hardware may raise a TLB conflict abort), so
     * the MMU goes off for the switch: memory is mapped one to one, the
     * code runs on from the same addresses, and nothing in between
     * touches memory. WXN comes on with the new tables. */
    uint64_t sctlr = SYSREG_READ(sctlr_el1);
    __asm__ volatile("dsb ish\n\t"
                     "msr sctlr_el1, %[off]\n\t"
                     "isb\n\t"
                     "msr ttbr0_el1, %[tables]\n\t"
                     "tlbi vmalle1\n\t"
                     "dsb nsh\n\t"
                     "isb\n\t"
                     "msr sctlr_el1, %[on]\n\t"
                     "isb"
                     :
                     : [off] "r"(sctlr & ~(uint64_t)1), [tables] "r"((uint64_t)l.tables),
                       [on] "r"(sctlr | (1u << 19))
                     : "memory");
    *free_start = l.tables_end;
    *free_end = l.mem_end;
}
