/*
 * queue.h - the build queue's workers: they take queued builds from the
 * store and run them to the end.
 *
 * The queue itself is the builds table (store.h); this module owns the
 * worker threads. A worker claims the oldest queued build, then:
 *   1. takes the sources: fetches the project's mirror and checks the
 *      requested ref out into DATA/scratch/<id>/ (sources.h, in a child
 *      process `mgd __fetch` that cancel can kill even while a remote
 *      hangs), or writes the build's inline snapshot there, and records
 *      the commit;
 *   2. resolves the config version for the target, arch and keys, and
 *      records the describe output;
 *   3. computes the input hash (config version's canonical bytes, keys,
 *      target, arch, commit or sources hash, runtime version, toolchain
 *      identity) and, unless `force`, finishes at once as a reuse of the
 *      oldest earlier successful build with the same hash;
 *   4. runs the build through the toolchain (build.h) with the daemon's
 *      cache, streaming its log to DATA/logs/<id>.log;
 *   5. stores the image as a blob in the cache (kept alive by an artifact
 *      record) and finishes the build row.
 * Any failure on the way fails the build with a log line saying why; a
 * worker never stops on a bad build.
 *
 * Cancel: mg_queue_cancel marks the build cancelled in the store and, when
 * a worker runs it, stops its fetch or kills its processes.
 * mg_queue_delete_project does so for every build of a project at once.
 *
 * Logs are plain text files: each line starts with the time since the
 * build started ("[  1.234] "), then the toolchain's lines. A log is
 * capped (max_log bytes, then one truncation note). Readers find new data
 * with mg_queue_log_wait.
 */
#ifndef MG_DAEMON_QUEUE_H
#define MG_DAEMON_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "daemon/store.h"
#include "graph/catalog.h"
#include "toolchain/cache.h"
#include "toolchain/distcc.h"
#include "toolchain/remote_cache.h"
#include "toolchain/sandbox.h"
#include "toolchain/target.h"

/* How long fetching a project's repository may take. */
#define MG_QUEUE_FETCH_TIMEOUT_MS (600u * 1000u)

typedef struct mg_queue_options {
    mg_store *store;
    mg_cache *cache;
    const mg_remote_config *remote; /* the shared second level, or NULL */
    const mg_distcc_hosts *distcc;  /* distcc hosts the probe kept (toolchain/distcc.h), or NULL */
    const mg_catalog *catalog;
    const mg_targets *targets;
    const char *data_dir;   /* logs/, git/, scratch/ live under it */
    unsigned workers;       /* threads; default 2 */
    bool no_workers;        /* none at all: builds stay queued (tests of what queues, cancels
                               and deletes them, without running one) */
    unsigned jobs;          /* processes per build; 0: the number of cores */
    mg_build_limits limits; /* of every build (toolchain/sandbox.h) */
    bool no_sandbox;        /* actions run with the limits only (mgd serve --insecure-no-sandbox) */
    uint64_t max_log_bytes; /* per build; 0: 16 MiB */
    bool allow_local_repos; /* local paths and file:// URLs as repo urls */
} mg_queue_options;

typedef struct mg_queue mg_queue;

/* Starts the workers (which begin with what is queued). NULL with `e`
 * filled. */
mg_queue *mg_queue_start(const mg_queue_options *o, mg_err *e);
/* Stops: cancels running builds' processes, marks them interrupted, joins
 * the workers. */
void mg_queue_stop(mg_queue *q);
/* Wakes a worker: a build was queued. */
void mg_queue_notify(mg_queue *q);
/* Cancels a queued or running build (and kills its processes). 0, or -1
 * with MG_E_NOT_FOUND, MG_E_CONFLICT (already finished) or MG_E_IO. */
int mg_queue_cancel(mg_queue *q, int64_t id, mg_err *e);

/* Stores project `p`'s inline tree (p->sources) as a blob named by
 * p->sources_sha256, so a build (and its rebuilds) keep the sources it was
 * asked for even when the project changes. 0, or -1 with a message. */
int mg_queue_snapshot_sources(mg_queue *q, const mg_project *p, mg_err *e);

/* Whether a worker of this daemon holds build `id` (it may still write
 * to its log, even after a cancel marked it finished). */
bool mg_queue_running(mg_queue *q, int64_t id);

/* How long deleting a project waits for the workers running its builds
 * to stop. */
#define MG_QUEUE_DELETE_WAIT_MS (30u * 1000u)

/* Deletes project `project_id` and everything of it:
 *   1. in one store transaction (mg_store_project_delete_begin) the
 *      project is marked as being deleted, so no build can be queued for
 *      it any more, and all its queued and running builds are cancelled,
 *      so no worker claims one (claims wait meanwhile, so that every
 *      build claimed before is seen in its worker);
 *   2. the workers running its builds are stopped (fetch and build
 *      processes killed) and waited for, at most MG_QUEUE_DELETE_WAIT_MS;
 *   3. its builds' logs and its git mirror are removed, then its rows
 *      (builds, config versions), then the pins of the blobs only it used.
 * 0; -1 with MG_E_NOT_FOUND when there is no such project, otherwise with
 * MG_E_BUSY (its builds did not stop in time) or MG_E_IO, the project then
 * staying marked for deletion: a later call (or the next start of the
 * queue) finishes it. */
int mg_queue_delete_project(mg_queue *q, int64_t project_id, mg_err *e);

/* Removes what the queue keeps for a deleted project: its git mirror
 * (waiting for a fetch in progress to end). 0, or -1 with a message. */
int mg_queue_forget_project(mg_queue *q, int64_t project_id, mg_err *e);

/* The path of a build's log (malloc'd). */
char *mg_queue_log_path(mg_queue *q, int64_t id);
/* Waits until build `id`'s log is longer than `offset` bytes or the build
 * is no longer running, at most timeout_ms. Returns the log's size then. */
int64_t mg_queue_log_wait(mg_queue *q, int64_t id, int64_t offset, int timeout_ms);

/* The path of a stored image (a blob in the cache), malloc'd; NULL when
 * `sha256` is not stored. */
char *mg_queue_image_path(mg_queue *q, const char *sha256);
/* Drops the records that keep images and inline-source snapshots alive,
 * for blobs nothing references any more (after a project was deleted); the
 * next cache gc removes the blobs. 0, or -1 with a message (the first
 * failure; the others are tried all the same). */
int mg_queue_forget_blobs(mg_queue *q, char *const *sha256s, size_t n, mg_err *e);

/* Figures for /metrics (since start). Histograms have the buckets below
 * (seconds) plus +Inf; counts are cumulative per bucket. */
#define MG_QUEUE_N_BUCKETS 12
extern const double mg_queue_buckets[MG_QUEUE_N_BUCKETS];
typedef struct mg_queue_metrics {
    uint64_t cache_hits, cache_misses;
    /* the remote cache's, summed over builds (docs/remote-cache.md) */
    uint64_t remote_hits, remote_misses, remote_errors, remote_bytes_down, remote_bytes_up;
    /* distcc's, summed over builds (docs/distcc.md) */
    uint64_t distcc_remote, distcc_fallbacks;
    uint64_t actions_bucket[MG_QUEUE_N_BUCKETS + 1];
    double actions_sum;
    uint64_t builds_bucket[MG_QUEUE_N_BUCKETS + 1];
    double builds_sum;
    unsigned running;
} mg_queue_metrics;
void mg_queue_metrics_get(mg_queue *q, mg_queue_metrics *out);

#endif
