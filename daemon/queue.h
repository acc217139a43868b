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
 * worker never stops on a bad build. A build that fails with the disk
 * nearly full (MG_QUEUE_NEARLY_FULL) says so, whatever its tools said.
 * The end of a build (its row finished, its image pinned) that the store
 * refuses (a full disk, an I/O error) is kept and tried again by the
 * queue's timer until the store takes it; until then the build shows
 * running. One the daemon stops with is marked interrupted at the next
 * start.
 *
 * Cancel: mg_queue_cancel marks the build cancelled in the store and, when
 * a worker runs it, stops its fetch or kills its processes.
 * mg_queue_delete_project does so for every build of a project at once.
 *
 * Logs are plain text files: each line starts with the time since the
 * build started ("[  1.234] "), then the toolchain's lines. A log is
 * capped (max_log bytes, then one truncation note). Readers find new data
 * with mg_queue_log_wait. A log holds whole writes only: a write a full
 * disk cut short is cut off again; what could not be written is counted,
 * said in the log once there is room ("[mgd] N bytes of this log could
 * not be written: ..."), and in the error of a build that failed.
 */
#ifndef MG_DAEMON_QUEUE_H
#define MG_DAEMON_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "daemon/gc.h"
#include "daemon/store.h"
#include "graph/catalog.h"
#include "toolchain/cache.h"
#include "toolchain/distcc.h"
#include "toolchain/remote_cache.h"
#include "toolchain/sandbox.h"
#include "toolchain/target.h"

/* Pull workers (docs/workers.md): names, platforms, builds at once. */
#define MG_WORKER_NAME_MAX 64
#define MG_WORKER_MAX_PLATFORMS 64
#define MG_WORKER_DEFAULT_LEASE_MS 30000u
/* The largest image a pull worker may upload (and the coordinator fetch). */
#define MG_WORKER_MAX_IMAGE (256u << 20)
/* The largest source snapshot handed to a pull worker. */
#define MG_WORKER_MAX_SNAPSHOT (256u << 20)

/* A build that fails while the file system of the data directory (or of
 * the cache) has less than this free says that it probably ran out of
 * space, whatever its tool said. */
#define MG_QUEUE_NEARLY_FULL (16u << 20)

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
    uint64_t worker_lease_ms; /* a pull worker's lease without news; 0: 30 s */
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

/* What a running build does now (GET /builds/:id shows it): its phase,
 * "sources" (fetching or unpacking them), "resolve" (the config, the input
 * hash, the lookup of a build to reuse) or "build" (the toolchain, here or
 * on a pull worker), and in "build" on this daemon's threads the labels of
 * the actions running now ("compile slow.c"), oldest first, as the log's
 * "LABEL: started" lines name them (a pull worker's are in the log only).
 * The phase is static text; the steps are copies (mg_queue_progress_free). */
typedef struct mg_queue_progress {
    const char *phase;
    char **steps;
    size_t n_steps;
} mg_queue_progress;
/* false (and *out empty) when no worker of this daemon holds build `id`. */
bool mg_queue_progress_get(mg_queue *q, int64_t id, mg_queue_progress *out);
void mg_queue_progress_free(mg_queue_progress *p);

/* How a build's log ends when it did not succeed nor fail: one line each
 * (docs/daemon.md, "Build logs"), said once. */
#define MG_QUEUE_CANCELLED "cancelled by a user"
#define MG_QUEUE_INTERRUPTED "interrupted: the daemon stopped while the build ran"

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
/* Drops the records that keep images and inline-source snapshots alive
 * (mg_gc_unpin), for blobs nothing references any more (after a project
 * was deleted); the next cache gc removes the blobs. 0, or -1 with a
 * message (the first failure; the others are tried all the same). */
int mg_queue_forget_blobs(mg_queue *q, char *const *sha256s, size_t n, mg_err *e);

/* Holds off gc's collection (gc.h) while a flow pins a blob and then
 * records what names it (service/builds.c: an inline snapshot until its
 * build is queued); the queue's own flows hold it themselves. Short, and
 * never twice by one thread. */
void mg_queue_blobs_hold(mg_queue *q);
void mg_queue_blobs_release(mg_queue *q);

/* One gc run (gc.h) with the daemon's retention `keep_builds`, exclusive
 * of the flows above and of other runs (a second one waits). The builds
 * the workers hold are kept. Says what it did on stderr as the daemon's
 * log ("mgd: gc (why): ...") and adds it to the metrics. 0, or -1 with
 * the first failure; *r is filled in either way. */
int mg_queue_gc(mg_queue *q, int64_t keep_builds, const char *why, mg_gc_report *r, mg_err *e);

/* ---- pull workers (docs/workers.md) ----------------------------------------
 *
 * A pull worker claims a build over HTTP (service/, api/). The claim takes
 * the oldest queued build whose (target, arch) the worker offers with the
 * coordinator's own toolchain identity, and prepares it as the threads
 * do (sources, resolve, describe, input hash, reuse); a build that ends
 * there (reused, failed) is finished and the claim goes on waiting. The
 * build's sources are packed (daemon/snapshot.h) into
 * DATA/scratch/<id>/sources.tar. The build then runs under a lease: the
 * worker's heartbeats and log posts keep it; the queue's timer puts a
 * build whose lease lapsed back in the queue (lease + 1, a log line
 * saying so). Whatever comes later under the old lease gets
 * MG_E_CONFLICT. While a worker that accepts a build's (target, arch)
 * was seen within the lease timeout, the daemon's threads leave that
 * build to it. */
typedef struct mg_worker_platform {
    char target[64], arch[64];
    char toolchain[65]; /* the worker's mg_toolchain_identity */
    bool ignored;       /* set by the claim: no such target here, or another toolchain */
    char own[65];       /* set by the claim: the coordinator's identity ("": cannot build it) */
} mg_worker_platform;

typedef struct mg_worker_claim_req {
    const char *name; /* 1..64 of [A-Za-z0-9._-] (the service checks) */
    unsigned slots;
    unsigned wait_ms;
    mg_worker_platform *platforms; /* `ignored` filled in */
    size_t n_platforms;
    const volatile int *abort; /* nonzero: answer "nothing" soon (the API stops) */
    int64_t token; /* the claiming token's id: the lease-bound calls must come with it */
} mg_worker_claim_req;

typedef struct mg_worker_job {
    int64_t build, lease;
    uint64_t heartbeat_ms, lease_timeout_ms;
    char *project, *target, *arch;
    char *keys;   /* JSON {name: text} */
    char *config; /* the config version's document, JSON */
    bool force;
    char sources_sha256[65];
    uint64_t sources_size;
    char input_hash[65];
    int64_t log_offset, elapsed_ms;
} mg_worker_job;
void mg_worker_job_free(mg_worker_job *j);

/* Waits up to req->wait_ms for a build. 1 with *out filled; 0 when none
 * came; -1 with a message. */
int mg_queue_worker_claim(mg_queue *q, mg_worker_claim_req *req, mg_worker_job *out, mg_err *e);
/* The calls below act under (id, lease) for `token`, the id of the token
 * that claimed the build (mg_worker_claim_req.token): a lease is a small
 * integer any worker could guess, so another token gets MG_E_CONFLICT. */
/* The path of build `id`'s snapshot (malloc'd) under `lease`. NULL with
 * MG_E_NOT_FOUND (no such build) or MG_E_CONFLICT (another lease or
 * token, or it ended). */
char *mg_queue_worker_sources(mg_queue *q, int64_t id, int64_t lease, int64_t token, mg_err *e);
/* Appends a worker's log bytes from `offset` (bytes before the log's size
 * skipped); *size gets the log's size after. MG_E_LIMIT when offset is
 * past the size (416), MG_E_CONFLICT, MG_E_NOT_FOUND, MG_E_NOSPACE (or
 * MG_E_IO) when the log cannot be written: none of the bytes is taken,
 * the worker sends them again. Past the log's cap the bytes are dropped
 * and *size counts them as taken. */
int mg_queue_worker_log(mg_queue *q, int64_t id, int64_t lease, int64_t token, int64_t offset,
                        const void *data, size_t len, int64_t *size, mg_err *e);
/* Keeps the lease; *cancel when the build was cancelled. */
int mg_queue_worker_heartbeat(mg_queue *q, int64_t id, int64_t lease, int64_t token, bool *cancel,
                              mg_err *e);
/* Keeps an uploaded image (`len` bytes) for the finish, after checking its
 * sha256 and its note (the build's target and arch): one per lease, each
 * upload replacing the one before; the finish that names it stores it in
 * the cache. MG_E_INVALID for a mismatch. */
int mg_queue_worker_image(mg_queue *q, int64_t id, int64_t lease, int64_t token, const char *sha256,
                          const void *data, size_t len, mg_err *e);
/* Finishes a pull worker's build (done: id, lease, status, error, image,
 * counts). A succeeded build's image must be the lease's upload, in the
 * cache or in the remote cache (else -1 with *need_image set), and an mgd
 * image of the build's target and arch (else MG_E_INVALID). */
int mg_queue_worker_finish(mg_queue *q, mg_stored_build *done, int64_t token, bool *need_image,
                           mg_err *e);
/* A pull worker seen within the lease timeout (GET /workers). */
typedef struct mg_worker_info {
    char name[MG_WORKER_NAME_MAX + 1];
    unsigned slots;
    mg_worker_platform platforms[MG_WORKER_MAX_PLATFORMS]; /* as it last claimed; `ignored` set */
    size_t n_platforms;
    int64_t last_seen_unix_ms; /* its last request (claim, log, heartbeat, ...) */
    int64_t *builds;           /* the builds it runs now */
    size_t n_builds;
} mg_worker_info;
/* The workers seen within the lease timeout (*out malloc'd,
 * mg_worker_infos_free). */
void mg_queue_workers(mg_queue *q, mg_worker_info **out, size_t *n);
void mg_worker_infos_free(mg_worker_info *v, size_t n);

/* ---- what changed (GET /events, api/sse.c) ---------------------------------
 *
 * One observer may watch the builds and projects change: a build's row
 * (queued, claimed, its inputs, its end, a cancel, a re-queue, a pin) or
 * its progress (a phase, a step starting or ending), a project's row or
 * config, a project deleted. The queue reports its own changes; the
 * service (service/) reports those it makes through mg_queue_changed.
 * The observer is called on the thread that made the change, some of
 * them holding the queue's lock: it must only take note (a lock of its
 * own, no I/O) and do the rest later, except for a change that carries
 * its row (c->build), which only callers holding none of the queue's
 * locks send (a new build, whose queued state may be gone by the time an
 * observer would read it). */
typedef enum mg_change_kind {
    MG_CHANGE_BUILD,           /* build `id` */
    MG_CHANGE_PROJECT,         /* project `id` was created or changed */
    MG_CHANGE_PROJECT_DELETED, /* project `id`, named `name`, is gone */
} mg_change_kind;
typedef struct mg_change {
    mg_change_kind kind;
    int64_t id;
    const char *name;             /* MG_CHANGE_PROJECT_DELETED */
    const mg_stored_build *build; /* MG_CHANGE_BUILD: the row now, or NULL (read it later) */
} mg_change;
typedef void mg_change_fn(void *ctx, const mg_change *c);
/* Sets the observer (NULL: none). Replacing one waits for its calls in
 * progress to end, so its context may go once this returns. */
void mg_queue_watch(mg_queue *q, mg_change_fn *fn, void *ctx);
/* Tells the observer, if any (q NULL: nobody). */
void mg_queue_changed(mg_queue *q, const mg_change *c);

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
    unsigned workers_connected; /* pull workers seen within the lease timeout */
    uint64_t leases_expired;
    /* gc runs (mg_queue_gc) and what they deleted, summed; the last one's
     * time (unix ms, 0: none yet) and length */
    uint64_t gc_runs, gc_failures, gc_builds_deleted, gc_logs_deleted, gc_blobs_deleted,
        gc_mirrors_deleted, gc_bytes_freed;
    int64_t gc_last_unix_ms;
    uint64_t gc_last_ms;
    unsigned ends_pending; /* builds that ended here whose end the store refused: retried */
} mg_queue_metrics;
void mg_queue_metrics_get(mg_queue *q, mg_queue_metrics *out);

#endif
