/*
 * launch.h - starting an image the way its target needs (`mgd run`).
 *
 * Each target of the registry names its launcher (targets/registry.h,
 * "launcher"); this is the one place each launcher is written:
 *  - exec: the image is a host program, executed in place of mgd (under
 *    the arch's runner, qemu-user, for another arch), each attached device
 *    passed as the environment variable MG_BLOCK_<NAME> or MG_NET_<NAME>
 *    that the unix bindings read; the exit status is the image's own;
 *  - tender: the target's tender (spt: mg-spt) runs it, given
 *    --block:NAME=FILE and --net:NAME=TAP;
 *  - vm: the target's virtual machine (virtio: QEMU) boots it, with a
 *    virtio-blk device per block device and a virtio-net device on a tap
 *    per network device, each kind in the order of the image's note (the
 *    order the image finds them on the PCI bus).
 * Adding a launcher is one function here and one name in the registry.
 * Failures are said on stderr as `mgd run`'s own.
 */
#ifndef MG_TOOLCHAIN_LAUNCH_H
#define MG_TOOLCHAIN_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>

#include "toolchain/image.h"
#include "toolchain/target.h"

/* A device attached on the command line: --block NAME=FILE[:ro],
 * --net NAME=TAP. */
typedef struct mg_attachment {
    const char *kind; /* "block" or "net", as in the image's note */
    const char *name;
    const char *value; /* the file (its mode taken off) or the tap */
    bool read_only;    /* block: FILE:ro */
} mg_attachment;

/* Splits the mode off a --block value: FILE:ro is read-only, FILE:rw
 * read-write, anything else read-write as it is. A final ":ro" or ":rw" is
 * always the mode, so a file whose name ends in one is given with the mode
 * after it (disk:ro:rw). Cuts `value` in place; true if it was :ro. */
bool mg_block_value_mode(char *value);

/* What to start: an image of `target`/`arch` described by `info`, at the
 * absolute path `image`, its devices (each one the image declares) and
 * the arguments for it. */
typedef struct mg_launch {
    const mg_target *target;
    const mg_target_arch *arch;
    const mg_image_info *info;
    const char *image;
    const mg_attachment *at;
    size_t n_at;
    int nargs;
    char **args;
} mg_launch;

/* The MTU of the host network interface `tap` an image attaches (mgd run
 * for QEMU's host_mtu, the spt tender for the image's buffers): 68 to
 * 65535, the range an image takes; 0 with *e saying why (no such
 * interface, most often), for the caller to prefix with its option. */
int mg_tap_mtu(const char *tap, mg_err *e);

/* Starts the image with its target's launcher and waits for it, after
 * checking, the same way for every target, what the image's note declares
 * and what is attached: the target's ABI (an image of another is refused:
 * rebuild it), at most MG_IMAGE_MAX_BLOCKS block and
 * MG_IMAGE_MAX_NETS network devices, and every disk a readable file (or
 * host block device) of at least one 512-byte sector. Returns the status
 * to exit with: the image's, 128 + signal when it was killed, 2 for
 * another ABI or a device missing or unusable (or one too many), 1 for any other failure
 * (said on stderr). The exec launcher returns only on failure. */
int mg_launch_image(const mg_launch *l);

#endif
