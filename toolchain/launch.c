#include "toolchain/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"

/* The value attached to the device `kind` `name`, or NULL. */
static const char *attached(const mg_attachment *at, size_t n_at, const char *kind,
                            const char *name)
{
    for (size_t i = 0; i < n_at; i++)
        if (!strcmp(at[i].kind, kind) && !strcmp(at[i].name, name)) return at[i].value;
    return NULL;
}

extern char **environ;

/* An image's abort, a CPU fault included: MG_EXIT_ABORT, the same on every
 * target (runtime/include/abi/platform.h, which cannot be included here:
 * its mg/mg.h and base/err.h both define MG_OK). */
#define EXIT_ABORT 70

/* Says on stderr that the image aborted, after the "abort: ..." line it
 * printed on its console (which says what and where), so that a crash is
 * not read as a failed start function (1). */
static void report_abort(const mg_image_info *info)
{
    fprintf(stderr,
            "mgd run: %s aborted (status %d): it crashed or gave up; its \"abort:\" line says "
            "why\n",
            info->name, EXIT_ABORT);
}

/* Starts `av` (av[0] is its path) and waits for it: 0 with its wait status
 * in *ws, or -1 after saying why it could not start. */
static int spawn_and_wait(char **av, int *ws)
{
    fflush(NULL);
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], NULL, NULL, av, environ);
    if (rc != 0) {
        fprintf(stderr, "mgd run: cannot start %s: %s\n", av[0], strerror(rc));
        return -1;
    }
    while (waitpid(pid, ws, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

/* Runs an image of a target with a tender (spt: mg-spt) and waits for it:
 * the devices go to the tender as --block:NAME=FILE and --net:NAME=TAP,
 * which checks them against the image. Returns the image's exit status (70,
 * an abort or a CPU fault, is reported as one); a death by a signal is
 * reported (SIGSYS: the sandbox stopped a system call) as 128 + signal,
 * like a shell. */
static int run_with_tender(const mg_target *t, const mg_image_info *info, const char *image,
                           const mg_attachment *at, size_t n_at, int nargs, char **args)
{
    char *tender = mg_find_tender(t->tender);
    if (!tender) {
        fprintf(stderr,
                "mgd run: %s images run under %s, which is neither next to mgd nor on PATH\n",
                t->name, t->tender);
        return 1;
    }
    size_t n = 1 + n_at + 2 + (size_t)nargs;
    char **av = calloc(n + 1, sizeof *av);
    if (!av) {
        free(tender);
        return 1;
    }
    size_t k = 0;
    av[k++] = tender;
    for (size_t i = 0; i < n_at; i++)
        av[k++] = mg_xasprintf("--%s:%s=%s", at[i].kind, at[i].name, at[i].value);
    av[k++] = (char *)image;
    av[k++] = "--";
    for (int i = 0; i < nargs; i++) av[k++] = args[i];
    int status = 1, ws;
    if (spawn_and_wait(av, &ws) == 0) {
        if (WIFEXITED(ws)) {
            status = WEXITSTATUS(ws);
            if (status == EXIT_ABORT) report_abort(info);
        } else if (WIFSIGNALED(ws)) {
            int sig = WTERMSIG(ws);
            if (sig == SIGSYS)
                fprintf(stderr,
                        "mgd run: %s was killed by its sandbox: it made a system call that %s "
                        "does not allow\n",
                        info->name, t->tender);
            else
                fprintf(stderr, "mgd run: %s was killed by signal %d (%s)\n", info->name, sig,
                        strsignal(sig));
            status = 128 + sig;
        }
    }
    for (size_t i = 0; i < n_at; i++) free(av[1 + i]);
    free(av);
    free(tender);
    return status;
}

/* The QEMU arguments of the image's devices, in the note's order: for a
 * block device -drive and a virtio-blk-pci device, for a network device
 * a tap -netdev and a virtio-net-pci device (both on the legacy
 * interface, which the image drives). Appends to av (freed by the caller
 * through `owned`); 0, or the status to end with (2: a device missing or
 * unusable) after saying why. */
static int vm_device_args(const mg_target *t, const mg_image_info *info, const mg_attachment *at,
                          size_t n_at, char **av, size_t *k, char **owned, size_t *n_owned)
{
    for (size_t d = 0; d < info->n_devices; d++) {
        const mg_image_device *dev = &info->devices[d];
        bool block = !strcmp(dev->kind, "block");
        if (!block && strcmp(dev->kind, "net")) {
            fprintf(stderr, "mgd run: %s uses the %s device %s; %s images have no %s devices\n",
                    info->name, dev->kind, dev->name, t->name, dev->kind);
            return 1;
        }
        const char *value = attached(at, n_at, dev->kind, dev->name);
        if (!value) {
            fprintf(stderr, "mgd run: %s needs the %s device %s: attach it with --%s %s=%s\n",
                    info->name, block ? "block" : "network", dev->name, dev->kind, dev->name,
                    block ? "FILE" : "TAP");
            return 2;
        }
        /* QEMU splits its options at commas */
        if (strchr(value, ',')) {
            fprintf(stderr, "mgd run: --%s %s=%s: QEMU cannot take a name with a comma\n",
                    dev->kind, dev->name, value);
            return 2;
        }
        if (block) {
            owned[(*n_owned)++] = mg_xasprintf("file=%s,if=none,id=disk%zu,format=raw", value, d);
            av[(*k)++] = "-drive";
            av[(*k)++] = owned[*n_owned - 1];
            owned[(*n_owned)++] = mg_xasprintf("virtio-blk-pci,drive=disk%zu,disable-modern=on", d);
        } else {
            owned[(*n_owned)++] =
                mg_xasprintf("tap,id=net%zu,ifname=%s,script=no,downscript=no", d, value);
            av[(*k)++] = "-netdev";
            av[(*k)++] = owned[*n_owned - 1];
            /* QEMU would give every VM's first NIC 52:54:00:12:34:56: two
             * images on one network would collide. A random locally
             * administered address instead, as unix and spt images have. */
            uint8_t mac[6];
            if (getrandom(mac, sizeof mac, 0) != (ssize_t)sizeof mac) {
                fprintf(stderr, "mgd run: no random MAC address: %s\n", strerror(errno));
                return 1;
            }
            mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
            owned[(*n_owned)++] = mg_xasprintf(
                "virtio-net-pci,netdev=net%zu,disable-modern=on,mac=%02x:%02x:%02x:%02x:%02x:%02x",
                d, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        }
        av[(*k)++] = "-device";
        av[(*k)++] = owned[*n_owned - 1];
    }
    return 0;
}

/* Boots an image of a target with a virtual machine (virtio: QEMU) and
 * waits: the arguments become the kernel's command line. The image ends
 * through QEMU's isa-debug-exit, which makes QEMU exit with 2 * status + 1:
 * that is turned back into the image's status (70, an abort, is reported
 * as one). QEMU's own 0 is a reset of the guest (-no-reboot turns it into
 * an exit), which only a fault it could not handle causes: a crash, 70.
 * Any other exit of QEMU is its own failure, reported. */
static int run_in_vm(const mg_target *t, const mg_image_info *info, const char *image,
                     const mg_attachment *at, size_t n_at, int nargs, char **args)
{
    char *vm = mg_find_program(t->vm[0]);
    if (!vm) {
        fprintf(stderr,
                "mgd run: %s images boot in %s, which is not installed (the Debian package %s)\n",
                t->name, t->vm[0], t->vm_package ? t->vm_package : t->vm[0]);
        return 1;
    }
    size_t len = 1;
    for (int i = 0; i < nargs; i++) len += 2 * strlen(args[i]) + 3;
    char *line = calloc(len, 1);
    char **av = calloc(t->n_vm + 6 + 4 * info->n_devices, sizeof *av);
    char **owned = calloc(2 * info->n_devices + 1, sizeof *owned);
    size_t n_owned = 0;
    int status = 1, image_fd = -1;
    char fd_path[64];
    if (!line || !av || !owned) goto out;
    /* the loader's command line starts with the kernel's path, which the
     * image takes for one word: a path it would split is given as a
     * descriptor QEMU inherits instead (so not close-on-exec) */
    if (strpbrk(image, " \t\"\\")) {
        image_fd = open(image, O_RDONLY);
        if (image_fd < 0) {
            fprintf(stderr, "mgd run: %s: %s\n", image, strerror(errno));
            goto out;
        }
        snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", image_fd);
        image = fd_path;
    }
    /* one line for the kernel, each argument a word as the image splits
     * it (runtime/bindings/virtio/start.c): quoted when it has blanks, quotes or
     * backslashes, or is empty */
    char *end = line;
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        if (i) *end++ = ' ';
        bool plain = *a && !strpbrk(a, " \t\"\\");
        if (!plain) *end++ = '"';
        for (; *a; a++) {
            if (*a == '"' || *a == '\\') *end++ = '\\';
            *end++ = *a;
        }
        if (!plain) *end++ = '"';
    }
    *end = '\0';
    /* the loader puts the image's path first; the image reads 64 words of
     * 4095 bytes in all (runtime/bindings/virtio/start.c) */
    if (nargs > 63) {
        fprintf(stderr, "mgd run: a %s image takes at most 63 arguments\n", t->name);
        status = 2;
        goto out;
    }
    if (strlen(image) + 1 + strlen(line) > 4095) {
        fprintf(stderr, "mgd run: the arguments of a %s image take at most about 4 KB\n", t->name);
        status = 2;
        goto out;
    }
    size_t k = 0;
    av[k++] = vm;
    for (size_t i = 1; i < t->n_vm; i++) av[k++] = (char *)t->vm[i];
    status = vm_device_args(t, info, at, n_at, av, &k, owned, &n_owned);
    if (status != 0) goto out;
    status = 1;
    av[k++] = "-kernel";
    av[k++] = (char *)image;
    av[k++] = "-append";
    av[k++] = line;
    int ws;
    if (spawn_and_wait(av, &ws) != 0) goto out;
    if (WIFEXITED(ws) && (WEXITSTATUS(ws) & 1)) {
        status = WEXITSTATUS(ws) >> 1;
        if (status == EXIT_ABORT) report_abort(info);
    } else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
        /* with -no-reboot a reset of the guest ends QEMU with 0: a triple
         * fault, a fault the guest had no working handler for */
        fprintf(stderr,
                "mgd run: %s crashed: the virtual CPU reset (a fault it could not handle)\n",
                info->name);
        status = EXIT_ABORT;
    } else if (WIFEXITED(ws)) {
        fprintf(stderr, "mgd run: %s ended without %s's exit (%s exit status %d)\n", t->vm[0],
                info->name, t->vm[0], WEXITSTATUS(ws));
    } else if (WIFSIGNALED(ws)) {
        fprintf(stderr, "mgd run: %s was killed by signal %d\n", t->vm[0], WTERMSIG(ws));
        status = 128 + WTERMSIG(ws);
    }
out:
    if (image_fd >= 0) close(image_fd);
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    free(line);
    free(av);
    free(vm);
    return status;
}

/* Runs an image that is a host program (unix) in place of mgd: the devices
 * become MG_BLOCK_<NAME> (the file's absolute path, which must be
 * readable) and MG_NET_<NAME>. Returns only on failure, with the status to
 * exit with. */
static int exec_image(const mg_target_arch *arch, const mg_image_info *info, const char *real,
                      const mg_attachment *at, size_t n_at, int nargs, char **args)
{
    for (size_t i = 0; i < n_at; i++) {
        const char *value = at[i].value;
        char file[PATH_MAX];
        if (!strcmp(at[i].kind, "block")) {
            if (access(value, R_OK) != 0) {
                fprintf(stderr, "mgd run: --block %s=%s: %s\n", at[i].name, value, strerror(errno));
                return 1;
            }
            if (realpath(value, file)) value = file;
        }
        char *var =
            mg_xasprintf("MG_%s_%s", !strcmp(at[i].kind, "net") ? "NET" : "BLOCK", at[i].name);
        int rc = setenv(var, value, 1);
        free(var);
        if (rc != 0) {
            fprintf(stderr, "mgd run: cannot pass --%s %s to the image: %s\n", at[i].kind,
                    at[i].name, strerror(errno));
            return 1;
        }
    }
    /* the host's own arch runs directly; another needs its runner */
    bool native = arch->n_run == 0 || !strcmp(info->arch, mg_host_arch());
    if (native && strcmp(info->arch, mg_host_arch())) {
        fprintf(stderr, "mgd run: %s is built for %s and this host is %s\n", real, info->arch,
                mg_host_arch());
        return 1;
    }
    char **av = calloc(arch->n_run + 2 + (size_t)nargs, sizeof *av);
    if (!av) return 1;
    size_t k = 0;
    for (size_t i = 0; i < arch->n_run; i++) av[k++] = (char *)arch->run[i];
    av[k++] = (char *)real;
    for (int i = 0; i < nargs; i++) av[k++] = args[i];
    fflush(NULL);
    if (native)
        execv(real, av);
    else
        execvp(av[0], av);
    fprintf(stderr, "mgd run: cannot start %s: %s\n", av[0], strerror(errno));
    free(av);
    return 1;
}

static int launch_tender(const mg_launch *l)
{
    return run_with_tender(l->target, l->info, l->image, l->at, l->n_at, l->nargs, l->args);
}

static int launch_vm(const mg_launch *l)
{
    return run_in_vm(l->target, l->info, l->image, l->at, l->n_at, l->nargs, l->args);
}

static int launch_exec(const mg_launch *l)
{
    return exec_image(l->arch, l->info, l->image, l->at, l->n_at, l->nargs, l->args);
}

/* The launchers, by the kind the registry names. */
static int (*const launchers[])(const mg_launch *) = {
    [MG_LAUNCHER_EXEC] = launch_exec,
    [MG_LAUNCHER_TENDER] = launch_tender,
    [MG_LAUNCHER_VM] = launch_vm,
};

int mg_launch_image(const mg_launch *l)
{
    return launchers[l->target->launcher](l);
}
