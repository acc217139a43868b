/*
 * mg-spt.c - the spt tender: runs an spt unikernel as a sandboxed process.
 *
 *   mg-spt [--mem MIB] [--block:NAME=FILE[:ro]]... [--net:NAME=TAP]...
 *          [--net-mac:NAME=MAC]... IMAGE [-- ARGS...]
 *
 * What it does, in order (Solo5's spt tender is the model):
 *   1. reads the image's note (runtime/include/abi/image_note.h) and
 *      refuses an image that is not for spt, not of this ABI (MG_SPT_ABI)
 *      or not for this arch;
 *   2. requires every device the note declares to be attached, and nothing
 *      else: a missing or unknown --block or --net is an error before
 *      anything runs, and so is a note with more than 16 devices of a
 *      kind (MG_IMAGE_MAX_BLOCKS, MG_IMAGE_MAX_NETS). A block device is a
 *      host file of at least one 512-byte sector, read-write unless
 *      FILE:ro or the host says otherwise; a network device is
 *      an existing tap interface, opened through /dev/net/tun without
 *      packet information and non-blocking, with the tap's MTU and a
 *      random locally administered MAC address (or --net-mac's);
 *   3. maps the image's PT_LOAD segments at their addresses with their own
 *      protections, refusing a segment that is both writable and
 *      executable (W^X) or that would land on something already mapped;
 *   4. maps the heap (--mem, default 64 MiB) and fills the boot structure
 *      (runtime/include/abi/spt.h);
 *   5. installs a handler for the signals a CPU fault of the image raises
 *      (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP), on an alternate stack
 *      so that a stack overflow is caught too: it prints the fault line
 *      every target prints (abi/fault.h) on the image's console and ends
 *      the process with MG_EXIT_ABORT, 70, using raw system calls only;
 *   6. installs a seccomp filter that kills the process on any system call
 *      but those the platform needs, with their descriptors pinned: write
 *      to fd 1, pread64/pwrite64 on the attached block files (pwrite only
 *      on writable ones), readv and write on the taps, clock_gettime, ppoll
 *      with at most as many descriptors as there are taps and no signal
 *      mask, getrandom, exit_group, and arch_prctl(ARCH_SET_FS, 0) alone;
 *   7. clears the thread pointer (the FS base) with that arch_prctl, so
 *      that a TLS access of the image (%fs:0x28, the host compiler's
 *      stack-protector guard) faults as on Solo5 instead of reading the
 *      tender's memory, and calls the image's entry point, which never
 *      returns. Nothing of the tender that could touch TLS runs after it.
 * The exit status is the image's own, 70 after a CPU fault; a forbidden
 * system call kills the process with SIGSYS, which `mgd run` reports.
 *
 * Exit statuses of the tender itself (before the image runs): 2 usage,
 * 125 the image or its devices cannot be set up.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <asm/prctl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/include/abi/fault.h"
#include "runtime/include/abi/image_note.h"
#include "runtime/include/abi/spt.h"
#include "base/fsutil.h"
#include "toolchain/image.h"
#include "toolchain/launch.h"

_Static_assert(MG_SPT_MAX_BLOCKS == MG_IMAGE_MAX_BLOCKS && MG_SPT_MAX_NETS == MG_IMAGE_MAX_NETS,
               "the boot structure holds the devices an image may declare, no more, no fewer");

#define EXIT_USAGE 2
#define EXIT_SETUP 125
#define PAGE 4096u
#define MAX_SEGMENTS 16
/* no segment below this (the NULL page and its neighbours stay unmapped) */
#define LOWEST_ADDRESS 0x10000u

static const char *prog = "mg-spt";

static void usage(FILE *f)
{
    fprintf(f, "usage: mg-spt [--mem MIB] [--block:NAME=FILE[:ro]]... [--net:NAME=TAP]...\n"
               "              [--net-mac:NAME=MAC]... IMAGE [-- ARGS...]\n"
               "Runs an spt unikernel (built with mgd build --target spt) in a seccomp\n"
               "sandbox; `mgd run IMAGE` calls it. Every device the image declares must be\n"
               "attached: a block device with --block:NAME=FILE (FILE:ro: read-only; a\n"
               "file whose name ends in :ro or :rw takes the mode after it: x:ro:rw), at\n"
               "least 512 bytes, of which whole 512-byte sectors are used; a network device with\n"
               "--net:NAME=TAP, TAP being an existing tap interface (ip tuntap add TAP mode\n"
               "tap). The image's MAC address is random unless --net-mac:NAME=MAC gives it.\n");
}

__attribute__((format(printf, 1, 2))) _Noreturn static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_SETUP);
}

/* ---- the image ------------------------------------------------------------------ */

static void read_at(int fd, void *buf, size_t size, uint64_t offset, const char *image)
{
    unsigned char *p = buf;
    while (size) {
        ssize_t n = pread(fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            fail("%s: cannot read %zu bytes at %llu: %s", image, size, (unsigned long long)offset,
                 n < 0 ? strerror(errno) : "the file ends");
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
}

static int prot_of(uint32_t flags)
{
    return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
           (flags & PF_X ? PROT_EXEC : 0);
}

/* Maps the image; returns its entry point. */
static uintptr_t load(const char *image)
{
    int fd = open(image, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("%s: %s", image, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) fail("%s: not a regular file", image);
    Elf64_Ehdr eh;
    read_at(fd, &eh, sizeof eh, 0, image);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
        fail("%s: not an x86_64 ELF image", image);
    if (eh.e_type != ET_EXEC)
        fail("%s: not a static executable (spt images are linked at fixed addresses)", image);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64)
        fail("%s: bad program headers", image);
    Elf64_Phdr ph[64];
    read_at(fd, ph, (size_t)eh.e_phnum * sizeof *ph, eh.e_phoff, image);
    bool entry_ok = false;
    int n_load = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type == PT_INTERP)
            fail("%s: asks for a dynamic loader; spt images are static", image);
        if (p->p_type != PT_LOAD || p->p_memsz == 0) continue;
        if (++n_load > MAX_SEGMENTS) fail("%s: more than %d segments", image, MAX_SEGMENTS);
        if ((p->p_flags & PF_W) && (p->p_flags & PF_X))
            fail("%s: segment %d is writable and executable (W^X refused)", image, i);
        if (p->p_filesz > p->p_memsz || p->p_offset > (uint64_t)st.st_size ||
            p->p_filesz > (uint64_t)st.st_size - p->p_offset)
            fail("%s: segment %d lies outside the file", image, i);
        uint64_t start = p->p_vaddr & ~(uint64_t)(PAGE - 1);
        uint64_t end = p->p_vaddr + p->p_memsz;
        if (p->p_vaddr < LOWEST_ADDRESS || end < p->p_vaddr || end > 0x7f0000000000ull)
            fail("%s: segment %d at 0x%llx is outside the addresses spt images may use", image, i,
                 (unsigned long long)p->p_vaddr);
        end = (end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        /* anonymous and writable while it is filled, then its own rights;
         * MAP_FIXED_NOREPLACE: never on top of the tender */
        void *m = mmap((void *)(uintptr_t)start, end - start, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (m == MAP_FAILED || (uintptr_t)m != start)
            fail("%s: cannot map segment %d at 0x%llx: %s", image, i, (unsigned long long)start,
                 m == MAP_FAILED ? strerror(errno) : "the address is taken");
        read_at(fd, (void *)(uintptr_t)p->p_vaddr, p->p_filesz, p->p_offset, image);
        if (mprotect(m, end - start, prot_of(p->p_flags)) != 0)
            fail("%s: cannot protect segment %d: %s", image, i, strerror(errno));
        if ((p->p_flags & PF_X) && eh.e_entry >= p->p_vaddr && eh.e_entry < p->p_vaddr + p->p_memsz)
            entry_ok = true;
    }
    close(fd);
    if (!entry_ok) fail("%s: the entry point is in no executable segment", image);
    return (uintptr_t)eh.e_entry;
}

/* ---- faults ------------------------------------------------------------------------- */

/* A CPU fault of the image (a NULL access, ud2, int3, a division by zero,
 * a write to its code, a stack overflow) reaches the tender as a signal.
 * The handler prints the fault line every target prints (abi/fault.h) on
 * the image's console and ends the process with MG_EXIT_ABORT. It runs
 * inside the image's world: under the seccomp filter (so only write to
 * fd 1 and exit_group, as raw system calls) and with the thread pointer
 * cleared (so nothing of the C library, whose errno is thread-local, and
 * no stack protector, whose guard is read through %fs). It runs on an
 * alternate stack of its own, so that a stack overflow is reported too.
 * mg_fault_format (runtime/bindings/fault.c) is built for the tender
 * without stack protector and without calls (runtime/CMakeLists.txt). */

#define MG_NO_TLS __attribute__((no_stack_protector, no_sanitize("address", "undefined")))

/* The signals the host raises for a CPU exception. */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};

/* The handler's stack: room for its frame and the kernel's signal frame,
 * which holds the CPU's extended state. */
static unsigned char fault_stack[64 * 1024] __attribute__((aligned(16)));

MG_NO_TLS static long raw_syscall3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

MG_NO_TLS _Noreturn static void raw_exit(int status)
{
    for (;;) raw_syscall3(SYS_exit_group, status, 0, 0);
}

/* The exceptions for which the CPU pushes an error code (Intel SDM vol.
 * 3, table 6-1): for the others the kernel's REG_ERR means nothing. */
MG_NO_TLS static int has_error_code(int vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
           vector == 29 || vector == 30;
}

MG_NO_TLS static void on_fault(int sig, siginfo_t *si, void *context)
{
    /* sent by a process (kill), not raised by the CPU: no fault to tell.
     * The filter allows neither restoring the default action nor
     * returning (rt_sigreturn), so the image ends as a shell reports a
     * death by that signal */
    if (si->si_code <= 0) raw_exit(128 + sig);
    const greg_t *g = ((const ucontext_t *)context)->uc_mcontext.gregs;
    struct mg_fault f;
    f.vector = (int)g[REG_TRAPNO];
    if (f.vector < 0 || f.vector > 31) f.vector = -1;
    f.what = sig == SIGSEGV  ? "SIGSEGV"
             : sig == SIGBUS ? "SIGBUS"
             : sig == SIGILL ? "SIGILL"
             : sig == SIGFPE ? "SIGFPE"
                             : "SIGTRAP";
    f.ip = (uint64_t)g[REG_RIP];
    f.has_error_code = f.vector >= 0 && has_error_code(f.vector);
    f.error_code = f.has_error_code ? (uint64_t)g[REG_ERR] : 0;
    f.has_address = f.vector == 14;
    f.address = f.has_address ? (uint64_t)(uintptr_t)si->si_addr : 0;
    char line[MG_FAULT_LINE_MAX];
    size_t len = mg_fault_format(line, &f);
    for (size_t done = 0; done < len;) {
        long n = raw_syscall3(SYS_write, 1, (long)(line + done), (long)(len - done));
        if (n <= 0) break; /* nowhere else to say it: the status still does */
        done += (size_t)n;
    }
    raw_exit(MG_EXIT_ABORT);
}

/* Installs the handler on its alternate stack for every fault signal,
 * each blocking all the others: a fault inside the handler then kills the
 * process (the kernel's answer to a blocked fault), never re-enters it. */
static void catch_faults(void)
{
    stack_t ss = {.ss_sp = fault_stack, .ss_size = sizeof fault_stack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        fail("cannot set the fault handler's stack: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fault_signals / sizeof *fault_signals; i++)
        sigaddset(&sa.sa_mask, fault_signals[i]);
    for (size_t i = 0; i < sizeof fault_signals / sizeof *fault_signals; i++)
        if (sigaction(fault_signals[i], &sa, NULL) != 0)
            fail("cannot catch signal %d: %s", fault_signals[i], strerror(errno));
    /* a mask inherited from whoever started the tender would make the
     * kernel kill the process on a fault instead of running the handler */
    if (sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL) != 0)
        fail("cannot unblock the fault signals: %s", strerror(errno));
}

/* ---- the sandbox ------------------------------------------------------------------- */

static void sandbox(const struct mg_spt_boot *boot)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) fail("cannot make a seccomp filter");
    int rc = 0;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 1));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clock_gettime), 0);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getrandom), 0);
    /* the tender's last call before the image (enter): the thread pointer
     * set to 0, and nothing else arch_prctl can do */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 2,
                           SCMP_A0(SCMP_CMP_EQ, ARCH_SET_FS), SCMP_A1(SCMP_CMP_EQ, 0));
    /* ppoll to sleep and to wait on the taps: never more descriptors than
     * there are taps, never a signal mask. The filter cannot see which
     * descriptors the array names (it is in memory), but polling only
     * tells readiness: reading and writing stay pinned below. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ppoll), 2,
                           SCMP_A1(SCMP_CMP_LE, (uint64_t)boot->n_nets), SCMP_A3(SCMP_CMP_EQ, 0));
    for (uint32_t i = 0; i < boot->n_blocks; i++) {
        uint64_t fd = (uint64_t)boot->blocks[i].fd;
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pread64), 1, SCMP_A0(SCMP_CMP_EQ, fd));
        if (boot->blocks[i].writable)
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64), 1,
                                   SCMP_A0(SCMP_CMP_EQ, fd));
    }
    for (uint32_t i = 0; i < boot->n_nets; i++) {
        uint64_t fd = (uint64_t)boot->nets[i].fd;
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(readv), 1, SCMP_A0(SCMP_CMP_EQ, fd));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, fd));
    }
    if (rc != 0) fail("cannot build the seccomp filter");
    /* the filter is loaded last and never freed: after it, even munmap is
     * forbidden, and the image runs at once */
    if (seccomp_load(ctx) != 0) fail("cannot install the seccomp filter: %s", strerror(errno));
}

/* Clears the thread pointer (the FS base) and calls the image's entry:
 * with it at 0 an access to thread-local storage, such as the %fs:0x28
 * where code built with the host's stack protector reads its guard,
 * faults instead of reading the tender's memory (Solo5's spt does the
 * same). One asm statement from the system call to the call, since the
 * compiler's code may read %fs (its own stack protector) and nothing of
 * the C library may run after it; the image never returns, and if it did,
 * the process would end with EXIT_SETUP at once. The stack is realigned to
 * 16 bytes for the call, as the ABI wants at a call. */
/* Not declared _Noreturn, though it never returns: a sanitizer build
 * instruments every call to a no-return function with a check that calls
 * sigaltstack, which the filter, in place by now, forbids. */
static void enter(uintptr_t entry, struct mg_spt_boot *b)
{
    static const char failed[] = "mg-spt: cannot clear the thread pointer\n";
    __asm__ volatile("mov %[arch_prctl], %%eax\n\t"
                     "mov %[set_fs], %%edi\n\t"
                     "xor %%esi, %%esi\n\t"
                     "syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov %[boot], %%rdi\n\t"
                     "and $-16, %%rsp\n\t"
                     "call *%[entry]\n\t"
                     "jmp 2f\n"
                     /* the image's console is the only place the filter
                      * lets the tender write to now */
                     "1:\n\t"
                     "mov %[write], %%eax\n\t"
                     "mov $1, %%edi\n\t"
                     "mov %[msg], %%rsi\n\t"
                     "mov %[msg_len], %%edx\n\t"
                     "syscall\n"
                     "2:\n\t"
                     "mov %[exit_group], %%eax\n\t"
                     "mov %[setup], %%edi\n\t"
                     "syscall\n\t"
                     "ud2"
                     :
                     : [arch_prctl] "i"(SYS_arch_prctl), [set_fs] "i"(ARCH_SET_FS), [boot] "r"(b),
                       [entry] "r"(entry), [write] "i"(SYS_write), [msg] "r"(failed),
                       [msg_len] "i"(sizeof failed - 1), [exit_group] "i"(SYS_exit_group),
                       [setup] "i"(EXIT_SETUP)
                     : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory");
    __builtin_unreachable();
}

/* ---- devices ------------------------------------------------------------------- */

/* A --block:NAME=FILE, --net:NAME=TAP or --net-mac:NAME=MAC option, as
 * given: `arg` points after the colon. */
struct dev_opt {
    const char *option; /* "--block", "--net", "--net-mac" */
    const char *kind;   /* the note's device kind this option is for */
    const char *arg;    /* NAME=VALUE */
};

static bool opt_names(const struct dev_opt *o, const char *name)
{
    const char *eq = strchr(o->arg, '=');
    return (size_t)(eq - o->arg) == strlen(name) && !strncmp(o->arg, name, strlen(name));
}

/* The VALUE of the `option` given for the device `name`, NULL if none;
 * giving it twice is an error rather than a guess which one wins. */
static const char *opt_value(const struct dev_opt *opts, int n, const char *option,
                             const char *name)
{
    const char *value = NULL;
    for (int k = 0; k < n; k++) {
        if (strcmp(opts[k].option, option) != 0 || !opt_names(&opts[k], name)) continue;
        if (value) fail("%s:%s given twice", option, name);
        value = strchr(opts[k].arg, '=') + 1;
    }
    return value;
}

static const char *kind_label(const char *kind)
{
    return !strcmp(kind, "net") ? "network" : kind;
}

/* "02:1f:00:ab:cd:ef" (hex digits in either case) into mac; false if it is
 * not exactly that. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        unsigned v = 0;
        for (int d = 0; d < 2; d++) {
            char c = *s++;
            unsigned x = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16u;
            if (x == 16) return false;
            v = v * 16 + x;
        }
        mac[i] = (uint8_t)v;
        if (*s != (i < 5 ? ':' : '\0')) return false;
        s++;
    }
    return true;
}

/* Attaches the tap interface `tap` for the network device `name`: the
 * interface must exist already (creating it is the administrator's
 * choice, as its address and routes are), and is opened non-blocking
 * without packet information, so that one read or write is one Ethernet
 * frame. Fills net's fd, mtu and mac. */
static void attach_tap(struct mg_spt_net *net, const char *name, const char *tap,
                       const char *mac_arg)
{
    if (!*tap || strlen(tap) >= IFNAMSIZ)
        fail("--net:%s=%s: an interface name has 1 to %d characters", name, tap, IFNAMSIZ - 1);
    /* the address first: a mistyped option is refused before any tap is
     * taken */
    if (mac_arg) {
        if (!parse_mac(mac_arg, net->mac))
            fail("--net-mac:%s=%s: not a MAC address like 02:00:00:00:00:01", name, mac_arg);
        if (net->mac[0] & 1)
            fail("--net-mac:%s=%s: a multicast address cannot be an interface's own", name,
                 mac_arg);
        static const uint8_t zero[6];
        if (!memcmp(net->mac, zero, 6))
            fail("--net-mac:%s=%s: the zero address cannot be an interface's own", name, mac_arg);
    } else {
        if (getrandom(net->mac, sizeof net->mac, 0) != (ssize_t)sizeof net->mac)
            fail("--net:%s=%s: no random MAC address: %s", name, tap, strerror(errno));
        /* unicast (bit 0 clear), locally administered (bit 1 set) */
        net->mac[0] = (uint8_t)((net->mac[0] & 0xfc) | 0x02);
    }
    /* TUNSETIFF would create a missing interface, which then vanishes with
     * the image and has no address: ask for an existing one instead */
    if (if_nametoindex(tap) == 0)
        fail("--net:%s=%s: no tap interface %s: create it with ip tuntap add %s mode tap", name,
             tap, tap, tap);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fail("--net:%s=%s: /dev/net/tun: %s", name, tap, strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, tap, strlen(tap) + 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        int e = errno;
        if (e == EINVAL) /* the kernel's answer to a tun, a multi-queue tap, or no tun at all */
            fail("--net:%s=%s: %s is not a tap interface mg-spt can attach (it takes a "
                 "single-queue tap: ip tuntap add %s mode tap)",
                 name, tap, tap, tap);
        if (e == EBUSY)
            fail("--net:%s=%s: %s is in use (a tap has one user at a time)", name, tap, tap);
        if (e == EPERM)
            fail("--net:%s=%s: not allowed to attach %s (create it with ip tuntap add %s mode tap "
                 "user USER for the user running mg-spt)",
                 name, tap, tap, tap);
        fail("--net:%s=%s: cannot attach %s: %s", name, tap, tap, strerror(e));
    }
    /* the tap's MTU bounds the frames the host sends in: the image's
     * receive buffers are sized by it */
    mg_err why;
    int mtu = mg_tap_mtu(tap, &why);
    if (!mtu) fail("--net:%s=%s: %s", name, tap, why.msg);
    net->fd = fd;
    net->mtu = (uint32_t)mtu;
}

/* Attaches the file of --block:NAME=VALUE. VALUE is FILE, FILE:ro (read-only)
 * or FILE:rw (read-write, the default): a final ":ro" or ":rw" is always
 * the mode, so a file whose name ends in one is given with the mode after
 * it (disk:ro:rw), as `mgd run --block` takes it. Read-write falls back
 * to read-only when the host refuses writing (permissions, a read-only
 * file system, an immutable file). The capacity is the size rounded down
 * to whole 512-byte sectors, and a file smaller than one sector is
 * refused: the image never writes past the capacity, so no run changes
 * the file's size. */
static void attach_block(struct mg_spt_block *blk, const char *name, const char *value)
{
    char *file = strdup(value);
    if (!file) fail("--block:%s=%s: out of memory", name, value);
    bool read_only = mg_block_value_mode(file); /* mgd run's reading of the mode */
    int fd = read_only ? -1 : open(file, O_RDWR | O_CLOEXEC);
    blk->writable = fd >= 0;
    if (read_only || (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)))
        fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("--block:%s=%s: %s", name, value, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        fail("--block:%s=%s: not a regular file", name, value);
    if (st.st_size < 512)
        fail("--block:%s=%s: %s is %lld bytes, smaller than one 512-byte sector: not a disk", name,
             value, file, (long long)st.st_size);
    blk->fd = fd;
    blk->capacity = (uint64_t)st.st_size & ~(uint64_t)511;
    free(file);
}

/* Attaches every device of the note, in its order, from the options:
 * each one must be given, and each option must name one. Everything is
 * checked before anything is opened, so that a mistake in the command
 * line is reported as such and not as whatever the first device hit. */
static void attach(struct mg_spt_boot *boot, const mg_image_info *info, const char *image,
                   const struct dev_opt *opts, int n_opts)
{
    for (int k = 0; k < n_opts; k++) {
        bool declared = false;
        for (size_t d = 0; d < info->n_devices; d++)
            if (!strcmp(info->devices[d].kind, opts[k].kind) &&
                opt_names(&opts[k], info->devices[d].name))
                declared = true;
        if (!declared)
            fail("%s has no %s device named %.*s", image, kind_label(opts[k].kind),
                 (int)(strchr(opts[k].arg, '=') - opts[k].arg), opts[k].arg);
    }
    /* the limit first, whole: naming it beats naming the 17th device */
    size_t n_blocks = 0, n_nets = 0;
    for (size_t d = 0; d < info->n_devices; d++) {
        n_blocks += !strcmp(info->devices[d].kind, "block");
        n_nets += !strcmp(info->devices[d].kind, "net");
    }
    if (n_blocks > MG_SPT_MAX_BLOCKS || n_nets > MG_SPT_MAX_NETS)
        fail("%s declares %zu %s devices; an image takes at most %d %s devices", image,
             n_blocks > MG_SPT_MAX_BLOCKS ? n_blocks : n_nets,
             n_blocks > MG_SPT_MAX_BLOCKS ? "block" : "network",
             n_blocks > MG_SPT_MAX_BLOCKS ? MG_SPT_MAX_BLOCKS : MG_SPT_MAX_NETS,
             n_blocks > MG_SPT_MAX_BLOCKS ? "block" : "network");
    for (size_t d = 0; d < info->n_devices; d++) {
        const mg_image_device *dev = &info->devices[d];
        bool block = !strcmp(dev->kind, "block"), net = !strcmp(dev->kind, "net");
        if (!block && !net)
            fail("%s uses the %s device %s; mg-spt does not attach %s devices", image, dev->kind,
                 dev->name, dev->kind);
        for (size_t e = 0; e < d; e++)
            if (!strcmp(info->devices[e].name, dev->name) &&
                !strcmp(info->devices[e].kind, dev->kind))
                fail("%s declares the %s device %s twice", image, kind_label(dev->kind), dev->name);
        if (strlen(dev->name) >= MG_SPT_NAME_MAX)
            fail("%s device name %s is too long", kind_label(dev->kind), dev->name);
        if (!opt_value(opts, n_opts, block ? "--block" : "--net", dev->name))
            fail("%s needs the %s device %s: attach it with %s:%s=%s", image, kind_label(dev->kind),
                 dev->name, block ? "--block" : "--net", dev->name, block ? "FILE" : "TAP");
        if (net) opt_value(opts, n_opts, "--net-mac", dev->name); /* only to refuse it twice */
    }
    for (size_t d = 0; d < info->n_devices; d++) {
        const mg_image_device *dev = &info->devices[d];
        if (!strcmp(dev->kind, "block")) {
            struct mg_spt_block *blk = &boot->blocks[boot->n_blocks++];
            snprintf(blk->name, sizeof blk->name, "%s", dev->name);
            attach_block(blk, dev->name, opt_value(opts, n_opts, "--block", dev->name));
        } else {
            struct mg_spt_net *n = &boot->nets[boot->n_nets++];
            snprintf(n->name, sizeof n->name, "%s", dev->name);
            attach_tap(n, dev->name, opt_value(opts, n_opts, "--net", dev->name),
                       opt_value(opts, n_opts, "--net-mac", dev->name));
        }
    }
}

/* ---- main ------------------------------------------------------------------------------ */

static struct mg_spt_boot boot;

/* The options that attach devices, with the note's kind each is for. */
static const struct {
    const char *option, *kind;
} dev_options[] = {{"--block", "block"}, {"--net", "net"}, {"--net-mac", "net"}};

int main(int argc, char **argv)
{
    size_t mem_mib = 64;
    const char *image = NULL;
    /* room for twice what the largest image takes, so that an option given
     * twice is reported as that rather than as one too many */
    enum { MAX_OPTS = 2 * MG_SPT_MAX_BLOCKS + 4 * MG_SPT_MAX_NETS };
    /* the image's console is fd 1, whatever it is: never a disk or a tap
     * opened into a closed standard descriptor */
    if (mg_std_fds_open() != 0) return EXIT_SETUP;
    struct dev_opt opts[MAX_OPTS];
    int n_opts = 0, first_arg = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first_arg = i + 1;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        const char *arg = NULL;
        size_t o = 0;
        for (; o < sizeof dev_options / sizeof *dev_options; o++) {
            size_t len = strlen(dev_options[o].option);
            if (!strncmp(a, dev_options[o].option, len) && a[len] == ':') {
                arg = a + len + 1;
                break;
            }
        }
        if (!strcmp(a, "--mem") && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v < 1 || v > 65536) {
                fprintf(stderr, "mg-spt: --mem is MiB from 1 to 65536, not '%s'\n", argv[i]);
                return EXIT_USAGE;
            }
            mem_mib = v;
        } else if (arg && arg[0] != '=' && strchr(arg, '=')) {
            if (n_opts == MAX_OPTS) {
                fprintf(stderr,
                        "mg-spt: too many device options (at most %d block and %d "
                        "network devices)\n",
                        MG_SPT_MAX_BLOCKS, MG_SPT_MAX_NETS);
                return EXIT_USAGE;
            }
            opts[n_opts++] = (struct dev_opt){dev_options[o].option, dev_options[o].kind, arg};
        } else if (a[0] == '-') {
            fprintf(stderr, "mg-spt: unknown option '%s'\n", a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!image) {
            image = a;
        } else {
            fprintf(stderr, "mg-spt: one IMAGE only ('%s'); its arguments go after --\n", a);
            return EXIT_USAGE;
        }
    }
    if (!image) {
        usage(stderr);
        return EXIT_USAGE;
    }

    /* 1. what the image is */
    mg_image_info info;
    mg_err err;
    if (mg_image_read_info(image, &info, &err) != 0) fail("%s", err.msg);
    if (strcmp(info.target, "spt") != 0)
        fail("%s is a %s image, not an spt one (mgd run starts every kind the right way)", image,
             info.target);
    if (info.abi != MG_SPT_ABI)
        fail("%s is built for spt ABI %d; this mg-spt runs ABI %d (rebuild it with this mgd)",
             image, info.abi, MG_SPT_ABI);
    if (strcmp(info.arch, "x86_64") != 0)
        fail("%s is built for %s; this mg-spt runs x86_64 images", image, info.arch);

    /* 2. its devices, exactly */
    boot.magic = MG_SPT_MAGIC;
    boot.abi = MG_SPT_ABI;
    attach(&boot, &info, image, opts, n_opts);

    /* 3. and 4. memory */
    uintptr_t entry = load(image);
    size_t heap = mem_mib << 20;
    void *h = mmap(NULL, heap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (h == MAP_FAILED) fail("cannot map %zu MiB of memory: %s", mem_mib, strerror(errno));
    boot.heap_start = (uintptr_t)h;
    boot.heap_size = heap;
    /* argv: the image's name, then the arguments after -- */
    static char *args[256];
    int n = 0;
    args[n++] = info.name;
    for (int i = first_arg; i < argc && n < 255; i++) args[n++] = argv[i];
    args[n] = NULL;
    boot.argc = n;
    boot.argv = args;
    fflush(stdout);
    fflush(stderr);

    /* 5., 6. and 7.: the handler last before the filter, so that a fault
     * of the tender's own setup is not reported as the image's */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
    catch_faults();
    sandbox(&boot);
    enter(entry, &boot);
    return EXIT_SETUP; /* never: the image ends with exit_group */
}
