/*
 * boot.S - from QEMU's reset to C (virtio images on riscv64).
 *
 * With -bios none, QEMU's reset code enters the ELF's entry, _start at
 * 0x80000000 (virtio.ld), on every hart in M-mode with the MMU off, a0 =
 * the hart's id and a1 = the address of the device tree, which QEMU puts
 * at the end of RAM. Hart 0 runs the image; any other (an -smp the image
 * does not use) parks in wfi with nothing enabled to wake it. We clear the
 * thread pointer (an access through it then faults at address 0), point
 * mtvec at the trap entry before anything can trap, turn the FPU on
 * (mstatus.FS: gcc's rv64gc code uses the FP registers), clear .bss,
 * and call mg_virtio_start(hart, dtb) on our own stack. Interrupts stay
 * off for good (mstatus.MIE 0): the sleep's wfi wakes on a pending
 * interrupt without taking it (interrupts.c).
 *
 * Also here: the trap entry, which hands every trap to traps.c, and the
 * stacks, each with a guard below it that pmp.c forbids.
 */
#define MSTATUS_FS_INITIAL (1 << 13)

    .section .text.boot, "ax"
    .globl _start
_start:
    csrw mie, zero
    csrr t0, mhartid
    bnez t0, park
    /* gp is for the linker's relaxation of global accesses (gcc's
     * default); tp, the thread pointer, is 0: there is no TLS */
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    li tp, 0
    la t0, mg_riscv_trap_entry
    csrw mtvec, t0
    li t0, MSTATUS_FS_INITIAL
    csrs mstatus, t0
    csrw fcsr, zero
    la sp, mg_virtio_boot_stack_top
    mv s0, a0
    mv s1, a1
    /* .bss, whatever the loader did: it is the image's own zero (the
     * stacks after it need none) */
    la t0, _mg_bss_start
    la t1, _mg_stacks_start
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  mv a0, s0
    mv a1, s1
    call mg_virtio_start
park:
    wfi
    j park

    /* Every trap: mstatus.MIE is never set, so this is a CPU exception
     * (a fault, ecall, ebreak), never an interrupt. It goes to the fault
     * stack's top first (a stack overflow into the guard has a stack to
     * be reported on; a fault inside the handler starts over there and
     * traps.c ends the run), then to traps.c, which never returns:
     * nothing after a fault is trusted, so no register is saved. tp is
     * cleared again for the handler's sake. */
    .balign 4
    .globl mg_riscv_trap_entry
mg_riscv_trap_entry:
    la sp, mg_virtio_fault_stack_top
    li tp, 0
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call mg_riscv_trap
3:  wfi
    j 3b

    /* The stacks and their guards, all 4 KiB pages (pmp.c forbids the
     * guards): the boot stack, on which main runs, and the fault stack,
     * on which traps.c's handler runs. A guard is neither readable nor
     * writable: a stack that overflows into it faults there instead of
     * overwriting what lies below. The boot stack's guard is 16 KiB, so a
     * frame of up to 16 KiB cannot step over it. In a section of their
     * own, which virtio.ld puts after .bss. */
    .section .mg_stacks, "aw", @nobits
    .balign 4096
    .globl mg_virtio_boot_stack_guard, mg_virtio_boot_stack, mg_virtio_boot_stack_top
    .globl mg_virtio_fault_stack_guard, mg_virtio_fault_stack, mg_virtio_fault_stack_top
mg_virtio_boot_stack_guard: .skip 16384
mg_virtio_boot_stack: .skip 65536
mg_virtio_boot_stack_top:
mg_virtio_fault_stack_guard: .skip 4096
mg_virtio_fault_stack: .skip 8192
mg_virtio_fault_stack_top:
