/*
 * exceptions.c - what a virtio image on aarch64 does with a CPU
 * exception: boot.S's vectors send every one here, on the fault stack
 * (SP_EL1), and this prints abi/fault.h's line and ends the run with
 * MG_EXIT_ABORT through exit.c's console, as an abort does on every
 * target.
 *
 * The line uses the x86_64 binding's words where the meaning is the same,
 * so that the same bug reads the same on every arch: a data or
 * instruction abort is a "page fault: reading|writing|executing an
 * unmapped page|a protected page" with its address (FAR_EL1), `udf` (an
 * unknown instruction) an "invalid opcode", `brk` a "breakpoint", a
 * misaligned access, PC or SP an "alignment check"; anything else has its
 * Arm name. There is no x86 vector (-1); the error code is ESR_EL1, the
 * syndrome, and ip ELR_EL1 (for `brk`, the instruction itself).
 *
 * It trusts nothing of the image: it writes to the UART itself and exits
 * without the network flush. A fault while handling one ends the run at
 * once without the line; if even the exit faults, PSCI's SYSTEM_OFF ends
 * QEMU with 0, which mgd run reports as a guest that could not handle its
 * fault; past that, wfi for ever.
 */
#include <stdint.h>

#include "abi/fault.h"
#include "aarch64.h"

/* ESR_EL1's exception classes (bits 31:26) that have a name here */
#define EC_UNKNOWN 0x00
#define EC_WFI 0x01
#define EC_FP 0x07
#define EC_ILLEGAL 0x0e
#define EC_SVC 0x15
#define EC_HVC 0x16
#define EC_SMC 0x17
#define EC_SYSREG 0x18
#define EC_SVE 0x19
#define EC_IABORT_LOW 0x20
#define EC_IABORT 0x21
#define EC_PC_ALIGN 0x22
#define EC_DABORT_LOW 0x24
#define EC_DABORT 0x25
#define EC_SP_ALIGN 0x26
#define EC_FP_EXC 0x2c
#define EC_SERROR 0x2f
#define EC_BRK 0x3c

/* Fault status codes (ESR's ISS bits 5:0 for aborts) */
static int status_unmapped(unsigned fsc)
{
    return fsc <= 0x0b; /* address size, translation, access flag faults */
}

static int status_protected(unsigned fsc)
{
    return fsc >= 0x0c && fsc <= 0x0f; /* permission faults, any level */
}

static const char *abort_what(int exec, int write, unsigned fsc)
{
    if (fsc == 0x21) return "alignment check";
    if (status_unmapped(fsc))
        return exec    ? "page fault: executing an unmapped page"
               : write ? "page fault: writing an unmapped page"
                       : "page fault: reading an unmapped page";
    if (status_protected(fsc))
        return exec    ? "page fault: executing a protected page"
               : write ? "page fault: writing a protected page"
                       : "page fault: reading a protected page";
    return exec ? "instruction abort" : "data abort";
}

static const char *class_what(unsigned ec)
{
    switch (ec) {
    case EC_UNKNOWN:
        return "invalid opcode";
    case EC_WFI:
        return "trapped wfi";
    case EC_FP:
        return "FP/SIMD access trap";
    case EC_ILLEGAL:
        return "illegal execution state";
    case EC_SVC:
        return "supervisor call";
    case EC_HVC:
        return "hypervisor call";
    case EC_SMC:
        return "secure monitor call";
    case EC_SYSREG:
        return "system register access trap";
    case EC_SVE:
        return "SVE access trap";
    case EC_PC_ALIGN:
    case EC_SP_ALIGN:
        return "alignment check";
    case EC_FP_EXC:
        return "floating-point exception";
    case EC_SERROR:
        return "SError";
    case EC_BRK:
        return "breakpoint";
    default:
        return "synchronous exception";
    }
}

/* How deep in faults the handler is: 0 none, 1 handling one, 2 the
 * handler faulted, 3 the exit faulted. */
static volatile int depth;

/* `entry` is the vector's index: entry / 4 the group (0: from EL1 on
 * SP_EL0, the image; 1: from EL1 on SP_EL1, the handler or boot.S), entry
 * % 4 the kind (0 synchronous, 1 IRQ, 2 FIQ, 3 SError). No stack
 * protector: the guard's value is among what is not trusted. */
__attribute__((noreturn, no_stack_protector)) void mg_virtio_exception(unsigned entry)
{
    int d = depth++;
    if (d == 1) mg_virtio_debug_exit(MG_EXIT_ABORT);
    if (d >= 2) mg_virtio_power_off();
    uint64_t esr = SYSREG_READ(esr_el1), far = SYSREG_READ(far_el1);
    unsigned ec = (unsigned)(esr >> 26) & 0x3f;
    struct mg_fault f = {
        .vector = -1,
        .ip = SYSREG_READ(elr_el1),
        .has_error_code = 1,
        .error_code = esr,
    };
    switch (entry % 4) {
    case 0:
        f.what = class_what(ec);
        if (ec == EC_IABORT || ec == EC_IABORT_LOW || ec == EC_DABORT || ec == EC_DABORT_LOW) {
            int exec = ec == EC_IABORT || ec == EC_IABORT_LOW;
            f.what = abort_what(exec, !exec && (esr & (1u << 6)), (unsigned)esr & 0x3f);
            f.has_address = !(esr & (1u << 10)); /* FnV: FAR is not valid */
            f.address = far;
        } else if (ec == EC_PC_ALIGN) {
            f.has_address = 1;
            f.address = far;
        }
        break;
    case 1:
        f.what = "unexpected IRQ";
        break;
    case 2:
        f.what = "unexpected FIQ";
        break;
    default:
        f.what = "SError";
        break;
    }
    char line[MG_FAULT_LINE_MAX];
    mg_platform_console_write(line, mg_fault_format(line, &f));
    mg_virtio_debug_exit(MG_EXIT_ABORT);
}
