/*
 * paging.c - the virtio image's page tables: memory stays mapped one to
 * one (the drivers hand heap addresses to devices as they are), but a bug
 * that touches what it should not now faults (exceptions.c reports it)
 * instead of carrying on, as under Solo5 and as spt's host enforces:
 *
 *   below the image (the first 1 MiB, page 0 among it)  not mapped
 *   the code                                            read, execute
 *   read-only data (.rodata, the note)                  read
 *   .data, .bss, the stacks                             read, write
 *   the stacks' guards (boot.S)                         not mapped
 *   these page tables                                   read
 *   the heap, to the end of memory                      read, write
 *   past the end of memory                              not mapped
 *
 * Nothing but the code is executable, and with CR0.WP set the read-only
 * pages bind ring 0 too. 4 KiB pages cover the 2 MiB regions from 0 to
 * the end of these tables, where the parts above meet; 2 MiB pages the
 * rest of memory. Memory is used up to its last whole 2 MiB and within the
 * first 1 GiB, as the boot map was.
 */
#include <stdint.h>
#include <string.h>

#include "x86.h"

#define PAGE 4096u
#define LARGE (2u << 20)
#define MAPPED_MAX (1u << 30)

#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_PS 0x80ull /* a 2 MiB page, in a page directory */
#define PTE_NX (1ull << 63)

/* virtio.ld's bounds, 4 KiB aligned, and boot.S's guards */
extern char _mg_text_start[], _mg_text_end[], _mg_rodata_end[], _mg_bss_end[];
extern char mg_virtio_boot_stack_guard[], mg_virtio_boot_stack[];
extern char mg_virtio_fault_stack_guard[], mg_virtio_fault_stack[];

struct layout {
    uint64_t nx;                  /* PTE_NX, or 0 on a CPU without it */
    uintptr_t tables, tables_end; /* these page tables */
    uintptr_t mem_end;            /* the end of mapped memory */
};

static int within(uintptr_t a, const char *start, const char *end)
{
    return a >= (uintptr_t)start && a < (uintptr_t)end;
}

/* The entry bits of the 4 KiB page at `a`; 0: not mapped. */
static uint64_t page_bits(const struct layout *l, uintptr_t a)
{
    if (a < (uintptr_t)_mg_text_start || a >= l->mem_end) return 0;
    if (a < (uintptr_t)_mg_text_end) return PTE_P;
    if (a < (uintptr_t)_mg_rodata_end) return PTE_P | l->nx;
    if (within(a, mg_virtio_boot_stack_guard, mg_virtio_boot_stack) ||
        within(a, mg_virtio_fault_stack_guard, mg_virtio_fault_stack))
        return 0;
    if (within(a, (const char *)l->tables, (const char *)l->tables_end)) return PTE_P | l->nx;
    return PTE_P | PTE_W | l->nx;
}

void mg_virtio_paging_init(uintptr_t mem_end, uintptr_t *free_start, uintptr_t *free_end)
{
    struct layout l;
    /* the no-execute bit, which every x86_64 CPU QEMU emulates has (CPUID
     * 0x80000001, EDX bit 20); without it the data stays executable */
    uint32_t a = 0x80000001, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    l.nx = d & (1u << 20) ? PTE_NX : 0;
    if (mem_end > MAPPED_MAX) mem_end = MAPPED_MAX;
    l.mem_end = mem_end & ~(uintptr_t)(LARGE - 1);

    /* the tables, from the end of the image: the PML4, one PDPT, one page
     * directory, then one page table per 2 MiB region up to their own end
     * (a fixed point: more tables can reach into one more region) */
    l.tables = (uintptr_t)_mg_bss_end;
    size_t n_small = 1;
    for (;;) {
        l.tables_end = l.tables + (3 + n_small) * PAGE;
        size_t need = (l.tables_end + LARGE - 1) / LARGE;
        if (need <= n_small) break;
        n_small = need;
    }
    if (l.tables_end >= l.mem_end) mg_platform_abort("too little memory");
    uint64_t *pml4 = (uint64_t *)l.tables, *pdpt = pml4 + 512, *pd = pdpt + 512;
    memset(pml4, 0, l.tables_end - l.tables);
    /* the upper levels allow everything: each leaf says what it allows */
    pml4[0] = (uintptr_t)pdpt | PTE_P | PTE_W;
    pdpt[0] = (uintptr_t)pd | PTE_P | PTE_W;
    for (size_t i = 0; i < n_small; i++) {
        uint64_t *pt = pd + 512 * (1 + i);
        pd[i] = (uintptr_t)pt | PTE_P | PTE_W;
        for (size_t j = 0; j < 512; j++) {
            uintptr_t addr = i * LARGE + j * PAGE;
            uint64_t bits = page_bits(&l, addr);
            pt[j] = bits ? addr | bits : 0;
        }
    }
    for (size_t i = n_small; i < l.mem_end / LARGE; i++)
        pd[i] = (uint64_t)i * LARGE | PTE_P | PTE_W | PTE_PS | l.nx;

    /* EFER.NXE before the tables that use it (else the bit is reserved),
     * then the tables, then CR0.WP, without which ring 0 writes to
     * read-only pages as it likes */
    if (l.nx) {
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080));
        __asm__ volatile("wrmsr" : : "c"(0xc0000080), "a"(lo | (1u << 11)), "d"(hi));
    }
    __asm__ volatile("movq %0, %%cr3" : : "r"((uint64_t)l.tables) : "memory");
    uint64_t cr0;
    __asm__ volatile("movq %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("movq %0, %%cr0" : : "r"(cr0 | (1ull << 16)) : "memory");
    *free_start = l.tables_end;
    *free_end = l.mem_end;
}
