/*
 * mgd run IMAGE [--block NAME=FILE]... [--net NAME=TAP]... [-- ARGS]
 *
 * Reads the image's note (toolchain/image.h) and starts it the way its
 * target needs, so nobody has to remember how: a unix image is executed
 * directly (or under qemu-user for another arch), with each --block
 * passed as the environment variable MG_BLOCK_<NAME> that the unix
 * platform reads. mgd is replaced by the image (exec), so the exit status
 * is the image's own. Devices are checked against the image's manifest:
 * a --block it does not declare is a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "graph/arena.h"
#include "toolchain/image.h"
#include "toolchain/target.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd run IMAGE [--block NAME=FILE]... [--net NAME=TAP]... [-- ARGS]\n"
               "\n"
               "Runs an image built by mgd the way its target needs. ARGS go to the image\n"
               "(its runtime keys: --hello=Hi). --block attaches the file FILE as the block\n"
               "device NAME. The exit status is the image's.\n");
}

static bool has_device(const mg_image_info *info, const char *kind, const char *name)
{
    for (size_t i = 0; i < info->n_devices; i++)
        if (!strcmp(info->devices[i].kind, kind) && !strcmp(info->devices[i].name, name))
            return true;
    return false;
}

/* Whether a --block value "NAME=FILE" is for the device `name`. */
static bool block_arg_names(const char *arg, const char *name)
{
    const char *eq = strchr(arg, '=');
    return (size_t)(eq - arg) == strlen(name) && !strncmp(arg, name, (size_t)(eq - arg));
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
 * the devices go to the tender as --block:NAME=FILE, which checks them
 * against the image. Returns the image's exit status; a death by a signal
 * is reported (SIGSYS: the sandbox stopped a system call) as 128 + signal,
 * like a shell. */
static int run_with_tender(const mg_target *t, const mg_image_info *info, const char *image,
                           char **blocks, size_t n_blocks, int nargs, char **args)
{
    char *tender = mg_find_tender(t->tender);
    if (!tender) {
        fprintf(stderr,
                "mgd run: %s images run under %s, which is neither next to mgd nor on PATH\n",
                t->name, t->tender);
        return 1;
    }
    size_t n = 1 + n_blocks + 2 + (size_t)nargs;
    char **av = calloc(n + 1, sizeof *av);
    if (!av) {
        free(tender);
        return 1;
    }
    size_t k = 0;
    av[k++] = tender;
    for (size_t i = 0; i < n_blocks; i++) av[k++] = mg_xasprintf("--block:%s", blocks[i]);
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
    for (size_t i = 0; i < n_blocks; i++) free(av[1 + i]);
    free(av);
    free(tender);
    return status;
}

/* Boots an image of a target with a virtual machine (virtio: QEMU) and
 * waits: the arguments become the kernel's command line. The image ends
 * through QEMU's isa-debug-exit, which makes QEMU exit with 2 * status + 1:
 * that is turned back into the image's status; any other exit of QEMU is
 * its own failure, reported. */
static int run_in_vm(const mg_target *t, const mg_image_info *info, const char *image,
                     char **blocks, size_t n_blocks, int nargs, char **args)
{
    /* every block device of the note attached, in the note's order: the
     * image finds them on the PCI bus in that order */
    const char *files[64];
    size_t n_disks = 0;
    for (size_t d = 0; d < info->n_devices; d++) {
        if (strcmp(info->devices[d].kind, "block")) {
            fprintf(stderr, "mgd run: %s uses the %s device %s; %s images have no %s devices yet\n",
                    info->name, info->devices[d].kind, info->devices[d].name, t->name,
                    info->devices[d].kind);
            return 1;
        }
        const char *file = NULL;
        for (size_t b = 0; b < n_blocks; b++)
            if (block_arg_names(blocks[b], info->devices[d].name))
                file = strchr(blocks[b], '=') + 1;
        if (!file || n_disks == 64) {
            fprintf(stderr,
                    "mgd run: %s needs the block device %s: attach it with --block %s=FILE\n",
                    info->name, info->devices[d].name, info->devices[d].name);
            return 2;
        }
        if (strchr(file, ',')) {
            fprintf(stderr, "mgd run: --block %s=%s: QEMU cannot take a file name with a comma\n",
                    info->devices[d].name, file);
            return 2;
        }
        files[n_disks++] = file;
    }
    for (size_t b = 0; b < n_blocks; b++) {
        const char *eq = strchr(blocks[b], '=');
        bool known = false;
        for (size_t d = 0; d < info->n_devices; d++)
            if (block_arg_names(blocks[b], info->devices[d].name)) known = true;
        if (!known) {
            fprintf(stderr, "mgd run: %s has no block device named %.*s\n", info->name,
                    (int)(eq - blocks[b]), blocks[b]);
            return 2;
        }
    }
    char *vm = mg_find_program(t->vm[0]);
    if (!vm) {
        fprintf(stderr,
                "mgd run: %s images boot in %s, which is not installed (the Debian package %s)\n",
                t->name, t->vm[0], t->vm_package ? t->vm_package : t->vm[0]);
        return 1;
    }
    size_t len = 1;
    for (int i = 0; i < nargs; i++) len += strlen(args[i]) + 1;
    char *line = calloc(len, 1);
    char **av = calloc(t->n_vm + 6 + 4 * n_disks, sizeof *av);
    char *disk_args[128] = {0};
    int status = 1;
    if (!line || !av) goto out;
    for (int i = 0; i < nargs; i++) {
        if (strchr(args[i], ' ')) {
            fprintf(stderr, "mgd run: the arguments of a %s image cannot contain spaces ('%s')\n",
                    t->name, args[i]);
            status = 2;
            goto out;
        }
        if (i) strcat(line, " ");
        strcat(line, args[i]);
    }
    size_t k = 0;
    av[k++] = vm;
    for (size_t i = 1; i < t->n_vm; i++) av[k++] = (char *)t->vm[i];
    for (size_t i = 0; i < n_disks; i++) {
        disk_args[2 * i] = mg_xasprintf("file=%s,if=none,id=disk%zu,format=raw", files[i], i);
        disk_args[2 * i + 1] = mg_xasprintf("virtio-blk-pci,drive=disk%zu,disable-modern=on", i);
        av[k++] = "-drive";
        av[k++] = disk_args[2 * i];
        av[k++] = "-device";
        av[k++] = disk_args[2 * i + 1];
    }
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
    for (size_t i = 0; i < 2 * n_disks && av; i++) free(disk_args[i]);
    free(line);
    free(av);
    free(vm);
    return status;
}

int mg_cmd_run(int argc, char **argv)
{
    const char *image = NULL;
    int first_arg = argc;
    char **blocks = calloc((size_t)argc + 1, sizeof *blocks);
    size_t n_blocks = 0;
    bool net = false;
    int status = 2;
    if (!blocks) return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first_arg = i + 1;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(blocks);
            return 0;
        }
        if (!strcmp(a, "--block") || !strcmp(a, "--net")) {
            if (i + 1 >= argc || !strchr(argv[i + 1], '=') || argv[i + 1][0] == '=') {
                fprintf(stderr, "mgd run: %s takes NAME=%s\n", a, a[2] == 'b' ? "FILE" : "TAP");
                goto out;
            }
            if (a[2] == 'b')
                blocks[n_blocks++] = argv[++i];
            else {
                net = true;
                i++;
            }
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
    else if (net)
        fprintf(stderr, "mgd run: network devices are not supported by this version of mgd yet\n");
    else if (!realpath(image, real))
        fprintf(stderr, "mgd run: %s: %s\n", image, strerror(errno));
    else if (t->tender)
        status =
            run_with_tender(t, &info, real, blocks, n_blocks, argc - first_arg, argv + first_arg);
    else if (t->n_vm)
        status = run_in_vm(t, &info, real, blocks, n_blocks, argc - first_arg, argv + first_arg);
    else {
        status = 2;
        for (size_t i = 0; i < n_blocks; i++) {
            char *eq = strchr(blocks[i], '=');
            *eq = 0;
            if (!has_device(&info, "block", blocks[i])) {
                fprintf(stderr, "mgd run: %s has no block device named %s\n", image, blocks[i]);
                goto free_info;
            }
            if (access(eq + 1, R_OK) != 0) {
                fprintf(stderr, "mgd run: --block %s=%s: %s\n", blocks[i], eq + 1, strerror(errno));
                status = 1;
                goto free_info;
            }
            char file[PATH_MAX];
            char *var = mg_xasprintf("MG_BLOCK_%s", blocks[i]);
            setenv(var, realpath(eq + 1, file) ? file : eq + 1, 1);
            free(var);
        }
        /* the host's own arch runs directly; another needs its runner */
        bool native = arch->n_run == 0 || !strcmp(info.arch, mg_host_arch());
        if (native && strcmp(info.arch, mg_host_arch())) {
            fprintf(stderr, "mgd run: %s is built for %s and this host is %s\n", image, info.arch,
                    mg_host_arch());
            status = 1;
            goto free_info;
        }
        size_t n = arch->n_run + 1 + (size_t)(argc - first_arg);
        char **args = calloc(n + 1, sizeof *args);
        if (!args) goto free_info;
        size_t k = 0;
        for (size_t i = 0; i < arch->n_run; i++) args[k++] = (char *)arch->run[i];
        args[k++] = real;
        for (int i = first_arg; i < argc; i++) args[k++] = argv[i];
        fflush(NULL);
        if (native)
            execv(real, args);
        else
            execvp(args[0], args);
        fprintf(stderr, "mgd run: cannot start %s: %s\n", args[0], strerror(errno));
        free(args);
        status = 1;
    }
free_info:
    mg_targets_free(targets);
    mg_image_info_free(&info);
out:
    free(blocks);
    return status;
}
