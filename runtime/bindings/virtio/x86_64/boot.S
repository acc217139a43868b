/*
 * boot.S - from a Multiboot loader to 64-bit C (virtio images).
 *
 * The loader (QEMU's -kernel) enters _start in 32-bit protected mode with
 * paging off, %eax = the Multiboot magic and %ebx = its information. We
 * map the first 1 GiB one to one with 2 MiB pages, enable PAE and long
 * mode, load a 64-bit GDT, jump to 64-bit code, turn on SSE (gcc uses it
 * for copies) and call mg_virtio_start(magic, info) on our own stack.
 * These page tables and this GDT only get C running: mg_virtio_start
 * replaces both (exceptions.c, paging.c) with the strict ones.
 * Interrupts stay off (the interrupt handlers below run only while yield
 * sleeps in hlt).
 *
 * Also here: the entry points of the CPU's 32 exception vectors, which
 * hand every exception to exceptions.c, and the stacks, each with a guard
 * below it that paging.c leaves unmapped.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS ((1 << 1) | (1 << 16)) /* memory info; the load addresses are in this header */

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header         /* header_addr */
    .long _mg_load_start    /* load_addr */
    .long _mg_load_end      /* load_end_addr */
    .long _mg_bss_end       /* bss_end_addr */
    .long _start            /* entry_addr */

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    movl $mg_virtio_boot_stack_top, %esp
    movl %eax, %edi         /* the magic and the information, for C */
    movl %ebx, %esi

    /* page tables: PML4[0] -> PDPT, PDPT[0] -> PD, PD: 512 x 2 MiB */
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $3, %eax
    movl %eax, pdpt
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax         /* present, writable, 2 MiB */
    movl %eax, pd(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl %cr4, %eax
    orl $(1 << 5), %eax     /* PAE */
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx  /* EFER */
    rdmsr
    orl $(1 << 8), %eax     /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax   /* PG, PE */
    movl %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    /* SSE: no emulation, monitor the coprocessor, FXSR and SIMD exceptions */
    movq %cr0, %rax
    andq $~(1 << 2), %rax
    orq $(1 << 1), %rax
    movq %rax, %cr0
    movq %cr4, %rax
    orq $((1 << 9) | (1 << 10)), %rax
    movq %rax, %cr4
    movq $mg_virtio_boot_stack_top, %rsp
    xorq %rbp, %rbp
    call mg_virtio_start
2:  cli
    hlt
    jmp 2b

    /* Interrupts, which are on only inside yield's `sti; hlt` (idle
     * waits, yield.c and interrupts.c): the PIT's tick (IRQ 0, vector 32) wakes
     * the CPU and is acknowledged at the PIC; the network devices' lines
     * go to mg_virtio_irq below; the other PIC vectors (masked) can only
     * be spurious, which takes no acknowledgement.
     * They save what they touch: the interrupted code is yield, compiled
     * without a red zone. */
    .globl mg_virtio_tick, mg_virtio_spurious
mg_virtio_tick:
    pushq %rax
    incl mg_virtio_ticks(%rip) /* boot checks that ticks come before it sleeps */
    movb $0x20, %al         /* end of interrupt, master PIC */
    outb %al, $0x20
    popq %rax
    iretq
    /* a spurious IRQ 7, or any vector nothing should raise (the local
     * APIC's spurious vector, say): nothing to acknowledge */
mg_virtio_spurious:
    iretq
    /* a spurious IRQ 15: the slave raised nothing, but the master took
     * the cascade (IRQ 2) and waits for its end of interrupt */
    .globl mg_virtio_spurious_slave
mg_virtio_spurious_slave:
    pushq %rax
    movb $0x20, %al
    outb %al, $0x20
    popq %rax
    iretq

    /* a virtio device's interrupt (a line mg_virtio_irq_wake unmasked):
     * reading each device's ISR status port acknowledges it and drops
     * the level-triggered line, shared or not; then the end of interrupt
     * at both PICs (the slave's is harmless for a master line). The
     * frames are left for yield, which the wake-up sends back to its
     * checks. */
    .globl mg_virtio_irq
mg_virtio_irq:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    leaq mg_virtio_isr_ports(%rip), %rsi
    movl mg_virtio_n_isr_ports(%rip), %ecx
1:  testl %ecx, %ecx
    jz 2f
    movzwl (%rsi), %edx
    inb %dx, %al
    addq $2, %rsi
    decl %ecx
    jmp 1b
2:  movb $0x20, %al
    outb %al, $0xa0
    outb %al, $0x20
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq

    /* The CPU's exceptions (vectors 0 to 31), all taken on the fault
     * stack (the TSS's IST 1, exceptions.c), so that even a stack overflow
     * into the guard page has a stack to be reported on. Each entry pushes
     * its vector and goes to mg_virtio_exception with the frame's address:
     * whether the CPU pushed an error code the handler tells from the
     * frame's depth below the top of the fault stack, which is exact where
     * a list of vectors would not be (`int $14` pushes none). It never
     * returns: nothing after a fault is trusted. */
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_\v:
    pushq $\v
    jmp exception_common
    .endr
exception_common:
    cld
    movq %rsp, %rdi
    andq $-16, %rsp         /* the C calling convention's alignment */
    call mg_virtio_exception
3:  cli
    hlt
    jmp 3b

    /* Linux running this file as a program enters here, in 64-bit user
     * mode: say what it is and exit 126 instead of faulting on cli */
    .globl _mg_host_entry
_mg_host_entry:
    movq $1, %rax           /* write */
    movq $2, %rdi
    leaq host_msg(%rip), %rsi
    movq $host_msg_len, %rdx
    syscall
    movq $231, %rax         /* exit_group */
    movq $126, %rdi
    syscall
    hlt

    .section .rodata
host_msg:
    .ascii "this is a virtio unikernel: QEMU boots it (mgd run IMAGE)\n"
    .set host_msg_len, . - host_msg
    .align 16
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
    /* the exceptions' entry points, for exceptions.c's IDT */
    .align 8
    .globl mg_virtio_exception_entries
mg_virtio_exception_entries:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_\v
    .endr

    /* The stacks and their guards, all 4 KiB pages (paging.c maps them):
     * the boot stack, on which main runs, and the fault stack, on which
     * exceptions.c's handler runs. A guard is unmapped: a stack that
     * overflows into it faults there instead of overwriting what lies
     * below. The boot stack's guard is 16 KiB: the page tables above,
     * dead once paging.c has switched to its own, then one more page; so
     * a frame of up to 16 KiB cannot step over it. */
    .section .bss
    .align 4096
    .globl mg_virtio_boot_stack_guard, mg_virtio_boot_stack, mg_virtio_boot_stack_top
    .globl mg_virtio_fault_stack_guard, mg_virtio_fault_stack, mg_virtio_fault_stack_top
mg_virtio_boot_stack_guard:
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .skip 4096
mg_virtio_boot_stack: .skip 65536
mg_virtio_boot_stack_top:
mg_virtio_fault_stack_guard: .skip 4096
mg_virtio_fault_stack: .skip 8192
mg_virtio_fault_stack_top:
