/*
 * queue.c - the build workers (see queue.h for what a worker does).
 */
#include "daemon/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "daemon/cli_common.h"
#include "daemon/gc.h"
#include "daemon/snapshot.h"
#include "daemon/sources.h"
#include "base/arena.h"
#include "base/deadline.h"
#include "graph/describe.h"
#include "base/buf.h"
#include "toolchain/build.h"
#include "toolchain/exec.h"
#include "toolchain/image.h"
#include "base/fsutil.h"
#include "toolchain/runtime_src.h"
#include "base/sha256.h"

const double mg_queue_buckets[MG_QUEUE_N_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
                                                     2.5,  5,    10,  30,   60,  300};

#define DEFAULT_MAX_LOG (16u << 20)

/* What a worker is doing, visible to cancel and to log readers. */
typedef struct worker_slot {
    mg_queue *q;
    pthread_t thread;
    int64_t build_id;    /* 0: idle */
    mg_build *build;     /* while the toolchain runs it */
    volatile int cancel; /* set by cancel and stop */
    mg_executor *fetch;  /* while the fetch process runs */
    int64_t log_size;    /* bytes written to the running build's log */
    /* a pull worker's build (slots past the threads'): who, under which
     * lease, when it was last heard of, its log and its snapshot */
    bool remote;
    bool preparing;                  /* the claim is still preparing it: no expiry */
    const volatile int *claim_abort; /* while preparing: the claim's abort flag */
    char worker[MG_WORKER_NAME_MAX + 1];
    int64_t lease;
    int64_t token; /* the token that claimed it: only it may act under the lease */
    uint64_t last_seen_ms;
    struct build_log *rlog;
    char *snapshot;  /* DATA/scratch/<id>/sources.tar */
    bool end_logged; /* the worker's finish wrote its last log line (a retry does not again) */
    char *scratch;
    /* the last image uploaded under the lease (DATA/scratch/<id>/image),
     * which goes to the cache only when the finish names it: a worker
     * uploading image after image fills no more than this one file */
    char upload_sha[MG_SHA256_HEX_SIZE];
    char target[64], arch[64];
    /* what its build does now (mg_queue_progress_get), with q->lock: the
     * phase (NULL: idle) and, in "build", the actions running, oldest
     * first (the toolchain's on_start and on_action) */
    const char *phase;
    char **steps;
    size_t n_steps, cap_steps;
} worker_slot;

/* A pull worker seen lately (GET /workers). */
typedef struct known_worker {
    char name[MG_WORKER_NAME_MAX + 1];
    unsigned slots;
    mg_worker_platform platforms[MG_WORKER_MAX_PLATFORMS];
    size_t n_platforms;
    uint64_t last_seen_ms; /* mg_now_ms(); 0: free entry */
    int64_t last_seen_unix_ms;
} known_worker;

#define MAX_KNOWN_WORKERS 256
#define MAX_REMOTE_BUILDS 256
#define MAX_IDENTITIES 64

/* The coordinator's own toolchain identity of a (target, arch), computed
 * once ("" when it cannot build it). */
typedef struct identity_entry {
    char target[64], arch[64];
    char identity[MG_SHA256_HEX_SIZE];
} identity_entry;

struct mg_queue {
    mg_queue_options o;
    char *self_exe; /* this program, to run `mgd __fetch` */
    char *logs_dir, *git_dir, *scratch_dir;
    pthread_mutex_t lock;
    /* Held by a worker from its claim until its slot shows the build, so
     * that a project's delete, holding it, sees in the slots every build
     * that was claimed before it cancelled the project's builds. A pull
     * worker's claim also picks its free slot under it. Taken before
     * `lock`, never while holding it. */
    pthread_mutex_t claim_lock;
    pthread_mutex_t
        delete_lock;         /* one delete at a time: two of one project would race on its files */
    pthread_cond_t wake;     /* a build was queued, or stop */
    pthread_cond_t log_cond; /* a log grew or a build ended */
    bool stopping;
    unsigned pending; /* notifications not yet consumed */
    worker_slot *slots;
    unsigned n_slots;   /* the threads' and the pull workers' */
    unsigned n_threads; /* started */
    mg_queue_metrics metrics;
    /* pull workers (docs/workers.md) */
    pthread_cond_t claim_cond; /* a build was queued or re-queued, or stop */
    pthread_t timer;           /* expires lapsed leases */
    bool timer_started;
    known_worker known[MAX_KNOWN_WORKERS];
    identity_entry idents[MAX_IDENTITIES];
    size_t n_idents;
    pthread_mutex_t remote_log_lock; /* one append to a pull worker's log at a time */
    /* Read-held by every flow that pins a blob before the database names
     * it, until it does: a build's image until its end is recorded (or
     * deferred, see `ends`), a reuse from its lookup until then, an inline
     * snapshot until its build is queued (mg_queue_blobs_hold);
     * write-held by gc while it deletes builds and unpins blobs (gc.h), so
     * it never unpins one in between, and by unpin_unused. Writers first,
     * so that a busy daemon does not starve gc; no thread ever holds it
     * twice. Taken before pin_lock and `lock`. */
    pthread_rwlock_t blobs_lock;
    pthread_mutex_t gc_lock; /* one gc at a time */
    /* ends of builds the store refused (a full disk, an I/O error), tried
     * again by the timer until it takes them (record_end) */
    struct pending_end *ends;
    unsigned n_ends;
    /* Blobs pinned by a flow whose row (artifact, build) is not stored
     * yet, counted from the pin to the row: it outlives blobs_lock's hold
     * when the store refuses the row and the end is deferred. Nothing
     * drops their pins meanwhile for want of a row naming them
     * (unpin_unused, mg_queue_forget_blobs, gc's collection through
     * mg_gc_options.in_flight). pin_lock makes "pin and count" and "check
     * and drop" exclusive; taken after blobs_lock, before `lock`. */
    pthread_mutex_t pin_lock;
    struct inflight_pin *inflight; /* guarded by `lock` */
    size_t n_inflight, cap_inflight;
    /* the observer of changes (mg_queue_watch): read-held around each
     * call, write-held to replace it. Readers first (glibc's default), so
     * that a call made under `lock` never waits for a replacement that
     * waits for another call. Taken after every other lock. */
    pthread_rwlock_t watch_lock;
    mg_change_fn *watch_fn;
    void *watch_ctx;
};

static struct worker_slot *remote_slot(mg_queue *q, int64_t id);
static void release_remote(mg_queue *q, struct worker_slot *s);
static void *timer_main(void *arg);

void mg_queue_watch(mg_queue *q, mg_change_fn *fn, void *ctx)
{
    if (!q) return;
    pthread_rwlock_wrlock(&q->watch_lock);
    q->watch_fn = fn;
    q->watch_ctx = ctx;
    pthread_rwlock_unlock(&q->watch_lock);
}

void mg_queue_changed(mg_queue *q, const mg_change *c)
{
    if (!q) return;
    pthread_rwlock_rdlock(&q->watch_lock);
    if (q->watch_fn) q->watch_fn(q->watch_ctx, c);
    pthread_rwlock_unlock(&q->watch_lock);
}

/* Build `id` changed (its row or its progress): the observer is told. */
static void build_changed(mg_queue *q, int64_t id)
{
    if (id > 0) mg_queue_changed(q, &(mg_change){.kind = MG_CHANGE_BUILD, .id = id});
}

/* ---- the build log ------------------------------------------------------ */

typedef struct build_log {
    worker_slot *slot;
    int fd;
    uint64_t size, max;
    bool truncated, at_line_start;
    bool file_nl; /* the file ends with a newline (or is empty) */
    /* what a full disk (or another write error) kept out of the log: bytes
     * not said yet, all bytes, and why */
    uint64_t lost, lost_total;
    int lost_errno;
    uint64_t start_ms; /* mg_now_ms() when the build began */
} build_log;

/* Appends all `len` bytes or none: a write that stopped part-way (the disk
 * filled) is cut off again, so that the log holds whole writes only and
 * the next one never continues half a line. 0, or -1 with errno. */
static int log_append(build_log *l, const char *text, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(l->fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int saved = w < 0 ? errno : EIO;
            /* if even that fails, the part stays and is counted */
            if (off && ftruncate(l->fd, (off_t)l->size) != 0) {
                l->size += off;
                l->file_nl = text[off - 1] == '\n';
            }
            errno = saved;
            return -1;
        }
        off += (size_t)w;
    }
    l->size += len;
    if (len) l->file_nl = text[len - 1] == '\n';
    return 0;
}

/* Tells readers (log_wait, the SSE stream) how far the log is written. */
static void log_publish(build_log *l)
{
    if (!l->slot) return; /* a pull worker's log after its lease lapsed */
    mg_queue *q = l->slot->q;
    pthread_mutex_lock(&q->lock);
    l->slot->log_size = (int64_t)l->size;
    pthread_cond_broadcast(&q->log_cond);
    pthread_mutex_unlock(&q->lock);
}

/* Says in the log what could not be written into it, once it can. */
static void log_note_lost(build_log *l)
{
    char note[256];
    snprintf(note, sizeof note, "%s[mgd] %llu bytes of this log could not be written: %s\n",
             l->file_nl ? "" : "\n", (unsigned long long)l->lost, strerror(l->lost_errno));
    if (l->size + strlen(note) <= l->max && log_append(l, note, strlen(note)) == 0) l->lost = 0;
}

/* Writes `text` to the log within its cap (past the cap, one note and
 * nothing more). 0 (written, or dropped by the cap), or -1 with errno when
 * it could not be written. */
static int log_raw(build_log *l, const char *text, size_t len)
{
    if (l->fd < 0 || l->truncated) return 0;
    if (l->lost) log_note_lost(l);
    int r = 0;
    if (l->size + len > l->max) {
        static const char note[] = "\n[mgd] the log reached its size limit; the rest is dropped\n";
        size_t room = l->size + sizeof note < l->max ? l->max - l->size - sizeof note : 0;
        if (room > len) room = len;
        r = log_append(l, text, room);
        if (log_append(l, note, sizeof note - 1) != 0) r = -1;
        l->truncated = true;
    } else {
        r = log_append(l, text, len);
    }
    log_publish(l);
    return r;
}

/* Appends text, starting each line with the time since the build started.
 * What cannot be written is counted: the log says so when it can, the
 * build's error when it cannot (end_job). */
static void log_text(void *ctx, const char *text, size_t len)
{
    build_log *l = ctx;
    mg_buf out = {0};
    mg_cli_log_stamp(&out, text, len, mg_ms_since(l->start_ms), &l->at_line_start);
    if (out.len && !out.failed && log_raw(l, out.data, out.len) != 0) {
        l->lost += out.len;
        l->lost_total += out.len;
        l->lost_errno = errno;
    }
    mg_buf_free(&out);
}

/* One line (one write: a full disk takes all of it or none). */
static void log_line(build_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(build_log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mg_xvasprintf(fmt, ap);
    va_end(ap);
    char *line = mg_xasprintf("%s%s\n", l->at_line_start ? "" : "\n", s);
    log_text(l, line, strlen(line));
    free(line);
    free(s);
}

static void histogram_add(uint64_t *buckets, double *sum, double seconds)
{
    for (int i = 0; i < MG_QUEUE_N_BUCKETS; i++)
        if (seconds <= mg_queue_buckets[i]) buckets[i]++;
    buckets[MG_QUEUE_N_BUCKETS]++;
    *sum += seconds;
}

/* With q->lock held: the slot's phase, and no step running. */
static void slot_phase(worker_slot *s, const char *phase)
{
    for (size_t i = 0; i < s->n_steps; i++) free(s->steps[i]);
    s->n_steps = 0;
    s->phase = phase;
    if (phase) build_changed(s->q, s->build_id);
}

static void set_phase(worker_slot *s, const char *phase)
{
    pthread_mutex_lock(&s->q->lock);
    slot_phase(s, phase);
    pthread_mutex_unlock(&s->q->lock);
}

static void on_start(void *ctx, const char *label)
{
    build_log *l = ctx;
    worker_slot *s = l->slot;
    pthread_mutex_lock(&s->q->lock);
    bool known = false;
    for (size_t i = 0; i < s->n_steps && !known; i++) known = !strcmp(s->steps[i], label);
    if (!known) { /* (a compile distcc failed starts again here) */
        if (s->n_steps == s->cap_steps) {
            s->cap_steps = s->cap_steps ? 2 * s->cap_steps : 8;
            s->steps = mg_xrealloc(s->steps, s->cap_steps * sizeof *s->steps);
        }
        s->steps[s->n_steps++] = mg_xstrdup(label);
        build_changed(s->q, s->build_id);
    }
    pthread_mutex_unlock(&s->q->lock);
}

static void on_action(void *ctx, const char *label, uint64_t ms)
{
    build_log *l = ctx;
    worker_slot *s = l->slot;
    mg_queue *q = s->q;
    pthread_mutex_lock(&q->lock);
    histogram_add(q->metrics.actions_bucket, &q->metrics.actions_sum, (double)ms / 1000);
    for (size_t i = 0; i < s->n_steps; i++)
        if (!strcmp(s->steps[i], label)) {
            free(s->steps[i]);
            memmove(s->steps + i, s->steps + i + 1, (s->n_steps - i - 1) * sizeof *s->steps);
            s->n_steps--;
            build_changed(q, s->build_id);
            break;
        }
    pthread_mutex_unlock(&q->lock);
}

/* ---- one build ---------------------------------------------------------- */

typedef struct job {
    mg_queue *q;
    worker_slot *slot;
    build_log log;
    mg_stored_build row; /* as claimed */
    mg_project project;
    mg_config_version config;
    char *scratch, *src;
    mg_err err; /* why the last step failed */
    /* what resolving made (resolve_job) */
    mg_key_setting *keys;
    size_t n_keys;
    cJSON *keys_json;
    mg_errors errs;
    mg_graph *g;
    char hash[MG_SHA256_HEX_SIZE];
    /* the result, written by finish_build */
    mg_stored_build done;
    bool blobs_held; /* q->blobs_lock, from a reuse's lookup or the image's pin to the end */
    bool pinned;     /* done.image_sha256 was pinned by this build (pin_for) */
    bool cancelled;  /* it ended because of a cancel (or a stop: end_job tells which) */
} job;

static void job_blobs_hold(job *j)
{
    if (j->blobs_held) return;
    pthread_rwlock_rdlock(&j->q->blobs_lock);
    j->blobs_held = true;
}

static void job_blobs_release(job *j)
{
    if (!j->blobs_held) return;
    pthread_rwlock_unlock(&j->q->blobs_lock);
    j->blobs_held = false;
}

/* A blob pinned by a flow whose row is not stored yet, and how many such
 * flows there are. */
typedef struct inflight_pin {
    char sha[MG_SHA256_HEX_SIZE];
    unsigned n;
} inflight_pin;

/* With q->lock held. */
static inflight_pin *inflight_find(mg_queue *q, const char *sha)
{
    for (size_t i = 0; i < q->n_inflight; i++)
        if (!strcmp(q->inflight[i].sha, sha)) return &q->inflight[i];
    return NULL;
}

static void inflight_add(mg_queue *q, const char *sha, int delta)
{
    pthread_mutex_lock(&q->lock);
    inflight_pin *p = inflight_find(q, sha);
    if (!p && delta > 0) {
        if (q->n_inflight == q->cap_inflight) {
            q->cap_inflight = q->cap_inflight ? 2 * q->cap_inflight : 8;
            q->inflight = mg_xrealloc(q->inflight, q->cap_inflight * sizeof *q->inflight);
        }
        p = &q->inflight[q->n_inflight++];
        snprintf(p->sha, sizeof p->sha, "%s", sha);
        p->n = 0;
    }
    if (p && delta > 0) p->n++;
    if (p && delta < 0 && --p->n == 0) *p = q->inflight[--q->n_inflight];
    pthread_mutex_unlock(&q->lock);
}

static bool inflight_has(mg_queue *q, const char *sha)
{
    pthread_mutex_lock(&q->lock);
    bool has = inflight_find(q, sha) != NULL;
    pthread_mutex_unlock(&q->lock);
    return has;
}

/* Pins blob `sha` as a `kind` (mg_gc_pin) for a flow that is about to
 * store the row naming it, counted in flight until pin_done (the row is
 * stored or the flow gave up). The caller read-holds blobs_lock. */
static int pin_for(mg_queue *q, const char *kind, const char *sha, mg_err *e)
{
    pthread_mutex_lock(&q->pin_lock);
    inflight_add(q, sha, 1);
    int r = mg_gc_pin(q->o.cache, kind, sha, e);
    if (r) inflight_add(q, sha, -1);
    pthread_mutex_unlock(&q->pin_lock);
    return r;
}

static void pin_done(mg_queue *q, const char *sha)
{
    inflight_add(q, sha, -1);
}

/* Drops the pins of blob `sha` (mg_gc_unpin, every kind) when no row
 * names it, as an artifact or as sources, and no flow is about to store
 * one: after the row that was to name it could not be stored. Exclusive
 * of the flows that pin before their row exists (blobs_lock, as gc is),
 * so the check holds until the drop. A store that cannot say keeps the
 * pin (a little space, never a lost blob). The caller holds no
 * blobs_lock. */
static void unpin_unused(mg_queue *q, const char *sha)
{
    pthread_rwlock_wrlock(&q->blobs_lock);
    pthread_mutex_lock(&q->pin_lock);
    bool art = true, src = true;
    if (!inflight_has(q, sha) && mg_store_blob_used(q->o.store, sha, true, &art, NULL) == 0 &&
        !art && mg_store_blob_used(q->o.store, sha, false, &src, NULL) == 0 && !src) {
        char *shas[] = {(char *)sha};
        mg_gc_unpin(q->o.cache, shas, 1, NULL);
    }
    pthread_mutex_unlock(&q->pin_lock);
    pthread_rwlock_unlock(&q->blobs_lock);
}

int mg_queue_snapshot_sources(mg_queue *q, const mg_project *p, mg_err *e)
{
    if (!p->sources || !p->sources_sha256)
        return mg_err_set(e, MG_E_INVALID, "the project has no inline sources");
    char sha[MG_SHA256_HEX_SIZE];
    if (mg_cache_blob_put_bytes(q->o.cache, p->sources, strlen(p->sources), sha, e)) return -1;
    if (strcmp(sha, p->sources_sha256))
        return mg_err_set(e, MG_E_INTERNAL,
                          "the project's sources hash does not match its content");
    return mg_gc_pin(q->o.cache, "sources", sha, e);
}

/* The fetch process parses what a remote sends with libgit2: it runs in a
 * sandbox too (toolchain/sandbox.h), with the network, the project's own
 * mirror folder and the checkout writable, this program's files and a
 * local repository read-only, and nothing else of the data directory:
 * not the database, not the tokens, not another project's mirror, which
 * a compromised fetch could otherwise rewrite for that project's builds.
 * Under the build limits but memory (the sanitizers of a test build
 * reserve terabytes of address space). */
static char **fetch_argv(mg_queue *q, job *j, const char *project_git, const char *const *argv)
{
    mg_build_limits l = q->o.limits;
    l.memory = 0;
    l.action_wall_ms = l.build_wall_ms = 0;
    mg_sandbox_bind binds[5];
    size_t n = 0;
    binds[n++] = (mg_sandbox_bind){project_git, project_git, true};
    binds[n++] = (mg_sandbox_bind){j->src, j->src, true};
    /* this program and its daemon module (main.c), as files: their folder
     * may hold the data directory. The module at the path where the
     * program looks for it (base/fsutil.h, mg_own_file); under /usr the
     * sandbox has them already. */
    char *module = mg_own_file("mgd-serve.so");
    if (strncmp(q->self_exe, "/usr/", 5))
        binds[n++] = (mg_sandbox_bind){q->self_exe, q->self_exe, false};
    if (module && strncmp(module, "/usr/", 5))
        binds[n++] = (mg_sandbox_bind){module, module, false};
    /* a local repository is visible at its own path, and only it */
    char *local = q->o.allow_local_repos ? mg_sources_local_path(j->project.repo_url) : NULL;
    char *local_real = local ? realpath(local, NULL) : NULL;
    size_t argc = 0;
    while (argv[argc]) argc++;
    const char **args = mg_xmalloc((argc + 1) * sizeof *args);
    memcpy(args, argv, (argc + 1) * sizeof *args);
    if (local_real) {
        binds[n++] = (mg_sandbox_bind){local_real, local_real, false};
        /* a relative path means the same from the sandbox's directory */
        if (local[0] != '/' && strncmp(j->project.repo_url, "file://", 7)) args[3] = local_real;
    }
    static const char *const env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
    mg_sandbox_spec s = {.sandboxed = !q->o.no_sandbox,
                         .limits = &l,
                         .binds = binds,
                         .n_binds = n,
                         .env = env,
                         .network = true,
                         .mount_proc = true};
    char **run = mg_sandbox_argv(&s, args);
    free(args);
    free(module);
    free(local);
    free(local_real);
    return run;
}

/* Records what the worker learned of the build; a store failure is
 * written to the build's log (the build goes on: its row only lacks the
 * detail). */
static void record_inputs(job *j, const char *commit, const char *input_hash, const char *toolchain,
                          const char *describe)
{
    mg_err e;
    if (mg_store_build_set_inputs(j->q->o.store, j->row.id, commit, input_hash, toolchain, describe,
                                  &e))
        log_line(&j->log, "warning: cannot record the build's inputs: %s", e.msg);
    else
        build_changed(j->q, j->row.id);
}

/* Writes the build's sources under j->src; 0, or -1 with j->err. */
static int take_sources(job *j)
{
    mg_queue *q = j->q;
    if (mg_mkdir_p(j->src)) {
        mg_err_set(&j->err, MG_E_IO, "cannot create %s: %s", j->src, strerror(errno));
        return -1;
    }
    if (j->row.sources_sha256) {
        char *tmp = mg_path_join(j->scratch, "sources.json");
        mg_err e;
        if (mg_cache_blob_get(q->o.cache, j->row.sources_sha256, tmp, 0600, &e) != 0) {
            if (e.code == MG_E_NOT_FOUND || e.code == MG_E_CORRUPT)
                mg_err_set(&j->err, MG_E_NOT_FOUND, "the build's inline sources (%.12s) are gone",
                           j->row.sources_sha256);
            else
                j->err = e;
            free(tmp);
            return -1;
        }
        size_t len;
        char *text = mg_file_read(tmp, 64u << 20, &len);
        free(tmp);
        cJSON *tree = text ? cJSON_ParseWithLength(text, len) : NULL;
        free(text);
        char hash[MG_SHA256_HEX_SIZE];
        int r = tree ? mg_sources_inline_write(tree, j->src, hash, &e) : -1;
        if (tree && r) j->err = e;
        if (!tree) mg_err_set(&j->err, MG_E_CORRUPT, "the build's inline sources are unreadable");
        cJSON_Delete(tree);
        if (r) return -1;
        log_line(&j->log, "sources: inline tree %.12s", j->row.sources_sha256);
        return 0;
    }
    if (!j->project.repo_url) {
        mg_err_set(&j->err, MG_E_IO, "the project has neither a repository nor sources");
        return -1;
    }
    /* never a repository in the data directory: another project's mirror
     * is one too, and its sources are not this project's to read */
    char *local = mg_sources_local_path(j->project.repo_url);
    char *local_real = local ? realpath(local, NULL) : NULL;
    size_t data_len = strlen(q->o.data_dir);
    bool inside = local_real && !strncmp(local_real, q->o.data_dir, data_len) &&
                  (local_real[data_len] == '/' || local_real[data_len] == 0);
    free(local);
    free(local_real);
    if (inside) {
        mg_err_set(&j->err, MG_E_IO,
                   "the project's repository is inside the daemon's data directory: refused");
        return -1;
    }
    /* each project's mirror (and its lock) in a folder of its own, the one
     * the fetch's sandbox may write besides the checkout */
    char *project_git = mg_xasprintf("%s/%lld", q->git_dir, (long long)j->project.id);
    char *mirror = mg_path_join(project_git, "mirror.git");
    if (mg_mkdir_p(project_git)) {
        mg_err_set(&j->err, MG_E_IO, "cannot create the project's mirror folder: %s",
                   strerror(errno));
        free(project_git);
        free(mirror);
        return -1;
    }
    const char *ref = j->row.commit ? j->row.commit : j->row.ref;
    /* libgit2 cannot be interrupted while a remote sends nothing (1.5 has
     * no network timeouts), so the fetch runs in a process of its own
     * (`mgd __fetch`, cmd_fetch.c) that cancel, stop and a timeout kill */
    const char *argv[] = {q->self_exe,
                          "__fetch",
                          mirror,
                          j->project.repo_url,
                          ref ? ref : "",
                          j->src,
                          q->o.allow_local_repos ? "1" : "0",
                          NULL};
    char **run = fetch_argv(q, j, project_git, argv);
    mg_exec_spec spec = {.argv = (const char *const *)run, .timeout_ms = MG_QUEUE_FETCH_TIMEOUT_MS};
    mg_executor *ex = mg_executor_new();
    free(project_git);
    if (!ex) {
        mg_sandbox_argv_free(run);
        free(mirror);
        mg_err_set(&j->err, MG_E_IO, "cannot start the fetch: out of resources");
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    j->slot->fetch = ex;
    if (j->slot->cancel) mg_executor_cancel(ex);
    pthread_mutex_unlock(&q->lock);
    mg_executor_start(ex, &spec);
    mg_exec_result res;
    int wr = mg_executor_wait(ex, &res);
    pthread_mutex_lock(&q->lock);
    j->slot->fetch = NULL;
    pthread_mutex_unlock(&q->lock);
    mg_executor_free(ex);
    mg_sandbox_argv_free(run);
    free(mirror);
    if (wr != 0) {
        mg_err_set(&j->err, MG_E_IO, "the fetch process was lost");
        return -1;
    }
    /* its output: progress lines, then "commit <sha>" or "error: <why>" */
    const char *commit = NULL, *error = NULL;
    for (char *line = res.output, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (!strncmp(line, "commit ", 7))
            commit = line + 7;
        else if (!strncmp(line, "error: ", 7))
            error = line + 7;
        else if (*line)
            log_line(&j->log, "%s", line);
    }
    int r = -1;
    if (res.cancelled)
        mg_err_set(&j->err, MG_E_CANCELLED, "cancelled");
    else if (res.timed_out)
        mg_err_set(&j->err, MG_E_IO, "the fetch took longer than %u s",
                   MG_QUEUE_FETCH_TIMEOUT_MS / 1000);
    else if (res.exit_status == 0 && commit && strlen(commit) == 40)
        r = 0;
    else
        mg_err_set(&j->err, MG_E_IO, "%s",
                   error             ? error
                   : res.spawn_error ? strerror(res.spawn_error)
                                     : "the fetch failed");
    if (r == 0) {
        free(j->row.commit);
        j->row.commit = mg_xstrdup(commit);
        record_inputs(j, commit, NULL, NULL, NULL);
    }
    mg_exec_result_free(&res);
    return r;
}

/* The input hash: everything that decides the image. */
static void input_hash(const job *j, const char *identity, char out[MG_SHA256_HEX_SIZE])
{
    mg_sha256 h;
    mg_sha256_init(&h);
    char *text = mg_xasprintf(
        "mgd-input 1\nconfig %s\nkeys %s\ntarget %s\narch %s\n"
        "sources %s %s\nruntime %s\ntoolchain %s\n",
        j->config.sha256, j->row.keys, j->row.target, j->row.arch, j->row.commit ? "git" : "inline",
        j->row.commit ? j->row.commit : j->row.sources_sha256, mg_runtime_version(), identity);
    mg_sha256_update(&h, text, strlen(text));
    free(text);
    unsigned char d[MG_SHA256_SIZE];
    mg_sha256_final(&h, d);
    mg_sha256_hex(d, out);
}

/* The key settings of the build (keys JSON {name: text}). */
static mg_key_setting *parse_keys(const char *json, size_t *n, cJSON **holder)
{
    *holder = cJSON_Parse(json ? json : "{}");
    return mg_cli_keys_from_json(*holder, n);
}

/* Fails the build with `fmt`. The log says it once, as its last line,
 * when the build ends (end_job). */
static void fail_build(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_build(job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mg_xvasprintf(fmt, ap);
    va_end(ap);
    j->done.status = MG_STORED_FAILED;
    free(j->done.error);
    j->done.error = msg;
}

/* The build stops because of a cancel (by a user or a project's delete)
 * or the daemon's stop: end_job says which. */
static void cancel_build(job *j)
{
    fail_build(j, "cancelled");
    j->cancelled = true;
}

/* A tool that runs out of room does not always say so (ar: "unable to
 * copy file; reason: Success"): when a build fails while the file system
 * of its workspace or of the data directory is nearly full, its error
 * says that too. `out` gets "" or the words to add. */
static void full_disk_hint(mg_queue *q, const char *msg, char *out, size_t size)
{
    out[0] = 0;
    if (strstr(msg, "No space left on device")) return;
    const char *paths[] = {q->o.data_dir, mg_cache_path(q->o.cache)};
    uint64_t least = UINT64_MAX;
    for (size_t i = 0; i < 2; i++) {
        struct statvfs sv;
        if (statvfs(paths[i], &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < least)
            least = (uint64_t)sv.f_bavail * sv.f_frsize;
    }
    if (least >= MG_QUEUE_NEARLY_FULL) return;
    char free_text[32];
    mg_size_format(least, free_text, sizeof free_text);
    snprintf(out, size,
             "; the disk is nearly full (%s free): the build probably ran out of space (No space "
             "left on device)",
             free_text);
}

static bool cancelled(job *j)
{
    return j->slot->cancel != 0;
}

/* Whether the store still has the build running (not cancelled); when
 * the store cannot say, the build fails with the store's reason. */
static bool still_running(job *j)
{
    mg_stored_build b;
    mg_err e;
    if (mg_store_build_get(j->q->o.store, j->row.id, false, &b, &e) != 0) {
        fail_build(j, "%s", e.msg);
        return false;
    }
    bool running = b.status == MG_STORED_RUNNING;
    mg_stored_build_free(&b);
    if (!running || cancelled(j)) cancel_build(j);
    return running && !cancelled(j);
}

/* Steps 2 and 3 of queue.h, with the sources in place: resolve, record
 * describe, input hash, reuse. 0: ready to build (j->g set); 1: the build
 * ended here (reused, or failed: j->done says so). */
static int resolve_job(job *j)
{
    mg_queue *q = j->q;
    set_phase(j->slot, "resolve");
    j->keys = parse_keys(j->row.keys, &j->n_keys, &j->keys_json);
    mg_resolve_options ro = {
        .target = j->row.target,
        .arch = j->row.arch,
        .keys = j->keys,
        .n_keys = j->n_keys,
    };
    mg_graph *g = mg_cli_resolve_tree(q->o.catalog, j->config.document, strlen(j->config.document),
                                      j->src, &ro, &j->errs);
    if (!g) {
        char *text = mg_errors_text(&j->errs);
        log_text(&j->log, text, strlen(text));
        fail_build(j, "the config does not resolve (%zu error%s, listed above)", j->errs.len,
                   j->errs.len == 1 ? "" : "s");
        free(text);
        return 1;
    }
    j->g = g;
    char *describe = mg_describe_json(g);
    record_inputs(j, NULL, NULL, NULL, describe);
    free(describe);
    log_line(&j->log, "resolved %s for %s/%s: %zu devices", g->name, g->target, g->arch,
             g->n_nodes);

    /* 3. input hash, reuse */
    const mg_target *t = mg_targets_find(q->o.targets, g->target);
    const mg_target_arch *a = t ? mg_target_find_arch(t, g->arch) : NULL;
    mg_err why;
    bool can_run;
    if (!t || !a) {
        fail_build(j, "target %s/%s is not known to this mgd", g->target, g->arch);
        return 1;
    }
    if (!mg_target_available(t, a, &can_run, &why)) {
        fail_build(j, "target %s/%s is not available here: %s", g->target, g->arch, why.msg);
        return 1;
    }
    mg_err e;
    char *identity = mg_toolchain_identity(q->o.cache, a, &e);
    if (!identity) {
        fail_build(j, "toolchain: %s", e.msg);
        return 1;
    }
    input_hash(j, identity, j->hash);
    /* a pull worker's build too: its claim took it only because the
     * worker's identity is this one (mg_queue_worker_claim) */
    record_inputs(j, NULL, j->hash, identity, NULL);
    free(identity);
    log_line(&j->log, "input hash %s", j->hash);
    if (!j->row.force) {
        /* from the lookup to the build's end: gc must not delete the build
         * reused, nor unpin its image, in between */
        job_blobs_hold(j);
        int64_t prev = mg_store_build_find_reusable(q->o.store, j->hash, j->row.id, &e);
        mg_stored_build p;
        /* the store failing here costs a build, not the build */
        if (prev < 0)
            log_line(&j->log, "warning: cannot look for an earlier build to reuse: %s", e.msg);
        if (prev > 0 && mg_store_build_get(q->o.store, prev, false, &p, &e) != 0)
            log_line(&j->log, "warning: cannot read build %lld to reuse it: %s", (long long)prev,
                     e.msg);
        else if (prev > 0) {
            bool have =
                p.image_sha256 && mg_cache_blob_stat(q->o.cache, p.image_sha256, NULL, NULL) == 0;
            if (have) {
                log_line(&j->log, "reused build %lld: same inputs, image %s", (long long)prev,
                         p.image_sha256);
                j->done.status = MG_STORED_SUCCEEDED;
                j->done.reused_from = prev;
                j->done.image_name = p.image_name;
                j->done.image_sha256 = p.image_sha256;
                j->done.image_size = p.image_size;
                p.image_name = p.image_sha256 = NULL;
                mg_stored_build_free(&p);
                return 1;
            }
            log_line(&j->log, "build %lld had the same inputs but its image is gone: building",
                     (long long)prev);
            mg_stored_build_free(&p);
        }
        job_blobs_release(j);
    }
    return 0;
}

/* Steps 4 and 5 of queue.h: the build itself, on this machine. */
static void build_it(job *j)
{
    mg_queue *q = j->q;
    mg_err e;
    /* 4. build (unless a cancel came while the worker was not listening) */
    set_phase(j->slot, "build");
    if (!still_running(j)) return;
    char *image = mg_path_join(j->scratch, "image");
    mg_build_options bo = {
        .project_dir = j->src,
        .graph = j->g,
        .catalog = q->o.catalog,
        .targets = q->o.targets,
        .cache = q->o.cache,
        .remote = q->o.remote,
        .distcc = q->o.distcc,
        .output = image,
        .jobs = q->o.jobs,
        .force = j->row.force,
        .limits = &q->o.limits,
        .no_sandbox = q->o.no_sandbox,
        .log = log_text,
        .log_ctx = &j->log,
        .on_action = on_action,
        .on_start = on_start,
        .log_no_error = true, /* end_job says the error, once */
        .log_untimed = true,
    };
    mg_build *b = mg_build_new(&bo);
    pthread_mutex_lock(&q->lock);
    j->slot->build = b;
    bool stop_now = j->slot->cancel != 0;
    pthread_mutex_unlock(&q->lock);
    if (stop_now) mg_build_cancel(b);
    mg_build_result res;
    int r = mg_build_run(b, &res);
    pthread_mutex_lock(&q->lock);
    j->slot->build = NULL;
    pthread_mutex_unlock(&q->lock);
    mg_build_free(b);
    j->done.actions = res.actions;
    j->done.hits = res.hits;
    j->done.misses = res.misses;
    j->done.remote_hits = res.remote_hits;
    j->done.remote_misses = (int64_t)res.remote.misses;
    j->done.remote_errors = (int64_t)res.remote.errors;
    j->done.remote_bytes_down = (int64_t)res.remote.bytes_down;
    j->done.remote_bytes_up = (int64_t)res.remote.bytes_up;
    pthread_mutex_lock(&q->lock);
    q->metrics.cache_hits += res.hits;
    q->metrics.cache_misses += res.misses;
    q->metrics.remote_hits += res.remote_hits;
    q->metrics.remote_misses += res.remote.misses;
    q->metrics.remote_errors += res.remote.errors;
    q->metrics.remote_bytes_down += res.remote.bytes_down;
    q->metrics.remote_bytes_up += res.remote.bytes_up;
    q->metrics.distcc_remote += res.distcc_remote;
    q->metrics.distcc_fallbacks += res.distcc_fallbacks;
    pthread_mutex_unlock(&q->lock);
    if (r != 0) {
        char hint[256];
        full_disk_hint(q, res.error.msg, hint, sizeof hint);
        if (res.cancelled || cancelled(j))
            cancel_build(j);
        else
            fail_build(j, "%s%s", res.error.msg, hint);
        free(image);
        return;
    }

    /* 5. keep the image (pinned, and unpinned by no gc until the build's
     * end names it) */
    job_blobs_hold(j);
    char sha[MG_SHA256_HEX_SIZE];
    uint64_t size = 0;
    int stored = mg_cache_blob_put(q->o.cache, image, sha, &size, &e);
    if (stored != 0) j->err = e;
    if (stored != 0 || pin_for(q, "artifact", sha, &j->err)) {
        fail_build(j, "cannot store the image: %s", j->err.msg);
        free(image);
        return;
    }
    free(image);
    j->pinned = true;
    j->done.status = MG_STORED_SUCCEEDED;
    j->done.image_name = mg_xstrdup(res.image_name);
    j->done.image_sha256 = mg_xstrdup(sha);
    j->done.image_size = (int64_t)size;
}

/* The part of a build that the daemon's threads and a pull worker's
 * claim share: the log opened (appended to after a re-queue, so that
 * what happened before stays), the rows read, step 1 (sources) and steps
 * 2 and 3 (mg_queue_worker_claim). 0: ready to build; 1: ended here. */
static int prepare_job(job *j, worker_slot *slot, int64_t id, int64_t lease)
{
    mg_queue *q = slot->q;
    j->q = q;
    j->slot = slot;
    j->done.id = id;
    set_phase(slot, "sources");
    j->log = (build_log){.slot = slot, .fd = -1, .at_line_start = true, .file_nl = true};
    j->log.max = q->o.max_log_bytes ? q->o.max_log_bytes : DEFAULT_MAX_LOG;
    j->log.start_ms = mg_now_ms();
    char *log_path = mg_queue_log_path(q, id);
    j->log.fd =
        open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (lease > 1 ? 0 : O_TRUNC), 0644);
    if (j->log.fd < 0) {
        j->log.lost_errno = errno; /* for the build's error (end_job) */
        fprintf(stderr, "mgd: build %lld: cannot write its log %s: %s\n", (long long)id, log_path,
                strerror(errno));
    }
    struct stat st;
    if (j->log.fd >= 0 && fstat(j->log.fd, &st) == 0) j->log.size = (uint64_t)st.st_size;
    /* what a re-queued build's log already holds is readable at once: a
     * reader caps a running build's log at the published size, which the
     * claim reset to 0 */
    log_publish(&j->log);
    free(log_path);
    j->scratch = mg_xasprintf("%s/%lld", q->scratch_dir, (long long)id);
    j->src = mg_path_join(j->scratch, "src");
    mg_rm_rf(j->scratch);

    if (mg_store_build_get(q->o.store, id, false, &j->row, &j->err) ||
        mg_store_project_get_id(q->o.store, j->row.project_id, &j->project, &j->err) ||
        mg_store_config_get(q->o.store, j->row.project_id, j->row.config_version, &j->config,
                            &j->err)) {
        fail_build(j, "%s", j->err.msg);
        return 1;
    }
    if (j->row.status != MG_STORED_RUNNING) {
        /* cancelled between the claim and now */
        cancel_build(j);
        return 1;
    }
    log_line(&j->log, "build %lld of %s: %s/%s, config version %lld%s", (long long)id,
             j->project.name, j->row.target, j->row.arch, (long long)j->row.config_version,
             j->row.force ? ", forced" : "");
    if (take_sources(j)) {
        char hint[256];
        full_disk_hint(q, j->err.msg, hint, sizeof hint);
        if (cancelled(j))
            cancel_build(j);
        else
            fail_build(j, "sources: %s%s", j->err.msg, hint);
        return 1;
    }
    if (cancelled(j)) {
        cancel_build(j);
        return 1;
    }
    return resolve_job(j);
}

/* Frees what a job holds but its log. */
static void job_free(job *j)
{
    job_blobs_release(j);
    mg_errors_free(&j->errs);
    mg_graph_free(j->g);
    free(j->keys);
    cJSON_Delete(j->keys_json);
    if (j->scratch) mg_rm_rf(j->scratch);
    free(j->scratch);
    free(j->src);
    mg_stored_build_free(&j->row);
    mg_stored_build_free(&j->done);
    mg_project_free(&j->project);
    mg_config_version_free(&j->config);
}

/* ---- recording a build's end -------------------------------------------- */

/* A build's end the store refused (a full disk, an I/O error): kept and
 * tried again by the timer until the store takes it, so that no build
 * stays `running` with no worker left to end it. */
typedef struct pending_end {
    mg_stored_build done; /* the fields record_end uses, owned */
    bool pinned;          /* its image was pinned for it (pin_for) */
    struct pending_end *next;
} pending_end;

static char *dup_or_null(const char *s)
{
    return s ? mg_xstrdup(s) : NULL;
}

/* Records a build's end: its row finished, or, when a cancel or a delete
 * got there first, its log size. 0: finished; 1: only the log size (the
 * build had ended already, or is gone); -1 with `err` when the store
 * failed and it must be tried again. */
static int record_end(mg_queue *q, const mg_stored_build *done, mg_err *err)
{
    if (mg_store_build_finish(q->o.store, done, err) == 0) {
        build_changed(q, done->id);
        return 0;
    }
    if (err->code != MG_E_CONFLICT) return -1;
    if (mg_store_set_log_size(q->o.store, done->id, done->log_size, err) == 0) {
        build_changed(q, done->id); /* its log_size */
        return 1;
    }
    return err->code == MG_E_NOT_FOUND ? 1 : -1;
}

/* After a recorded end: the image pinned for the build is the row's now,
 * or, when the row did not take it, its pin goes unless a row names it.
 * The caller holds no blobs_lock. */
static void end_pin(mg_queue *q, const char *sha, bool finished)
{
    pin_done(q, sha);
    if (!finished) unpin_unused(q, sha);
}

/* Keeps `done` (copied) for the timer to record. */
static void defer_end(mg_queue *q, const mg_stored_build *done, bool pinned)
{
    pending_end *p = mg_xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->done = *done;
    p->done.error = dup_or_null(done->error);
    p->done.image_name = dup_or_null(done->image_name);
    p->done.image_sha256 = dup_or_null(done->image_sha256);
    /* none of the other strings is read by record_end */
    p->done.project_name = p->done.target = p->done.arch = p->done.keys = NULL;
    p->done.ref = p->done.commit = p->done.sources_sha256 = p->done.input_hash = NULL;
    p->done.describe = p->done.worker = p->done.toolchain = NULL;
    p->pinned = pinned;
    pthread_mutex_lock(&q->lock);
    p->next = q->ends;
    q->ends = p;
    q->n_ends++;
    pthread_cond_broadcast(&q->claim_cond); /* the timer: try it again soon */
    pthread_mutex_unlock(&q->lock);
}

/* Tries the deferred ends again; those the store still refuses stay. */
static void retry_ends(mg_queue *q)
{
    pthread_mutex_lock(&q->lock);
    pending_end *list = q->ends;
    q->ends = NULL;
    pthread_mutex_unlock(&q->lock);
    if (!list) return;
    pending_end *keep = NULL;
    unsigned recorded = 0;
    while (list) {
        pending_end *p = list;
        list = p->next;
        mg_err err;
        int r = record_end(q, &p->done, &err);
        if (r < 0) {
            p->next = keep;
            keep = p;
            continue;
        }
        fprintf(stderr, "mgd: build %lld: its end is recorded now\n", (long long)p->done.id);
        if (p->pinned) end_pin(q, p->done.image_sha256, r == 0);
        mg_stored_build_free(&p->done);
        free(p);
        recorded++;
    }
    pthread_mutex_lock(&q->lock);
    while (keep) {
        pending_end *p = keep;
        keep = p->next;
        p->next = q->ends;
        q->ends = p;
    }
    q->n_ends -= recorded;
    pthread_cond_broadcast(&q->log_cond); /* readers waiting for the build to end */
    pthread_mutex_unlock(&q->lock);
}

/* Records the end of a build that ended on this machine (or in its
 * claim): the last log line, the row, the metrics. */
static void end_job(job *j)
{
    mg_queue *q = j->q;
    int64_t id = j->done.id;
    bool stopping;
    pthread_mutex_lock(&q->lock);
    stopping = q->stopping;
    pthread_mutex_unlock(&q->lock);
    /* the build's end, said once and truthfully: the toolchain and the
     * steps before it leave the error to this line (fail_build, the
     * build's log_no_error) */
    if (j->done.status != MG_STORED_SUCCEEDED && stopping) {
        j->done.status = MG_STORED_INTERRUPTED;
        free(j->done.error);
        j->done.error = mg_xstrdup(MG_QUEUE_INTERRUPTED);
        log_line(&j->log, "%s", j->done.error);
    } else if (j->done.status == MG_STORED_SUCCEEDED) {
        log_line(&j->log, "succeeded");
    } else if (j->cancelled) {
        log_line(&j->log, "%s", MG_QUEUE_CANCELLED);
    } else {
        log_line(&j->log, "error: %s", j->done.error ? j->done.error : "failed");
    }
    if (j->log.lost) {
        log_note_lost(&j->log); /* its last chance to say so */
        log_publish(&j->log);
    }
    if ((j->log.lost_total || j->log.fd < 0) && j->done.status != MG_STORED_SUCCEEDED) {
        const char *why = j->done.error ? j->done.error : "failed";
        char *msg =
            j->log.fd < 0
                ? mg_xasprintf("%s (its log could not be written: %s)", why,
                               strerror(j->log.lost_errno))
                : mg_xasprintf("%s (%llu bytes of its log could not be written: %s)", why,
                               (unsigned long long)j->log.lost_total, strerror(j->log.lost_errno));
        free(j->done.error);
        j->done.error = msg;
    }
    j->done.log_size = (int64_t)j->log.size;
    mg_err err;
    int r = record_end(q, &j->done, &err);
    if (r < 0) {
        fprintf(stderr, "mgd: build %lld: cannot record its end (tried again until it is): %s\n",
                (long long)id, err.msg);
        defer_end(q, &j->done, j->pinned); /* its image stays in flight, for gc too */
    }
    /* before end_pin: an unpin excludes the holders of blobs_lock */
    job_blobs_release(j);
    if (r >= 0 && j->pinned) end_pin(q, j->done.image_sha256, r == 0);
    if (j->log.fd >= 0) close(j->log.fd);
    j->log.fd = -1;
    double secs = (double)mg_ms_since(j->log.start_ms) / 1e3;
    pthread_mutex_lock(&q->lock);
    histogram_add(q->metrics.builds_bucket, &q->metrics.builds_sum, secs);
    pthread_mutex_unlock(&q->lock);
}

static void run_job(worker_slot *slot, int64_t id, int64_t lease)
{
    job j = {0};
    if (prepare_job(&j, slot, id, lease) == 0) build_it(&j);
    end_job(&j);
    job_free(&j);
}

/* Whether a pull worker seen within the lease timeout accepts (target,
 * arch) with the coordinator's toolchain; with q->lock held. */
static bool worker_can_build(mg_queue *q, const char *target, const char *arch, uint64_t now)
{
    for (size_t i = 0; i < MAX_KNOWN_WORKERS; i++) {
        known_worker *w = &q->known[i];
        if (!w->last_seen_ms || now - w->last_seen_ms > q->o.worker_lease_ms) continue;
        for (size_t k = 0; k < w->n_platforms; k++)
            if (!w->platforms[k].ignored && !strcmp(w->platforms[k].target, target) &&
                !strcmp(w->platforms[k].arch, arch))
                return true;
    }
    return false;
}

/* The oldest queued build that `accept` takes, claimed for `worker`
 * (NULL: this daemon's threads). Its id (*lease set), 0 for none, -1 on
 * failure. With claim_lock held. */
static int64_t claim_matching(mg_queue *q, const char *worker,
                              bool (*accept)(mg_queue *q, const mg_queued_build *b, void *ctx),
                              void *ctx, int64_t *lease, mg_err *e)
{
    mg_queued_build *v = NULL;
    size_t n = 0;
    if (mg_store_build_queued(q->o.store, 256, &v, &n, e)) return -1;
    int64_t id = 0;
    for (size_t i = 0; i < n && !id; i++) {
        if (!accept(q, &v[i], ctx)) continue;
        int64_t l = mg_store_build_claim_id(q->o.store, v[i].id, worker, e);
        if (l < 0) {
            free(v);
            return -1;
        }
        if (l > 0) {
            id = v[i].id;
            *lease = l;
        }
    }
    free(v);
    build_changed(q, id); /* running now */
    return id;
}

/* The daemon's threads take what no connected pull worker can build. */
static bool local_accepts(mg_queue *q, const mg_queued_build *b, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&q->lock);
    bool leave = worker_can_build(q, b->target, b->arch, mg_now_ms());
    pthread_mutex_unlock(&q->lock);
    return !leave;
}

static void *worker_main(void *arg)
{
    worker_slot *slot = arg;
    mg_queue *q = slot->q;
    /* builds yield the CPU to the HTTP threads (and so do their actions) */
    if (mg_exec_lower_priority() != 0)
        fprintf(stderr, "mgd: queue: cannot lower a worker's priority: %s\n", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&q->lock);
        bool stop = q->stopping;
        if (q->pending) q->pending--;
        pthread_mutex_unlock(&q->lock);
        if (stop) break;
        mg_err err;
        int64_t lease = 0;
        pthread_mutex_lock(&q->claim_lock);
        int64_t id = claim_matching(q, NULL, local_accepts, NULL, &lease, &err);
        if (id > 0) {
            pthread_mutex_lock(&q->lock);
            slot->build_id = id;
            slot->cancel = q->stopping; /* a stop that came during the claim */
            slot->log_size = 0;
            q->metrics.running++;
            pthread_cond_broadcast(&q->log_cond); /* readers waiting for it to start */
            pthread_mutex_unlock(&q->lock);
        }
        pthread_mutex_unlock(&q->claim_lock);
        if (id > 0) {
            run_job(slot, id, lease);
            pthread_mutex_lock(&q->lock);
            slot->build_id = 0;
            slot_phase(slot, NULL);
            q->metrics.running--;
            pthread_cond_broadcast(&q->log_cond);
            pthread_mutex_unlock(&q->lock);
            continue;
        }
        if (id < 0) fprintf(stderr, "mgd: queue: %s\n", err.msg);
        /* nothing queued: sleep until notified (or a while, in case a
         * notification raced the claim, or a pull worker went away) */
        pthread_mutex_lock(&q->lock);
        if (!q->stopping && !q->pending) {
            struct timespec until = mg_abstime_in(CLOCK_REALTIME, id < 0 ? 1000 : 2000);
            pthread_cond_timedwait(&q->wake, &q->lock, &until);
        }
        pthread_mutex_unlock(&q->lock);
    }
    mg_store_thread_done(q->o.store);
    return NULL;
}

/* Mirrors of mgd before per-project mirror folders (git/<id>.git and its
 * .lock beside it): nothing refers to them any more; a fetch clones anew. */
static void remove_flat_mirrors(const char *git_dir)
{
    DIR *d = opendir(git_dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        bool flat = (n > 4 && !strcmp(e->d_name + n - 4, ".git")) ||
                    (n > 9 && !strcmp(e->d_name + n - 9, ".git.lock"));
        if (!flat) continue;
        char *path = mg_path_join(git_dir, e->d_name);
        mg_rm_rf(path);
        free(path);
    }
    closedir(d);
}

/* ---- deleting a project ---------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool in_ids(int64_t id, const int64_t *ids, size_t n)
{
    return id && n && bsearch(&id, ids, n, sizeof *ids, cmp_id);
}

/* Stops the workers that hold one of `ids` (ascending): their fetch or
 * build processes are killed. With q->lock held. */
static void cancel_slots_of(mg_queue *q, const int64_t *ids, size_t n)
{
    for (unsigned i = 0; i < q->n_slots; i++) {
        worker_slot *w = &q->slots[i];
        if (!in_ids(w->build_id, ids, n)) continue;
        if (w->remote && !w->preparing) {
            release_remote(q, w);
            continue;
        }
        w->cancel = 1;
        if (w->build) mg_build_cancel(w->build);
        if (w->fetch) mg_executor_cancel(w->fetch);
    }
    pthread_cond_broadcast(&q->log_cond);
}

/* How many workers hold one of `ids`; with q->lock held. */
static size_t slots_holding(mg_queue *q, const int64_t *ids, size_t n)
{
    size_t held = 0;
    for (unsigned i = 0; i < q->n_slots; i++) held += in_ids(q->slots[i].build_id, ids, n);
    return held;
}

/* Waits until no worker holds one of `ids`, at most
 * MG_QUEUE_DELETE_WAIT_MS. 0, or -1 with a message. */
static int wait_workers_of(mg_queue *q, const int64_t *ids, size_t n, mg_err *e)
{
    struct timespec until = mg_abstime_in(CLOCK_REALTIME, MG_QUEUE_DELETE_WAIT_MS);
    pthread_mutex_lock(&q->lock);
    size_t held;
    while ((held = slots_holding(q, ids, n)) > 0)
        if (pthread_cond_timedwait(&q->log_cond, &q->lock, &until) == ETIMEDOUT) {
            held = slots_holding(q, ids, n);
            break;
        }
    pthread_mutex_unlock(&q->lock);
    if (held) {
        return mg_err_set(e, MG_E_BUSY,
                          "%zu build%s of the project did not stop within %u s; the project "
                          "stays marked for deletion: delete it again",
                          held, held == 1 ? "" : "s", MG_QUEUE_DELETE_WAIT_MS / 1000);
    }
    return 0;
}

/* What is left once no worker holds a build of the project: its logs and
 * mirror, then its rows, then the pins of the blobs only it used. The
 * files go first, so that a failure leaves the project (marked) for a
 * retry to find. */
static int remove_project(mg_queue *q, int64_t project_id, const int64_t *ids, size_t n, mg_err *e)
{
    for (size_t i = 0; i < n; i++) {
        char *log = mg_queue_log_path(q, ids[i]);
        int r = unlink(log);
        if (r != 0 && errno != ENOENT) {
            mg_err_set(e, MG_E_IO, "cannot remove the log %s: %s", log, strerror(errno));
            free(log);
            return -1;
        }
        free(log);
    }
    if (mg_queue_forget_project(q, project_id, e)) return -1;
    char **orphans = NULL;
    size_t n_orphans = 0;
    /* as gc does: no blob of another project's build is unpinned between
     * its pin and the row that names it */
    pthread_rwlock_wrlock(&q->blobs_lock);
    int rc = mg_store_project_delete(q->o.store, project_id, &orphans, &n_orphans, e);
    if (rc == 0) rc = mg_queue_forget_blobs(q, orphans, n_orphans, e);
    pthread_rwlock_unlock(&q->blobs_lock);
    for (size_t i = 0; i < n_orphans; i++) free(orphans[i]);
    free(orphans);
    return rc;
}

int mg_queue_delete_project(mg_queue *q, int64_t project_id, mg_err *e)
{
    int64_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&q->delete_lock);
    /* No claim runs meanwhile: once this holds the claim lock, each build
     * claimed before is in its worker's slot, and none of the project's
     * can be claimed after the store step. */
    pthread_mutex_lock(&q->claim_lock);
    int rc = mg_store_project_delete_begin(q->o.store, project_id, &ids, &n, NULL, e);
    if (rc == 0) {
        pthread_mutex_lock(&q->remote_log_lock); /* release_remote frees pull workers' logs */
        pthread_mutex_lock(&q->lock);
        cancel_slots_of(q, ids, n);
        pthread_mutex_unlock(&q->lock);
        pthread_mutex_unlock(&q->remote_log_lock);
    }
    pthread_mutex_unlock(&q->claim_lock);
    for (size_t i = 0; rc == 0 && i < n; i++) build_changed(q, ids[i]); /* cancelled */
    if (rc == 0) rc = wait_workers_of(q, ids, n, e);
    if (rc == 0) rc = remove_project(q, project_id, ids, n, e);
    pthread_mutex_unlock(&q->delete_lock);
    free(ids);
    return rc;
}

/* Deletes that began but did not end (the daemon stopped meanwhile, or
 * one failed): finished at start, before any worker runs. */
static void finish_deletes(mg_queue *q)
{
    int64_t *ids = NULL;
    size_t n = 0;
    mg_err err;
    if (mg_store_project_list_deleting(q->o.store, &ids, &n, &err) != 0) {
        fprintf(stderr, "mgd: queue: cannot list the projects being deleted: %s\n", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (mg_queue_delete_project(q, ids[i], &err) != 0)
            fprintf(stderr, "mgd: queue: project %lld: cannot finish its delete: %s\n",
                    (long long)ids[i], err.msg);
    free(ids);
}

mg_queue *mg_queue_start(const mg_queue_options *o, mg_err *e)
{
    mg_queue *q = mg_xmalloc(sizeof *q);
    memset(q, 0, sizeof *q);
    q->o = *o;
    if (q->o.no_workers)
        q->o.workers = 0;
    else if (!q->o.workers)
        q->o.workers = 2;
    if (!q->o.worker_lease_ms) q->o.worker_lease_ms = MG_WORKER_DEFAULT_LEASE_MS;
    q->self_exe = realpath("/proc/self/exe", NULL);
    if (!q->self_exe) {
        mg_err_set(e, MG_E_IO, "cannot find this program (/proc/self/exe): %s", strerror(errno));
        free(q);
        return NULL;
    }
    q->logs_dir = mg_path_join(o->data_dir, "logs");
    q->git_dir = mg_path_join(o->data_dir, "git");
    q->scratch_dir = mg_path_join(o->data_dir, "scratch");
    /* scratch of an earlier run is garbage: nothing can be running there */
    mg_rm_rf(q->scratch_dir);
    const char *dirs[] = {q->logs_dir, q->git_dir, q->scratch_dir};
    for (size_t i = 0; i < 3; i++)
        if (mg_mkdir_p(dirs[i])) {
            mg_err_set(e, MG_E_IO, "cannot create %s: %s", dirs[i], strerror(errno));
            free(q->logs_dir);
            free(q->git_dir);
            free(q->scratch_dir);
            free(q->self_exe);
            free(q);
            return NULL;
        }
    remove_flat_mirrors(q->git_dir);
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->claim_lock, NULL);
    pthread_mutex_init(&q->delete_lock, NULL);
    pthread_cond_init(&q->wake, NULL);
    pthread_cond_init(&q->log_cond, NULL);
    pthread_cond_init(&q->claim_cond, NULL);
    pthread_mutex_init(&q->remote_log_lock, NULL);
    pthread_rwlockattr_t rwa;
    pthread_rwlockattr_init(&rwa);
    pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&q->blobs_lock, &rwa);
    pthread_rwlockattr_destroy(&rwa);
    pthread_mutex_init(&q->gc_lock, NULL);
    pthread_mutex_init(&q->pin_lock, NULL);
    pthread_rwlock_init(&q->watch_lock, NULL);
    finish_deletes(q);
    /* the threads' slots, then those of pull workers' builds */
    q->n_slots = q->o.workers + MAX_REMOTE_BUILDS;
    q->slots = calloc(q->n_slots, sizeof *q->slots);
    for (unsigned i = 0; i < q->n_slots; i++) q->slots[i].q = q;
    int tr = pthread_create(&q->timer, NULL, timer_main, q);
    if (tr) {
        mg_err_set(e, MG_E_IO, "cannot start the lease timer: %s", strerror(tr));
        mg_queue_stop(q);
        return NULL;
    }
    q->timer_started = true;
    for (unsigned i = 0; i < q->o.workers; i++) {
        q->slots[i].q = q;
        /* the toolchain recurses little, but resolution may: 8 MiB */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20);
        int r = pthread_create(&q->slots[i].thread, &attr, worker_main, &q->slots[i]);
        pthread_attr_destroy(&attr);
        if (r) {
            mg_err_set(e, MG_E_IO, "cannot start a worker: %s", strerror(r));
            mg_queue_stop(q);
            return NULL;
        }
        q->n_threads = i + 1;
    }
    return q;
}

void mg_queue_stop(mg_queue *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    for (unsigned i = 0; i < q->n_slots; i++) {
        q->slots[i].cancel = 1;
        if (q->slots[i].build) mg_build_cancel(q->slots[i].build);
        if (q->slots[i].fetch) mg_executor_cancel(q->slots[i].fetch);
    }
    pthread_cond_broadcast(&q->wake);
    pthread_cond_broadcast(&q->log_cond);
    pthread_cond_broadcast(&q->claim_cond);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->n_threads; i++) pthread_join(q->slots[i].thread, NULL);
    if (q->timer_started) pthread_join(q->timer, NULL);
    /* pull workers' builds end as the threads' do: interrupted */
    for (unsigned i = q->o.workers; i < q->n_slots; i++) {
        worker_slot *s = &q->slots[i];
        if (!s->build_id) continue;
        mg_stored_build done = {.id = s->build_id,
                                .lease = s->lease,
                                .status = MG_STORED_INTERRUPTED,
                                .error = MG_QUEUE_INTERRUPTED};
        if (s->rlog) {
            s->rlog->slot = NULL;
            log_line(s->rlog, "%s", done.error);
            done.log_size = (int64_t)s->rlog->size;
        }
        mg_store_build_finish(q->o.store, &done, NULL);
        release_remote(q, s);
    }
    /* the ends the store refused: a last try; what it still refuses, the
     * next start finds running and marks interrupted */
    retry_ends(q);
    for (pending_end *p = q->ends, *next; p; p = next) {
        next = p->next;
        fprintf(stderr,
                "mgd: build %lld: its end could not be recorded; the next start marks it "
                "interrupted\n",
                (long long)p->done.id);
        mg_stored_build_free(&p->done);
        free(p);
    }
    mg_store_thread_done(q->o.store);
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->claim_lock);
    pthread_mutex_destroy(&q->delete_lock);
    pthread_cond_destroy(&q->wake);
    pthread_cond_destroy(&q->log_cond);
    pthread_cond_destroy(&q->claim_cond);
    pthread_mutex_destroy(&q->remote_log_lock);
    pthread_rwlock_destroy(&q->blobs_lock);
    pthread_mutex_destroy(&q->gc_lock);
    pthread_mutex_destroy(&q->pin_lock);
    pthread_rwlock_destroy(&q->watch_lock);
    free(q->inflight);
    for (unsigned i = 0; i < q->n_slots; i++) {
        slot_phase(&q->slots[i], NULL);
        free(q->slots[i].steps);
    }
    free(q->slots);
    free(q->self_exe);
    free(q->logs_dir);
    free(q->git_dir);
    free(q->scratch_dir);
    free(q);
}

void mg_queue_notify(mg_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->pending++;
    pthread_cond_signal(&q->wake);
    pthread_cond_broadcast(&q->claim_cond);
    pthread_mutex_unlock(&q->lock);
}

int mg_queue_cancel(mg_queue *q, int64_t id, mg_err *e)
{
    mg_stored_status was;
    /* release_remote frees pull workers' logs; and a pull worker's finish
     * holds this lock from its end line to the store's answer, so of the
     * two, the one the store takes also writes the log's last line */
    pthread_mutex_lock(&q->remote_log_lock);
    if (mg_store_build_cancel(q->o.store, id, &was, e)) {
        pthread_mutex_unlock(&q->remote_log_lock);
        return -1;
    }
    build_changed(q, id);
    pthread_mutex_lock(&q->lock);
    worker_slot *rs = remote_slot(q, id);
    /* (end_logged: a finish the store refused on an I/O error already
     * said how the worker ended) */
    build_log *rlog = rs && !rs->preparing && !rs->end_logged ? rs->rlog : NULL;
    pthread_mutex_unlock(&q->lock);
    /* a pull worker's log ends with the cancel (a write publishes its size
     * under q->lock); remote_log_lock keeps the slot and its log meanwhile */
    if (rlog) {
        log_line(rlog, "%s", MG_QUEUE_CANCELLED);
        rs->end_logged = true;
    }
    pthread_mutex_lock(&q->lock);
    /* a pull worker hears of it in its next heartbeat; its log ends here,
     * at the size recorded below (the threads' builds record theirs when
     * their worker lets go) */
    int64_t log_size = -1;
    if (rs && !rs->preparing) {
        if (rs->rlog) log_size = (int64_t)rs->rlog->size;
        release_remote(q, rs);
    }
    for (unsigned i = 0; i < q->n_slots; i++)
        if (q->slots[i].build_id == id) {
            q->slots[i].cancel = 1;
            if (q->slots[i].build) mg_build_cancel(q->slots[i].build);
            if (q->slots[i].fetch) mg_executor_cancel(q->slots[i].fetch);
        }
    pthread_cond_broadcast(&q->log_cond);
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->remote_log_lock);
    if (log_size >= 0) {
        mg_stored_build done = {.id = id, .status = MG_STORED_CANCELLED, .log_size = log_size};
        mg_err err;
        if (record_end(q, &done, &err) < 0) defer_end(q, &done, false);
    }
    return 0;
}

char *mg_queue_log_path(mg_queue *q, int64_t id)
{
    return mg_xasprintf("%s/%lld.log", q->logs_dir, (long long)id);
}

static worker_slot *slot_of(mg_queue *q, int64_t id)
{
    for (unsigned i = 0; i < q->n_slots; i++)
        if (q->slots[i].build_id == id) return &q->slots[i];
    return NULL;
}

int64_t mg_queue_log_wait(mg_queue *q, int64_t id, int64_t offset, int timeout_ms)
{
    struct timespec until =
        mg_abstime_in(CLOCK_REALTIME, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
    pthread_mutex_lock(&q->lock);
    int64_t size = -1;
    while (!q->stopping) {
        worker_slot *s = slot_of(q, id);
        if (s && s->log_size > offset) break;
        if (!s) {
            /* not running here: wait only while it is queued */
            pthread_mutex_unlock(&q->lock);
            mg_stored_build b;
            bool queued = mg_store_build_get(q->o.store, id, false, &b, NULL) == 0 &&
                          b.status == MG_STORED_QUEUED;
            mg_stored_build_free(&b);
            pthread_mutex_lock(&q->lock);
            if (!queued && !slot_of(q, id)) break;
        }
        if (pthread_cond_timedwait(&q->log_cond, &q->lock, &until) == ETIMEDOUT) break;
    }
    worker_slot *s = slot_of(q, id);
    if (s) size = s->log_size;
    pthread_mutex_unlock(&q->lock);
    if (size < 0) {
        char *path = mg_queue_log_path(q, id);
        struct stat st;
        size = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
        free(path);
    }
    return size;
}

bool mg_queue_progress_get(mg_queue *q, int64_t id, mg_queue_progress *out)
{
    memset(out, 0, sizeof *out);
    bool found = false;
    pthread_mutex_lock(&q->lock);
    for (unsigned i = 0; i < q->n_slots && !found; i++) {
        const worker_slot *s = &q->slots[i];
        if (s->build_id != id || !s->phase) continue;
        found = true;
        out->phase = s->phase;
        out->n_steps = s->n_steps;
        out->steps = s->n_steps ? mg_xmalloc(s->n_steps * sizeof *out->steps) : NULL;
        for (size_t k = 0; k < s->n_steps; k++) out->steps[k] = mg_xstrdup(s->steps[k]);
    }
    pthread_mutex_unlock(&q->lock);
    return found;
}

void mg_queue_progress_free(mg_queue_progress *p)
{
    for (size_t i = 0; i < p->n_steps; i++) free(p->steps[i]);
    free(p->steps);
    memset(p, 0, sizeof *p);
}

bool mg_queue_running(mg_queue *q, int64_t id)
{
    pthread_mutex_lock(&q->lock);
    bool here = slot_of(q, id) != NULL;
    pthread_mutex_unlock(&q->lock);
    return here;
}

int mg_queue_forget_project(mg_queue *q, int64_t project_id, mg_err *e)
{
    char *project_git = mg_xasprintf("%s/%lld", q->git_dir, (long long)project_id);
    char *lock = mg_path_join(project_git, "mirror.git.lock");
    /* the fetch holds this lock through its checkout (sources.h) */
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd >= 0) flock(fd, LOCK_EX);
    int r = mg_rm_rf(project_git);
    if (r != 0) mg_err_set(e, MG_E_IO, "cannot remove %s: %s", project_git, strerror(errno));
    if (fd >= 0) close(fd);
    free(lock);
    free(project_git);
    return r ? -1 : 0;
}

char *mg_queue_image_path(mg_queue *q, const char *sha256)
{
    if (mg_cache_blob_stat(q->o.cache, sha256, NULL, NULL) != 0) return NULL;
    return mg_cache_blob_path(q->o.cache, sha256);
}

int mg_queue_forget_blobs(mg_queue *q, char *const *sha256s, size_t n, mg_err *e)
{
    /* a blob in flight keeps its pins: the row that will name it is not
     * stored yet (a deferred end) */
    int r = 0;
    pthread_mutex_lock(&q->pin_lock);
    for (size_t i = 0; i < n; i++) {
        mg_err err;
        if (!inflight_has(q, sha256s[i]) && mg_gc_unpin(q->o.cache, &sha256s[i], 1, &err) != 0 &&
            r == 0) {
            if (e) *e = err;
            r = -1;
        }
    }
    pthread_mutex_unlock(&q->pin_lock);
    return r;
}

void mg_queue_blobs_hold(mg_queue *q)
{
    pthread_rwlock_rdlock(&q->blobs_lock);
}

void mg_queue_blobs_release(mg_queue *q)
{
    pthread_rwlock_unlock(&q->blobs_lock);
}

/* gc's view of the blobs in flight: it leaves them pending. */
static bool gc_in_flight(void *ctx, const char *sha)
{
    return inflight_has(ctx, sha);
}

static void gc_exclusive(void *ctx, bool on)
{
    mg_queue *q = ctx;
    if (on)
        pthread_rwlock_wrlock(&q->blobs_lock);
    else
        pthread_rwlock_unlock(&q->blobs_lock);
}

int mg_queue_gc(mg_queue *q, int64_t keep_builds, const char *why, mg_gc_report *r, mg_err *e)
{
    pthread_mutex_lock(&q->gc_lock);
    /* the builds the workers hold: one that ended (a cancel) may still
     * write its log and record its end */
    int64_t *held = NULL;
    size_t n_held = 0;
    pthread_mutex_lock(&q->lock);
    held = mg_xmalloc((q->n_slots ? q->n_slots : 1) * sizeof *held);
    for (unsigned i = 0; i < q->n_slots; i++)
        if (q->slots[i].build_id) held[n_held++] = q->slots[i].build_id;
    pthread_mutex_unlock(&q->lock);
    mg_gc_options o = {
        .store = q->o.store,
        .cache = q->o.cache,
        .data_dir = q->o.data_dir,
        .keep_builds = keep_builds,
        .held = held,
        .n_held = n_held,
        .exclusive = gc_exclusive,
        .in_flight = gc_in_flight,
        .ctx = q,
    };
    int rc = mg_gc_run(&o, r, e);
    free(held);
    char line[256];
    mg_gc_report_line(r, line, sizeof line);
    if (rc == 0)
        fprintf(stderr, "mgd: gc (%s): %s\n", why, line);
    else
        fprintf(stderr, "mgd: gc (%s) failed: %s; until then it %s\n", why, e->msg, line);
    pthread_mutex_lock(&q->lock);
    mg_queue_metrics *m = &q->metrics;
    m->gc_runs++;
    m->gc_failures += rc != 0;
    m->gc_builds_deleted += (uint64_t)r->builds_deleted;
    m->gc_logs_deleted += (uint64_t)r->logs_deleted;
    m->gc_blobs_deleted += (uint64_t)r->blobs_deleted;
    m->gc_mirrors_deleted += (uint64_t)r->mirrors_deleted;
    m->gc_bytes_freed += r->bytes_freed;
    m->gc_last_unix_ms = mg_store_now_ms();
    m->gc_last_ms = (uint64_t)r->duration_ms;
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->gc_lock);
    return rc;
}

void mg_queue_metrics_get(mg_queue *q, mg_queue_metrics *out)
{
    pthread_mutex_lock(&q->lock);
    *out = q->metrics;
    uint64_t now = mg_now_ms();
    out->ends_pending = q->n_ends;
    out->workers_connected = 0;
    for (size_t i = 0; i < MAX_KNOWN_WORKERS; i++)
        out->workers_connected +=
            q->known[i].last_seen_ms && now - q->known[i].last_seen_ms <= q->o.worker_lease_ms;
    pthread_mutex_unlock(&q->lock);
}

/* ---- pull workers ------------------------------------------------------- */

void mg_worker_job_free(mg_worker_job *j)
{
    free(j->project);
    free(j->target);
    free(j->arch);
    free(j->keys);
    free(j->config);
    memset(j, 0, sizeof *j);
}

/* The coordinator's identity of (target, arch), "" when it cannot build
 * it; computed once. With q->lock NOT held (it may hash a compiler). */
static void own_identity(mg_queue *q, const char *target, const char *arch,
                         char out[MG_SHA256_HEX_SIZE])
{
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < q->n_idents; i++)
        if (!strcmp(q->idents[i].target, target) && !strcmp(q->idents[i].arch, arch)) {
            memcpy(out, q->idents[i].identity, MG_SHA256_HEX_SIZE);
            pthread_mutex_unlock(&q->lock);
            return;
        }
    pthread_mutex_unlock(&q->lock);
    out[0] = 0;
    const mg_target *t = mg_targets_find(q->o.targets, target);
    const mg_target_arch *a = t ? mg_target_find_arch(t, arch) : NULL;
    bool can_run;
    mg_err e;
    char *id = a && mg_target_available(t, a, &can_run, &e)
                   ? mg_toolchain_identity(q->o.cache, a, &e)
                   : NULL;
    if (id) snprintf(out, MG_SHA256_HEX_SIZE, "%s", id);
    free(id);
    pthread_mutex_lock(&q->lock);
    if (t && a && q->n_idents < MAX_IDENTITIES) {
        identity_entry *x = &q->idents[q->n_idents++];
        snprintf(x->target, sizeof x->target, "%s", target);
        snprintf(x->arch, sizeof x->arch, "%s", arch);
        memcpy(x->identity, out, MG_SHA256_HEX_SIZE);
    }
    pthread_mutex_unlock(&q->lock);
}

/* Records that worker `req` was seen now; with q->lock held. */
static void worker_seen(mg_queue *q, const mg_worker_claim_req *req)
{
    known_worker *w = NULL, *free_one = NULL, *oldest = NULL;
    for (size_t i = 0; i < MAX_KNOWN_WORKERS && !w; i++) {
        known_worker *k = &q->known[i];
        if (k->last_seen_ms && !strcmp(k->name, req->name)) w = k;
        if (!k->last_seen_ms && !free_one) free_one = k;
        if (!oldest || k->last_seen_ms < oldest->last_seen_ms) oldest = k;
    }
    if (!w) w = free_one ? free_one : oldest;
    snprintf(w->name, sizeof w->name, "%s", req->name);
    w->slots = req->slots;
    w->n_platforms = req->n_platforms;
    memcpy(w->platforms, req->platforms, req->n_platforms * sizeof *req->platforms);
    w->last_seen_ms = mg_now_ms();
    w->last_seen_unix_ms = mg_store_now_ms();
}

/* Touches the worker named `name`; with q->lock held. */
static void worker_touch(mg_queue *q, const char *name)
{
    for (size_t i = 0; i < MAX_KNOWN_WORKERS; i++)
        if (q->known[i].last_seen_ms && !strcmp(q->known[i].name, name)) {
            q->known[i].last_seen_ms = mg_now_ms();
            q->known[i].last_seen_unix_ms = mg_store_now_ms();
        }
}

static bool remote_accepts(mg_queue *q, const mg_queued_build *b, void *ctx)
{
    (void)q;
    const mg_worker_claim_req *req = ctx;
    for (size_t i = 0; i < req->n_platforms; i++)
        if (!req->platforms[i].ignored && !strcmp(req->platforms[i].target, b->target) &&
            !strcmp(req->platforms[i].arch, b->arch))
            return true;
    return false;
}

/* A free slot for a pull worker's build; with q->lock held. */
static worker_slot *free_remote_slot(mg_queue *q)
{
    for (unsigned i = q->o.workers; i < q->n_slots; i++)
        if (!q->slots[i].build_id) return &q->slots[i];
    return NULL;
}

/* The remote slot of build `id`, or NULL; with q->lock held. */
static worker_slot *remote_slot(mg_queue *q, int64_t id)
{
    for (unsigned i = q->o.workers; i < q->n_slots; i++)
        if (q->slots[i].build_id == id) return &q->slots[i];
    return NULL;
}

/* Releases a remote slot (its log closed, its scratch removed); with
 * remote_log_lock and q->lock held (in that order: a log post or a finish
 * may be writing to the log it frees). */
static void release_remote(mg_queue *q, worker_slot *s)
{
    if (s->rlog) {
        if (s->rlog->fd >= 0) close(s->rlog->fd);
        free(s->rlog);
    }
    if (s->scratch) mg_rm_rf(s->scratch);
    free(s->scratch);
    free(s->snapshot);
    s->rlog = NULL;
    s->scratch = s->snapshot = NULL;
    s->upload_sha[0] = 0;
    s->build_id = 0;
    s->lease = 0;
    s->cancel = 0;
    s->remote = false;
    s->preparing = false;
    s->claim_abort = NULL;
    s->end_logged = false;
    slot_phase(s, NULL);
    pthread_cond_broadcast(&q->log_cond);
}

/* release_remote, taking the locks. */
static void release_remote_locked(mg_queue *q, worker_slot *s)
{
    pthread_mutex_lock(&q->remote_log_lock);
    pthread_mutex_lock(&q->lock);
    release_remote(q, s);
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->remote_log_lock);
}

/* Whether slot `s` holds its build under `lease` for `token`; with
 * q->lock held. */
static bool holds(const worker_slot *s, int64_t lease, int64_t token)
{
    return s && s->lease == lease && s->token == token;
}

/* Why a request of `token` under (id, lease) finds no slot of its own:
 * 404 or 409. */
static int no_lease(mg_queue *q, int64_t id, int64_t lease, int64_t token, bool *cancelled_now,
                    mg_err *e)
{
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, id);
    bool other = s && s->lease == lease && s->token != token;
    pthread_mutex_unlock(&q->lock);
    if (other)
        return mg_err_set(e, MG_E_CONFLICT,
                          "build %lld runs under lease %lld for another worker token: only the "
                          "token that claimed it may act under its lease",
                          (long long)id, (long long)lease);
    mg_stored_build b;
    mg_err ge;
    if (mg_store_build_get(q->o.store, id, false, &b, &ge) != 0) {
        if (ge.code == MG_E_NOT_FOUND)
            return mg_err_set(e, MG_E_NOT_FOUND, "no build %lld", (long long)id);
        *e = ge;
        return -1;
    }
    bool was_cancelled = b.status == MG_STORED_CANCELLED && b.lease == lease;
    mg_stored_build_free(&b);
    if (was_cancelled && cancelled_now) {
        *cancelled_now = true;
        return 0;
    }
    return mg_err_set(e, MG_E_CONFLICT,
                      "build %lld no longer runs under lease %lld (it was queued again after "
                      "the lease expired, or it ended)",
                      (long long)id, (long long)lease);
}

/* Prepares claimed build `id` in slot s: 1 with *out filled, 0 when it
 * ended here (finished already). */
/* Puts the snapshot in the remote cache (when it takes writes) as
 * <base>/cas/<sha>, so that workers with the same cache need not ask the
 * coordinator for it. A failure costs a log line: the coordinator serves
 * the snapshot itself all the same. */
static void put_snapshot(mg_queue *q, build_log *log, const mg_buf *tar, const char *sha)
{
    if (!q->o.remote || q->o.remote->read_only) return;
    mg_err e;
    char stored[MG_SHA256_HEX_SIZE];
    if (mg_cache_blob_put_bytes(q->o.cache, tar->data, tar->len, stored, &e) != 0) {
        log_line(log, "the snapshot is not in the remote cache: %s", e.msg);
        return;
    }
    mg_remote *r = mg_remote_open(q->o.remote, q->o.cache);
    if (!r) {
        log_line(log, "the snapshot is not in the remote cache: out of memory");
        return;
    }
    if (mg_remote_blob_put(r, sha, &e) != 0)
        log_line(log, "the snapshot is not in the remote cache (workers fetch it from here): %s",
                 e.msg);
    mg_remote_close(r);
}

static int prepare_remote(mg_queue *q, worker_slot *s, int64_t id, int64_t lease,
                          mg_worker_job *out, const volatile int *abort)
{
    job j = {0};
    int r = prepare_job(&j, s, id, lease);
    mg_buf tar = {0};
    mg_err e;
    char sha[MG_SHA256_HEX_SIZE];
    char *path = NULL;
    if (r == 0) {
        if (mg_snapshot_pack(j.src, MG_WORKER_MAX_SNAPSHOT, &tar, &e) != 0) {
            fail_build(&j, "%s", e.msg);
            r = 1;
        } else {
            mg_sha256_bytes_hex(tar.data, tar.len, sha);
            path = mg_path_join(j.scratch, "sources.tar");
            if (mg_file_write_atomic(path, tar.data, tar.len, 0600) != 0) {
                fail_build(&j, "cannot write the snapshot: %s", strerror(errno));
                r = 1;
            } else {
                put_snapshot(q, &j.log, &tar, sha);
            }
        }
    }
    if (r == 0) {
        /* The slot becomes the worker's (no longer preparing) only if no
         * cancel (nor the API's stop, see timer_main) came during the
         * preparation: such a stop only marks a preparing slot, and a
         * build handed out after it would run on the worker to its end,
         * its heartbeats answered "no cancel". Checked and published
         * under one lock, so a cancel is either seen here or releases the
         * published slot. remote_log_lock keeps the slot's log alive
         * while the line below goes to it (a release frees it). */
        build_log *kept = mg_xmalloc(sizeof *kept);
        *kept = j.log;
        pthread_mutex_lock(&q->remote_log_lock);
        pthread_mutex_lock(&q->lock);
        bool stopped = s->cancel != 0;
        if (!stopped) {
            s->rlog = kept;
            s->snapshot = path;
            s->scratch = j.scratch;
            path = NULL;
            j.scratch = NULL; /* the slot's now */
            s->preparing = false;
            s->claim_abort = NULL;
            s->last_seen_ms = mg_now_ms();
            slot_phase(s, "build"); /* on the worker: its steps are in the log */
        }
        pthread_mutex_unlock(&q->lock);
        if (stopped) {
            pthread_mutex_unlock(&q->remote_log_lock);
            free(kept);
            cancel_build(&j);
            r = 1;
        } else {
            log_line(kept, "worker %s took the build (lease %lld)", s->worker, (long long)lease);
            out->log_offset = (int64_t)kept->size;
            pthread_mutex_unlock(&q->remote_log_lock);
            j.log.fd = -1; /* the slot's log now */
        }
    }
    if (r != 0 && j.done.status != MG_STORED_SUCCEEDED && abort && *abort) {
        /* the API stopped serving workers while this claim prepared the
         * build (its fetch was killed, see timer_main): nobody got it, so
         * it goes back to the queue rather than failing */
        log_line(&j.log, "the coordinator stopped serving workers while preparing the build; "
                         "queued again");
        if (j.log.fd >= 0) close(j.log.fd);
        j.log.fd = -1;
        if (mg_store_build_requeue(q->o.store, id, lease, &e) < 0) {
            if (e.code != MG_E_CONFLICT)
                fprintf(stderr, "mgd: queue: build %lld: cannot queue it again: %s\n",
                        (long long)id, e.msg);
        } else {
            build_changed(q, id);
        }
        job_free(&j);
        mg_buf_free(&tar);
        free(path);
        release_remote_locked(q, s);
        return 0;
    }
    if (r != 0) {
        end_job(&j);
        job_free(&j);
        mg_buf_free(&tar);
        free(path);
        release_remote_locked(q, s);
        return 0;
    }
    int64_t log_offset = out->log_offset;
    mg_rm_rf(j.src);
    memset(out, 0, sizeof *out);
    out->build = id;
    out->lease = lease;
    out->lease_timeout_ms = q->o.worker_lease_ms;
    out->heartbeat_ms = q->o.worker_lease_ms / 3;
    out->project = mg_xstrdup(j.project.name);
    out->target = mg_xstrdup(j.row.target);
    out->arch = mg_xstrdup(j.row.arch);
    out->keys = mg_xstrdup(j.row.keys ? j.row.keys : "{}");
    out->config = mg_xstrdup(j.config.document);
    out->force = j.row.force;
    memcpy(out->sources_sha256, sha, sizeof sha);
    out->sources_size = tar.len;
    memcpy(out->input_hash, j.hash, sizeof j.hash);
    out->log_offset = log_offset;
    out->elapsed_ms = (int64_t)mg_ms_since(j.log.start_ms);
    job_free(&j);
    mg_buf_free(&tar);
    return 1;
}

int mg_queue_worker_claim(mg_queue *q, mg_worker_claim_req *req, mg_worker_job *out, mg_err *e)
{
    for (size_t i = 0; i < req->n_platforms; i++) {
        char *own = req->platforms[i].own;
        own_identity(q, req->platforms[i].target, req->platforms[i].arch, own);
        req->platforms[i].ignored = !own[0] || strcmp(own, req->platforms[i].toolchain) != 0;
    }
    uint64_t start = mg_now_ms();
    for (;;) {
        /* The slot is chosen under the claim lock: slots of pull workers
         * are taken only under it, so a free one stays free until this
         * claim fills it. (Chosen before, two claims at once picked the
         * same slot, the second overwrote the first's build there, and
         * that build, in no slot, ran for ever: no lease to expire.) */
        pthread_mutex_lock(&q->claim_lock);
        pthread_mutex_lock(&q->lock);
        worker_seen(q, req);
        bool stop = q->stopping || (req->abort && *req->abort);
        worker_slot *s = stop ? NULL : free_remote_slot(q);
        pthread_mutex_unlock(&q->lock);
        if (stop) {
            pthread_mutex_unlock(&q->claim_lock);
            return 0;
        }
        int64_t id = 0, lease = 0;
        if (s) {
            id = claim_matching(q, req->name, remote_accepts, req, &lease, e);
            if (id > 0) {
                pthread_mutex_lock(&q->lock);
                s->build_id = id;
                s->remote = true;
                s->preparing = true;
                s->claim_abort = req->abort;
                s->cancel = 0;
                s->log_size = 0;
                s->lease = lease;
                s->token = req->token;
                snprintf(s->worker, sizeof s->worker, "%s", req->name);
                snprintf(s->target, sizeof s->target, "%s", "");
                s->last_seen_ms = mg_now_ms();
                pthread_cond_broadcast(&q->log_cond);
                pthread_mutex_unlock(&q->lock);
            }
        }
        pthread_mutex_unlock(&q->claim_lock);
        if (id < 0) return -1;
        if (id > 0 && prepare_remote(q, s, id, lease, out, req->abort)) return 1;
        if (id > 0) continue; /* it ended in the claim: look again */
        uint64_t waited = mg_ms_since(start);
        if (waited >= req->wait_ms) return 0;
        uint64_t slice = req->wait_ms - waited;
        if (slice > 200) slice = 200; /* to see req->abort */
        pthread_mutex_lock(&q->lock);
        if (!q->stopping) {
            struct timespec until = mg_abstime_in(CLOCK_REALTIME, slice);
            pthread_cond_timedwait(&q->claim_cond, &q->lock, &until);
        }
        pthread_mutex_unlock(&q->lock);
    }
}

char *mg_queue_worker_sources(mg_queue *q, int64_t id, int64_t lease, int64_t token, mg_err *e)
{
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, id);
    char *path = holds(s, lease, token) && s->snapshot ? mg_xstrdup(s->snapshot) : NULL;
    if (path) {
        s->last_seen_ms = mg_now_ms();
        worker_touch(q, s->worker);
    }
    pthread_mutex_unlock(&q->lock);
    if (!path) no_lease(q, id, lease, token, NULL, e);
    return path;
}

int mg_queue_worker_log(mg_queue *q, int64_t id, int64_t lease, int64_t token, int64_t offset,
                        const void *data, size_t len, int64_t *size, mg_err *e)
{
    pthread_mutex_lock(&q->remote_log_lock);
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, id);
    bool ok = holds(s, lease, token) && s->rlog && !s->preparing;
    build_log *l = ok ? s->rlog : NULL;
    if (ok) {
        s->last_seen_ms = mg_now_ms();
        worker_touch(q, s->worker);
    }
    pthread_mutex_unlock(&q->lock);
    int r = 0;
    if (!ok) {
        r = no_lease(q, id, lease, token, NULL, e);
    } else if (l->truncated) {
        /* past the cap the bytes are dropped, as the daemon's own are */
        *size = offset + (int64_t)len > (int64_t)l->size ? offset + (int64_t)len : (int64_t)l->size;
    } else if ((uint64_t)offset > l->size) {
        *size = (int64_t)l->size;
        r = mg_err_set(e, MG_E_LIMIT, "offset %lld is past the log's size %lld", (long long)offset,
                       (long long)l->size);
    } else {
        uint64_t skip = l->size - (uint64_t)offset;
        if (skip < len) {
            if (log_raw(l, (const char *)data + skip, len - skip) != 0)
                /* none of it is taken: the worker sends it again later */
                r = mg_err_set(e, mg_err_code_of_errno(errno),
                               "cannot write the log of build %lld: %s", (long long)id,
                               strerror(errno));
            else
                l->at_line_start = ((const char *)data)[len - 1] == '\n';
        }
        *size = l->truncated && offset + (int64_t)len > (int64_t)l->size ? offset + (int64_t)len
                                                                         : (int64_t)l->size;
    }
    pthread_mutex_unlock(&q->remote_log_lock);
    return r;
}

int mg_queue_worker_heartbeat(mg_queue *q, int64_t id, int64_t lease, int64_t token, bool *cancel,
                              mg_err *e)
{
    *cancel = false;
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, id);
    bool ok = holds(s, lease, token);
    if (ok) {
        s->last_seen_ms = mg_now_ms();
        worker_touch(q, s->worker);
    }
    pthread_mutex_unlock(&q->lock);
    if (ok) return 0;
    return no_lease(q, id, lease, token, cancel, e);
}

/* Whether the file at `path` is an mgd image whose note names build
 * `id`'s target and arch: 0, or -1 with MG_E_INVALID (or the store's
 * error; `what` names it). Both an upload and a finish go through it:
 * a finish may name a blob the coordinator has already or fetches from
 * the shared cache, where a worker may have put anything. */
static int image_of_build(mg_queue *q, int64_t id, const char *path, const char *what, mg_err *e)
{
    mg_stored_build b = {0};
    mg_image_info info = {0};
    int r = 0;
    if (mg_store_build_get(q->o.store, id, false, &b, e) != 0) {
        r = -1;
    } else if (mg_image_read_info(path, &info, e) != 0) {
        e->code = MG_E_INVALID; /* the reader's message, after ours */
        r = mg_err_prefix(e, "%s is not an mgd image", what);
    } else if (!info.target || !info.arch || strcmp(info.target, b.target) ||
               strcmp(info.arch, b.arch)) {
        r = mg_err_set(e, MG_E_INVALID, "the image is for %s/%s; build %lld is for %s/%s",
                       info.target ? info.target : "?", info.arch ? info.arch : "?", (long long)id,
                       b.target, b.arch);
    }
    mg_image_info_free(&info);
    mg_stored_build_free(&b);
    return r;
}

int mg_queue_worker_image(mg_queue *q, int64_t id, int64_t lease, int64_t token, const char *sha256,
                          const void *data, size_t len, mg_err *e)
{
    char sha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(data, len, sha);
    if (strcmp(sha, sha256) != 0)
        return mg_err_set(e, MG_E_INVALID, "the image's sha256 is %s, not %s", sha, sha256);
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, id);
    bool ok = holds(s, lease, token) && s->scratch;
    /* named by its hash: uploads at once under one lease write apart */
    char *tmp = ok ? mg_xasprintf("%s/upload-%s", s->scratch, sha) : NULL;
    char *kept = ok ? mg_path_join(s->scratch, "image") : NULL;
    if (ok) s->last_seen_ms = mg_now_ms();
    pthread_mutex_unlock(&q->lock);
    if (!ok) return no_lease(q, id, lease, token, NULL, e);
    int r = 0;
    if (mg_file_write_atomic(tmp, data, len, 0600) != 0) {
        r = mg_err_set(e, mg_err_code_of_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    } else if (image_of_build(q, id, tmp, "the upload", e) != 0) {
        r = -1;
    } else {
        /* it replaces the lease's earlier upload; the file and its name
         * change together (under the lock), and only while the slot is
         * still this lease's (a release removes its scratch) */
        pthread_mutex_lock(&q->lock);
        s = remote_slot(q, id);
        if (!holds(s, lease, token)) {
            r = mg_err_set(e, MG_E_CONFLICT, "build %lld no longer runs under lease %lld",
                           (long long)id, (long long)lease);
        } else if (rename(tmp, kept) != 0 && !(errno == ENOENT && !strcmp(s->upload_sha, sha))) {
            /* (ENOENT: the same bytes, uploaded at once, were kept already) */
            r = mg_err_set(e, mg_err_code_of_errno(errno), "cannot keep the upload as %s: %s", kept,
                           strerror(errno));
        } else {
            memcpy(s->upload_sha, sha, sizeof sha);
        }
        pthread_mutex_unlock(&q->lock);
    }
    unlink(tmp);
    free(tmp);
    free(kept);
    return r;
}

/* Puts the image uploaded under the lease into the cache when it is
 * `sha`: 1 when it did, 0 when the lease's upload is not `sha`, -1 when
 * the cache refused it (MG_E_NOSPACE on a full disk: the upload stays for
 * the worker's next finish) or the lease is gone. */
static int take_upload(mg_queue *q, int64_t id, int64_t lease, int64_t token, const char *sha,
                       mg_err *e)
{
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, id);
    char *path = holds(s, lease, token) && s->scratch && !strcmp(s->upload_sha, sha)
                     ? mg_path_join(s->scratch, "image")
                     : NULL;
    pthread_mutex_unlock(&q->lock);
    if (!path) return 0;
    char got[MG_SHA256_HEX_SIZE];
    uint64_t size;
    int r = mg_cache_blob_put(q->o.cache, path, got, &size, e);
    free(path);
    if (r != 0) {
        /* a release may remove the file meanwhile: then the put fails,
         * and the lease is what the worker hears of */
        pthread_mutex_lock(&q->lock);
        bool still = holds(remote_slot(q, id), lease, token);
        pthread_mutex_unlock(&q->lock);
        return still ? -1 : no_lease(q, id, lease, token, NULL, e);
    }
    /* hashed again while copied into the store: the bytes stored are the
     * bytes checked (a blob is always named by what it holds) */
    if (strcmp(got, sha) != 0)
        return mg_err_set(e, MG_E_IO, "the stored copy of the image hashes to %s, not %s", got,
                          sha);
    return 1;
}

/* Whether blob `sha` is in the local cache, fetching it from the remote
 * cache when there is one. */
static bool have_image(mg_queue *q, const char *sha)
{
    if (mg_cache_blob_stat(q->o.cache, sha, NULL, NULL) == 0) return true;
    if (!q->o.remote) return false;
    mg_remote *r = mg_remote_open(q->o.remote, q->o.cache);
    if (!r) return false;
    /* no larger than an upload may be (the session's default is 1 GiB) */
    mg_remote_bound(r, 0, NULL, MG_WORKER_MAX_IMAGE);
    mg_err e;
    bool ok = mg_remote_blob_get(r, sha, &e) == 0;
    mg_remote_close(r);
    return ok && mg_cache_blob_stat(q->o.cache, sha, NULL, NULL) == 0;
}

int mg_queue_worker_finish(mg_queue *q, mg_stored_build *done, int64_t token, bool *need_image,
                           mg_err *e)
{
    *need_image = false;
    bool held = false;
    pthread_mutex_lock(&q->lock);
    worker_slot *s = remote_slot(q, done->id);
    bool ok = holds(s, done->lease, token) && !s->preparing;
    if (ok) s->last_seen_ms = mg_now_ms();
    pthread_mutex_unlock(&q->lock);
    if (!ok) return no_lease(q, done->id, done->lease, token, NULL, e);
    if (done->status == MG_STORED_SUCCEEDED) {
        int taken = take_upload(q, done->id, done->lease, token, done->image_sha256, e);
        if (taken < 0) return -1;
        if (!taken && !have_image(q, done->image_sha256)) {
            *need_image = true;
            return mg_err_set(e, MG_E_NOT_FOUND,
                              "image %s is not available to the coordinator: PUT it to "
                              "/workers/builds/%lld/image",
                              done->image_sha256, (long long)done->id);
        }
        /* from here to the build's end: no gc unpins the image meanwhile
         * (one that removed it since have_image asks for it again) */
        pthread_rwlock_rdlock(&q->blobs_lock);
        held = true;
        uint64_t size = 0;
        if (mg_cache_blob_stat(q->o.cache, done->image_sha256, &size, NULL) != 0) {
            pthread_rwlock_unlock(&q->blobs_lock);
            *need_image = true;
            return mg_err_set(e, MG_E_NOT_FOUND,
                              "image %s is not available to the coordinator: PUT it to "
                              "/workers/builds/%lld/image",
                              done->image_sha256, (long long)done->id);
        }
        if ((int64_t)size != done->image_size) {
            pthread_rwlock_unlock(&q->blobs_lock);
            return mg_err_set(e, MG_E_INVALID, "image %s has %llu bytes, not %lld",
                              done->image_sha256, (unsigned long long)size,
                              (long long)done->image_size);
        }
        char *path = mg_cache_blob_path(q->o.cache, done->image_sha256);
        char what[80];
        snprintf(what, sizeof what, "image %.12s", done->image_sha256);
        int ok_image = path ? image_of_build(q, done->id, path, what, e)
                            : mg_err_set(e, MG_E_NOMEM, "out of memory");
        free(path);
        if (ok_image != 0 || pin_for(q, "artifact", done->image_sha256, e)) {
            pthread_rwlock_unlock(&q->blobs_lock);
            return -1;
        }
    }
    bool pinned = done->status == MG_STORED_SUCCEEDED;
    /* held from the end line to the store's answer: a cancel takes it
     * around its own store update and line, so a build's log never ends
     * twice (the loser finds the build ended, or its slot gone) */
    pthread_mutex_lock(&q->remote_log_lock);
    pthread_mutex_lock(&q->lock);
    s = remote_slot(q, done->id);
    build_log *l = holds(s, done->lease, token) ? s->rlog : NULL;
    pthread_mutex_unlock(&q->lock);
    if (!l) {
        pthread_mutex_unlock(&q->remote_log_lock);
        if (held) pthread_rwlock_unlock(&q->blobs_lock);
        if (pinned) end_pin(q, done->image_sha256, false);
        return no_lease(q, done->id, done->lease, token, NULL, e);
    }
    /* once, though the worker may send its finish again after a failure
     * of the store */
    if (!s->end_logged && done->status == MG_STORED_SUCCEEDED)
        log_line(l, "worker %s: succeeded", s->worker);
    else if (!s->end_logged)
        log_line(l, "worker %s: error: %s", s->worker, done->error ? done->error : "failed");
    s->end_logged = true;
    done->log_size = (int64_t)l->size;
    int r = mg_store_build_finish(q->o.store, done, e);
    pthread_mutex_unlock(&q->remote_log_lock);
    if (r == 0) build_changed(q, done->id);
    /* before end_pin: an unpin excludes the holders of blobs_lock */
    if (held) pthread_rwlock_unlock(&q->blobs_lock);
    if (pinned) end_pin(q, done->image_sha256, r == 0);
    /* The store refused the end (a full disk, an I/O error): the build
     * stays the worker's, under its lease and token, for the worker to
     * send its finish again (or, if it gives up, for the lease to lapse
     * and the build to be queued again). */
    if (r != 0 && e->code != MG_E_CONFLICT) return -1;
    pthread_mutex_lock(&q->remote_log_lock);
    pthread_mutex_lock(&q->lock);
    s = remote_slot(q, done->id);
    if (holds(s, done->lease, token)) release_remote(q, s);
    pthread_mutex_unlock(&q->remote_log_lock);
    pthread_mutex_unlock(&q->lock);
    return r;
}

void mg_queue_workers(mg_queue *q, mg_worker_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    uint64_t now = mg_now_ms();
    for (size_t i = 0; i < MAX_KNOWN_WORKERS; i++) {
        known_worker *k = &q->known[i];
        if (!k->last_seen_ms || now - k->last_seen_ms > q->o.worker_lease_ms) continue;
        *out = mg_xrealloc(*out, (*n + 1) * sizeof **out);
        mg_worker_info *w = &(*out)[(*n)++];
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%s", k->name);
        w->slots = k->slots;
        w->n_platforms = k->n_platforms;
        memcpy(w->platforms, k->platforms, k->n_platforms * sizeof *k->platforms);
        w->last_seen_unix_ms = k->last_seen_unix_ms;
        for (unsigned s = q->o.workers; s < q->n_slots; s++)
            if (q->slots[s].build_id && !strcmp(q->slots[s].worker, k->name)) {
                w->builds = mg_xrealloc(w->builds, (w->n_builds + 1) * sizeof *w->builds);
                w->builds[w->n_builds++] = q->slots[s].build_id;
            }
    }
    pthread_mutex_unlock(&q->lock);
}

void mg_worker_infos_free(mg_worker_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].builds);
    free(v);
}

/* The lease timer: builds of pull workers not heard of within the lease
 * timeout go back to the queue. */
static void *timer_main(void *arg)
{
    mg_queue *q = arg;
    uint64_t tick = q->o.worker_lease_ms / 4;
    if (tick < 20) tick = 20;
    if (tick > 1000) tick = 1000;
    pthread_mutex_lock(&q->lock);
    while (!q->stopping) {
        /* ends the store refused are tried again soon: a build shows
         * `running` until then */
        uint64_t wait = q->ends && tick > 100 ? 100 : tick;
        struct timespec until = mg_abstime_in(CLOCK_REALTIME, wait);
        pthread_cond_timedwait(&q->claim_cond, &q->lock, &until);
        if (q->stopping) break;
        if (q->ends) {
            pthread_mutex_unlock(&q->lock);
            retry_ends(q);
            pthread_mutex_lock(&q->lock);
        }
        /* the logs it frees may be in use by a log post or a finish: those
         * hold remote_log_lock, taken before q->lock */
        pthread_mutex_unlock(&q->lock);
        pthread_mutex_lock(&q->remote_log_lock);
        pthread_mutex_lock(&q->lock);
        uint64_t now = mg_now_ms();
        for (unsigned i = q->o.workers; i < q->n_slots; i++) {
            worker_slot *s = &q->slots[i];
            if (s->build_id && s->preparing && s->claim_abort && *s->claim_abort && !s->cancel) {
                /* the API stops: the claim's fetch must not hold it up */
                s->cancel = 1;
                if (s->fetch) mg_executor_cancel(s->fetch);
            }
            if (!s->build_id || s->preparing || now - s->last_seen_ms <= q->o.worker_lease_ms)
                continue;
            int64_t id = s->build_id, lease = s->lease;
            double secs = (double)(now - s->last_seen_ms) / 1e3;
            char name[MG_WORKER_NAME_MAX + 1];
            snprintf(name, sizeof name, "%s", s->worker);
            build_log *l = s->rlog;
            s->rlog = NULL;
            if (l) l->slot = NULL;
            release_remote(q, s);
            pthread_mutex_unlock(&q->lock);
            mg_err e;
            int64_t r = mg_store_build_requeue(q->o.store, id, lease, &e);
            if (l) {
                if (r > 0)
                    log_line(l,
                             "worker %s stopped answering (no heartbeat for %.1f s); queued "
                             "again",
                             name, secs);
                if (l->fd >= 0) close(l->fd);
                free(l);
            }
            if (r < 0 && e.code != MG_E_CONFLICT)
                fprintf(stderr, "mgd: queue: build %lld: cannot queue it again: %s\n",
                        (long long)id, e.msg);
            if (r > 0) build_changed(q, id);
            pthread_mutex_lock(&q->lock);
            if (r > 0) {
                q->metrics.leases_expired++;
                q->pending++;
                pthread_cond_signal(&q->wake);
                pthread_cond_broadcast(&q->claim_cond);
            }
        }
        pthread_mutex_unlock(&q->remote_log_lock);
    }
    pthread_mutex_unlock(&q->lock);
    mg_store_thread_done(q->o.store);
    return NULL;
}
