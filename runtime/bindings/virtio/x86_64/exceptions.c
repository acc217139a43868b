/*
 * exceptions.c - the virtio image's CPU tables and what it does with a
 * CPU exception: the GDT with a TSS, whose IST 1 is the fault stack
 * (boot.S), the IDT, and the handler of the 32 exception vectors.
 *
 * A fault in the image (a NULL access, ud2, a write to code: paging.c
 * makes most bugs fault) must end it loudly, never in a silent triple
 * fault: the handler prints abi/fault.h's line (vector, ip, the address of
 * a page fault, the error code) on the console and ends the image with
 * MG_EXIT_ABORT through isa-debug-exit, as an abort does on every target.
 * It trusts nothing of the image: it runs on its own stack (so that a
 * stack overflow can still be reported), writes to COM1 itself and exits
 * without mg_platform_exit's network flush (the device state may be what
 * broke). A second fault while handling one ends the image at once; what
 * even that cannot handle (the IDT or the TSS gone) triple-faults, and
 * QEMU, started with -no-reboot, exits.
 */
#include <stdint.h>

#include "abi/fault.h"
#include "x86.h"

struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type; /* ist: 0 the current stack, n the TSS's IST n; type
                        * 0x8e: present, ring 0, 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};

/* all 256 vectors: the exceptions (0 to 31) from mg_virtio_cpu_init on,
 * the rest from interrupts.c's; absent until then */
static struct idt_gate idt[256] __attribute__((aligned(16)));

/* The 64-bit TSS: only its IST 1 is used (no ring changes, no I/O
 * bitmap). */
struct __attribute__((packed)) tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
};
static struct tss tss;

/* The GDT: the null descriptor, 64-bit code (0x08) and data (0x10), as
 * boot.S's, then the TSS's 16-byte descriptor (0x18). Writable (.data),
 * because ltr marks the TSS's descriptor busy in memory; the code and data
 * descriptors are marked accessed already, so that loading them writes
 * nothing. */
#define GDT_CODE 0x08
#define GDT_DATA 0x10
#define GDT_TSS 0x18
static uint64_t gdt[5] = {0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0, 0};

/* boot.S: the exceptions' entry points, and the fault stack's top */
extern const uint64_t mg_virtio_exception_entries[32];
extern char mg_virtio_fault_stack_top[];

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

void mg_virtio_idt_set(int vector, void (*handler)(void), int ist)
{
    uintptr_t a = (uintptr_t)handler;
    idt[vector] = (struct idt_gate){(uint16_t)a,
                                    GDT_CODE,
                                    (uint8_t)ist,
                                    0x8e,
                                    (uint16_t)(a >> 16),
                                    (uint32_t)((uint64_t)a >> 32),
                                    0};
}

void mg_virtio_cpu_init(void)
{
    /* the thread pointer (FS and GS bases, and the one swapgs would swap
     * in) at 0: nothing here has threads, and an access through it (TLS,
     * or the stack protector's default %fs:0x28) reads the unmapped first
     * page and faults instead of reading whatever low memory holds */
    wrmsr(0xc0000100, 0);
    wrmsr(0xc0000101, 0);
    wrmsr(0xc0000102, 0);

    tss.ist[0] = (uintptr_t)mg_virtio_fault_stack_top;
    tss.iomap_base = sizeof tss;
    uint64_t base = (uintptr_t)&tss, limit = sizeof tss - 1;
    gdt[3] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 | /* present, TSS */
             ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    gdt[4] = base >> 32;
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr = {sizeof gdt - 1, (uintptr_t)gdt}, idtr = {sizeof idt - 1, (uintptr_t)idt};
    /* the same selectors as boot.S's GDT: CS needs no reload, the data
     * segments are reloaded so that nothing refers to the old table */
    __asm__ volatile("lgdt %0\n\t"
                     "movw %1, %%ds\n\t"
                     "movw %1, %%es\n\t"
                     "movw %1, %%ss\n\t"
                     "ltr %2"
                     :
                     : "m"(gdtr), "r"((uint16_t)GDT_DATA), "r"((uint16_t)GDT_TSS)
                     : "memory");
    for (int v = 0; v < 32; v++)
        mg_virtio_idt_set(v, (void (*)(void))(uintptr_t)mg_virtio_exception_entries[v], 1);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Ends the run with MG_EXIT_ABORT through isa-debug-exit, touching
 * nothing else (no network flush: after a fault nothing is trusted). */
static _Noreturn void fault_exit(void)
{
    mg_virtio_debug_exit(MG_EXIT_ABORT);
}

/* Whether an exception is being handled: a second one ends the image at
 * once. */
static volatile int in_fault;

/* Called by boot.S's exception entries, on the fault stack, with `frame`
 * pointing at what they and the CPU pushed: the vector, the error code if
 * the exception has one, then RIP, CS, RFLAGS, RSP and SS. The CPU starts
 * every exception at the top of the fault stack (IST 1), so the frame's
 * depth says whether an error code is there: 6 words without, 7 with. No
 * stack protector: the guard's value is among what is not trusted. */
__attribute__((noreturn, no_stack_protector)) void mg_virtio_exception(const uint64_t *frame)
{
    if (in_fault) fault_exit();
    in_fault = 1;
    uint64_t cr2;
    __asm__ volatile("movq %%cr2, %0" : "=r"(cr2));
    uintptr_t depth = (uintptr_t)mg_virtio_fault_stack_top - (uintptr_t)frame;
    if (depth != 6 * 8 && depth != 7 * 8) fault_exit(); /* not a frame this handler knows */
    int has_error_code = depth == 7 * 8;
    struct mg_fault f = {
        .vector = (int)(frame[0] & 31),
        .ip = frame[1 + has_error_code],
        /* CR2 is the page fault's address only if the CPU raised it
         * (then with an error code), not for a software `int $14` */
        .has_address = frame[0] == 14 && has_error_code,
        .address = cr2,
        .has_error_code = has_error_code,
        .error_code = has_error_code ? frame[1] : 0,
    };
    char line[MG_FAULT_LINE_MAX];
    mg_platform_console_write(line, mg_fault_format(line, &f));
    fault_exit();
}
