/*
 * start.c - the x86_64 virtio image's entry: it is a kernel that QEMU (or
 * any Multiboot loader on an x86_64 PC) boots. boot.S brings the CPU to
 * 64-bit mode and calls mg_virtio_start, which sets up the console and
 * the exception handler, reads what the loader left (memory size, command
 * line), switches to the strict page tables, sets up the clocks and the
 * interrupts that wake the sleep, in that order, then hands the rest to
 * the common mg_virtio_run (../start.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "x86.h"

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

#define MB_BOOT_MAGIC 0x2badb002

__attribute__((no_stack_protector)) void mg_virtio_start(uint32_t magic, uint32_t info)
{
    mg_virtio_console_init();
    mg_virtio_cpu_init();
    if (magic != MB_BOOT_MAGIC) mg_platform_abort("not started by a Multiboot loader");
    const struct multiboot_info *mbi = (const struct multiboot_info *)(uintptr_t)info;
    uint32_t mem_upper = mbi->flags & 1 ? mbi->mem_upper : 0;
    /* the command line, split into words by mg_virtio_run: QEMU passes
     * -append's text; copied first, since it lies in low memory or just
     * after the image, where the page tables and the heap go */
    static char line[4096];
    if (mbi->flags & (1u << 2) && mbi->cmdline) {
        const char *c = (const char *)(uintptr_t)mbi->cmdline;
        size_t n = strnlen(c, sizeof line - 1);
        memcpy(line, c, n);
        line[n] = '\0';
    }
    /* from here on low memory (mbi) is unmapped */
    uintptr_t start, end;
    mg_virtio_paging_init(0x100000 + (uintptr_t)mem_upper * 1024, &start, &end);

    mg_virtio_clock_init();
    mg_virtio_interrupts_init();
    mg_virtio_run(line, start, end);
}
