/*
 * gc.h - retention and garbage collection of the daemon's data directory,
 * and the pins that keep builds' blobs alive in the cache.
 *
 * The store stops growing here (docs/daemon.md, "Retention and gc"). A
 * gc run:
 *   1. applies retention in one database transaction
 *      (mg_store_gc_collect): every build that is not kept is deleted, and
 *      the blobs it kept alive (its image, its inline tree) go on the
 *      store's pending list;
 *   2. for each pending blob nothing names any more, drops its pins (the
 *      cache records "mgd artifact" and "mgd sources") and removes the blob
 *      unless another cache record (an action's) still references it
 *      (mg_cache_blobs_release), then takes it off the list;
 *   3. removes the logs of the deleted builds, and any log whose build no
 *      longer exists (left by a run that stopped half-way);
 *   4. removes the git mirrors (DATA/git/<project>/) of projects that are
 *      gone or no longer fetch; a mirror whose fetch runs is left for the
 *      next run. Inside a kept mirror nothing is pruned: every fetch
 *      already prunes the branches and tags the remote deleted.
 * Steps 1 and 2 run "exclusive": in a running daemon the queue holds off
 * meanwhile every flow that pins a blob before the database names it (an
 * image stored before its build's end is recorded, a reuse, an inline
 * snapshot), so a blob is never unpinned between the two; a blob pinned
 * for a row the store refused for now (in_flight) stays pending. Every step is
 * safe to stop half-way: what a run leaves, the next one finds.
 *
 * Config versions are never collected: they are small, and each build
 * names one.
 *
 * Failures follow base/err.h: 0, or -1 with the first failure (the report
 * says what was done until then).
 */
#ifndef MG_DAEMON_GC_H
#define MG_DAEMON_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "daemon/store.h"
#include "toolchain/cache.h"

/* The daemon's default retention: finished builds kept per (project,
 * target, arch) (mgd serve --keep-builds). */
#define MG_GC_DEFAULT_KEEP_BUILDS 20
/* The largest retention a daemon or a project may set. */
#define MG_GC_MAX_KEEP_BUILDS 1000000

/* Pins blob `sha` as a `kind` ("artifact", "sources"): a cache record
 * naming it, so that the cache's own gc keeps it. 0, or -1. */
int mg_gc_pin(mg_cache *c, const char *kind, const char *sha, mg_err *e);
/* Drops every pin of each of `shas`. 0, or -1 with the first failure (the
 * others are tried all the same). */
int mg_gc_unpin(mg_cache *c, char *const *shas, size_t n, mg_err *e);

typedef struct mg_gc_options {
    mg_store *store;
    mg_cache *cache;
    const char *data_dir; /* logs/ and git/ under it */
    int64_t keep_builds;  /* the daemon's retention; 0: keep all */
    /* builds a worker still holds although they ended (kept this time) */
    const int64_t *held;
    size_t n_held;
    /* Called with true before steps 1 and 2 and with false after (NULL:
     * nothing else runs, as under `mgd gc`, which holds the data
     * directory's lock). */
    void (*exclusive)(void *ctx, bool on);
    /* Whether a flow pinned blob `sha` for a row not stored yet (the
     * queue's in-flight pins: a build's end the store refused, retried):
     * such a blob stays pinned and pending for a later run. NULL: none. */
    bool (*in_flight)(void *ctx, const char *sha);
    void *ctx;
} mg_gc_options;

typedef struct mg_gc_report {
    int64_t builds_deleted, builds_kept;
    int64_t logs_deleted;
    uint64_t log_bytes;
    int64_t blobs_deleted;
    uint64_t blob_bytes;
    int64_t blobs_shared; /* unpinned, but an action's cache record keeps them */
    int64_t mirrors_deleted;
    uint64_t mirror_bytes;
    uint64_t bytes_freed; /* logs, blobs and mirrors */
    int64_t duration_ms;
} mg_gc_report;

/* One run, as described above. *r is filled in either way. */
int mg_gc_run(const mg_gc_options *o, mg_gc_report *r, mg_err *e);

/* The report as a JSON object (docs/api.md, POST /gc; `mgd gc --json`). */
void mg_gc_report_json(mg_jw *w, const mg_gc_report *r);
/* One line for people and the daemon's log: "deleted 3 builds (5 kept),
 * 3 logs, 2 blobs, 0 mirrors: 1.2 MiB freed in 14 ms". */
void mg_gc_report_line(const mg_gc_report *r, char *buf, size_t size);

#endif
