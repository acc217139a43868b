/*
 * boot.S - from QEMU's `virt` board to C (virtio images on aarch64).
 *
 * QEMU loads the ELF image where it is linked (virtio.ld: above the
 * device tree, which it puts at the start of RAM for a kernel that is not
 * Linux) and enters _start at EL1 with the MMU and caches off and every
 * interrupt masked. With the MMU off every data access is Device memory,
 * where an unaligned access faults and gcc's code makes them, so before
 * any C this turns on a coarse map (1 GiB blocks: the first GiB, where the
 * devices are, as Device memory, the second, RAM, as Normal cached memory)
 * and FP/SIMD (gcc uses its registers for copies), clears the thread
 * pointers, and installs the exception vectors. paging.c replaces the map
 * with the strict one.
 *
 * Two stacks: main runs on SP_EL0 (SPSel 0), and every exception is taken
 * on SP_EL1, the fault stack, so that a stack overflow into the guard is
 * still reported. Both have an unmapped guard below them (paging.c).
 * Interrupts stay masked for good: yield's wfi wakes on a pending
 * interrupt all the same (interrupts.c), so no interrupt handler exists.
 */
#define MAIR_VALUE 0x04ff /* attribute 0: Normal write-back; 1: Device-nGnRE */
/* TCR_EL1: T0SZ 25 (39-bit addresses, tables from level 1), inner and
 * outer write-back caching and inner sharing of the walks, 4 KiB granule,
 * no TTBR1 walks (EPD1), 40-bit physical addresses */
#define TCR_VALUE ((25 << 0) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
#define BLOCK_DEVICE ((1 << 0) | (1 << 2) | (1 << 10) | (3 << 53)) /* Device, AF, PXN, UXN */
#define BLOCK_NORMAL ((1 << 0) | (3 << 8) | (1 << 10))             /* Normal, inner shareable, AF */
#define SCTLR_MMU ((1 << 0) | (1 << 2) | (1 << 3) | (1 << 12))    /* M, C, SA, I */
#define SCTLR_OFF ((1 << 1) | (1 << 19))                          /* A (alignment checks), WXN */

    .section .text.boot, "ax"
    .globl _start
_start:
    msr daifset, #0xf
    mrs x1, CurrentEL
    cmp x1, #(1 << 2)
    b.ne not_el1
    ldr x1, =mg_virtio_fault_stack_top
    mov sp, x1              /* SP_EL1: the exceptions' stack */
    ldr x1, =mg_virtio_vectors
    msr vbar_el1, x1
    mov x1, #(3 << 20)      /* CPACR_EL1.FPEN: FP/SIMD without traps */
    msr cpacr_el1, x1
    msr tpidr_el0, xzr      /* the thread pointers: a TLS access faults */
    msr tpidrro_el0, xzr
    msr tpidr_el1, xzr

    /* the coarse map, in the boot stack's guard (dead once paging.c has
     * switched to its own tables) */
    ldr x1, =mg_virtio_boot_stack_guard
    ldr x2, =BLOCK_DEVICE
    str x2, [x1]            /* 0 to 1 GiB: the devices */
    ldr x2, =(BLOCK_NORMAL | 0x40000000)
    str x2, [x1, #8]        /* 1 to 2 GiB: RAM */
    msr ttbr0_el1, x1
    ldr x1, =MAIR_VALUE
    msr mair_el1, x1
    ldr x1, =TCR_VALUE
    msr tcr_el1, x1
    isb
    tlbi vmalle1
    dsb nsh
    mrs x1, sctlr_el1
    ldr x2, =SCTLR_MMU
    orr x1, x1, x2
    ldr x2, =SCTLR_OFF
    bic x1, x1, x2
    msr sctlr_el1, x1
    isb

    msr spsel, #0
    ldr x1, =mg_virtio_boot_stack_top
    mov sp, x1              /* SP_EL0: main's stack */
    mov x29, #0
    mov x30, #0
    bl mg_virtio_start
1:  wfi
    b 1b

    /* Entered at another EL than EL1 (QEMU's virtualization=on or
     * secure=on start at EL2 or EL3): nothing here knows that EL's
     * registers. Say so on the UART, then power off through PSCI (QEMU
     * exits 0, which mgd run reports as a crash), rather than hang. The
     * conduit is the one QEMU's virt board picks without firmware: SMC
     * when the CPU has EL2 (virtualization=on), else HVC. At EL3
     * (secure=on) QEMU serves no PSCI call and there is no exit left
     * without semihosting, which is off on purpose (exit.c): the wfi
     * loop waits to be stopped from outside. mgd run never starts QEMU
     * so. */
not_el1:
    ldr x1, =0x09000000     /* the PL011's data register */
    adr x2, not_el1_msg
1:  ldrb w3, [x2], #1
    cbz w3, 2f
    str w3, [x1]
    b 1b
2:  ldr x0, =0x84000008     /* PSCI SYSTEM_OFF */
    mrs x1, id_aa64pfr0_el1
    ubfx x1, x1, #8, #4     /* EL2: 0 when not implemented */
    cbz x1, 3f
    smc #0
    b 4f
3:  hvc #0
4:  wfi
    b 4b
not_el1_msg:
    .asciz "abort: not entered at EL1 (QEMU's virt board without virtualization or secure)\r\n"
    .balign 4

    /* The exception vectors: 16 entries of 128 bytes, 2 KiB aligned, in
     * four groups (taken from EL1 on SP_EL0: the image's own faults;
     * from EL1 on SP_EL1: a fault of the handler itself or of the boot
     * code; from EL0 and from AArch32, which nothing here runs), each
     * with synchronous, IRQ, FIQ and SError entries. Every entry starts
     * the handler afresh at the top of the fault stack with its index:
     * nothing after a fault is trusted, and the handler never returns.
     * ELR, ESR and FAR say the rest. */
    .section .vectors, "ax"
    .balign 2048
    .globl mg_virtio_vectors
mg_virtio_vectors:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 128
    mov x0, #\n
    b exception_common
    .endr
exception_common:
    ldr x1, =mg_virtio_fault_stack_top
    mov sp, x1
    mov x29, #0
    bl mg_virtio_exception
2:  wfi
    b 2b

    /* The stacks and their guards, all 4 KiB pages (paging.c maps them):
     * the boot stack, on which main runs, and the fault stack, on which
     * exceptions.c's handler runs. The boot stack's guard is 16 KiB (its
     * first page holds the coarse map above until paging.c replaces it),
     * so a frame of up to 16 KiB cannot step over it. */
    .section .bss
    .balign 4096
    .globl mg_virtio_boot_stack_guard, mg_virtio_boot_stack, mg_virtio_boot_stack_top
    .globl mg_virtio_fault_stack_guard, mg_virtio_fault_stack, mg_virtio_fault_stack_top
mg_virtio_boot_stack_guard: .skip 16384
mg_virtio_boot_stack: .skip 65536
mg_virtio_boot_stack_top:
mg_virtio_fault_stack_guard: .skip 4096
mg_virtio_fault_stack: .skip 8192
mg_virtio_fault_stack_top:
