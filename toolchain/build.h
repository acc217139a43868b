/*
 * build.h - one build: a resolved graph to a bootable image, through the
 * action cache.
 *
 * The build plans its actions with explicit inputs and outputs:
 *   crunch    each directory a catalog entry embeds -> gen/mg_crunch.c (in mgd)
 *   compile   each runtime source (core, the target's platform, the sources
 *             of every catalog entry claiming the target) and each generated
 *             and user source -> an object, with gcc -MD for the headers
 *   archive   the runtime's objects -> libmgrt.a (ar D: no dates or owners)
 *   link      objects + libmgrt.a -> the unstripped image and its link map
 *             (which object each byte came from: toolchain/sizes.h)
 *   strip     -> the image; then its sha256 (in mgd)
 * and runs them in dependency order, up to `jobs` processes at once (argv
 * arrays, never a shell), each under the limits and, unless no_sandbox, in
 * the sandbox of toolchain/sandbox.h.
 *
 * The workspace. Every action runs in one folder laid out the same way
 * with or without the sandbox, and its argv names workspace-relative paths
 * only, so commands, compiler messages and the log say src/unikernel.c or
 * runtime/core/loop.c, never where the daemon keeps its data:
 *   src/       the project's sources                  read-only
 *   runtime/   the runtime's sources                  read-only
 *   gen/       the generated sources (mgd writes)     read-only
 *   obj/SRC/   the object and dependency file of the compile of SRC
 *   lib/       libmgrt.a       link/  image.elf, .map  out/  the image
 * Each action may write only its own output folder (the last four), and
 * sees only what it declares: a compile the three source trees, the other
 * actions the files they take. So an action cannot change another's
 * outputs after they were hashed (a poisoned cache entry for every
 * project), and one that reads an undeclared file fails.
 *
 * Every process action goes through the cache. Its key covers the toolchain
 * identity (tool versions), the action's argv with the build's own paths
 * replaced by placeholders, and the sha256 of every input; for a compile,
 * the headers it read last time (its manifest, as ccache's direct mode) are
 * checked too, so touching a header recompiles exactly the files that
 * include it. A hit restores the outputs from verified blobs; a corrupt or
 * missing blob makes it a miss, never a wrong output. `force` skips the
 * lookups (results are still stored), which is how reproducibility is
 * checked: a forced build must give the same sha256.
 *
 * Reproducible by construction: paths are mapped out with
 * -ffile-prefix-map, archives are deterministic, link order is stable,
 * SOURCE_DATE_EPOCH is pinned, nothing reads the clock.
 *
 * A build may be cancelled from another thread (mg_build_cancel); its
 * processes are killed. The log is plain text: a line per action with its
 * time offset, then, for actions that ran, the command and its output.
 */
#ifndef MG_TOOLCHAIN_BUILD_H
#define MG_TOOLCHAIN_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "graph/catalog.h"
#include "graph/resolve.h"
#include "toolchain/cache.h"
#include "toolchain/distcc.h"
#include "toolchain/remote_cache.h"
#include "toolchain/sandbox.h"
#include "base/sha256.h"
#include "toolchain/target.h"

/* Receives the build log as it is written (text, not NUL-terminated). */
typedef void (*mg_build_log_fn)(void *ctx, const char *text, size_t len);

/* Told of every action that ran a process (not of cache hits): its label
 * ("compile core/loop.c") and how long it took. */
typedef void (*mg_build_action_fn)(void *ctx, const char *label, uint64_t duration_ms);
/* Told when an action's process starts (again after a distcc fallback):
 * its label, as the log's "LABEL: started" line says it. The same action
 * ends with on_action, or with the build's end when the build fails or is
 * cancelled first. */
typedef void (*mg_build_start_fn)(void *ctx, const char *label);

typedef struct mg_build_options {
    const char *project_dir; /* the user's sources and embedded directories */
    const mg_graph *graph;   /* resolved for the target and arch to build */
    const mg_catalog *catalog;
    const mg_targets *targets;
    mg_cache *cache;
    /* a shared second level (remote_cache.h), or NULL: local only. The build
     * opens its own session on it: looks up what the local cache lacks,
     * uploads what it runs, and goes on locally when the remote fails. */
    const mg_remote_config *remote;
    /* distcc hosts for the C compiles (toolchain/distcc.h), as mg_distcc_probe
     * kept them, or NULL (or none): every compile runs here. With hosts,
     * `jobs` counts the local processes; each host adds its /LIMIT. */
    const mg_distcc_hosts *distcc;
    const char *output;            /* where to write the image (atomically); NULL: nowhere */
    unsigned jobs;                 /* processes at once; 0: the number of cores */
    bool force;                    /* bypass cache lookups */
    const mg_build_limits *limits; /* NULL: mg_build_limits_default() */
    bool no_sandbox;               /* the limits only, no sandbox (same cache keys) */
    mg_build_log_fn log;           /* may be NULL */
    void *log_ctx;
    mg_build_action_fn on_action; /* may be NULL; called with log_ctx */
    mg_build_start_fn on_start;   /* may be NULL; called with log_ctx */
    bool log_no_error;            /* the log gets no "error: ..." line for the build's error
                                     (res.error): the caller writes the build's end itself,
                                     once (mgd serve) */
    bool log_untimed;             /* the log callback stamps every line with its own time:
                                     step lines come without the build's time offset */
} mg_build_options;

typedef struct mg_build_result {
    bool ok;
    bool cancelled;
    mg_limit_kind limit; /* the limit that failed the build, or MG_LIMIT_NONE */
    mg_err error;        /* what failed, when !ok: one line a user can act on, and its kind:
                            MG_E_INVALID (the config or the sources), MG_E_LIMIT (see `limit`),
                            MG_E_CANCELLED, MG_E_IO (a tool, an action or the disk) */
    char sha256[MG_SHA256_HEX_SIZE];
    uint64_t image_size;
    char image_name[256]; /* "hello" (+ the target's suffix) */
    unsigned actions;     /* cacheable actions */
    unsigned hits, misses;
    uint64_t saved_ms;         /* the recorded run time of the actions served from the cache */
    bool remote_used;          /* a remote cache was configured (the fields below mean something) */
    unsigned remote_hits;      /* of the hits: actions whose entry came from the remote */
    mg_remote_stats remote;    /* the session's counters (records, requests, waves, bytes) */
    uint64_t duration_ms;      /* wall time of the build */
    bool distcc_used;          /* distcc hosts were given (the fields below mean something) */
    unsigned distcc_remote;    /* compiles that ran on a distcc host */
    unsigned distcc_fallbacks; /* distributed compiles that distcc failed, run again here */
} mg_build_result;

typedef struct mg_build mg_build;

mg_build *mg_build_new(const mg_build_options *opts);
/* Runs the build; fills `res`. 0 when the image was built, else -1. */
int mg_build_run(mg_build *b, mg_build_result *res);
/* Thread-safe: stops the build as soon as possible, killing its processes. */
void mg_build_cancel(mg_build *b);
void mg_build_free(mg_build *b);

/* The argv of a compile of `src` into `obj` (workspace paths), with gcc's
 * dependency file `dep` and the assembler's `as_dep`, for a target and arch,
 * as every build runs it: `cc`, the target's then the arch's cflags,
 * `extra`, `cwd_map` (the -ffile-prefix-map of the working directory), the
 * include folders, then the eleven words `-MD -MF dep -Xassembler --MD
 * -Xassembler as_dep -c src -o obj` (mg_distcc_cc1_argv splits a compile
 * at them). NULL-terminated, from the arena (the strings given are
 * borrowed); *argc without the NULL. The distcc probe compiles with it too,
 * so it tests the flags of a real compile. */
const char **mg_build_compile_argv(mg_arena *ar, const mg_target *t, const mg_target_arch *a,
                                   const char *cc, const char *const *extra, size_t n_extra,
                                   const char *cwd_map, const char *src, const char *obj,
                                   const char *dep, const char *as_dep, size_t *argc);

/* The identity of a target's tools for an arch: the sha256 of their
 * version output and of the content of the C library and compiler runtime
 * files every link reads (libc.so.6, crt*.o, libgcc.a, ... as gcc
 * -print-file-name finds them). Memoised in the cache while the tools and
 * those files keep their identity (inode, size, times), so a build runs no
 * process for it. NULL with a message when a tool is missing or fails.
 * The result is malloc'd. */
char *mg_toolchain_identity(mg_cache *c, const mg_target_arch *a, mg_err *err);

#endif
