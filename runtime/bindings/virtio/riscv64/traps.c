/*
 * traps.c - what a virtio image on riscv64 does with a CPU exception.
 *
 * A fault in the image (a NULL access, `unimp`, a write to code: pmp.c
 * makes most bugs fault) must end it loudly, never in a silent hang: the
 * handler prints abi/fault.h's line on the console and ends the image with
 * MG_EXIT_ABORT through the exit device, as an abort does on every target.
 * RISC-V has no vector numbers of x86's kind, so the line has none (vector
 * -1) and names the exception with x86_64's words where they mean the
 * same thing (a PMP access fault reads as a page fault, since that is what
 * the same bug is on x86_64: the address was unmapped, or protected
 * against what was tried); `ip` is mepc (the faulting instruction, the
 * ebreak itself for a breakpoint), the address is mtval's for the memory
 * faults, and the error code is mcause.
 *
 * It trusts nothing of the image: boot.S runs it on the fault stack (so
 * a stack overflow is still reported), it writes to the UART itself and
 * exits without mg_platform_exit's network flush. A second fault while
 * handling one ends the image at once, without the line.
 */
#include <stdint.h>

#include "abi/fault.h"
#include "riscv.h"

extern char mg_riscv_trap_entry[];

void mg_riscv_traps_init(void)
{
    /* boot.S set mtvec already, for faults during the setup; again here,
     * in direct mode, so that the handler is what this file says */
    csr_write(mtvec, (uintptr_t)mg_riscv_trap_entry);
}

/* mcause's exception codes (the privileged spec, table 3.6) */
enum {
    INSN_MISALIGNED = 0,
    INSN_ACCESS = 1,
    ILLEGAL_INSN = 2,
    BREAKPOINT = 3,
    LOAD_MISALIGNED = 4,
    LOAD_ACCESS = 5,
    STORE_MISALIGNED = 6,
    STORE_ACCESS = 7,
    ECALL_U = 8,
    ECALL_S = 9,
    ECALL_M = 11,
    INSN_PAGE = 12,
    LOAD_PAGE = 13,
    STORE_PAGE = 15,
};

/* The words for what was tried at `address` and why it failed: x86_64's
 * page fault wording, "unmapped" being outside every region pmp.c allows
 * (address 0 and the guards among it). */
static const char *memory_fault(int op, uint64_t address)
{
    static const char *const words[3][2] = {
        {"page fault: reading an unmapped page", "page fault: reading a protected page"},
        {"page fault: writing an unmapped page", "page fault: writing a protected page"},
        {"page fault: executing an unmapped page", "page fault: executing a protected page"},
    };
    return words[op][mg_riscv_mapped(address)];
}

/* Whether an exception is being handled: a second one ends the image at
 * once. */
static volatile int in_fault;

/* Called by boot.S's trap entry with the trap's CSRs. No stack
 * protector: the guard's value is among what is not trusted. */
__attribute__((noreturn, no_stack_protector)) void mg_riscv_trap(uint64_t mcause, uint64_t mepc,
                                                                 uint64_t mtval)
{
    if (in_fault) mg_virtio_debug_exit(MG_EXIT_ABORT);
    in_fault = 1;
    struct mg_fault f = {
        .vector = -1,
        .ip = mepc,
        .has_error_code = 1,
        .error_code = mcause,
    };
    /* mtval is the address for the memory faults only (for an illegal
     * instruction it may hold the instruction's bits) */
    f.has_address = 1;
    f.address = mtval;
    switch ((int64_t)mcause < 0 ? -1 : (int)mcause) {
    case INSN_ACCESS:
    case INSN_PAGE:
        f.what = memory_fault(2, mtval);
        break;
    case LOAD_ACCESS:
    case LOAD_PAGE:
        f.what = memory_fault(0, mtval);
        break;
    case STORE_ACCESS:
    case STORE_PAGE:
        f.what = memory_fault(1, mtval);
        break;
    case INSN_MISALIGNED:
    case LOAD_MISALIGNED:
    case STORE_MISALIGNED:
        f.what = "alignment check";
        break;
    case ILLEGAL_INSN:
        f.what = "invalid opcode";
        f.has_address = 0;
        break;
    case BREAKPOINT:
        f.what = "breakpoint";
        f.has_address = 0;
        break;
    case ECALL_U:
    case ECALL_S:
    case ECALL_M:
        f.what = "environment call";
        f.has_address = 0;
        break;
    case -1: /* never enabled (mstatus.MIE is 0): a bug of the binding's */
        f.what = "interrupt";
        f.has_address = 0;
        break;
    default:
        f.what = "exception";
        f.has_address = 0;
        break;
    }
    char line[MG_FAULT_LINE_MAX];
    mg_platform_console_write(line, mg_fault_format(line, &f));
    mg_virtio_debug_exit(MG_EXIT_ABORT);
}
