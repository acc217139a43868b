/*
 * registry.h - the target registry: the one place a target is named.
 *
 * A target is what an image is built for and run on (unix, spt, virtio).
 * Each is one file, targets/<name>.json, embedded into mgd; everything
 * else that speaks of targets takes them from here:
 *  - the resolver's list of targets and arches, and the default target
 *    (targets/builtin_catalog.c hands them to the catalog);
 *  - the builder's toolchain facts: the bindings folder of the runtime,
 *    compiler and linker flags, the post-link strip, per arch the tool
 *    prefix and the Debian packages (toolchain/);
 *  - how `mgd run` starts an image, the target's launcher
 *    (toolchain/launch.h);
 *  - the clients' lists, through GET /targets.
 * docs/adding-a-target.md says what adding one takes.
 *
 * The descriptions are checked when loaded; a broken one is a bug in mgd
 * and is reported as such (tests/targets proves the shipped ones load and
 * agree with the catalog).
 *
 * This folder sits just above base/: graph/ and toolchain/ both use it,
 * and it uses neither.
 */
#ifndef MG_TARGETS_REGISTRY_H
#define MG_TARGETS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* How `mgd run` starts an image of a target ("launcher" in its file). */
typedef enum mg_launcher_kind {
    MG_LAUNCHER_EXEC,   /* "exec": the image is a host program, executed in
                           place of mgd (under the arch's `run` for another arch) */
    MG_LAUNCHER_TENDER, /* "tender": a program built with mgd runs it ("tender") */
    MG_LAUNCHER_VM,     /* "vm": a virtual machine boots it ("vm") */
} mg_launcher_kind;

typedef struct mg_target_arch {
    const char *name;             /* "x86_64" */
    const char *prefix;           /* "x86_64-linux-gnu-" */
    const char *package;          /* Debian package of the compiler */
    const char *binutils_package; /* ... of ar and strip */
    const char **run;             /* runner argv before the image; none for the host */
    size_t n_run;
    const char *run_package; /* Debian package of the runner, or NULL */
    /* what differs per arch, each taken from the target's own field when
     * the arch's entry has none (so a one-arch target may say them once):
     *  - the subfolders of the bindings folder compiled for this arch
     *    besides its top level ("bindings": ["x86_64"]; plain names) */
    const char **bindings;
    size_t n_bindings;
    /*  - the linker script (a path under runtime/), or NULL */
    const char *linker_script;
    /*  - compiler flags after the target's "cflags" (the arch's own only:
     *    "cflags" in the arch's entry adds, never replaces) */
    const char **cflags;
    size_t n_cflags;
    /*  - linker flags after the target's "ldflags" (the same: "ldflags" in
     *    the arch's entry adds, never replaces) */
    const char **ldflags;
    size_t n_ldflags;
    /*  - MG_LAUNCHER_VM: the virtual machine (argv before -kernel IMAGE
     *    -append ARGS) and its Debian package; n_vm 0 for other launchers */
    const char **vm;
    size_t n_vm;
    const char *vm_package;
    /*  - MG_LAUNCHER_VM: the QEMU -device of a block and of a network
     *    device ("virtio-blk-pci,disable-modern=on"), which mgd run
     *    completes with drive=/netdev= and the rest; and, when the
     *    machine's virtio buses must be named (virtio-mmio), the bus's
     *    name without its number ("virtio-mmio-bus."): the note's n-th
     *    device then goes on bus n. NULL for other launchers. */
    const char *vm_block_device, *vm_net_device, *vm_device_bus;
    /*  - MG_LAUNCHER_VM: the most devices, block and network together, the
     *    machine has room for ("vm_max_devices": riscv64's virt board has 8
     *    virtio-mmio transports; aarch64's has 32, the last taken by the
     *    exit's console), which mgd run enforces naming it; 0: only
     *    the per-kind limits of abi/image_note.h */
    size_t vm_max_devices;
} mg_target_arch;

/* An arch a target does not build for, with why ("unsupported_arches"
 * in its file): GET /targets lists it as unavailable with that reason, and
 * a build asking for it gets the reason instead of a bare "no such arch". */
typedef struct mg_target_unsupported {
    const char *name;   /* "aarch64" */
    const char *reason; /* "not supported: spt's tender runs on x86_64 hosts only" */
} mg_target_unsupported;

typedef struct mg_target {
    const char *name, *doc;
    /* the target a build or a resolution gets when none is named; exactly
     * one target of the registry has it */
    bool is_default;
    mg_launcher_kind launcher;
    const char *platform; /* the bindings folder: see mg_target_bindings_dir */
    int abi;              /* ABI version written into images' notes */
    const char *image_suffix;
    const char **cflags, **ldflags, **libs, **strip;
    size_t n_cflags, n_ldflags, n_libs, n_strip;
    /* freestanding: the runtime's own C library (runtime/libc) is compiled
     * in and its headers come first */
    bool libc;
    /* MG_LAUNCHER_TENDER: the program that runs the images (next to mgd or
     * on PATH: "mg-spt"); NULL otherwise */
    const char *tender;
    /* the defaults of the per-arch fields of the same names
     * (mg_target_arch has what applies: use its) */
    const char *linker_script;
    const char **vm;
    size_t n_vm;
    const char *vm_package;
    mg_target_arch *arches;
    size_t n_arches;
    mg_target_unsupported *unsupported; /* never also in arches */
    size_t n_unsupported;
} mg_target;

typedef struct mg_targets mg_targets;

/* The built-in registry, in the order of its files' names; NULL with
 * MG_E_INTERNAL in `e` if a description is broken (a bug in mgd). */
mg_targets *mg_targets_load(mg_err *e);
void mg_targets_free(mg_targets *t);
size_t mg_targets_count(const mg_targets *t);
const mg_target *mg_targets_get(const mg_targets *t, size_t i);
const mg_target *mg_targets_find(const mg_targets *t, const char *name);
/* The target with "default": true (a loaded registry always has one). */
const mg_target *mg_targets_default(const mg_targets *t);
const mg_target_arch *mg_target_find_arch(const mg_target *t, const char *arch);
/* Why `t` does not build for `arch` (which mg_target_find_arch did not
 * find), for a user: MG_E_INVALID and "virtio/aarch64: not supported
 * yet: ..." (its reason) for an arch the target's file names as unsupported, else
 * "target T has no arch A (its arches: x86_64, ...)". Returns -1. */
int mg_target_no_arch(const mg_target *t, const char *arch, mg_err *e);

/* The folder of the runtime's sources, relative to the project root and
 * ending in '/', with the target's platform bindings ("runtime/bindings/unix/");
 * malloc'd. Its top level is compiled for every arch, and the subfolders
 * an arch's "bindings" names for that arch. */
char *mg_target_bindings_dir(const mg_target *t);

/* "exec", "tender", "vm". */
const char *mg_launcher_kind_name(mg_launcher_kind k);

#endif
