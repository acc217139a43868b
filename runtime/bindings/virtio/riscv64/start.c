/*
 * start.c - the virtio binding's entry on riscv64. boot.S calls
 * mg_virtio_start on hart 0 in M-mode with the address of the device tree
 * QEMU made; it sets up the console and the trap handler, reads what it
 * needs from the device tree (the memory's size, the command line, the
 * timer's rate, whether the hart has Zkr) before the heap can overwrite
 * it, locks the memory protection, starts the clocks, the entropy and the
 * sleep's wake-ups, registers the board's virtio-mmio windows, and hands
 * over to the common mg_virtio_run.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../fdt/fdt.h"
#include "../mmio/mmio.h"
#include "riscv.h"

/* what mg_virtio_run takes for argv[0]: x86_64's Multiboot loader puts
 * the kernel's path first, QEMU's riscv loader passes -append alone (as
 * aarch64's does) */
#define ARGV0 "image "

/* The most of the device tree read: QEMU puts it in the last 2 MiB of
 * RAM, at a 2 MiB boundary, and it is far smaller. */
#define DTB_MAX (2u << 20)

/* What the image needs of the device tree, read before the heap
 * overwrites it. */
struct tree {
    uint64_t mem_end;  /* of RAM, which starts at RV_RAM */
    uint64_t timebase; /* mtime's rate; 0: not said */
    int zkr;           /* the hart has Zkr's seed CSR */
};

/* Reads `tree` and /chosen's bootargs (into `line`, after ARGV0). The
 * tree is QEMU's, but read as any input is: a broken one ends the boot
 * with a message rather than a guess. */
static void read_tree(uintptr_t dtb, struct tree *t, char *line, size_t size)
{
    struct mg_fdt f;
    if (!dtb || mg_fdt_open(&f, (const void *)dtb, DTB_MAX) != 0)
        mg_platform_abort(
            "no device tree from the loader (not booted by QEMU's riscv virt board?)");
    uint32_t ac = 2, sc = 2, len = 0;
    int root = mg_fdt_path(&f, "/");
    mg_fdt_u32(&f, root, "#address-cells", &ac);
    mg_fdt_u32(&f, root, "#size-cells", &sc);
    uint64_t base, size_ram;
    int memory = mg_fdt_path(&f, "/memory");
    if (memory < 0 || mg_fdt_reg(&f, memory, 0, ac, sc, &base, &size_ram) != 0 || base != RV_RAM)
        mg_platform_abort("the device tree has no memory at 0x80000000");
    t->mem_end = base + size_ram;

    memcpy(line, ARGV0, sizeof ARGV0 - 1);
    const char *args = mg_fdt_prop(&f, mg_fdt_path(&f, "/chosen"), "bootargs", &len);
    size_t n = args ? strnlen(args, len) : 0;
    if (n > size - sizeof ARGV0) n = size - sizeof ARGV0;
    memcpy(line + sizeof ARGV0 - 1, args ? args : "", n);
    line[sizeof ARGV0 - 1 + n] = '\0';

    uint32_t hz = 0;
    t->timebase = mg_fdt_u32(&f, mg_fdt_path(&f, "/cpus"), "timebase-frequency", &hz) == 0 ? hz : 0;
    /* "rv64imafdch_zicsr_..._zkr_sstc": the multi-letter extensions follow
     * underscores */
    const char *isa = mg_fdt_prop(&f, mg_fdt_path(&f, "/cpus/cpu"), "riscv,isa", &len);
    t->zkr = 0;
    for (uint32_t i = 0; isa && i + 4 <= len; i++)
        if (!memcmp(isa + i, "_zkr", 4) && (i + 4 == len || isa[i + 4] == '_' || !isa[i + 4]))
            t->zkr = 1;
}

/* ---- the entry ---- */

__attribute__((no_stack_protector)) void mg_virtio_start(uint64_t hart, uintptr_t dtb)
{
    (void)hart;
    mg_riscv_console_init();
    mg_riscv_traps_init();
    static char line[4096];
    struct tree t;
    read_tree(dtb, &t, line, sizeof line);
    uintptr_t start, end;
    mg_riscv_pmp_init(t.mem_end, &start, &end);
    mg_riscv_clock_init(t.timebase);
    mg_riscv_entropy_init(t.zkr);
    mg_riscv_interrupts_init();
    for (uint32_t i = 0; i < RV_VIRTIO_COUNT; i++)
        mg_virtio_mmio_add(RV_VIRTIO + i * RV_VIRTIO_STRIDE, 1 + i);
    mg_virtio_run(line, start, end);
}
