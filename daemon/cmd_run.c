/*
 * mgd run IMAGE [--block NAME=FILE]... [--net NAME=TAP]... [-- ARGS]
 *
 * Reads the image's note (toolchain/image.h) and starts it the way its
 * target needs, so nobody has to remember how:
 *  - unix: executed directly (or under qemu-user for another arch), each
 *    --block and --net passed as the environment variable MG_BLOCK_<NAME>
 *    or MG_NET_<NAME> that the unix platform reads; mgd is replaced by the
 *    image (exec), so the exit status is the image's own;
 *  - a target with a tender (spt): the tender, given --block:NAME=FILE and
 *    --net:NAME=TAP;
 *  - a target booted in a VM (virtio): QEMU, with a virtio-blk device per
 *    block device and a virtio-net device on a tap per network device, each
 *    kind in the order of the image's note (the order the image finds them
 *    on the PCI bus).
 * Devices are checked against the image's manifest first: an attachment
 * the image does not declare is a usage error (2).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "base/arena.h"
#include "toolchain/image.h"
#include "toolchain/target.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd run IMAGE [--block NAME=FILE]... [--net NAME=TAP]... [-- ARGS]\n"
               "\n"
               "Runs an image built by mgd the way its target needs. ARGS go to the image\n"
               "(its runtime keys: --hello=Hi). --block attaches the file FILE as the block\n"
               "device NAME; --net attaches the host's tap interface TAP (it must exist:\n"
               "ip tuntap add TAP mode tap) as the network device NAME (default_network is\n"
               "named service). The exit status is the image's.\n");
}

static bool has_device(const mg_image_info *info, const char *kind, const char *name)
{
    for (size_t i = 0; i < info->n_devices; i++)
        if (!strcmp(info->devices[i].kind, kind) && !strcmp(info->devices[i].name, name))
            return true;
    return false;
}

/* A --block NAME=FILE or --net NAME=TAP of the command line. */
typedef struct attachment {
    const char *kind; /* "block" or "net", as in the image's note */
    char *name;       /* NAME, cut off from `value` */
    const char *value;
} attachment;

/* The value attached to the device `kind` `name`, or NULL. */
static const char *attached(const attachment *at, size_t n_at, const char *kind, const char *name)
{
    for (size_t i = 0; i < n_at; i++)
        if (!strcmp(at[i].kind, kind) && !strcmp(at[i].name, name)) return at[i].value;
    return NULL;
}

/* Every attachment names a device of its kind that the image declares:
 * true, or false after saying which does not. */
static bool attachments_declared(const mg_image_info *info, const attachment *at, size_t n_at)
{
    for (size_t i = 0; i < n_at; i++)
        if (!has_device(info, at[i].kind, at[i].name)) {
            fprintf(stderr, "mgd run: %s has no %s device named %s\n", info->name,
                    !strcmp(at[i].kind, "net") ? "network" : at[i].kind, at[i].name);
            return false;
        }
    return true;
}

extern char **environ;

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
 * which checks them against the image. Returns the image's exit status; a
 * death by a signal is reported (SIGSYS: the sandbox stopped a system
 * call) as 128 + signal, like a shell. */
static int run_with_tender(const mg_target *t, const mg_image_info *info, const char *image,
                           const attachment *at, size_t n_at, int nargs, char **args)
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
static int vm_device_args(const mg_target *t, const mg_image_info *info, const attachment *at,
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
 * that is turned back into the image's status; any other exit of QEMU is
 * its own failure, reported. */
static int run_in_vm(const mg_target *t, const mg_image_info *info, const char *image,
                     const attachment *at, size_t n_at, int nargs, char **args)
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

/* Runs a unix image in place of mgd: the devices become MG_BLOCK_<NAME>
 * (the file's absolute path, which must be readable) and MG_NET_<NAME>.
 * Returns only on failure, with the status to exit with. */
static int exec_unix(const mg_target_arch *arch, const mg_image_info *info, const char *real,
                     const attachment *at, size_t n_at, int nargs, char **args)
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

int mg_cmd_run(int argc, char **argv)
{
    const char *image = NULL;
    int first_arg = argc;
    attachment *at = calloc((size_t)argc + 1, sizeof *at);
    size_t n_at = 0;
    int status = 2;
    if (!at) return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first_arg = i + 1;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            status = 0;
            goto out;
        }
        if (!strcmp(a, "--block") || !strcmp(a, "--net")) {
            bool block = a[2] == 'b';
            char *eq = i + 1 < argc ? strchr(argv[i + 1], '=') : NULL;
            if (!eq || eq == argv[i + 1] || !eq[1]) {
                fprintf(stderr, "mgd run: %s takes NAME=%s\n", a, block ? "FILE" : "TAP");
                goto out;
            }
            *eq = '\0';
            for (size_t j = 0; j < n_at; j++)
                if (!strcmp(at[j].name, argv[i + 1]) && !strcmp(at[j].kind, a + 2)) {
                    fprintf(stderr, "mgd run: %s %s is attached twice\n", a, argv[i + 1]);
                    goto out;
                }
            at[n_at++] = (attachment){block ? "block" : "net", argv[i + 1], eq + 1};
            i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mgd run: unknown option '%s' (arguments for the image go after --)\n",
                    a);
            goto out;
        } else if (!image)
            image = a;
        else {
            fprintf(stderr, "mgd run: one IMAGE only ('%s'); arguments for it go after --\n", a);
            goto out;
        }
    }
    if (!image) {
        usage(stderr);
        goto out;
    }
    mg_image_info info;
    char err[1024];
    status = 1;
    if (mg_image_read_info(image, &info, err, sizeof err) != 0) {
        fprintf(stderr, "mgd run: %s\n", err);
        goto out;
    }
    mg_targets *targets = mg_targets_load(err, sizeof err);
    const mg_target *t = targets ? mg_targets_find(targets, info.target) : NULL;
    const mg_target_arch *arch = t ? mg_target_find_arch(t, info.arch) : NULL;
    char real[PATH_MAX];
    int nargs = argc - first_arg;
    char **args = argv + first_arg;
    if (!targets)
        fprintf(stderr, "mgd run: %s\n", err);
    else if (!t || (strcmp(info.target, "unix") && !t->tender && !t->n_vm))
        fprintf(stderr,
                "mgd run: %s is a %s image; running %s images is not supported by this "
                "version of mgd yet\n",
                image, info.target, info.target);
    else if (!arch)
        fprintf(stderr, "mgd run: %s is built for the arch %s, which this mgd does not know\n",
                image, info.arch);
    else if (!attachments_declared(&info, at, n_at))
        status = 2;
    else if (!realpath(image, real))
        fprintf(stderr, "mgd run: %s: %s\n", image, strerror(errno));
    else if (t->tender)
        status = run_with_tender(t, &info, real, at, n_at, nargs, args);
    else if (t->n_vm)
        status = run_in_vm(t, &info, real, at, n_at, nargs, args);
    else
        status = exec_unix(arch, &info, real, at, n_at, nargs, args);
    mg_targets_free(targets);
    mg_image_info_free(&info);
out:
    free(at);
    return status;
}
