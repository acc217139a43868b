/*
 * fault.c - the unix binding's CPU fault report: a handler for the
 * signals the host raises for a CPU exception of the image (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGTRAP) that prints the one fault line of
 * every target (abi/fault.h) on the console and ends the image with
 * MG_EXIT_ABORT, as a NULL access or a ud2 ends it on spt and virtio.
 *
 * The handler runs on an alternate signal stack of its own, so that a
 * stack overflow, whose fault leaves no stack to run on, is reported too.
 * It is installed before main by a constructor, mg_unix_catch_faults,
 * which nothing calls: the unix target links it into every image by name
 * (targets/unix.json's -Wl,--undefined), since the runtime is an archive
 * from which the linker takes only the members something refers to. Inside the handler only
 * async-signal-safe calls: write(2), _exit(2), and mg_fault_format, which
 * touches nothing but its arguments.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_TRAPNO, REG_ERR, REG_RIP in <sys/ucontext.h> */
#endif
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "abi/fault.h"
#include "abi/platform.h"

/* The signals the host raises for a CPU exception. */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};

/* The alternate stack: static, since the handler must run when the
 * image's own stack is used up; SIGSTKSZ may not be a constant (glibc
 * 2.34+), so a size that is plenty for the handler's frame and the
 * kernel's signal frame (which holds the CPU's extended state). */
static unsigned char alt_stack[64 * 1024] __attribute__((aligned(16)));

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGILL:
        return "SIGILL";
    case SIGFPE:
        return "SIGFPE";
    case SIGTRAP:
        return "SIGTRAP";
    default:
        return "signal";
    }
}

#if defined(__x86_64__)
/* The exceptions for which the CPU pushes an error code (Intel SDM vol.
 * 3, table 6-1): for the others the kernel's REG_ERR means nothing. */
static int has_error_code(int vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
           vector == 29 || vector == 30;
}
#endif

/* What the kernel says about the fault, in abi/fault.h's terms. */
static void describe(struct mg_fault *f, int sig, const siginfo_t *si, const ucontext_t *uc)
{
    memset(f, 0, sizeof *f);
    f->what = signal_name(sig);
#if defined(__x86_64__)
    const greg_t *g = uc->uc_mcontext.gregs;
    f->vector = (int)g[REG_TRAPNO];
    f->ip = (uint64_t)g[REG_RIP];
    if (f->vector < 0 || f->vector > 31) f->vector = -1;
    if (f->vector >= 0 && has_error_code(f->vector)) {
        f->has_error_code = 1;
        f->error_code = (uint64_t)g[REG_ERR];
    }
    if (f->vector == 14) {
        f->has_address = 1;
        f->address = (uint64_t)(uintptr_t)si->si_addr;
    }
#else
    /* no x86 exception vector on other arches: the signal's name, the
     * interrupted instruction, and for SIGSEGV and SIGBUS the address */
    f->vector = -1;
#if defined(__aarch64__)
    f->ip = (uint64_t)uc->uc_mcontext.pc;
#elif defined(__riscv)
    f->ip = (uint64_t)uc->uc_mcontext.__gregs[REG_PC];
#else
    /* an arch this file does not know: the kernel's address, which is the
     * instruction for SIGILL, SIGFPE and SIGTRAP */
    (void)uc;
    f->ip = (uint64_t)(uintptr_t)si->si_addr;
#endif
    if (sig == SIGSEGV || sig == SIGBUS) {
        f->has_address = 1;
        f->address = (uint64_t)(uintptr_t)si->si_addr;
    }
#endif
}

static void on_fault(int sig, siginfo_t *si, void *context)
{
    /* sent by a process (kill, raise), not raised by the CPU: there is
     * no fault to describe, so the signal does what it did before this
     * handler, killing the image, once the handler returns */
    if (si->si_code <= 0) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    struct mg_fault f;
    describe(&f, sig, si, (const ucontext_t *)context);
    char line[MG_FAULT_LINE_MAX];
    size_t len = mg_fault_format(line, &f);
    /* the console is standard output, as for every other abort
     * (abort.c); a short write is retried, an error ends the report */
    for (size_t done = 0; done < len;) {
        ssize_t n = write(STDOUT_FILENO, line + done, len - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    _exit(MG_EXIT_ABORT);
}

/* Before main: the alternate stack, then the handler for every fault
 * signal, each blocking all the others, so that a fault inside the
 * handler kills the image (the kernel's answer to a blocked fault)
 * instead of re-entering it. */
void mg_unix_catch_faults(void);
__attribute__((constructor)) void mg_unix_catch_faults(void)
{
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    /* without the alternate stack every fault but a stack overflow is
     * still reported; that one then kills the image by its signal */
    sa.sa_flags = SA_SIGINFO | (sigaltstack(&ss, NULL) == 0 ? SA_ONSTACK : 0);
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fault_signals / sizeof *fault_signals; i++)
        sigaddset(&sa.sa_mask, fault_signals[i]);
    for (size_t i = 0; i < sizeof fault_signals / sizeof *fault_signals; i++)
        sigaction(fault_signals[i], &sa, NULL);
    /* a mask inherited from the parent would make the kernel kill the
     * image on a fault instead of running the handler */
    sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}
