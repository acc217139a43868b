/*
 * start.c - the aarch64 virtio image's entry: a kernel that QEMU's `virt`
 * board boots (-kernel). boot.S brings the CPU to C and calls
 * mg_virtio_start, which sets up the console, reads the device tree QEMU
 * left below the image (the memory's size, -append's command line),
 * switches to the strict translation tables (which unmap the tree), sets
 * up the clocks and the GIC that wakes the sleep, registers the board's
 * 32 virtio-mmio transports, in QEMU's bus order (virtio-mmio-bus.n is
 * the window at 0x0a000000 + 0x200 * n), sets up the exit's console
 * (exit.c; on transport 31), and hands the rest to the common
 * mg_virtio_run (../start.c). The exceptions are caught from the first
 * instruction (boot.S's vectors).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../fdt/fdt.h"
#include "aarch64.h"

/* what mg_virtio_run takes for argv[0]: the Multiboot loader of x86_64
 * puts the kernel's path first, QEMU's arm loader passes -append alone */
#define ARGV0 "image "

extern char _mg_text_start[];

/* The device tree's /memory size and /chosen's bootargs (into `line`,
 * after ARGV0). The tree is QEMU's, but read as any input is: a broken
 * one ends the boot with a message rather than a guess. */
static uint64_t read_tree(char *line, size_t size)
{
    struct mg_fdt f;
    if (mg_fdt_open(&f, (const void *)VIRT_DTB, (uintptr_t)_mg_text_start - VIRT_DTB) != 0)
        mg_platform_abort("no device tree at the start of RAM (not booted by QEMU's virt board?)");
    uint32_t ac = 2, sc = 1;
    int root = mg_fdt_path(&f, "/");
    mg_fdt_u32(&f, root, "#address-cells", &ac);
    mg_fdt_u32(&f, root, "#size-cells", &sc);
    uint64_t base, mem;
    int memory = mg_fdt_path(&f, "/memory");
    if (memory < 0 || mg_fdt_reg(&f, memory, 0, ac, sc, &base, &mem) != 0 || base != VIRT_RAM)
        mg_platform_abort("the device tree has no memory at 0x40000000");
    memcpy(line, ARGV0, sizeof ARGV0 - 1);
    uint32_t len = 0;
    const char *args = mg_fdt_prop(&f, mg_fdt_path(&f, "/chosen"), "bootargs", &len);
    size_t n = args ? strnlen(args, len) : 0;
    if (n > size - sizeof ARGV0) n = size - sizeof ARGV0;
    memcpy(line + sizeof ARGV0 - 1, args ? args : "", n);
    line[sizeof ARGV0 - 1 + n] = '\0';
    return VIRT_RAM + mem;
}

__attribute__((no_stack_protector)) void mg_virtio_start(void)
{
    mg_virtio_console_init();
    static char line[4096];
    uint64_t mem_end = read_tree(line, sizeof line);
    /* from here on the device tree is unmapped */
    uintptr_t start, end;
    mg_virtio_paging_init(mem_end, &start, &end);
    mg_virtio_clock_init();
    mg_virtio_interrupts_init();
    for (uint32_t n = 0; n < VIRT_MMIO_COUNT; n++)
        mg_virtio_mmio_add(VIRT_MMIO + n * VIRT_MMIO_SIZE, n);
    mg_virtio_exit_init();
    mg_virtio_run(line, start, end);
}
