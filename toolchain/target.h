/*
 * target.h - what a machine can build and run for a target.
 *
 * The targets themselves are data, the registry (targets/registry.h):
 * how to turn C into an image for each, per arch the tool prefix
 * (x86_64-linux-gnu-gcc, -ar, -strip) and the Debian package that provides
 * it, and how to run an image (nothing for the host arch; qemu-user for
 * another; a tender; a VM). This is the toolchain's side: a target is
 * available for an arch when its tools are found on PATH; otherwise the
 * reason names what to install.
 */
#ifndef MG_TOOLCHAIN_TARGET_H
#define MG_TOOLCHAIN_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "targets/registry.h"

/* The host's arch in mgd's spelling ("x86_64", "aarch64", "riscv64"). */
const char *mg_host_arch(void);

/* Whether the target's tools for `arch` are on PATH. On false, `why`
 * (when not NULL) holds MG_E_NOT_FOUND and a message such as "aarch64-linux-gnu-gcc not found
 * (install the Debian package gcc-aarch64-linux-gnu)". `can_run` says whether images can also be
 * run here; when it is false on a true return, `why` says why not ("virtio/x86_64 images run under
 * qemu-system-x86_64, which is not installed (the Debian package qemu-system-x86)"), else it is
 * cleared. */
bool mg_target_available(const mg_target *t, const mg_target_arch *a, bool *can_run, mg_err *why);

/* A malloc'd absolute path of `prog` found on PATH, or NULL. */
char *mg_find_program(const char *prog);

/* A tender (`mg-spt`): mgd's own (mgd and its tenders are built and
 * installed together: next to mgd in a build tree, in ../lib/mgd once
 * installed; base/fsutil.h, mg_own_file), else on PATH; malloc'd, or NULL. */
char *mg_find_tender(const char *name);

#endif
