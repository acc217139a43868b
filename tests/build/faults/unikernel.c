/*
 * faults: an image that commits the CPU fault its `fault` key names, for
 * tests/build/faults.sh to check that every target stops it the same way
 * (abi/fault.h): "abort: CPU exception N (...)" and MG_EXIT_ABORT, never
 * a silent wrong answer, a hang or a reset. The cases follow Solo5's own
 * tests (test_zeropage, test_exception, test_wnox, test_xnow, test_notls).
 * Each prints "committing FAULT" first, so that a target that lets the
 * fault pass shows it by printing "survived FAULT" after.
 *
 * The cases are named after x86_64's instructions but built for every
 * arch the image is built for: `ud2` is the arch's undefined instruction
 * (aarch64 `udf #0`, riscv64 `unimp`), `int3` its breakpoint (`brk #0`,
 * `ebreak`), `tls_read` a read through its thread pointer (%fs, TPIDR_EL0,
 * tp). divide_by_zero traps on x86_64 only (aarch64 and riscv64 divide by
 * zero without a fault: 0, all ones), and int14 and no_handler are x86_64
 * virtio only, semihosting aarch64 only; elsewhere they answer "no fault
 * named" and the job fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg/console.h"
#include "mg_keys.h"

int faults_start(mg_console *console);

typedef void (*code_fn)(void);

/* the arch's `ret`, as data: executing it must fault where data is not
 * code (and returns if a target lets it run) */
#if defined(__x86_64__)
static unsigned char data_code[16] = {0xc3};
#elif defined(__aarch64__)
static unsigned char data_code[16] = {0xc0, 0x03, 0x5f, 0xd6};
#elif defined(__riscv)
static unsigned char data_code[16] = {0x67, 0x80, 0x00, 0x00};
#else
#error "faults: no `ret` for this arch"
#endif
static const unsigned char rodata_bytes[16] = {1};

/* Calls what `fn` points to through a volatile pointer: the compiler may
 * neither see through it nor drop it. */
static void call(void *fn)
{
    code_fn volatile f = (code_fn)(uintptr_t)fn;
    f();
}

/* Recurses without end: each frame keeps 1 KiB live, so that the stack
 * runs into whatever lies below it. */
static int deep(volatile char *up, int n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[1023] = up ? up[0] : 0;
    return deep(frame, n + 1) + frame[512];
}

static int commit(const char *fault)
{
    volatile int zero = 0, one = 1;
    if (!strcmp(fault, "null_read")) return *(volatile int *)(uintptr_t)zero;
    if (!strcmp(fault, "null_write")) {
        *(volatile int *)(uintptr_t)zero = 1;
        return 0;
    }
    if (!strcmp(fault, "null_call")) {
        call((void *)(uintptr_t)zero);
        return 0;
    }
    if (!strcmp(fault, "ud2")) {
#if defined(__x86_64__)
        __asm__ volatile("ud2");
#elif defined(__aarch64__)
        __asm__ volatile("udf #0");
#else
        __asm__ volatile("unimp");
#endif
        return 0;
    }
    if (!strcmp(fault, "int3")) {
#if defined(__x86_64__)
        __asm__ volatile("int3");
#elif defined(__aarch64__)
        __asm__ volatile("brk #0");
#else
        __asm__ volatile("ebreak");
#endif
        return 0;
    }
#if defined(__x86_64__)
    if (!strcmp(fault, "divide_by_zero")) return one / zero;
#else
    (void)one;
#endif
    if (!strcmp(fault, "unmapped_write")) {
        /* 64 TiB: canonical, far beyond any target's memory or mappings */
        *(volatile char *)(uintptr_t)0x400000000000ull = 1;
        return 0;
    }
    if (!strcmp(fault, "write_code")) {
        *(volatile unsigned char *)(uintptr_t)&faults_start = data_code[0];
        return 0;
    }
    if (!strcmp(fault, "write_rodata")) {
        *(volatile unsigned char *)(uintptr_t)&rodata_bytes[0] = 2;
        return 0;
    }
    if (!strcmp(fault, "exec_data")) {
        call(data_code);
        return 0;
    }
    if (!strcmp(fault, "exec_stack")) {
        unsigned char stack_code[16];
        memcpy(stack_code, data_code, sizeof stack_code);
        call(stack_code);
        return stack_code[1];
    }
    if (!strcmp(fault, "exec_heap")) {
        unsigned char *heap_code = malloc(16);
        if (!heap_code) return 1;
        memcpy(heap_code, data_code, 16);
        call(heap_code);
        return heap_code[1];
    }
    if (!strcmp(fault, "tls_read")) {
        /* where x86_64's -fstack-protector default guard lives: a thread
         * pointer left at 0 makes this a read of address 0x28 */
        uint64_t v;
#if defined(__x86_64__)
        __asm__ volatile("movq %%fs:0x28, %0" : "=r"(v));
#elif defined(__aarch64__)
        __asm__ volatile("mrs %0, tpidr_el0\n\tldr %0, [%0, #0x28]" : "=r"(v));
#else
        __asm__ volatile("ld %0, 0x28(tp)" : "=r"(v));
#endif
        return (int)(v & 1);
    }
    if (!strcmp(fault, "stack_overflow")) return deep(NULL, 0);
    if (!strcmp(fault, "low_read")) {
        /* virtio: far from NULL but below the image (a NULL struct's
         * member at a large offset), where the BIOS's bytes lie; on
         * aarch64 the RAM below the image, where the device tree lies */
#if defined(__aarch64__)
        return *(volatile int *)(uintptr_t)(0x40080000 + zero);
#else
        return *(volatile int *)(uintptr_t)(0x80000 + zero);
#endif
    }
#if defined(__x86_64__)
    if (!strcmp(fault, "int14")) {
        /* virtio only (ring 0): the page fault's vector raised by software,
         * which pushes no error code where the CPU's page fault does; the
         * handler must still find the frame (and print no error code) */
        __asm__ volatile("int $14");
        return 0;
    }
    if (!strcmp(fault, "no_handler")) {
        /* virtio only (ring 0): an empty interrupt table, then a fault: the
         * CPU can take no handler at all and resets, which must end the
         * run as a crash, not hang it */
        struct __attribute__((packed)) {
            uint16_t limit;
            uint64_t base;
        } empty = {0, 0};
        __asm__ volatile("lidt %0; int3" : : "m"(empty));
        return 0;
    }
#endif
#if defined(__aarch64__)
    if (!strcmp(fault, "semihosting")) {
        /* A hostile image's way out to the host, if QEMU had semihosting
         * on: SYS_OPEN (0x01) of the `path` key's file with mode 4
         * ("w"), which QEMU would create with the rights of whoever runs
         * mgd run. Without semihosting `hlt #0xf000` is an undefined
         * instruction, and the file must not exist afterwards. */
        const char *path = mg_key_path();
        static volatile uint64_t block[3];
        block[0] = (uintptr_t)path;
        block[1] = 4;
        block[2] = strlen(path);
        register uint64_t x0 __asm__("x0") = 0x01;
        register uint64_t x1 __asm__("x1") = (uintptr_t)block;
        __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
        return (int)(x0 & 0xff);
    }
#endif
    return -1;
}

int faults_start(mg_console *console)
{
    const char *fault = mg_key_fault();
    if (!strcmp(fault, "none")) {
        mg_console_printf(console, "no fault\n");
        return 0;
    }
    mg_console_printf(console, "committing %s\n", fault);
    int r = commit(fault);
    if (r == -1) {
        mg_console_printf(console, "faults: no fault named %s\n", fault);
        return 2;
    }
    mg_console_printf(console, "survived %s (%d)\n", fault, r);
    return 1;
}
