/*
 * target.h - build targets as data.
 *
 * A target description (toolchain/targets/<name>.json, embedded into mgd)
 * says how to turn C into an image for that target: the platform layer of
 * the runtime it uses, compiler and linker flags, the post-link strip, and
 * per arch the tool prefix (x86_64-linux-gnu-gcc, -ar, -strip), the Debian
 * package that provides it, and how to run an image (nothing for the host
 * arch; qemu-user for another). A target is available for an arch when its
 * tools are found on PATH; otherwise the reason names what to install.
 *
 * The descriptions are checked when loaded; a broken one is a bug in mgd
 * and is reported as such.
 */
#ifndef MG_TOOLCHAIN_TARGET_H
#define MG_TOOLCHAIN_TARGET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mg_target_arch {
    const char *name;             /* "x86_64" */
    const char *prefix;           /* "x86_64-linux-gnu-" */
    const char *package;          /* Debian package of the compiler */
    const char *binutils_package; /* ... of ar and strip */
    const char **run;             /* runner argv before the image; none for the host */
    size_t n_run;
    const char *run_package; /* Debian package of the runner, or NULL */
} mg_target_arch;

typedef struct mg_target {
    const char *name, *doc;
    const char *platform; /* its binding: runtime/bindings/<platform>/ */
    int abi;              /* ABI version written into images' notes */
    const char *image_suffix;
    const char **cflags, **ldflags, **libs, **strip;
    size_t n_cflags, n_ldflags, n_libs, n_strip;
    /* freestanding: the runtime's own C library (runtime/libc) is compiled
     * in and its headers come first */
    bool libc;
    /* the program that runs the images (a tender next to mgd or on PATH:
     * "mg-spt"), or NULL when they run directly */
    const char *tender;
    /* a linker script of the runtime (a path under runtime/), or NULL */
    const char *linker_script;
    /* the virtual machine that boots the images (argv before -kernel
     * IMAGE -append ARGS), its Debian package; n_vm 0: none */
    const char **vm;
    size_t n_vm;
    const char *vm_package;
    mg_target_arch *arches;
    size_t n_arches;
} mg_target;

typedef struct mg_targets mg_targets;

/* The built-in descriptions; NULL with a message in err if one is broken. */
mg_targets *mg_targets_load(char *err, size_t errsize);
void mg_targets_free(mg_targets *t);
size_t mg_targets_count(const mg_targets *t);
const mg_target *mg_targets_get(const mg_targets *t, size_t i);
const mg_target *mg_targets_find(const mg_targets *t, const char *name);
const mg_target_arch *mg_target_find_arch(const mg_target *t, const char *arch);

/* The host's arch in mgd's spelling ("x86_64", "aarch64", "riscv64"). */
const char *mg_host_arch(void);

/* Whether the target's tools for `arch` are on PATH. On false, `why`
 * holds a message such as "aarch64-linux-gnu-gcc not found (install the
 * Debian package gcc-aarch64-linux-gnu)". `can_run` says whether images
 * can also be run here; when it is false on a true return, `why` says why
 * not ("virtio/x86_64 images run under qemu-system-x86_64, which is not
 * installed (the Debian package qemu-system-x86)"), else it is empty. */
bool mg_target_available(const mg_target *t, const mg_target_arch *a, bool *can_run, char *why,
                         size_t whysize);

/* A malloc'd absolute path of `prog` found on PATH, or NULL. */
char *mg_find_program(const char *prog);

/* A tender (`mg-spt`): the one in the directory of the running program
 * (mgd and its tenders are built and installed together), else on PATH;
 * malloc'd, or NULL. */
char *mg_find_tender(const char *name);

#endif
