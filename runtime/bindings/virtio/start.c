/*
 * start.c - the common end of a virtio image's boot, on every arch: once
 * the arch's start (x86_64/start.c, ...) has the CPU, the memory, the
 * clocks and the interrupts set up, mg_virtio_run sets the stack
 * protector's guard, splits the command line into argv, makes the heap,
 * finds the devices, then runs main and exits with its status.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

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

/* no stack protector: this function sets the guard, and never returns to
 * check it */
__attribute__((no_stack_protector)) _Noreturn void mg_virtio_run(char *line, uintptr_t heap_start,
                                                                 uintptr_t heap_end)
{
    uintptr_t guard = 0;
    if (mg_platform_entropy(&guard, sizeof guard) != MG_OK)
        guard = (uintptr_t)mg_platform_clock_monotonic() * 0x9e3779b97f4a7c15ull;
    __stack_chk_guard = guard & ~(uintptr_t)0xff;

    static char *argv[MAX_ARGS + 1];
    /* loaders put the kernel's file name first (QEMU, GRUB): it is argv[0] */
    int argc = split_words(line, argv, MAX_ARGS);
    if (argc == 0) argv[argc++] = "image";
    argv[argc] = NULL;
    if (heap_end <= heap_start + 65536) mg_platform_abort("too little memory");
    mg_libc_heap_init((void *)heap_start, heap_end - heap_start);
    mg_virtio_blk_init();
    mg_virtio_net_init();

    mg_platform_exit(main(argc, argv));
}
