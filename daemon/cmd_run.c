/*
 * mgd run IMAGE [--block NAME=FILE]... [--net NAME=TAP]... [-- ARGS]
 *
 * Reads the image's note (toolchain/image.h) and starts it the way its
 * target needs, so nobody has to remember how: with the launcher the
 * target registry names for it (toolchain/launch.h: exec, tender, vm).
 * Devices are checked against the image's manifest first: an attachment
 * the image does not declare is a usage error (2).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "toolchain/image.h"
#include "toolchain/launch.h"
#include "toolchain/target.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd run IMAGE [--block NAME=FILE[:ro]]... [--net NAME=TAP]... [-- ARGS]\n"
               "\n"
               "Runs an image built by mgd the way its target needs. ARGS go to the image\n"
               "(its runtime keys: --hello=Hi). --block attaches the file FILE as the block\n"
               "device NAME: its whole 512-byte sectors (at least one), read-only with :ro\n"
               "(a file whose name ends in :ro or :rw takes the mode after it: x:ro:rw).\n"
               "--net attaches the host's tap interface TAP (it must exist: ip tuntap add\n"
               "TAP mode tap) as the network device NAME (default_network is named\n"
               "service). An image takes at most 16 of each. The exit status is the\n"
               "image's.\n");
}

static bool has_device(const mg_image_info *info, const char *kind, const char *name)
{
    for (size_t i = 0; i < info->n_devices; i++)
        if (!strcmp(info->devices[i].kind, kind) && !strcmp(info->devices[i].name, name))
            return true;
    return false;
}

/* A --block NAME=FILE or --net NAME=TAP of the command line. */
typedef mg_attachment attachment;

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

/* The words before "--" (after it, everything is the image's). An
 * attachment may be given again for another device (repeat). */
static const mg_option run_options[] = {
    {"--block", 0, "NAME=FILE[:ro]", true, NULL,
     "attaches the file FILE as the block device NAME (:ro: read-only)"},
    {"--net", 0, "NAME=TAP", true, NULL,
     "attaches the tap interface TAP as the network device NAME"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

/* Turns the --block and --net values of `args` into attachments (cutting
 * the values, which point into argv, at '='): 0, or -1 after saying which
 * one is wrong. */
static int collect_attachments(const mg_args *args, attachment *at, size_t *n_at)
{
    for (int i = 0; i < args->nvalues; i++) {
        const char *opt = args->values[i].option->name;
        bool block = !strcmp(opt, "--block");
        if (!block && strcmp(opt, "--net")) continue;
        char *name = (char *)args->values[i].value, *eq = strchr(name, '=');
        if (!eq || eq == name || !eq[1]) {
            fprintf(stderr, "mgd run: %s takes NAME=%s\n", opt, block ? "FILE" : "TAP");
            return -1;
        }
        *eq = '\0';
        const char *kind = block ? "block" : "net";
        for (size_t j = 0; j < *n_at; j++)
            if (!strcmp(at[j].name, name) && !strcmp(at[j].kind, kind)) {
                fprintf(stderr, "mgd run: %s %s is attached twice\n", opt, name);
                return -1;
            }
        bool read_only = block && mg_block_value_mode(eq + 1);
        if (!eq[1]) {
            fprintf(stderr, "mgd run: %s %s= takes a file before its mode\n", opt, name);
            return -1;
        }
        at[(*n_at)++] = (attachment){kind, name, eq + 1, read_only};
    }
    return 0;
}

int mg_cmd_run(int argc, char **argv)
{
    /* the image's arguments may be many and look like options: they are
     * cut off before parsing */
    int n_options = argc, first_arg = argc;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            n_options = i;
            first_arg = i + 1;
            break;
        }
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {run_options};
    mg_err err;
    if (mg_args_parse(&args, tables, 1, n_options, argv, &err) != 0) {
        /* the mistake made most: the image's arguments before "--" */
        fprintf(stderr, "mgd run: %s; arguments for the image go after --\n", err.msg);
        usage(stderr);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    if (args.npositional > 1) {
        fprintf(stderr, "mgd run: one IMAGE only ('%s'); arguments for it go after --\n",
                args.positional[1]);
        return 2;
    }
    const char *image = args.npositional ? args.positional[0] : NULL;
    attachment *at = calloc((size_t)args.nvalues + 1, sizeof *at);
    size_t n_at = 0;
    int status = 2;
    if (!at) return 1;
    if (collect_attachments(&args, at, &n_at) != 0) goto out;
    if (!image) {
        usage(stderr);
        goto out;
    }
    mg_image_info info;
    mg_err targets_err;
    status = 1;
    mg_err image_err;
    if (mg_image_read_info(image, &info, &image_err) != 0) {
        fprintf(stderr, "mgd run: %s\n", image_err.msg);
        goto out;
    }
    mg_targets *targets = mg_targets_load(&targets_err);
    const mg_target *t = targets ? mg_targets_find(targets, info.target) : NULL;
    const mg_target_arch *arch = t ? mg_target_find_arch(t, info.arch) : NULL;
    char real[PATH_MAX];
    int nargs = argc - first_arg;
    char **image_args = argv + first_arg;
    if (!targets)
        fprintf(stderr, "mgd run: %s\n", targets_err.msg);
    else if (!t)
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
    else
        status = mg_launch_image(&(mg_launch){t, arch, &info, real, at, n_at, nargs, image_args});
    mg_targets_free(targets);
    mg_image_info_free(&info);
out:
    free(at);
    return status;
}
