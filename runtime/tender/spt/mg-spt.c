/*
 * mg-spt.c - the spt tender: runs an spt unikernel as a sandboxed process.
 *
 *   mg-spt [--mem MIB] [--block:NAME=FILE]... IMAGE [-- ARGS...]
 *
 * What it does, in order (Solo5's spt tender is the model):
 *   1. reads the image's note (toolchain/image.h) and refuses an image that
 *      is not for spt, not of this ABI (MG_SPT_ABI) or not for this arch;
 *   2. requires every device the note declares to be attached, and nothing
 *      else: a missing or unknown --block is an error before anything runs;
 *   3. maps the image's PT_LOAD segments at their addresses with their own
 *      protections, refusing a segment that is both writable and
 *      executable (W^X) or that would land on something already mapped;
 *   4. maps the heap (--mem, default 64 MiB) and fills the boot structure
 *      (runtime/platform/spt/spt_abi.h);
 *   5. installs a seccomp filter that kills the process on any system call
 *      but those the platform needs, with their descriptors pinned: write
 *      to fd 1, pread64/pwrite64 on the attached block files (pwrite only
 *      on writable ones), clock_gettime, ppoll without descriptors,
 *      getrandom, exit_group;
 *   6. calls the image's entry point, which never returns.
 * The exit status is the image's own; a forbidden system call kills the
 * process with SIGSYS, which `mgd run` reports.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/platform/spt/spt_abi.h"
#include "toolchain/image.h"

#define EXIT_USAGE 2
#define EXIT_SETUP 125
#define PAGE 4096u
#define MAX_SEGMENTS 16
/* no segment below this (the NULL page and its neighbours stay unmapped) */
#define LOWEST_ADDRESS 0x10000u

static const char *prog = "mg-spt";

static void usage(FILE *f)
{
    fprintf(f, "usage: mg-spt [--mem MIB] [--block:NAME=FILE]... IMAGE [-- ARGS...]\n"
               "Runs an spt unikernel (built with mgd build --target spt) in a seccomp\n"
               "sandbox; `mgd run IMAGE` calls it. Every block device the image declares\n"
               "must be attached with --block:NAME=FILE.\n");
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
    /* ppoll only to sleep: no descriptors, no signal mask */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ppoll), 2, SCMP_A1(SCMP_CMP_EQ, 0),
                           SCMP_A3(SCMP_CMP_EQ, 0));
    for (uint32_t i = 0; i < boot->n_blocks; i++) {
        uint64_t fd = (uint64_t)boot->blocks[i].fd;
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pread64), 1, SCMP_A0(SCMP_CMP_EQ, fd));
        if (boot->blocks[i].writable)
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64), 1,
                                   SCMP_A0(SCMP_CMP_EQ, fd));
    }
    if (rc != 0) fail("cannot build the seccomp filter");
    /* the filter is loaded last and never freed: after it, even munmap is
     * forbidden, and the image runs at once */
    if (seccomp_load(ctx) != 0) fail("cannot install the seccomp filter: %s", strerror(errno));
}

/* ---- main ------------------------------------------------------------------------------ */

static struct mg_spt_boot boot;

int main(int argc, char **argv)
{
    size_t mem_mib = 64;
    const char *image = NULL;
    const char *blocks[MG_SPT_MAX_BLOCKS];
    int n_blocks = 0, first_arg = argc;
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
        if (!strcmp(a, "--mem") && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v < 1 || v > 65536) {
                fprintf(stderr, "mg-spt: --mem is MiB from 1 to 65536, not '%s'\n", argv[i]);
                return EXIT_USAGE;
            }
            mem_mib = v;
        } else if (!strncmp(a, "--block:", 8) && strchr(a + 8, '=') && a[8] != '=') {
            if (n_blocks == MG_SPT_MAX_BLOCKS) {
                fprintf(stderr, "mg-spt: at most %d block devices\n", MG_SPT_MAX_BLOCKS);
                return EXIT_USAGE;
            }
            blocks[n_blocks++] = a + 8;
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
    char err[512];
    if (mg_image_read_info(image, &info, err, sizeof err) != 0) fail("%s", err);
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
    for (size_t d = 0; d < info.n_devices; d++) {
        const mg_image_device *dev = &info.devices[d];
        if (strcmp(dev->kind, "block") != 0)
            fail("%s uses the %s device %s; mg-spt does not attach %s devices yet", image,
                 dev->kind, dev->name, dev->kind);
        const char *file = NULL;
        for (int b = 0; b < n_blocks; b++) {
            const char *eq = strchr(blocks[b], '=');
            if ((size_t)(eq - blocks[b]) == strlen(dev->name) &&
                !strncmp(blocks[b], dev->name, (size_t)(eq - blocks[b])))
                file = eq + 1;
        }
        if (!file)
            fail("%s needs the block device %s: attach it with --block:%s=FILE", image, dev->name,
                 dev->name);
        if (strlen(dev->name) >= MG_SPT_NAME_MAX)
            fail("block device name %s is too long", dev->name);
        struct mg_spt_block *blk = &boot.blocks[boot.n_blocks++];
        snprintf(blk->name, sizeof blk->name, "%s", dev->name);
        int fd = open(file, O_RDWR | O_CLOEXEC);
        blk->writable = fd >= 0;
        if (fd < 0 && (errno == EACCES || errno == EROFS)) fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail("--block:%s=%s: %s", dev->name, file, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
            fail("--block:%s=%s: not a regular file", dev->name, file);
        blk->fd = fd;
        blk->capacity = (uint64_t)st.st_size & ~(uint64_t)511;
    }
    for (int b = 0; b < n_blocks; b++) {
        bool declared = false;
        for (uint32_t k = 0; k < boot.n_blocks; k++)
            if (!strncmp(blocks[b], boot.blocks[k].name, strlen(boot.blocks[k].name)) &&
                blocks[b][strlen(boot.blocks[k].name)] == '=')
                declared = true;
        if (!declared)
            fail("%s has no block device named %.*s", image,
                 (int)(strchr(blocks[b], '=') - blocks[b]), blocks[b]);
    }

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

    /* 5. and 6. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
    sandbox(&boot);
    void (*start)(struct mg_spt_boot *) = (void (*)(struct mg_spt_boot *))entry;
    start(&boot);
    return EXIT_SETUP; /* never: the image ends with exit_group */
}
