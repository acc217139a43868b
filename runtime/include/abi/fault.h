/*
 * abi/fault.h - how every target words a CPU fault of the image (an
 * exception on virtio, a signal the host raises for one on unix and spt):
 *
 *     abort: CPU exception 14 (page fault: writing an unmapped page) at ip
 *     0x1012a4, address 0x0, error code 0x6
 *
 * on one console line, after which the image ends with MG_EXIT_ABORT like
 * any abort (abi/platform.h). Written once (runtime/bindings/fault.c) and
 * used by the virtio exception handler, the unix binding's signal handler
 * and the spt tender's, so that the same bug reads the same everywhere.
 *
 * The formatter touches nothing but its arguments: no C library, no
 * allocation, no thread-local state, so that it is safe in a signal
 * handler, with a cleared thread pointer and inside a fault handler.
 */
#ifndef MG_ABI_FAULT_H
#define MG_ABI_FAULT_H

#include <stddef.h>
#include <stdint.h>

/* The exit status of an aborted image (mg_platform_abort, a CPU fault),
 * the same on every target: 70, sysexits.h's EX_SOFTWARE ("internal
 * software error"). It is below 128 because that is all a virtio image
 * can return through isa-debug-exit, and it is none of the statuses the
 * generated main ends with on purpose (0 success, 1 failure, 2 a usage
 * error). Here rather than in abi/platform.h, whose mg/mg.h host code
 * cannot include, so that `mgd run` and the spt tender use this very
 * definition. */
#define MG_EXIT_ABORT 70

struct mg_fault {
    int vector;       /* the x86 exception vector (0 to 31), or -1 if unknown */
    const char *what; /* with vector -1: what the host says (a signal's name) */
    uint64_t ip;      /* the faulting instruction */
    int has_address;  /* page faults: the address accessed */
    uint64_t address;
    int has_error_code; /* the exceptions that push one */
    uint64_t error_code;
};

/* The longest line mg_fault_format writes, its newline included. */
#define MG_FAULT_LINE_MAX 192

/* Writes the line ("abort: CPU exception ...\n") into buf, which holds
 * MG_FAULT_LINE_MAX bytes; returns its length (no terminating zero). */
size_t mg_fault_format(char *buf, const struct mg_fault *fault);

#endif
