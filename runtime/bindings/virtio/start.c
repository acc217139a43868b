/*
 * start.c - the virtio binding's entry: virtio images are kernels that
 * QEMU (or any Multiboot loader on an x86_64 PC) boots. boot.S brings the
 * CPU to 64-bit mode and calls mg_virtio_start, which sets up the console
 * and the exception handler, reads what the loader left (memory size,
 * command line), switches to the strict page tables, sets up the clocks
 * and the interrupts that wake yield, the stack protector's guard, argv,
 * the heap and the devices, in that order, then runs main and exits with
 * its status.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

#define MB_BOOT_MAGIC 0x2badb002
#define MAX_ARGS 64

extern uintptr_t __stack_chk_guard;
int main(int argc, char **argv);

/* Splits `line` in place into at most `max` words as a shell splits words,
 * without its expansions: blanks separate words, "..." quotes blanks, a
 * backslash takes the next character as it is (mgd run quotes arguments
 * this way). Returns how many. Words are written back over the line:
 * never longer than their text. */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *in = line, *out = line;
    while (n < max) {
        while (*in == ' ' || *in == '\t') in++;
        if (!*in) break;
        words[n++] = out;
        int quoted = 0;
        for (; *in && (quoted || (*in != ' ' && *in != '\t')); in++) {
            if (*in == '"')
                quoted = !quoted;
            else if (*in == '\\' && in[1])
                *out++ = *++in;
            else
                *out++ = *in;
        }
        /* the separator may be the byte just written over: step past it
         * before ending the word */
        if (*in) in++;
        *out++ = '\0';
    }
    return n;
}

__attribute__((no_stack_protector)) void mg_virtio_start(uint32_t magic, uint32_t info)
{
    mg_virtio_console_init();
    mg_virtio_cpu_init();
    if (magic != MB_BOOT_MAGIC) mg_platform_abort("not started by a Multiboot loader");
    const struct multiboot_info *mbi = (const struct multiboot_info *)(uintptr_t)info;
    uint32_t mem_upper = mbi->flags & 1 ? mbi->mem_upper : 0;
    /* the command line, split into words (split_words) later: QEMU passes
     * -append's text; copied first, since it lies in low memory or just
     * after the image, where the page tables and the heap go */
    static char line[4096];
    static char *argv[MAX_ARGS + 1];
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
    uintptr_t guard = 0;
    if (mg_platform_entropy(&guard, sizeof guard) != MG_OK)
        guard = (uintptr_t)mg_virtio_rdtsc() * 0x9e3779b97f4a7c15ull;
    __stack_chk_guard = guard & ~(uintptr_t)0xff;

    /* loaders put the kernel's file name first (QEMU, GRUB): it is argv[0] */
    int argc = split_words(line, argv, MAX_ARGS);
    if (argc == 0) argv[argc++] = "image";
    argv[argc] = NULL;
    /* the heap: what paging.c left mapped read-write after its tables */
    if (end <= start + 65536) mg_platform_abort("too little memory");
    mg_libc_heap_init((void *)start, end - start);
    mg_virtio_blk_init();
    mg_virtio_net_init();

    mg_platform_exit(main(argc, argv));
}
