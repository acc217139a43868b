/*
 * launch.c - `mgd run`'s launchers (launch.h): the checks every target
 * shares (device limits, disk files), then exec, tender or vm.
 */
#include "toolchain/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "runtime/include/abi/fault.h"
#include "runtime/include/abi/image_note.h"
#include "runtime/include/abi/vm_exit.h"

#define SECTOR 512

bool mg_block_value_mode(char *value)
{
    size_t len = strlen(value);
    if (len < 3 || (strcmp(value + len - 3, ":ro") && strcmp(value + len - 3, ":rw"))) return false;
    bool read_only = value[len - 1] == 'o';
    value[len - 3] = '\0';
    return read_only;
}

/* The attachment of the device `kind` `name`, or NULL. */
static const mg_attachment *attached(const mg_attachment *at, size_t n_at, const char *kind,
                                     const char *name)
{
    for (size_t i = 0; i < n_at; i++)
        if (!strcmp(at[i].kind, kind) && !strcmp(at[i].name, name)) return &at[i];
    return NULL;
}

/* The image declares no more devices of a kind than every target takes:
 * 0, or 2 after naming the limit. Checked before anything is opened, so
 * that the answer is the same on every target, whatever is attached. */
static int check_limits(const mg_image_info *info)
{
    size_t n_blocks = 0, n_nets = 0;
    for (size_t d = 0; d < info->n_devices; d++) {
        n_blocks += !strcmp(info->devices[d].kind, "block");
        n_nets += !strcmp(info->devices[d].kind, "net");
    }
    if (n_blocks > MG_IMAGE_MAX_BLOCKS) {
        fprintf(stderr,
                "mgd run: %s declares %zu block devices; an image takes at most %d block "
                "devices\n",
                info->name, n_blocks, MG_IMAGE_MAX_BLOCKS);
        return 2;
    }
    if (n_nets > MG_IMAGE_MAX_NETS) {
        fprintf(stderr,
                "mgd run: %s declares %zu network devices; an image takes at most %d network "
                "devices\n",
                info->name, n_nets, MG_IMAGE_MAX_NETS);
        return 2;
    }
    return 0;
}

/* Every attached disk is a file the image can use, the same on every
 * target: readable, and a regular file of at least one 512-byte sector
 * (of which whole sectors are used) or a host block device. 0, or 2 after
 * naming the file and why. */
static int check_disks(const mg_attachment *at, size_t n_at)
{
    for (size_t i = 0; i < n_at; i++) {
        if (strcmp(at[i].kind, "block")) continue;
        struct stat st;
        if (stat(at[i].value, &st) != 0 || access(at[i].value, R_OK) != 0) {
            fprintf(stderr, "mgd run: --block %s=%s: %s\n", at[i].name, at[i].value,
                    strerror(errno));
            return 2;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            fprintf(stderr, "mgd run: --block %s=%s: not a regular file or a block device\n",
                    at[i].name, at[i].value);
            return 2;
        }
        if (S_ISREG(st.st_mode) && st.st_size < SECTOR) {
            fprintf(stderr,
                    "mgd run: --block %s=%s: %s is %lld bytes, smaller than one %d-byte sector: "
                    "not a disk\n",
                    at[i].name, at[i].value, at[i].value, (long long)st.st_size, SECTOR);
            return 2;
        }
    }
    return 0;
}

int mg_tap_mtu(const char *tap, mg_err *e)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (!*tap || strlen(tap) >= sizeof ifr.ifr_name) {
        mg_err_set(e, MG_E_INVALID, "an interface name has 1 to %zu characters",
                   sizeof ifr.ifr_name - 1);
        return 0;
    }
    memcpy(ifr.ifr_name, tap, strlen(tap) + 1);
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = sock < 0 ? -1 : ioctl(sock, SIOCGIFMTU, &ifr);
    int err = errno;
    if (sock >= 0) close(sock);
    if (rc != 0) {
        if (err == ENODEV)
            mg_err_set(e, MG_E_NOT_FOUND,
                       "no tap interface %s: create it with ip tuntap add %s mode tap", tap, tap);
        else
            mg_err_set(e, MG_E_IO, "cannot read the MTU of %s: %s", tap, strerror(err));
        return 0;
    }
    /* what an image takes (its frame buffers are sized by it), and what
     * QEMU's host_mtu takes */
    if (ifr.ifr_mtu < 68 || ifr.ifr_mtu > 65535) {
        mg_err_set(e, MG_E_INVALID, "%s has an MTU of %d; an image takes 68 to 65535", tap,
                   ifr.ifr_mtu);
        return 0;
    }
    return ifr.ifr_mtu;
}

extern char **environ;

/* Says on stderr that the image aborted, after the "abort: ..." line it
 * printed on its console (which says what and where), so that a crash is
 * not read as a failed start function (1). */
static void report_abort(const mg_image_info *info)
{
    fprintf(stderr,
            "mgd run: %s aborted (status %d): it crashed or gave up; its \"abort:\" line says "
            "why\n",
            info->name, MG_EXIT_ABORT);
}

/* The child being waited for, and the stop signal (SIGINT, SIGTERM,
 * SIGHUP) mgd run received meanwhile: it is passed on to the child, so
 * that stopping mgd run stops what it runs (no QEMU left behind), and
 * remembered, so that a child that then exits "normally" (QEMU exits 0 on
 * those signals, as it does on a guest reset) is reported as stopped. */
static volatile pid_t waited_child;
static volatile sig_atomic_t stop_signal;

static void pass_stop_signal(int sig)
{
    stop_signal = sig;
    if (waited_child > 0) kill(waited_child, sig);
}

/* Starts `av` (av[0] is its path) and waits for it, passing on the stop
 * signals mgd run gets meanwhile: 0 with its wait status in *ws, or -1
 * after saying why it could not start. */
static int spawn_and_wait(char **av, int *ws)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction pass, old[3];
    memset(&pass, 0, sizeof pass);
    pass.sa_handler = pass_stop_signal;
    sigemptyset(&pass.sa_mask);
    fflush(NULL);
    stop_signal = 0;
    /* the child starts with the default actions (posix_spawn resets what
     * is caught) */
    for (int i = 0; i < 3; i++) sigaction(stops[i], &pass, &old[i]);
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], NULL, NULL, av, environ);
    if (rc == 0) {
        waited_child = pid;
        if (stop_signal) kill(pid, stop_signal); /* one that came during the spawn */
        while (waitpid(pid, ws, 0) < 0 && errno == EINTR) {
        }
        waited_child = 0;
    }
    for (int i = 0; i < 3; i++) sigaction(stops[i], &old[i], NULL);
    if (rc != 0) {
        fprintf(stderr, "mgd run: cannot start %s: %s\n", av[0], strerror(rc));
        return -1;
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
        fprintf(
            stderr,
            "mgd run: %s images run under %s, which is neither next to mgd, in ../lib/mgd nor on "
            "PATH\n",
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
    /* a disk always with its mode, so that a file whose name ends in :ro
     * or :rw is never taken for one */
    for (size_t i = 0; i < n_at; i++)
        av[k++] = mg_xasprintf("--%s:%s=%s%s", at[i].kind, at[i].name, at[i].value,
                               strcmp(at[i].kind, "block") ? ""
                               : at[i].read_only           ? ":ro"
                                                           : ":rw");
    av[k++] = (char *)image;
    av[k++] = "--";
    for (int i = 0; i < nargs; i++) av[k++] = args[i];
    int status = 1, ws;
    if (spawn_and_wait(av, &ws) == 0) {
        if (WIFEXITED(ws)) {
            status = WEXITSTATUS(ws);
            if (status == MG_EXIT_ABORT) report_abort(info);
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
 * block device -drive and the arch's block device (x86_64:
 * virtio-blk-pci), for a network device a tap -netdev and the arch's
 * network device (x86_64: virtio-net-pci; both on the legacy interface,
 * which the image drives), on the note's n-th bus when the arch names its
 * buses (virtio-mmio: the image finds its devices in bus order). A drive is raw with a size= of the
 * file's whole sectors, so that the image sees the capacity it sees on
 * unix and spt and QEMU never writes past it (without it QEMU rounds the
 * capacity up and grows the file on a write to the last sector), and
 * readonly=on for FILE:ro or a file the host refuses writing (which the
 * image sees as VIRTIO_BLK_F_RO). A network device gets host_mtu= the
 * tap's MTU, which the image reads as VIRTIO_NET_F_MTU. Appends to av
 * (freed by the caller through `owned`); 0, or the status to end with
 * (2: a device missing or unusable) after saying why. */
static int vm_device_args(const mg_target *t, const mg_target_arch *arch, const mg_image_info *info,
                          const mg_attachment *at, size_t n_at, char **av, size_t *k, char **owned,
                          size_t *n_owned)
{
    for (size_t d = 0; d < info->n_devices; d++) {
        const mg_image_device *dev = &info->devices[d];
        bool block = !strcmp(dev->kind, "block");
        if (!block && strcmp(dev->kind, "net")) {
            fprintf(stderr, "mgd run: %s uses the %s device %s; %s images have no %s devices\n",
                    info->name, dev->kind, dev->name, t->name, dev->kind);
            return 1;
        }
        const mg_attachment *a = attached(at, n_at, dev->kind, dev->name);
        const char *value = a ? a->value : NULL;
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
        /* the bus, when the arch names them: the note's d-th device on bus d */
        char bus[96] = "";
        if (arch->vm_device_bus) snprintf(bus, sizeof bus, ",bus=%.64s%zu", arch->vm_device_bus, d);
        if (block) {
            struct stat st;
            if (stat(value, &st) != 0) {
                fprintf(stderr, "mgd run: --block %s=%s: %s\n", dev->name, value, strerror(errno));
                return 2;
            }
            /* a host block device keeps the size QEMU finds */
            char size[40] = "";
            if (S_ISREG(st.st_mode))
                snprintf(size, sizeof size, ",size=%lld",
                         (long long)(st.st_size / SECTOR * SECTOR));
            bool read_only = a->read_only || access(value, W_OK) != 0;
            owned[(*n_owned)++] = mg_xasprintf("file=%s,if=none,id=disk%zu,format=raw%s%s", value,
                                               d, size, read_only ? ",readonly=on" : "");
            av[(*k)++] = "-drive";
            av[(*k)++] = owned[*n_owned - 1];
            owned[(*n_owned)++] = mg_xasprintf("%s,drive=disk%zu%s", arch->vm_block_device, d, bus);
        } else {
            /* the tap must exist (QEMU would make a fresh one nothing is
             * connected to) and its MTU is the image's */
            mg_err why;
            int mtu = mg_tap_mtu(value, &why);
            if (!mtu) {
                fprintf(stderr, "mgd run: --net %s=%s: %s\n", dev->name, value, why.msg);
                return 2;
            }
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
                "%s,netdev=net%zu,host_mtu=%d,mac=%02x:%02x:%02x:%02x:%02x:%02x%s",
                arch->vm_net_device, d, mtu, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], bus);
        }
        av[(*k)++] = "-device";
        av[(*k)++] = owned[*n_owned - 1];
    }
    return 0;
}

/* Boots an image of a target with a virtual machine (virtio: QEMU) and
 * waits: the arguments become the kernel's command line. The image ends
 * through its exit device with the value abi/vm_exit.h gives, so QEMU's
 * exit status is turned back into the image's (70, an abort, is reported
 * as one). QEMU's own 0 is a reset of the guest (-no-reboot turns it into
 * an exit), which only a fault it could not handle causes: a crash, 70.
 * Any other exit of QEMU (1, say) is its own failure, reported, and never
 * taken for the image's status. */
static int run_in_vm(const mg_target *t, const mg_target_arch *arch, const mg_image_info *info,
                     const char *image, const mg_attachment *at, size_t n_at, int nargs,
                     char **args)
{
    /* the machine's own limit, below the per-kind ones (check_limits):
     * refused before QEMU starts, as those are, naming it */
    if (arch->vm_max_devices && info->n_devices > arch->vm_max_devices) {
        fprintf(stderr,
                "mgd run: %s declares %zu devices; a %s image on %s takes at most %zu devices, "
                "block and network together (the machine's virtio transports)\n",
                info->name, info->n_devices, t->name, arch->name, arch->vm_max_devices);
        return 2;
    }
    char *vm = mg_find_program(arch->vm[0]);
    if (!vm) {
        fprintf(stderr,
                "mgd run: %s images boot in %s, which is not installed (the Debian package %s)\n",
                t->name, arch->vm[0], arch->vm_package ? arch->vm_package : arch->vm[0]);
        return 1;
    }
    size_t len = 1;
    for (int i = 0; i < nargs; i++) len += 2 * strlen(args[i]) + 3;
    char *line = calloc(len, 1);
    char **av = calloc(arch->n_vm + 6 + 4 * info->n_devices, sizeof *av);
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
    /* the line the image splits starts with its name: the image's path on
     * x86_64 (the Multiboot loader puts it there), the word "image" on the
     * arches whose loader does not (aarch64/start.c, riscv64/start.c); it
     * reads 64 words of 4095 bytes in all (runtime/bindings/virtio/start.c),
     * and either name must fit */
    if (nargs > 63) {
        fprintf(stderr, "mgd run: a %s image takes at most 63 arguments\n", t->name);
        status = 2;
        goto out;
    }
    size_t name_len = strlen(image) > strlen("image") ? strlen(image) : strlen("image");
    if (name_len + 1 + strlen(line) > 4095) {
        fprintf(stderr, "mgd run: the arguments of a %s image take at most about 4 KB\n", t->name);
        status = 2;
        goto out;
    }
    size_t k = 0;
    av[k++] = vm;
    for (size_t i = 1; i < arch->n_vm; i++) av[k++] = (char *)arch->vm[i];
    status = vm_device_args(t, arch, info, at, n_at, av, &k, owned, &n_owned);
    if (status != 0) goto out;
    status = 1;
    av[k++] = "-kernel";
    av[k++] = (char *)image;
    av[k++] = "-append";
    av[k++] = line;
    int ws;
    if (spawn_and_wait(av, &ws) != 0) goto out;
    if (WIFEXITED(ws) && mg_vm_exit_status(WEXITSTATUS(ws)) >= 0) {
        status = mg_vm_exit_status(WEXITSTATUS(ws));
        if (status == MG_EXIT_ABORT) report_abort(info);
    } else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && stop_signal) {
        /* QEMU stops with 0 on the signal mgd run passed on */
        fprintf(stderr, "mgd run: %s was stopped by signal %d (%s)\n", info->name, (int)stop_signal,
                strsignal(stop_signal));
        status = 128 + stop_signal;
    } else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
        /* with -no-reboot a reset of the guest ends QEMU with 0: a triple
         * fault, a fault the guest had no working handler for. (QEMU also
         * exits 0 on a SIGTERM sent to it alone, which mgd run cannot tell
         * apart: the message says so.) */
        fprintf(stderr,
                "mgd run: %s crashed: the virtual CPU reset (a fault it could not handle), "
                "unless %s was stopped by a signal sent to it\n",
                info->name, arch->vm[0]);
        status = MG_EXIT_ABORT;
    } else if (WIFEXITED(ws)) {
        /* QEMU's own failure (it said why on stderr): never the image's
         * status, however it reads */
        fprintf(stderr, "mgd run: %s failed before %s ended (%s exit status %d)\n", arch->vm[0],
                info->name, arch->vm[0], WEXITSTATUS(ws));
    } else if (WIFSIGNALED(ws)) {
        fprintf(stderr, "mgd run: %s was killed by signal %d\n", arch->vm[0], WTERMSIG(ws));
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
 * become MG_BLOCK_<NAME> (the file's absolute path), MG_READ_ONLY_<NAME>
 * (1 for FILE:ro; unset otherwise, so that the caller's environment does
 * not decide it) and MG_NET_<NAME>. Returns only on failure, with the
 * status to exit with. */
static int exec_image(const mg_target_arch *arch, const mg_image_info *info, const char *real,
                      const mg_attachment *at, size_t n_at, int nargs, char **args)
{
    for (size_t i = 0; i < n_at; i++) {
        const char *value = at[i].value;
        char file[PATH_MAX];
        if (!strcmp(at[i].kind, "block")) {
            if (realpath(value, file)) value = file;
            char *ro = mg_xasprintf("MG_READ_ONLY_%s", at[i].name);
            int rc = at[i].read_only ? setenv(ro, "1", 1) : unsetenv(ro);
            free(ro);
            if (rc != 0) {
                fprintf(stderr, "mgd run: cannot pass --block %s to the image: %s\n", at[i].name,
                        strerror(errno));
                return 1;
            }
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
    return run_in_vm(l->target, l->arch, l->info, l->image, l->at, l->n_at, l->nargs, l->args);
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

/* Refuses an image of another ABI than this mgd's for its target: the
 * contract between an image and what starts it (how its status comes
 * back, how a read-only disk reaches it) changes with the ABI, and an old
 * image would be misread (a failure taken for success, a read-only disk
 * written). The spt tender checks its own too. */
static int check_abi(const mg_launch *l)
{
    if (l->info->abi == l->target->abi) return 0;
    fprintf(stderr,
            "mgd run: %s is built for %s ABI %d; this mgd runs %s ABI %d: rebuild it with this "
            "mgd\n",
            l->image, l->target->name, l->info->abi, l->target->name, l->target->abi);
    return 2;
}

int mg_launch_image(const mg_launch *l)
{
    int status = check_abi(l);
    if (!status) status = check_limits(l->info);
    if (!status) status = check_disks(l->at, l->n_at);
    return status ? status : launchers[l->target->launcher](l);
}
